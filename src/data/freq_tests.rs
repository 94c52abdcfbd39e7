//! Tests of frequencies: parsing, calendar stepping, inference and their errors.

use super::*;
use crate::data::ds::parse_ds_column;
use crate::data::test_data;
use proptest::prelude::*;

fn freq(alias: &str) -> Frequency {
    Frequency::parse(alias).unwrap()
}

fn ds(text: &str) -> Ds {
    Ds::parse(text).unwrap()
}

/// Asserts each `(from, alias, k, want)`: `from` advanced by `k` steps of `alias` is `want`.
fn assert_advances(cases: &[(&str, &str, i64, &str)]) {
    for &(from, alias, k, want) in cases {
        let advanced = advance(ds(from), freq(alias), k).unwrap().to_string();
        assert_eq!(advanced, want, "{from} advanced by {k} × {alias}");
    }
}

#[test]
fn parses_aliases_to_canonical_names() {
    let table = [
        ("B", "B"),
        ("3B", "3B"),
        ("D", "D"),
        ("d", "D"),
        ("2D", "2D"),
        ("h", "h"),
        ("H", "h"),
        ("2h", "2h"),
        ("30min", "30min"),
        ("15T", "15min"),
        ("120min", "2h"),
        ("s", "s"),
        ("S", "s"),
        ("90s", "90s"),
        ("1000ms", "s"),
        ("L", "ms"),
        ("us", "us"),
        ("ns", "ns"),
        ("W", "W"),
        ("W-SUN", "W"),
        ("W-MON", "W-MON"),
        ("2W", "2W"),
        ("2W-FRI", "2W-FRI"),
        ("MS", "MS"),
        ("3MS", "QS"),
        ("2MS", "2MS"),
        ("ME", "ME"),
        ("M", "ME"),
        ("QS", "QS"),
        ("2QS", "2QS"),
        ("QE", "QE"),
        ("Q", "QE"),
        ("YS", "YS"),
        ("AS", "YS"),
        ("12MS", "YS"),
        ("YE", "YE"),
        ("Y", "YE"),
        ("A", "YE"),
        ("2YE", "2YE"),
        ("1", "1"),
        ("7", "7"),
        (" D ", "D"),
    ];
    for (alias, canonical) in table {
        let parsed = Frequency::parse(alias).unwrap_or_else(|err| panic!("{alias}: {err}"));
        assert_eq!(parsed.to_string(), canonical, "alias {alias}");
        assert_eq!(
            canonical.parse::<Frequency>().unwrap(),
            parsed,
            "canonical {canonical}"
        );
    }
    assert!(freq("1").is_step());
    assert_eq!(Frequency::step(3).unwrap(), freq("3"));
}

#[test]
fn unknown_aliases_list_the_accepted_ones() {
    for alias in ["", "X", "5X", "MS2", "W-XYZ", "-1", "min5", "1.5D", "Dx"] {
        let err = Frequency::parse(alias).unwrap_err();
        assert_eq!(
            err,
            DataError::UnknownFrequency {
                alias: alias.to_string()
            },
            "{alias}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("unknown frequency '{alias}'; accepted:")),
            "{message}"
        );
        assert!(
            message.contains("MS, ME (M), QS") && message.contains("min (T)"),
            "{message}"
        );
    }
}

#[test]
fn zero_or_huge_multiples_are_rejected() {
    for alias in [
        "0D",
        "0",
        "99999999999999999999D",
        "9999999999min",
        "9999999999MS",
        "999999999999999999YS",
        "999999D",
    ] {
        let err = Frequency::parse(alias).unwrap_err();
        assert_eq!(
            err,
            DataError::InvalidFrequencyMultiple {
                alias: alias.to_string()
            },
            "{alias}"
        );
        assert!(err
            .to_string()
            .starts_with(&format!("frequency '{alias}': the multiple")));
    }
    assert!(Frequency::step(0).is_err() && Frequency::step(-2).is_err());
}

#[test]
fn advances_over_month_ends_and_leap_years() {
    assert_advances(&[
        ("2024-01-31", "ME", 1, "2024-02-29"),
        ("2023-01-31", "ME", 1, "2023-02-28"),
        ("2024-02-29", "ME", 1, "2024-03-31"),
        ("2024-02-29", "ME", 12, "2025-02-28"),
        ("2024-03-31", "ME", -1, "2024-02-29"),
        ("2023-03-31", "ME", -1, "2023-02-28"),
        ("2024-01-31 12:30", "ME", 1, "2024-02-29 12:30:00"),
        ("2023-12-01", "MS", 1, "2024-01-01"),
        ("2024-01-01", "MS", -1, "2023-12-01"),
        ("2024-02-28", "D", 1, "2024-02-29"),
        ("2023-02-28", "D", 1, "2023-03-01"),
        ("2023-12-31 23:30", "30min", 1, "2024-01-01"),
        ("2024-01-01", "h", -1, "2023-12-31 23:00:00"),
    ]);
}

#[test]
fn advances_over_quarter_and_year_boundaries() {
    assert_advances(&[
        ("2023-10-01", "QS", 1, "2024-01-01"),
        ("2024-01-01", "QS", -1, "2023-10-01"),
        ("2023-12-31", "QE", 1, "2024-03-31"),
        ("2024-03-31", "QE", 1, "2024-06-30"),
        ("2024-03-31", "QE", -1, "2023-12-31"),
        ("2023-11-30", "QE", 1, "2024-02-29"),
        ("2023-01-01", "YS", 2, "2025-01-01"),
        ("2023-12-31", "YE", 1, "2024-12-31"),
        ("2024-02-29", "YE", 1, "2025-02-28"),
        ("1998-04-01", "QS", 3, "1999-01-01"),
    ]);
}

#[test]
fn business_days_skip_weekends() {
    // 2024-03-01 is a Friday.
    assert_advances(&[
        ("2024-03-01", "B", 1, "2024-03-04"),
        ("2024-03-04", "B", -1, "2024-03-01"),
        ("2024-03-01", "B", 5, "2024-03-08"),
        ("2024-02-28", "B", 3, "2024-03-04"),
        ("2024-03-04", "B", -6, "2024-02-23"),
        ("2024-03-01 09:30", "2B", 1, "2024-03-05 09:30:00"),
        // Off the frequency, a weekend rolls as pandas does.
        ("2024-03-02", "B", 1, "2024-03-04"),
        ("2024-03-03", "B", -1, "2024-03-01"),
    ]);
}

#[test]
fn advances_weeks_and_integer_steps() {
    assert_advances(&[
        ("2024-03-03", "W", 1, "2024-03-10"),
        ("2024-03-04", "2W-MON", -1, "2024-02-19"),
    ]);
    assert_eq!(advance(Ds::Int(10), freq("5"), 3), Ok(Ds::Int(25)));
    assert_eq!(advance(Ds::Int(10), freq("1"), -11), Ok(Ds::Int(-1)));
}

#[test]
fn advance_errors_name_the_mismatch() {
    let err = advance(Ds::Int(5), freq("MS"), 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "frequency 'MS' needs date-time ds, but ds holds an integer (5)"
    );
    let err = advance(ds("2020-01-01"), freq("1"), 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "frequency '1' needs integer ds, but ds holds a date-time (2020-01-01)"
    );
    let err = advance(Ds::Int(i64::MAX), freq("1"), 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "advancing {} by 1 × '1' leaves the representable range",
            i64::MAX
        )
    );
    for (alias, k) in [
        ("MS", i64::MAX),
        ("YE", 1_000_000),
        ("B", i64::MIN),
        ("W", i64::MAX / 2),
        ("D", i64::MAX),
    ] {
        let err = advance(ds("2020-01-01"), freq(alias), k).unwrap_err();
        assert!(
            matches!(err, DataError::OutOfRange { .. }),
            "{alias} {k}: {err:?}"
        );
    }
}

fn inferred(texts: &[&str]) -> Result<Frequency, DataError> {
    infer_frequency("S", &parse_ds_column(texts).unwrap())
}

#[test]
fn infers_calendar_and_fixed_frequencies() {
    let cases: [(&[&str], &str); 11] = [
        (&["2023-01-01", "2023-02-01", "2023-03-01"], "MS"),
        (&["2023-01-31", "2023-02-28", "2023-03-31"], "ME"),
        (&["2023-11-30", "2024-02-29", "2024-05-31"], "QE"),
        (&["2023-01-01", "2023-04-01", "2023-07-01"], "QS"),
        (&["2097-01-01", "2098-01-01", "2099-01-01"], "YS"),
        (&["2022-12-31", "2023-12-31", "2024-12-31"], "YE"),
        (
            &["2024-02-28", "2024-02-29", "2024-03-01", "2024-03-04"],
            "B",
        ),
        (&["2024-02-28", "2024-02-29", "2024-03-01"], "D"),
        (&["2024-03-04", "2024-03-11", "2024-03-18"], "W-MON"),
        (
            &["2024-03-03 00:00", "2024-03-03 00:30", "2024-03-03 01:00"],
            "30min",
        ),
        (
            &[
                "2024-03-03 00:00:00",
                "2024-03-03 00:00:05",
                "2024-03-03 00:00:10",
            ],
            "5s",
        ),
    ];
    for (texts, alias) in cases {
        assert_eq!(
            inferred(texts).map(|f| f.to_string()),
            Ok(alias.to_string()),
            "{texts:?}"
        );
    }
    assert_eq!(
        infer_frequency("S", &[Ds::Int(3), Ds::Int(5), Ds::Int(7)]),
        Ok(freq("2"))
    );
}

#[test]
fn inference_errors_name_the_series_and_row() {
    let err = inferred(&["2023-01-01", "2023-02-01", "2023-03-01", "2023-03-15"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "series 'S': cannot infer a frequency: ds spacing is irregular at row 3 (2023-03-15 after 2023-03-01)"
    );
    let err = infer_frequency("S", &[Ds::Int(0), Ds::Int(1), Ds::Int(3)]).unwrap_err();
    assert!(
        matches!(err, DataError::IrregularSpacing { row: 2, .. }),
        "{err:?}"
    );
    let err = inferred(&["2023-01-01", "2023-02-01"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "series 'S': 2 ds values are too few to infer a frequency (3 are needed); give the frequency explicitly"
    );
    // One or two integer steps are step 1, as NeuralForecast's integer frequency.
    assert_eq!(infer_frequency("S", &[Ds::Int(5)]).unwrap(), Frequency(Unit::Step(1)));
    assert_eq!(infer_frequency("S", &[Ds::Int(5), Ds::Int(9)]).unwrap(), Frequency(Unit::Step(1)));
    let err = inferred(&["2023-01-01", "2023-03-01", "2023-02-01"]).unwrap_err();
    assert!(
        matches!(err, DataError::DsNotIncreasing { row: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn infers_the_repository_data_sets() {
    let cases = [
        ("data/air_passengers.csv", "MS"),
        ("examples/data/visnights.csv", "QS"),
        ("examples/data/eustockmarkets.csv", "1"),
        ("examples/data/elecdemand_30min_last_week.csv", "30min"),
    ];
    for (file_name, alias) in cases {
        let columns = test_data::load(file_name);
        let values = parse_ds_column(&columns.ds).unwrap();
        let first_id = &columns.unique_id[0];
        let series_len = columns
            .unique_id
            .iter()
            .take_while(|id| *id == first_id)
            .count();
        let inferred = infer_frequency(first_id, &values[..series_len]).unwrap();
        assert_eq!(inferred.to_string(), alias, "{file_name}");
    }
}

fn inferable_alias() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "D", "2D", "h", "3h", "30min", "15min", "s", "10s", "W", "W-MON", "2W-WED", "B", "2B",
        "MS", "ME", "QS", "QE", "YS", "YE", "2MS", "2YE", "1", "5",
    ])
}

fn start_strategy() -> impl Strategy<Value = NaiveDateTime> {
    (1900i32..2100, 1u32..=12, 1u32..=28, 0u32..24, 0u32..4).prop_map(
        |(year, month, day, hour, quarter)| {
            NaiveDate::from_ymd_opt(year, month, day)
                .unwrap()
                .and_hms_opt(hour, quarter * 15, 0)
                .unwrap()
        },
    )
}

/// The first ds on `freq` at or after `start` (at most a month of days away).
fn on_offset_from(start: NaiveDateTime, freq: Frequency) -> Ds {
    let start = if freq.is_step() {
        Ds::Int(start.and_utc().timestamp() / 60)
    } else {
        Ds::Time(start)
    };
    (0..32)
        .map(|days| {
            advance(start, Frequency(Unit::Fixed(NANOS_PER_DAY)), days).unwrap_or(start)
        })
        .find(|&candidate| freq.is_on_offset(candidate))
        .unwrap_or(start)
}

proptest! {
    #[test]
    fn advance_then_infer_gives_back_the_frequency(alias in inferable_alias(), start in start_strategy(), len in 6usize..30) {
        let freq = freq(alias);
        let first = if freq.is_step() { Ds::Int(start.and_utc().timestamp() / 60) } else { on_offset_from(start, freq) };
        let values: Vec<Ds> = (0..len as i64).map(|k| advance(first, freq, k).unwrap()).collect();
        prop_assert_eq!(infer_frequency("S", &values), Ok(freq));
    }

    #[test]
    fn advancing_there_and_back_is_the_identity(alias in inferable_alias(), start in start_strategy(), k in -500i64..500) {
        let freq = freq(alias);
        let first = on_offset_from(start, freq);
        let there = advance(first, freq, k).unwrap();
        prop_assert!(freq.is_on_offset(there));
        prop_assert_eq!(advance(there, freq, -k), Ok(first));
    }

    #[test]
    fn canonical_names_parse_back(alias in inferable_alias(), multiple in 1u32..50) {
        let parsed = freq(&format!("{multiple}{alias}"));
        prop_assert_eq!(freq(&parsed.to_string()), parsed);
    }

    #[test]
    fn any_alias_parses_without_panic(alias in ".{0,12}", numbered in "[0-9]{0,22}[A-Za-z-]{0,6}") {
        let _ = Frequency::parse(&alias);
        let _ = Frequency::parse(&numbered);
    }
}

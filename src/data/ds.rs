//! The `ds` (time stamp) column: integer steps or naive date-times, parsed from strings or JS Date
//! milliseconds and formatted back the way pandas prints a datetime column.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::error::DataError;

/// One ds value. A column holds one kind only (see [`check_uniform_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ds {
    Int(i64),
    Time(NaiveDateTime),
}

impl Ds {
    /// Parses one ds string: an integer, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff]]` or
    /// `YYYY-MM-DDTHH:MM:SS[.fff][Z]`. `None` when it is none of these.
    pub fn parse(text: &str) -> Option<Ds> {
        let text = text.trim();
        if let Ok(step) = text.parse::<i64>() {
            return Some(Ds::Int(step));
        }
        parse_date_time(text).map(Ds::Time)
    }

    /// A JS Date time value (milliseconds since the epoch, UTC) as a naive UTC date-time.
    /// `None` for non-finite, fractional or unrepresentable values.
    pub fn from_epoch_millis(millis: f64) -> Option<Ds> {
        // The range check keeps the cast exact; JS Dates span ±8.64e15 ms anyway.
        if !millis.is_finite() || millis.fract() != 0.0 || millis.abs() > 9.0e15 {
            return None;
        }
        DateTime::from_timestamp_millis(millis as i64).map(|utc| Ds::Time(utc.naive_utc()))
    }

    /// Milliseconds since the epoch for date-times (UTC), the value for integers; for handing back to JS.
    pub fn to_epoch_millis(self) -> f64 {
        match self {
            Ds::Int(step) => step as f64,
            Ds::Time(time) => time.and_utc().timestamp_millis() as f64,
        }
    }

    pub fn is_int(self) -> bool {
        matches!(self, Ds::Int(_))
    }

    /// "an integer" / "a date-time", for messages.
    pub(crate) fn kind_name(self) -> &'static str {
        match self {
            Ds::Int(_) => "an integer",
            Ds::Time(_) => "a date-time",
        }
    }
}

/// One value on its own: dates at midnight print as `YYYY-MM-DD`, others with their time
/// (and fraction of a second, if any).
impl fmt::Display for Ds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ds::Int(step) => write!(f, "{step}"),
            Ds::Time(time) if time.time() == NaiveTime::MIN => f.write_str(&format_date(time.date())),
            Ds::Time(time) => write!(f, "{}", time.format("%Y-%m-%d %H:%M:%S%.f")),
        }
    }
}

fn parse_date_time(text: &str) -> Option<NaiveDateTime> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_time(NaiveTime::MIN));
    }
    if let Some(iso) = text.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(iso, "%Y-%m-%dT%H:%M:%S%.f").ok();
    }
    [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

/// Parses a column of ds strings; all must be of one kind.
pub fn parse_ds_column<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Ds>, DataError> {
    let values = texts
        .iter()
        .enumerate()
        .map(|(row, text)| {
            Ds::parse(text.as_ref()).ok_or_else(|| DataError::DsParse {
                row,
                value: text.as_ref().to_string(),
            })
        })
        .collect::<Result<Vec<Ds>, DataError>>()?;
    check_uniform_kind(&values)?;
    Ok(values)
}

/// A column of JS Date time values (milliseconds since the epoch, UTC).
pub fn ds_from_epoch_millis(millis: &[f64]) -> Result<Vec<Ds>, DataError> {
    millis
        .iter()
        .enumerate()
        .map(|(row, &value)| Ds::from_epoch_millis(value).ok_or(DataError::DsMillis { row, value }))
        .collect()
}

/// A column of integer ds that arrive as JS numbers.
pub fn ds_from_numbers(numbers: &[f64]) -> Result<Vec<Ds>, DataError> {
    // Beyond 2^53 a JS number no longer holds every integer, so such a value is not a trustworthy step.
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    numbers
        .iter()
        .enumerate()
        .map(|(row, &value)| match value {
            v if v.fract() == 0.0 && v.abs() <= MAX_SAFE_INTEGER => Ok(Ds::Int(v as i64)),
            _ => Err(DataError::DsNotInteger { row, value }),
        })
        .collect()
}

/// Errors on the first row whose kind (integer or date-time) differs from row 0's.
pub fn check_uniform_kind(values: &[Ds]) -> Result<(), DataError> {
    let Some(&first) = values.first() else {
        return Ok(());
    };
    match values
        .iter()
        .position(|value| value.is_int() != first.is_int())
    {
        Some(row) => Err(DataError::MixedDsKinds {
            row,
            first,
            value: values[row],
        }),
        None => Ok(()),
    }
}

/// Errors on the first value that is not after its predecessor. `row_of` maps a position in
/// `values` to the input row named in the message.
pub(crate) fn check_strictly_increasing(
    series: &str,
    values: &[Ds],
    row_of: &dyn Fn(usize) -> usize,
) -> Result<(), DataError> {
    for (position, pair) in values.windows(2).enumerate() {
        let (prev, value) = (pair[0], pair[1]);
        let row = row_of(position + 1);
        if value == prev {
            return Err(DataError::DuplicateDs {
                series: series.to_string(),
                row,
                prev_row: row_of(position),
                value,
            });
        }
        if value < prev {
            return Err(DataError::DsNotIncreasing {
                series: series.to_string(),
                row,
                value,
                prev,
            });
        }
    }
    Ok(())
}

/// Formats a column the way pandas prints it: integers as numbers; date-times as dates when
/// every time is midnight, else `YYYY-MM-DD HH:MM:SS` with the fraction digits (3, 6 or 9)
/// the most precise value needs, for all values.
pub fn format_ds_column(values: &[Ds]) -> Vec<String> {
    let times = || {
        values.iter().filter_map(|value| {
            if let Ds::Time(time) = value {
                Some(*time)
            } else {
                None
            }
        })
    };
    let format = if times().all(|time| time.time() == NaiveTime::MIN) {
        "%Y-%m-%d"
    } else {
        match times()
            .map(|time| fraction_digits(time.nanosecond()))
            .max()
            .unwrap_or(0)
        {
            0 => "%Y-%m-%d %H:%M:%S",
            3 => "%Y-%m-%d %H:%M:%S%.3f",
            6 => "%Y-%m-%d %H:%M:%S%.6f",
            _ => "%Y-%m-%d %H:%M:%S%.9f",
        }
    };
    values
        .iter()
        .map(|value| match value {
            Ds::Int(step) => step.to_string(),
            Ds::Time(time) if format == "%Y-%m-%d" => format_date(time.date()),
            Ds::Time(time) => time.format(format).to_string(),
        })
        .collect()
}

/// `YYYY-MM-DD` (as chrono's `%Y-%m-%d`), without parsing a format string: a live forecast prints a date per row.
fn format_date(date: NaiveDate) -> String {
    match date.year() {
        year @ 0..=9999 => format!("{year:04}-{:02}-{:02}", date.month(), date.day()),
        _ => date.format("%Y-%m-%d").to_string(),
    }
}

/// How many fraction-of-second digits (0, 3, 6 or 9) print `nanos` exactly.
fn fraction_digits(nanos: u32) -> u32 {
    match nanos {
        0 => 0,
        n if n % 1_000_000 == 0 => 3,
        n if n % 1_000 == 0 => 6,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn time(text: &str) -> Ds {
        Ds::parse(text).unwrap()
    }

    #[test]
    fn parses_every_accepted_format() {
        let cases = [
            ("1949-01-01", "1949-01-01"),
            ("2014-01-01 00:30", "2014-01-01 00:30:00"),
            ("2014-01-01 00:30:15", "2014-01-01 00:30:15"),
            ("2014-01-01 00:30:15.250", "2014-01-01 00:30:15.250"),
            ("2014-01-01T00:30:15", "2014-01-01 00:30:15"),
            ("2014-01-01T00:30:15.5Z", "2014-01-01 00:30:15.500"),
            ("2014-01-01T00:00:00Z", "2014-01-01"),
        ];
        for (text, shown) in cases {
            assert_eq!(time(text).to_string(), shown, "parsing {text}");
        }
        assert_eq!(Ds::parse(" 17 "), Some(Ds::Int(17)));
        assert_eq!(Ds::parse("-3"), Some(Ds::Int(-3)));
    }

    #[test]
    fn rejects_malformed_strings() {
        for text in [
            "",
            "2020-13-01",
            "2020-02-30",
            "2020/01/01",
            "1.5",
            "2020-01-01 25:00",
            "yesterday",
            "2020-01-01Z",
        ] {
            assert_eq!(Ds::parse(text), None, "{text:?} should not parse");
        }
    }

    #[test]
    fn parse_error_names_row_and_value() {
        let err = parse_ds_column(&["2020-01-01", "2020-01-02", "2020-01-0x"]).unwrap_err();
        assert_eq!(
            err,
            DataError::DsParse {
                row: 2,
                value: "2020-01-0x".into()
            }
        );
        let message = err.to_string();
        assert!(
            message.starts_with("row 2: cannot parse ds '2020-01-0x'"),
            "{message}"
        );
    }

    #[test]
    fn mixed_kinds_error_names_row() {
        let err = parse_ds_column(&["1949-01-01", "1949-02-01", "7"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ds mixes kinds: row 0 is a date-time (1949-01-01) but row 2 is an integer (7)"
        );
    }

    #[test]
    fn epoch_millis_are_utc() {
        assert_eq!(
            Ds::from_epoch_millis(0.0).unwrap().to_string(),
            "1970-01-01"
        );
        assert_eq!(
            Ds::from_epoch_millis(1_388_536_200_000.0)
                .unwrap()
                .to_string(),
            "2014-01-01 00:30:00"
        );
        assert_eq!(
            Ds::from_epoch_millis(-86_400_000.0).unwrap().to_string(),
            "1969-12-31"
        );
        assert_eq!(
            time("2014-01-01 00:30:00").to_epoch_millis(),
            1_388_536_200_000.0
        );
    }

    #[test]
    fn epoch_millis_errors_name_row() {
        for bad in [f64::NAN, f64::INFINITY, 1.5, 1e300] {
            let err = ds_from_epoch_millis(&[0.0, bad]).unwrap_err();
            assert!(
                matches!(err, DataError::DsMillis { row: 1, .. }),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().starts_with("row 1: ds "), "{err}");
        }
    }

    #[test]
    fn numbers_must_be_safe_integers() {
        assert_eq!(
            ds_from_numbers(&[0.0, -3.0, 1859.0]).unwrap(),
            [Ds::Int(0), Ds::Int(-3), Ds::Int(1859)]
        );
        for bad in [0.5, f64::NAN, f64::NEG_INFINITY, 1e16] {
            let err = ds_from_numbers(&[1.0, 2.0, bad]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("row 2: ds {bad} is not an integer (a whole number within ±2^53)")
            );
        }
    }

    #[test]
    fn column_format_follows_pandas() {
        let dates = parse_ds_column(&["1949-01-01", "1949-02-01"]).unwrap();
        assert_eq!(format_ds_column(&dates), ["1949-01-01", "1949-02-01"]);
        let times = parse_ds_column(&["2014-01-01", "2014-01-01 00:30"]).unwrap();
        assert_eq!(
            format_ds_column(&times),
            ["2014-01-01 00:00:00", "2014-01-01 00:30:00"]
        );
        let fractions = parse_ds_column(&["2014-01-01", "2014-01-01 00:00:00.5"]).unwrap();
        assert_eq!(
            format_ds_column(&fractions),
            ["2014-01-01 00:00:00.000", "2014-01-01 00:00:00.500"]
        );
        let micros =
            parse_ds_column(&["2014-01-01 00:00:00.5", "2014-01-01 00:00:00.000001"]).unwrap();
        assert_eq!(
            format_ds_column(&micros),
            ["2014-01-01 00:00:00.500000", "2014-01-01 00:00:00.000001"]
        );
        assert_eq!(format_ds_column(&[Ds::Int(0), Ds::Int(-4)]), ["0", "-4"]);
    }

    #[test]
    fn dates_print_as_chrono_prints_them() {
        for (year, month, day) in [(0, 1, 1), (7, 2, 3), (999, 12, 31), (1949, 1, 1), (2024, 2, 29), (9999, 12, 31), (-44, 3, 15), (10000, 1, 1)] {
            let date = NaiveDate::from_ymd_opt(year, month, day).unwrap();
            assert_eq!(format_date(date), date.format("%Y-%m-%d").to_string());
            assert_eq!(Ds::Time(date.and_time(NaiveTime::MIN)).to_string(), date.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn increasing_check_names_series_rows_and_values() {
        let values = parse_ds_column(&["1950-05-01", "1950-07-01", "1950-06-01"]).unwrap();
        let err = check_strictly_increasing("AirPassengers", &values, &|position| position + 15)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "series 'AirPassengers': ds is not increasing at row 17 (1950-06-01 after 1950-07-01)"
        );
        let err = check_strictly_increasing("X", &[Ds::Int(1), Ds::Int(1)], &|position| position)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "series 'X': duplicate ds 1 at rows 0 and 1"
        );
    }

    fn date_time_strategy() -> impl Strategy<Value = NaiveDateTime> {
        // Years 1..9999 keep the four-digit YYYY form.
        (
            1i32..=9999,
            1u32..=12,
            1u32..=28,
            0u32..24,
            0u32..60,
            0u32..60,
            0u32..1000,
        )
            .prop_map(|(year, month, day, hour, minute, second, millis)| {
                NaiveDate::from_ymd_opt(year, month, day)
                    .unwrap()
                    .and_hms_milli_opt(hour, minute, second, millis)
                    .unwrap()
            })
    }

    proptest! {
        #[test]
        fn date_columns_round_trip(dates in prop::collection::vec(date_time_strategy(), 1..8)) {
            let texts: Vec<String> = dates.iter().map(|time| time.format("%Y-%m-%d").to_string()).collect();
            prop_assert_eq!(format_ds_column(&parse_ds_column(&texts).unwrap()), texts);
        }

        #[test]
        fn date_time_columns_round_trip(times in prop::collection::vec(date_time_strategy(), 1..8)) {
            let texts: Vec<String> =
                times.iter().map(|time| time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()).collect();
            let parsed = parse_ds_column(&texts).unwrap();
            let formatted = format_ds_column(&parsed);
            // pandas drops an all-zero fraction column and a column of all-midnight times prints as dates.
            let reparsed = parse_ds_column(&formatted).unwrap();
            prop_assert_eq!(reparsed, parsed);
            if times.iter().any(|time| time.nanosecond() != 0) {
                prop_assert_eq!(formatted, texts);
            }
        }

        #[test]
        fn integers_round_trip(steps in prop::collection::vec(any::<i64>(), 1..8)) {
            let texts: Vec<String> = steps.iter().map(|step| step.to_string()).collect();
            prop_assert_eq!(format_ds_column(&parse_ds_column(&texts).unwrap()), texts);
        }

        #[test]
        fn epoch_millis_round_trip(millis in -62_135_596_800_000i64..253_402_300_799_000) {
            prop_assert_eq!(Ds::from_epoch_millis(millis as f64).unwrap().to_epoch_millis(), millis as f64);
        }

        #[test]
        fn any_string_parses_without_panic(text in ".{0,40}") {
            let _ = Ds::parse(&text);
        }
    }
}

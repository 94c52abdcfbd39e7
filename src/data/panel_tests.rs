//! Tests of building a panel from columns: grouping and sorting, validation errors and frequency inference.

use super::*;
use crate::data::ds::parse_ds_column;
use crate::data::test_data;
use proptest::prelude::*;

fn dates(texts: &[&str]) -> Vec<Ds> {
    parse_ds_column(texts).unwrap()
}

fn panel(ids: &[&str], ds: &[&str], freq: Option<&str>) -> Result<Panel, DataError> {
    let y: Vec<f64> = (0..ids.len()).map(|row| row as f64).collect();
    Panel::from_columns(
        ids,
        &dates(ds),
        &y,
        freq.map(|alias| alias.parse().unwrap()),
    )
}

/// The message of the error `panel` gives for these columns.
fn panel_error(ids: &[&str], ds: &[&str], freq: Option<&str>) -> String {
    panel(ids, ds, freq).unwrap_err().to_string()
}

#[test]
fn exogenous_columns_follow_their_rows() {
    let ids = ["b", "a", "b", "a"];
    let ds: Vec<Ds> = [0, 0, 1, 1].map(Ds::Int).to_vec();
    let price = Column { name: "price".into(), values: vec![10.0, 20.0, 11.0, 21.0] };
    let panel = Panel::with_exogenous(&ids, &ds, &[1.0, 2.0, 3.0, 4.0], vec![price], None).unwrap();
    assert_eq!((panel.y(), &panel.exogenous()[0].values[..]), (&[1.0, 3.0, 2.0, 4.0][..], &[10.0, 11.0, 20.0, 21.0][..]));
    let cut = panel.without_last(1, "h").unwrap();
    assert_eq!(cut.exogenous()[0].values, [10.0, 20.0]);
    let size = Column { name: "size".into(), values: vec![7.0, 8.0, 9.0] };
    let with = panel.clone().with_statics(&["a", "c", "b"], vec![size.clone()]).unwrap();
    assert_eq!(with.statics()[0].values, [9.0, 7.0]);
    assert!(matches!(panel.clone().with_statics(&["a"], vec![Column { values: vec![1.0], ..size.clone() }]), Err(DataError::MissingStatic { .. })));
    assert!(matches!(panel.clone().with_statics(&["a", "a", "b"], vec![size]), Err(DataError::DuplicateStatic { .. })));
    let nan = Column { name: "price".into(), values: vec![1.0, f64::NAN, 1.0, 1.0] };
    let err = Panel::with_exogenous(&ids, &ds, &[1.0; 4], vec![nan], None).unwrap_err();
    assert_eq!(err.to_string(), "exogenous column 'price' is NaN at row 1 (series 'a'); exogenous values must be finite");
    let short = Column { name: "price".into(), values: vec![1.0] };
    assert!(matches!(Panel::with_exogenous(&ids, &ds, &[1.0; 4], vec![short], None), Err(DataError::ExogLength { .. })));
}

#[test]
fn without_last_keeps_each_series_prefix() {
    let ids = ["a", "a", "a", "b", "b", "b", "b"];
    let ds: Vec<Ds> = [0, 1, 2, 0, 1, 2, 3].map(Ds::Int).to_vec();
    let panel = Panel::from_columns(&ids, &ds, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], None).unwrap();
    let cut = panel.without_last(2, "h").unwrap();
    assert_eq!((cut.y(), cut.offsets()), (&[1.0, 4.0, 5.0][..], &[0, 1, 3][..]));
    assert!(panel.without_last(3, "h").is_err());
    assert_eq!(panel.with_y(vec![0.0; 7]).unwrap().y(), &[0.0; 7]);
    assert!(panel.with_y(vec![f64::NAN; 7]).is_none());
}

#[test]
fn groups_interleaved_series_in_first_appearance_order() {
    let panel = panel(
        &["b", "a", "b", "a", "b", "a"],
        &["2020-01-01", "2020-03-01", "2020-02-01", "2020-04-01", "2020-03-01", "2020-05-01"],
        None,
    )
    .unwrap();
    assert_eq!(panel.ids(), ["b", "a"]);
    assert_eq!(panel.offsets(), [0, 3, 6]);
    assert_eq!(panel.y(), [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    assert_eq!(panel.frequency().to_string(), "MS");
    let a = panel.series(1).unwrap();
    assert_eq!(
        (a.id, a.len(), a.last_ds()),
        ("a", 3, Some(dates(&["2020-05-01"])[0]))
    );
    assert_eq!(panel.series(2), None);
    assert_eq!(
        panel
            .series_iter()
            .map(|series| series.id)
            .collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(
        panel.future_ds(1, 2).unwrap(),
        dates(&["2020-06-01", "2020-07-01"])
    );
    assert_eq!(
        panel.future_ds(2, 1).unwrap_err().to_string(),
        "series index 2 is out of range (the panel has 2 series)"
    );
}

#[test]
fn codes_and_labels_build_the_same_panel() {
    let ds = dates(&["2020-01-01", "2020-01-01", "2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03"]);
    let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let from_codes =
        Panel::from_codes(&[1, 0, 1, 0, 1, 0], &["x", "y"], ds.clone(), y.to_vec(), Vec::new(), None).unwrap();
    let from_strings =
        Panel::from_columns(&["y", "x", "y", "x", "y", "x"], &ds, &y, None).unwrap();
    assert_eq!(from_codes, from_strings);
    assert_eq!(from_codes.ids(), ["y", "x"]);
}

#[test]
fn code_and_label_errors_name_the_row_or_label() {
    let ds = dates(&["2020-01-01", "2020-01-02"]);
    let err = Panel::from_codes(&[0, 3], &["x", "y"], ds.clone(), vec![1.0, 2.0], Vec::new(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 1: unique_id code 3 has no label (there are 2 labels)"
    );
    let err = Panel::from_codes(&[0, 1], &["x", "y", "x"], ds.clone(), vec![1.0, 2.0], Vec::new(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unique_id label 'x' is given twice (codes 0 and 2)"
    );
}

#[test]
fn column_length_and_empty_errors() {
    let err = Panel::from_columns(&["a", "a"], &dates(&["2020-01-01"]), &[1.0, 2.0], None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "columns differ in length: unique_id has 2 rows, ds has 1, y has 2"
    );
    let none: [&str; 0] = [];
    assert_eq!(
        Panel::from_columns(&none, &[], &[], None)
            .unwrap_err()
            .to_string(),
        "the input has no rows"
    );
}

#[test]
fn non_finite_y_names_series_and_row() {
    let ds = dates(&["2020-01-01", "2020-01-02", "2020-01-03"]);
    for (value, shown) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
    ] {
        let err =
            Panel::from_columns(&["a", "b", "b"], &ds, &[1.0, 2.0, value], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("series 'b': y is {shown} at row 2")
        );
    }
}

#[test]
fn order_errors_name_series_rows_and_values() {
    let ds = ["1950-01-01", "1950-07-01", "1950-08-01", "1950-02-01", "1950-06-01"];
    let err = panel_error(&["x", "a", "a", "x", "a"], &ds, None);
    assert_eq!(err, "series 'a': ds is not increasing at row 4 (1950-06-01 after 1950-08-01)");
    let err = panel_error(&["a", "b", "a"], &["1950-07-01", "1950-07-01", "1950-07-01"], None);
    assert_eq!(err, "series 'a': duplicate ds 1950-07-01 at rows 0 and 2");
}

#[test]
fn mixed_ds_kinds_are_rejected() {
    let err = Panel::from_columns(
        &["a", "a"],
        &[Ds::Int(1), dates(&["2020-01-01"])[0]],
        &[1.0, 2.0],
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::MixedDsKinds { row: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn frequency_errors_name_the_series() {
    let ds = ["2020-01-01", "2020-02-01", "2020-03-01", "2020-01-01", "2020-02-01", "2020-04-01"];
    let err = panel_error(&["a", "a", "a", "b", "b", "b"], &ds, None);
    assert_eq!(err, "series 'b': ds 2020-04-01 at row 5 does not follow 2020-02-01 at frequency 'MS' (expected 2020-03-01)");
    let err = panel_error(&["a", "a", "b"], &["2020-01-01", "2020-02-01", "2020-01-15"], Some("MS"));
    assert_eq!(err, "series 'b': ds 2020-01-15 at row 2 is not on frequency 'MS'");
    let err = panel(
        &["a", "a", "b", "b"],
        &["2020-01-01", "2020-02-01", "2020-01-01", "2020-02-01"],
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::TooFewToInfer { len: 2, .. }),
        "{err:?}"
    );
    let err = panel_error(&["a", "a"], &["2020-01-01", "2020-02-01"], Some("1"));
    assert_eq!(err, "frequency '1' needs integer ds, but ds holds a date-time (2020-01-01)");
    // An explicit frequency also serves series too short to infer from.
    let short = panel(
        &["a", "a", "b"],
        &["2020-01-01", "2020-02-01", "2021-06-01"],
        Some("MS"),
    )
    .unwrap();
    assert_eq!(short.offsets(), [0, 2, 3]);
}

#[test]
fn inference_uses_the_first_series_long_enough() {
    let panel = panel(
        &["short", "long", "long", "long"],
        &["2020-01-06", "2020-01-01", "2020-01-02", "2020-01-03"],
        None,
    )
    .unwrap();
    assert_eq!(panel.frequency().to_string(), "D");
}

#[test]
fn min_length_error_names_the_first_short_series() {
    let panel = panel(
        &["a", "a", "a", "b", "b"],
        &["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-01", "2020-01-02"],
        None,
    )
    .unwrap();
    assert_eq!(panel.check_min_length(2, "inputSize"), Ok(()));
    assert_eq!(
        panel
            .check_min_length(3, "inputSize + horizon")
            .unwrap_err()
            .to_string(),
        "series 'b' has 2 rows; inputSize + horizon = 3 are needed"
    );
}

#[test]
fn builds_the_repository_data_sets() {
    let cases = [
        ("data/air_passengers.csv", 1, "MS", "1961-01-01"),
        ("examples/data/visnights.csv", 20, "QS", "2017-01-01"),
        ("examples/data/eustockmarkets.csv", 4, "1", "1860"),
        ("examples/data/elecdemand_30min_last_week.csv", 1, "30min", "2015-01-01"),
    ];
    for (file_name, n_series, alias, next_ds) in cases {
        let columns = test_data::load(file_name);
        let ds = parse_ds_column(&columns.ds).unwrap();
        let panel = Panel::from_columns(&columns.unique_id, &ds, &columns.y, None).unwrap();
        assert_eq!(
            (panel.n_series(), panel.n_rows()),
            (n_series, columns.y.len()),
            "{file_name}"
        );
        assert_eq!(panel.frequency().to_string(), alias, "{file_name}");
        assert_eq!(
            panel.future_ds(0, 1).unwrap()[0].to_string(),
            next_ds,
            "{file_name}"
        );
    }
}

fn row_strategy() -> impl Strategy<Value = (u32, Ds, f64)> {
    let ds = prop_oneof![
        (-3i64..40).prop_map(Ds::Int),
        (0i64..400).prop_map(|days| advance(
            dates(&["2023-12-25"])[0],
            "D".parse().unwrap(),
            days
        )
        .unwrap()),
    ];
    let y = prop_oneof![9 => -1e3f64..1e3, 1 => Just(f64::NAN)];
    (0u32..4, ds, y)
}

proptest! {
    /// Any rows, any frequency: a panel or an error, never a panic; a panel keeps every row.
    #[test]
    fn arbitrary_input_never_panics(
        rows in prop::collection::vec(row_strategy(), 0..40),
        alias in prop::sample::select(vec!["", "1", "2", "D", "B", "W", "MS", "ME", "QS", "h"]),
    ) {
        let codes: Vec<u32> = rows.iter().map(|row| row.0).collect();
        let ds: Vec<Ds> = rows.iter().map(|row| row.1).collect();
        let y: Vec<f64> = rows.iter().map(|row| row.2).collect();
        let freq = alias.parse().ok();
        if let Ok(panel) = Panel::from_codes(&codes, &["a", "b", "c"], ds.clone(), y.clone(), Vec::new(), freq) {
            prop_assert_eq!(panel.n_rows(), rows.len());
            prop_assert_eq!(panel.offsets().last(), Some(&rows.len()));
            for index in 0..panel.n_series() {
                let _ = panel.future_ds(index, 3);
            }
        }
    }
}

//! The one error type of the data layer. Every message names what is wrong and where
//! (series id, input row), because it is shown as-is to the JS caller.

use std::fmt;

use super::ds::Ds;
use super::freq::Frequency;

#[derive(Debug, Clone, PartialEq)]
pub enum DataError {
    /// The input has no rows.
    Empty,
    /// The input columns have different lengths.
    ColumnLengths {
        unique_id: usize,
        ds: usize,
        y: usize,
    },
    /// A ds string is in none of the accepted formats.
    DsParse {
        row: usize,
        value: String,
    },
    /// A JS Date time value (milliseconds since the epoch) that is not a representable whole millisecond.
    DsMillis {
        row: usize,
        value: f64,
    },
    /// An integer ds column value (a JS number) that is not a safe integer.
    DsNotInteger {
        row: usize,
        value: f64,
    },
    /// Integers and date-times in one ds column.
    MixedDsKinds {
        row: usize,
        first: Ds,
        value: Ds,
    },
    /// An integer unique_id code with no label.
    UnknownSeriesCode {
        row: usize,
        code: u32,
        n_labels: usize,
    },
    /// Two codes share one label, so two series would have the same id.
    DuplicateLabel {
        label: String,
        first_code: u32,
        code: u32,
    },
    NonFiniteY {
        series: String,
        row: usize,
        value: f64,
    },
    DsNotIncreasing {
        series: String,
        row: usize,
        value: Ds,
        prev: Ds,
    },
    DuplicateDs {
        series: String,
        row: usize,
        prev_row: usize,
        value: Ds,
    },
    UnknownFrequency {
        alias: String,
    },
    InvalidFrequencyMultiple {
        alias: String,
    },
    /// An integer step frequency with date-time ds, or a calendar frequency with integer ds.
    FrequencyDsKind {
        freq: Frequency,
        ds: Ds,
    },
    /// Advancing a ds leaves the representable range.
    OutOfRange {
        ds: Ds,
        freq: Frequency,
        k: i64,
    },
    TooFewToInfer {
        series: String,
        len: usize,
    },
    IrregularSpacing {
        series: String,
        row: usize,
        prev: Ds,
        value: Ds,
    },
    OffFrequency {
        series: String,
        row: usize,
        value: Ds,
        freq: Frequency,
    },
    FrequencyMismatch {
        series: String,
        row: usize,
        prev: Ds,
        value: Ds,
        expected: Ds,
        freq: Frequency,
    },
    SeriesTooShort {
        series: String,
        len: usize,
        required: usize,
        what: String,
    },
    NoSuchSeries {
        index: usize,
        n_series: usize,
    },
    /// An exogenous column whose length differs from y's.
    ExogLength {
        column: String,
        len: usize,
        rows: usize,
    },
    /// NaN or ±Infinity in an exogenous column (`row`: the input row, or the series' index for static data).
    NonFiniteExog {
        column: String,
        series: String,
        row: usize,
        value: f64,
    },
    /// Static data without a row for a series of the panel.
    MissingStatic {
        series: String,
    },
    /// Two static rows for one series.
    DuplicateStatic {
        series: String,
        row: usize,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataError::*;
        match self {
            Empty => write!(f, "the input has no rows"),
            ColumnLengths { unique_id, ds, y } => write!(
                f,
                "columns differ in length: unique_id has {unique_id} rows, ds has {ds}, y has {y}"
            ),
            DsParse { row, value } => write!(
                f,
                "row {row}: cannot parse ds '{value}'; expected an integer, YYYY-MM-DD, \
                 YYYY-MM-DD HH:MM[:SS[.fff]] or YYYY-MM-DDTHH:MM:SS[.fff][Z]"
            ),
            DsMillis { row, value } => write!(
                f,
                "row {row}: ds {value} is not a valid JS Date time (whole milliseconds since 1970-01-01 UTC)"
            ),
            DsNotInteger { row, value } => {
                write!(f, "row {row}: ds {value} is not an integer (a whole number within ±2^53)")
            }
            MixedDsKinds { row, first, value } => write!(
                f,
                "ds mixes kinds: row 0 is {} ({first}) but row {row} is {} ({value})",
                first.kind_name(),
                value.kind_name()
            ),
            UnknownSeriesCode { row, code, n_labels } => {
                write!(f, "row {row}: unique_id code {code} has no label (there are {n_labels} labels)")
            }
            DuplicateLabel { label, first_code, code } => {
                write!(f, "unique_id label '{label}' is given twice (codes {first_code} and {code})")
            }
            NonFiniteY { series, row, value } => {
                // JavaScript's names, as users see them in their data.
                let shown = if value.is_nan() { "NaN" } else if *value > 0.0 { "Infinity" } else { "-Infinity" };
                write!(f, "series '{series}': y is {shown} at row {row}")
            }
            DsNotIncreasing { series, row, value, prev } => {
                write!(f, "series '{series}': ds is not increasing at row {row} ({value} after {prev})")
            }
            DuplicateDs { series, row, prev_row, value } => {
                write!(f, "series '{series}': duplicate ds {value} at rows {prev_row} and {row}")
            }
            UnknownFrequency { alias } => write!(
                f,
                "unknown frequency '{alias}'; accepted: an integer step (e.g. '1'), or an optional multiple \
                 followed by one of {} (e.g. '30min', '2D', '3MS')",
                super::freq::ACCEPTED_ALIASES
            ),
            InvalidFrequencyMultiple { alias } => {
                write!(f, "frequency '{alias}': the multiple must be a whole number from 1 up, and small enough to represent")
            }
            FrequencyDsKind { freq, ds } => write!(
                f,
                "frequency '{freq}' needs {} ds, but ds holds {} ({ds})",
                if freq.is_step() { "integer" } else { "date-time" },
                ds.kind_name()
            ),
            OutOfRange { ds, freq, k } => {
                write!(f, "advancing {ds} by {k} × '{freq}' leaves the representable range")
            }
            TooFewToInfer { series, len } => write!(
                f,
                "series '{series}': {len} ds values are too few to infer a frequency (3 are needed); give the frequency explicitly"
            ),
            IrregularSpacing { series, row, prev, value } => write!(
                f,
                "series '{series}': cannot infer a frequency: ds spacing is irregular at row {row} ({value} after {prev})"
            ),
            OffFrequency { series, row, value, freq } => {
                write!(f, "series '{series}': ds {value} at row {row} is not on frequency '{freq}'")
            }
            FrequencyMismatch { series, row, prev, value, expected, freq } => write!(
                f,
                "series '{series}': ds {value} at row {row} does not follow {prev} at frequency '{freq}' (expected {expected})"
            ),
            SeriesTooShort { series, len, required, what } => {
                write!(f, "series '{series}' has {len} rows; {what} = {required} are needed")
            }
            NoSuchSeries { index, n_series } => {
                write!(f, "series index {index} is out of range (the panel has {n_series} series)")
            }
            ExogLength { column, len, rows } => {
                write!(f, "exogenous column '{column}' has {len} values but y has {rows}")
            }
            NonFiniteExog { column, series, row, value } => {
                write!(f, "exogenous column '{column}' is {value} at row {row} (series '{series}'); exogenous values must be finite")
            }
            MissingStatic { series } => write!(f, "the static data has no row for series '{series}'"),
            DuplicateStatic { series, row } => write!(f, "the static data has a second row for series '{series}' at row {row}"),
        }
    }
}

impl std::error::Error for DataError {}

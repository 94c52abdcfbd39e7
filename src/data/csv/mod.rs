//! Long-format CSV files read into columns, or straight into a [`Panel`], without a JS object per row: an id column
//! (or none: one series), a time column (integer steps or dates), a numeric target column, and every other column
//! numeric, an exogenous variable (or ignored). Strict RFC 4180 quoting ([`records`]); series ids interned as
//! integer codes. One reader for the API (`readCsv`) and the command-line tool, which words the structured errors
//! ([`CsvErrorKind`]) its own way.

mod records;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

pub use records::Problem;
use records::{Record, RecordError, RecordReader};

use super::ds::Ds;
use super::error::DataError;
use super::freq::Frequency;
use super::panel::{Column, Panel};

/// Which column holds the series ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdColumn {
    /// This column, which the header must have.
    Required(String),
    /// This column when the header has it; otherwise the file is one series (named after `default_id`).
    IfPresent(String),
    /// None: the file is one series (named after `default_id`).
    Absent,
}

/// Column names, the field delimiter and what to do with other columns and with rows out of order;
/// NeuralForecast's `unique_id`, `ds`, `y` and `,` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    pub id_col: IdColumn,
    pub time_col: String,
    pub target_col: String,
    /// One byte other than `"`, CR and LF.
    pub delimiter: u8,
    /// The id of the single series of a file without an id column.
    pub default_id: String,
    /// Every other column is a numeric exogenous variable (`true`) or ignored (`false`).
    pub exogenous: bool,
    /// Puts the rows in order of series (first appearance) and time, keeping the file order of equal times;
    /// `false` leaves them as they are (and a panel then rejects a series out of order).
    pub sort: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            id_col: IdColumn::Required("unique_id".into()),
            time_col: "ds".into(),
            target_col: "y".into(),
            delimiter: b',',
            default_id: "series".into(),
            exogenous: true,
            sort: false,
        }
    }
}

/// Why a file could not be read: the file's name and what is wrong where.
#[derive(Debug)]
pub struct CsvError {
    pub path: String,
    pub kind: CsvErrorKind,
}

/// What is wrong with a file, with the 1-based line and the column where there is one.
#[derive(Debug)]
pub enum CsvErrorKind {
    Io(std::io::Error),
    /// Malformed quoting or text that is not UTF-8.
    Text { line: u64, problem: Problem },
    /// No header line.
    Empty,
    NoDataRows,
    /// The header lacks `column`; `columns` are the names it has.
    MissingColumn { column: String, columns: Vec<String> },
    /// A record with another number of fields than the header.
    FieldCount { line: u64, expected: usize, found: usize },
    /// A time value that is neither an integer step nor a date.
    BadTime { line: u64, column: String, value: String },
    /// A value that is not a finite number (`value` trimmed).
    BadNumber { line: u64, column: String, value: String },
    /// The columns do not make a valid panel.
    Data(DataError),
}

impl CsvError {
    fn from_records(path: &str, error: RecordError) -> Self {
        let kind = match error {
            RecordError::Io(e) => CsvErrorKind::Io(e),
            RecordError::Text { line, problem } => CsvErrorKind::Text { line, problem },
        };
        CsvError { path: path.to_string(), kind }
    }

    /// The 1-based line at fault, where there is one.
    pub fn line(&self) -> Option<u64> {
        use CsvErrorKind::*;
        match &self.kind {
            Text { line, .. } | FieldCount { line, .. } | BadTime { line, .. } | BadNumber { line, .. } => Some(*line),
            MissingColumn { .. } => Some(1),
            Io(_) | Empty | NoDataRows | Data(_) => None,
        }
    }
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CsvErrorKind::*;
        let path = &self.path;
        if let Some(line) = self.line() {
            write!(f, "{path} line {line}: ")?;
        }
        match &self.kind {
            Io(error) => write!(f, "{path}: {error}"),
            Text { problem, .. } => write!(f, "{problem}"),
            Empty => write!(f, "{path} is empty: expected a header line and data rows"),
            NoDataRows => write!(f, "{path} has a header but no data rows"),
            MissingColumn { column, columns } => write!(f, "no column \"{column}\" (columns: {})", columns.join(", ")),
            FieldCount { expected, found, .. } => write!(f, "expected {expected} fields as in the header, found {found}"),
            BadTime { column, value, .. } => write!(f, "time column \"{column}\" has {value:?}, not a date or an integer step"),
            BadNumber { column, value, .. } => write!(f, "column \"{column}\" has {value:?}, not a finite number"),
            Data(error) => write!(f, "{path}: {error}"),
        }
    }
}

impl std::error::Error for CsvError {}

/// The columns of a file, rows in file order (or sorted, see [`CsvOptions::sort`]); series ids as codes into
/// `labels` in order of first appearance.
#[derive(Debug, Default)]
pub struct CsvColumns {
    pub codes: Vec<u32>,
    pub labels: Vec<String>,
    pub ds: Vec<Ds>,
    pub y: Vec<f64>,
    pub exogenous: Vec<Column>,
    /// The 1-based file line of each row.
    pub lines: Vec<u64>,
}

/// Reads `path` into a panel at frequency `freq` (inferred when `None`).
pub fn read_csv(path: &Path, options: &CsvOptions, freq: Option<Frequency>) -> Result<Panel, CsvError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| CsvError { path: name.clone(), kind: CsvErrorKind::Io(error) })?;
    read_from(file, &name, options, freq)
}

/// Reads CSV text from `reader` (named `name` in messages) into a panel.
pub fn read_from<R: Read>(reader: R, name: &str, options: &CsvOptions, freq: Option<Frequency>) -> Result<Panel, CsvError> {
    let columns = read_columns(reader, name, options)?;
    Panel::from_codes(&columns.codes, &columns.labels, columns.ds, columns.y, columns.exogenous, freq)
        .map_err(|error| CsvError { path: name.to_string(), kind: CsvErrorKind::Data(error) })
}

/// Every record of CSV `text` (named `name` in messages) with the line it starts on, for callers that want the
/// fields as they are.
pub fn parse_records(text: &str, name: &str, delimiter: u8) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
    let mut reader = RecordReader::new(text.as_bytes(), delimiter);
    let mut record = Record::default();
    let mut records = Vec::new();
    while reader.read(&mut record).map_err(|e| CsvError::from_records(name, e))? {
        records.push((record.line(), record.iter().map(str::to_string).collect()));
    }
    Ok(records)
}

/// Reads CSV text from `reader` (named `name` in messages) into columns, without the checks of a panel.
pub fn read_columns<R: Read>(reader: R, name: &str, options: &CsvOptions) -> Result<CsvColumns, CsvError> {
    use CsvErrorKind::*;
    let error = |kind: CsvErrorKind| CsvError { path: name.to_string(), kind };
    let read_error = |e: RecordError| CsvError::from_records(name, e);
    let mut records = RecordReader::new(reader, options.delimiter);
    let mut record = Record::default();
    if !records.read(&mut record).map_err(read_error)? {
        return Err(error(Empty));
    }
    let header: Vec<String> = record.iter().map(|h| h.trim().to_string()).collect();
    let position = |column: &str| header.iter().position(|h| h == column);
    let find = |column: &str| position(column).ok_or_else(|| error(MissingColumn { column: column.to_string(), columns: header.clone() }));
    let id = match &options.id_col {
        IdColumn::Required(column) => Some(find(column)?),
        IdColumn::IfPresent(column) => position(column),
        IdColumn::Absent => None,
    };
    let (time, target) = (find(&options.time_col)?, find(&options.target_col)?);
    let exog: Vec<usize> = match options.exogenous {
        true => (0..header.len()).filter(|c| Some(*c) != id && *c != time && *c != target).collect(),
        false => Vec::new(),
    };
    let mut columns = ColumnsBuilder::new(exog.iter().map(|&c| header[c].clone()).collect());
    while records.read(&mut record).map_err(read_error)? {
        let line = record.line();
        if record.len() != header.len() {
            return Err(error(FieldCount { line, expected: header.len(), found: record.len() }));
        }
        let series = id.map_or(options.default_id.as_str(), |c| record.get(c));
        let ds = Ds::parse(record.get(time)).ok_or_else(|| error(BadTime { line, column: header[time].clone(), value: record.get(time).to_string() }))?;
        let number = |c: usize| {
            let text = record.get(c).trim();
            let value = text.parse::<f64>().ok().filter(|v| v.is_finite());
            value.ok_or_else(|| error(BadNumber { line, column: header[c].clone(), value: text.to_string() }))
        };
        columns.push(series, ds, number(target)?, exog.iter().map(|&c| number(c)), line)?;
    }
    let mut columns = columns.finish();
    if columns.y.is_empty() {
        return Err(error(NoDataRows));
    }
    if options.sort {
        columns.sort_by_series_and_time();
    }
    Ok(columns)
}

impl CsvColumns {
    /// Rows in order of series code, then time; rows of equal time keep their order.
    fn sort_by_series_and_time(&mut self) {
        let mut order: Vec<usize> = (0..self.y.len()).collect();
        order.sort_by_key(|&row| (self.codes[row], self.ds[row]));
        if order.iter().enumerate().all(|(i, &row)| i == row) {
            return;
        }
        fn permute<T: Copy>(values: &mut Vec<T>, order: &[usize]) {
            *values = order.iter().map(|&row| values[row]).collect();
        }
        permute(&mut self.codes, &order);
        permute(&mut self.ds, &order);
        permute(&mut self.y, &order);
        permute(&mut self.lines, &order);
        for column in &mut self.exogenous {
            permute(&mut column.values, &order);
        }
    }
}

/// The columns read so far, with the index of each series id (looked up only when a row's series differs from the
/// row before).
struct ColumnsBuilder {
    columns: CsvColumns,
    code_of: HashMap<String, u32>,
}

impl ColumnsBuilder {
    fn new(exog: Vec<String>) -> Self {
        let exogenous = exog.into_iter().map(|name| Column { name, values: Vec::new() }).collect();
        ColumnsBuilder { columns: CsvColumns { exogenous, ..CsvColumns::default() }, code_of: HashMap::new() }
    }

    fn push(&mut self, series: &str, ds: Ds, y: f64, exog: impl Iterator<Item = Result<f64, CsvError>>, line: u64) -> Result<(), CsvError> {
        let columns = &mut self.columns;
        for (column, value) in columns.exogenous.iter_mut().zip(exog) {
            column.values.push(value?);
        }
        let last = columns.codes.last().copied();
        let code = match last.filter(|&code| columns.labels[code as usize] == series).or_else(|| self.code_of.get(series).copied()) {
            Some(code) => code,
            None => {
                let code = columns.labels.len() as u32;
                columns.labels.push(series.to_string());
                self.code_of.insert(series.to_string(), code);
                code
            }
        };
        columns.codes.push(code);
        columns.ds.push(ds);
        columns.y.push(y);
        columns.lines.push(line);
        Ok(())
    }

    fn finish(self) -> CsvColumns {
        self.columns
    }
}

#[cfg(test)]
mod tests;

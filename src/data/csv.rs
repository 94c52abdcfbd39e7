//! Long-format CSV files read straight into a [`Panel`], without a JS object per row: an id column (or none: one
//! series), a time column (integer steps or dates), a numeric target column, and every other column numeric, an
//! exogenous variable. RFC 4180 quoting through the `csv` crate; series ids interned as integer codes.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::ds::Ds;
use super::error::DataError;
use super::freq::Frequency;
use super::panel::{Column, Panel};

/// Column names and the field delimiter; NeuralForecast's `unique_id`, `ds`, `y` and `,` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// `None`: the file is one series (named after `default_id`).
    pub id_col: Option<String>,
    pub time_col: String,
    pub target_col: String,
    pub delimiter: u8,
    /// The id of the single series of a file without an id column.
    pub default_id: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            id_col: Some("unique_id".into()),
            time_col: "ds".into(),
            target_col: "y".into(),
            delimiter: b',',
            default_id: "series".into(),
        }
    }
}

/// Why a file could not be read; the message names the file, line and column.
#[derive(Debug)]
pub enum CsvError {
    Io { path: String, error: std::io::Error },
    /// A field, header or record problem at a line of the file.
    Format { path: String, line: u64, message: String },
    Data { path: String, error: DataError },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Io { path, error } => write!(f, "{path}: {error}"),
            CsvError::Format { path, line, message } => write!(f, "{path} line {line}: {message}"),
            CsvError::Data { path, error } => write!(f, "{path}: {error}"),
        }
    }
}

impl std::error::Error for CsvError {}

/// Reads `path` into a panel at frequency `freq` (inferred when `None`).
pub fn read_csv(path: &Path, options: &CsvOptions, freq: Option<Frequency>) -> Result<Panel, CsvError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| CsvError::Io { path: name.clone(), error })?;
    read_from(std::io::BufReader::with_capacity(1 << 20, file), &name, options, freq)
}

/// Reads CSV text from `reader` (named `name` in messages).
pub fn read_from<R: std::io::Read>(reader: R, name: &str, options: &CsvOptions, freq: Option<Frequency>) -> Result<Panel, CsvError> {
    let format = |line: u64, message: String| CsvError::Format { path: name.to_string(), line, message };
    let mut csv = ::csv::ReaderBuilder::new().delimiter(options.delimiter).has_headers(true).flexible(false).from_reader(reader);
    let header: Vec<String> = csv.headers().map_err(|e| format(1, e.to_string()))?.iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
    let find = |column: &str| header.iter().position(|h| h == column).ok_or_else(|| format(1, format!("no column \"{column}\" (columns: {})", header.join(", "))));
    let id = options.id_col.as_deref().map(find).transpose()?;
    let (time, target) = (find(&options.time_col)?, find(&options.target_col)?);
    let exog: Vec<usize> = (0..header.len()).filter(|c| Some(*c) != id && *c != time && *c != target).collect();
    let mut columns = ColumnsBuilder::new(exog.iter().map(|&c| header[c].clone()).collect());
    let mut record = ::csv::StringRecord::new();
    while csv.read_record(&mut record).map_err(|e| format(e.position().map_or(0, |p| p.line()), e.to_string()))? {
        let line = record.position().map_or(0, |p| p.line());
        let field = |c: usize| record.get(c).unwrap_or("");
        let series = id.map_or(options.default_id.as_str(), field);
        let ds = Ds::parse(field(time)).ok_or_else(|| format(line, format!("time column \"{}\" has {:?}, not a date or an integer step", header[time], field(time))))?;
        let number = |c: usize| {
            let text = field(c).trim();
            text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format(line, format!("column \"{}\" has {text:?}, not a finite number", header[c])))
        };
        columns.push(series, ds, number(target)?, exog.iter().map(|&c| number(c)))?;
    }
    columns.into_panel(freq).map_err(|error| CsvError::Data { path: name.to_string(), error })
}

/// The columns read so far, series ids as codes into `labels`.
struct ColumnsBuilder {
    codes: Vec<u32>,
    labels: Vec<String>,
    code_of: HashMap<String, u32>,
    ds: Vec<Ds>,
    y: Vec<f64>,
    exog: Vec<Column>,
}

impl ColumnsBuilder {
    fn new(exog: Vec<String>) -> Self {
        ColumnsBuilder {
            codes: Vec::new(),
            labels: Vec::new(),
            code_of: HashMap::new(),
            ds: Vec::new(),
            y: Vec::new(),
            exog: exog.into_iter().map(|name| Column { name, values: Vec::new() }).collect(),
        }
    }

    fn push(&mut self, series: &str, ds: Ds, y: f64, exog: impl Iterator<Item = Result<f64, CsvError>>) -> Result<(), CsvError> {
        for (column, value) in self.exog.iter_mut().zip(exog) {
            column.values.push(value?);
        }
        let code = match self.code_of.get(series) {
            Some(&code) => code,
            None => {
                let code = self.labels.len() as u32;
                self.labels.push(series.to_string());
                self.code_of.insert(series.to_string(), code);
                code
            }
        };
        self.codes.push(code);
        self.ds.push(ds);
        self.y.push(y);
        Ok(())
    }

    fn into_panel(self, freq: Option<Frequency>) -> Result<Panel, DataError> {
        Panel::from_codes(&self.codes, &self.labels, self.ds, self.y, self.exog, freq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, options: &CsvOptions) -> Result<Panel, CsvError> {
        read_from(text.as_bytes(), "t.csv", options, None)
    }

    #[test]
    fn reads_ids_dates_targets_and_exogenous_columns() {
        let text = "\u{feff}unique_id,ds,y,\"price, eur\"\nb,2020-01-01,1,5\na,2020-01-01,2,6\nb,2020-01-02,3,7\na,2020-01-02,4,8\n";
        let panel = read_from(text.as_bytes(), "t.csv", &CsvOptions::default(), Some(Frequency::parse("D").unwrap())).unwrap();
        assert_eq!(panel.ids(), ["b", "a"]);
        assert_eq!(panel.y(), [1.0, 3.0, 2.0, 4.0]);
        assert_eq!(panel.exogenous()[0].name, "price, eur");
        assert_eq!(panel.exogenous()[0].values, [5.0, 7.0, 6.0, 8.0]);
    }

    #[test]
    fn one_series_without_an_id_column_and_other_names() {
        let options = CsvOptions { id_col: None, time_col: "t".into(), target_col: "v".into(), delimiter: b';', ..CsvOptions::default() };
        let panel = read("t;v\n1;2.5\n2;3.5\n3;4\n", &options).unwrap();
        assert_eq!((panel.ids(), panel.y()), (&["series".to_string()][..], &[2.5, 3.5, 4.0][..]));
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let message = |text: &str| read(text, &CsvOptions::default()).unwrap_err().to_string();
        assert_eq!(message("unique_id,ds,sales\n"), "t.csv line 1: no column \"y\" (columns: unique_id, ds, sales)");
        assert_eq!(message("unique_id,ds,y\na,1,2\na,2,n/a\n"), "t.csv line 3: column \"y\" has \"n/a\", not a finite number");
        assert_eq!(message("unique_id,ds,y\na,yesterday,2\n"), "t.csv line 2: time column \"ds\" has \"yesterday\", not a date or an integer step");
        assert!(message("unique_id,ds,y\na,1,2,9\n").starts_with("t.csv line 2:"));
        assert!(message("unique_id,ds,y\na,2,1\na,1,2\n").contains("series 'a'"));
        assert!(read_csv(Path::new("/nonexistent/file.csv"), &CsvOptions::default(), None).unwrap_err().to_string().starts_with("/nonexistent/file.csv: "));
    }
}

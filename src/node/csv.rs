//! The CSV bindings: `readCsvFile` (a file into a `Dataset`, off the JS thread) and the synchronous parsers of CSV
//! text that lib/csv.js builds on (`parseCsvRecords`, `parseCsvColumns`). All read through the one reader in
//! `crate::data::csv`; its errors reach JS as RangeErrors carrying the structured fields (`kind`, `line`,
//! `column`, `value`, `columns`), so that the command-line tool can word them its own way.

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Float64ArraySlice, Object, Uint32ArraySlice, Unknown};
use napi::{Env, JsRangeError, JsValue, Status, Task, ValueType};
use napi_derive::napi;

use super::args::{self, with_js_errors, ArgError, ArgResult};
use super::dataset::Dataset;
use super::guard::{guarded, Guarded};
use crate::data::csv::{parse_records, read_columns, Problem};
use crate::data::{format_ds_column, read_csv, CsvError, CsvErrorKind, CsvOptions, Frequency, IdColumn, Panel};

/// What a call was asked to read: the reader's options, a frequency (for a `Dataset`) and the name of the text in
/// messages.
struct CsvCall {
    csv: CsvOptions,
    freq: Option<Frequency>,
    source: String,
}

/// Reads the options object of a CSV call, accepting the `keys` that call takes: `idCol` ['unique_id'; null for a
/// file of one series], `timeCol` ['ds'], `targetCol` ['y'], `delimiter` [','], `frequency` [inferred], `defaultId`
/// (the id of a file without the `idCol` column, which may then be missing), `exogenous` [true: other columns are
/// numeric exogenous variables; false: ignored], `sort` [false], `source` ['data'].
fn csv_call(options: Option<&Unknown<'_>>, keys: &[&str]) -> ArgResult<CsvCall> {
    let mut call = CsvCall { csv: CsvOptions::default(), freq: None, source: "data".into() };
    let Some(o) = args::options(options, "options", keys)? else { return Ok(call) };
    let string = |key: &str| args::property(&o, key)?.map(|v| args::string(&v, &format!("options.{key}"))).transpose();
    let boolean = |key: &str| args::property(&o, key)?.map(|v| args::boolean(&v, &format!("options.{key}"))).transpose();
    let default_id = string("defaultId")?;
    call.csv.id_col = match args::property(&o, "idCol")? {
        Some(v) if v.get_type()? == ValueType::Null => IdColumn::Absent,
        Some(v) => IdColumn::Required(args::string(&v, "options.idCol")?),
        None => call.csv.id_col,
    };
    if let (Some(id), IdColumn::Required(column)) = (&default_id, &call.csv.id_col) {
        call.csv.id_col = IdColumn::IfPresent(column.clone());
        call.csv.default_id = id.clone();
    } else if let Some(id) = default_id {
        call.csv.default_id = id;
    }
    call.csv.time_col = string("timeCol")?.unwrap_or(call.csv.time_col);
    call.csv.target_col = string("targetCol")?.unwrap_or(call.csv.target_col);
    if let Some(text) = string("delimiter")? {
        call.csv.delimiter = match text.as_bytes() {
            [b'"' | b'\r' | b'\n'] => return Err(ArgError::Type(format!("options.delimiter must be a character other than a quote or line break, got {text:?}"))),
            [byte] => *byte,
            _ => return Err(ArgError::Range(format!("options.delimiter must be one ASCII character, got {text:?}"))),
        };
    }
    if let Some(value) = args::property(&o, "frequency")? {
        call.freq = Some(super::data::frequency_from_js(&value, "options.frequency")?);
    }
    call.csv.exogenous = boolean("exogenous")?.unwrap_or(call.csv.exogenous);
    call.csv.sort = boolean("sort")?.unwrap_or(call.csv.sort);
    call.source = string("source")?.unwrap_or(call.source);
    Ok(call)
}

/// A reader error as a thrown JS RangeError: the message (after `prefix`, when given) and the structured fields.
fn csv_error(env: &Env, prefix: Option<&str>, error: &CsvError) -> napi::Error {
    let message = match prefix {
        Some(prefix) => format!("{prefix}: {error}"),
        None => error.to_string(),
    };
    let js = JsRangeError::from(napi::Error::new(Status::GenericFailure, message)).into_unknown(*env);
    let raw = js.value();
    let mut object = Object::from_raw(raw.env, raw.value);
    if let Err(e) = set_error_fields(&mut object, error) {
        return e;
    }
    napi::Error::from(js)
}

fn set_error_fields(object: &mut Object<'_>, error: &CsvError) -> napi::Result<()> {
    use CsvErrorKind::*;
    let kind = match &error.kind {
        Io(_) => "io",
        Text { problem: Problem::UnterminatedQuote, .. } => "unterminatedQuote",
        Text { problem: Problem::QuoteInUnquotedField, .. } => "quoteInUnquotedField",
        Text { problem: Problem::TextAfterClosingQuote(_), .. } => "textAfterClosingQuote",
        Text { problem: Problem::NotUtf8, .. } => "notUtf8",
        Empty => "empty",
        NoDataRows => "noDataRows",
        MissingColumn { .. } => "missingColumn",
        FieldCount { .. } => "fieldCount",
        BadTime { .. } => "badTime",
        BadNumber { .. } => "badNumber",
        Data(_) => "data",
    };
    object.set("kind", kind)?;
    if let Some(line) = error.line() {
        object.set("line", line as f64)?;
    }
    match &error.kind {
        MissingColumn { column, columns } => {
            object.set("column", column.as_str())?;
            object.set("columns", columns.clone())?;
        }
        BadTime { column, value, .. } | BadNumber { column, value, .. } => {
            object.set("column", column.as_str())?;
            object.set("value", value.as_str())?;
        }
        _ => {}
    }
    Ok(())
}

pub struct ReadCsvTask {
    path: PathBuf,
    call: CsvCall,
}

impl Task for ReadCsvTask {
    type Output = Result<Panel, CsvError>;
    type JsValue = Dataset;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(read_csv(&self.path, &self.call.csv, self.call.freq))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Dataset> {
        output.map(|panel| Dataset { panel: Arc::new(panel) }).map_err(|e| csv_error(&env, Some("readCsv"), &e))
    }
}

/// Reads a long-format CSV file off the JS thread: `idCol` ['unique_id'; null for a file of one series], `timeCol`
/// ['ds'], `targetCol` ['y'], `delimiter` [','], `frequency` [inferred]; every other column is a numeric exogenous
/// variable.
#[napi(catch_unwind, ts_args_type = "path: string, options?: { idCol?: string | null, timeCol?: string, targetCol?: string, delimiter?: string, frequency?: string | number }", ts_return_type = "Promise<Dataset>")]
pub fn read_csv_file(env: Env, path: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<ReadCsvTask>>> {
    with_js_errors(&env, "readCsv", || {
        let path = PathBuf::from(args::string(&path, "path")?);
        let call = csv_call(options.as_ref(), &["idCol", "timeCol", "targetCol", "delimiter", "frequency"])?;
        Ok(guarded("readCsv", ReadCsvTask { path, call }))
    })
}

/// The records of CSV `text` (fields as strings) and the file line each starts on; `delimiter` [','], `source`
/// (the name of the text in messages) ['data'].
#[napi(catch_unwind, ts_args_type = "text: string, options?: { delimiter?: string, source?: string }")]
pub fn parse_csv_records(env: Env, text: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<CsvRecords> {
    let (text, call) = with_js_errors(&env, "parseCsvRecords", || Ok((args::string(&text, "text")?, csv_call(options.as_ref(), &["delimiter", "source"])?)))?;
    let records = parse_records(&text, &call.source, call.csv.delimiter).map_err(|e| csv_error(&env, None, &e))?;
    let (lines, records) = records.into_iter().map(|(line, fields)| (line as f64, fields)).unzip();
    Ok(CsvRecords { records, lines })
}

/// Long-format CSV `text` read into columns, unchecked beyond the reader's own checks: `{ unique_id: { codes:
/// Uint32Array, labels }, ds: Float64Array (integer steps) | string[], y: Float64Array, exogenous: { [column]:
/// Float64Array }, lines: Uint32Array }`, `lines` the file line of each row; typed arrays in memory the JS engine
/// owns, ids as codes and labels (no string per row). Options as `readCsvFile`'s but `frequency`, and `defaultId`
/// (the id of a file without the `idCol` column, which may then be missing), `exogenous` [true: other columns are
/// numeric exogenous variables; false: ignored], `sort` [false: rows as in the file; true: by series and time]
/// and `source` (the name of the text in messages) ['data'].
#[napi(
    catch_unwind,
    ts_args_type = "text: string, options?: { idCol?: string | null, timeCol?: string, targetCol?: string, delimiter?: string, defaultId?: string, exogenous?: boolean, sort?: boolean, source?: string }",
    ts_return_type = "{ unique_id: { codes: Uint32Array, labels: string[] }, ds: Float64Array | string[], y: Float64Array, exogenous: Record<string, Float64Array>, lines: Uint32Array }"
)]
pub fn parse_csv_columns<'env>(env: &'env Env, text: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<Object<'env>> {
    let keys = ["idCol", "timeCol", "targetCol", "delimiter", "defaultId", "exogenous", "sort", "source"];
    let (text, call) = with_js_errors(env, "parseCsvColumns", || Ok((args::string(&text, "text")?, csv_call(options.as_ref(), &keys)?)))?;
    let columns = read_columns(text.as_bytes(), &call.source, &call.csv).map_err(|e| csv_error(env, None, &e))?;
    let floats = |values: &[f64]| Float64ArraySlice::copy_from(env, values)?.into_typed_array(env);
    let mut ids = Object::new(env)?;
    ids.set("codes", Uint32ArraySlice::copy_from(env, &columns.codes)?.into_typed_array(env)?)?;
    ids.set("labels", columns.labels)?;
    let mut object = Object::new(env)?;
    object.set("unique_id", ids)?;
    if columns.ds.iter().all(|d| d.is_int()) {
        object.set("ds", floats(&columns.ds.iter().map(|d| d.to_epoch_millis()).collect::<Vec<_>>())?)?;
    } else {
        object.set("ds", format_ds_column(&columns.ds))?;
    }
    object.set("y", floats(&columns.y)?)?;
    let mut exogenous = Object::new(env)?;
    for column in &columns.exogenous {
        exogenous.set(column.name.as_str(), floats(&column.values)?)?;
    }
    object.set("exogenous", exogenous)?;
    // Text from a JS string (under 2^30 characters) has fewer than 2^32 lines.
    let lines: Vec<u32> = columns.lines.iter().map(|&line| line as u32).collect();
    object.set("lines", Uint32ArraySlice::copy_from(env, &lines)?.into_typed_array(env)?)?;
    Ok(object)
}

/// The records of CSV text and the line each starts on.
#[napi(object)]
pub struct CsvRecords {
    pub records: Vec<Vec<String>>,
    pub lines: Vec<f64>,
}

//! Long-format data from JS (`{ unique_id, ds, y }` columns, an array of row objects, or one bare numeric series)
//! converted into the core's validated [`Panel`].

use napi::bindgen_prelude::{Array, FromNapiValue, Object, Unknown};
use napi::{JsValue, ValueType};

use super::args::{self, describe, ArgError, ArgResult};
use crate::data::{ds_from_epoch_millis, ds_from_numbers, parse_ds_column, Column, DataError, Ds, Frequency, Panel};
use crate::engine::FutureExog;

/// The id given to the single series of a bare numeric array (or of columns without `unique_id`).
pub const DEFAULT_SERIES_ID: &str = "series";

const COLUMN_KEYS: &[&str] = &["unique_id", "ds", "y", "labels"];

impl From<DataError> for ArgError {
    fn from(e: DataError) -> Self {
        ArgError::Range(e.to_string())
    }
}

/// One ds value as JS gave it, before the column is checked for a single kind.
enum RawDs {
    Text(String),
    Number(f64),
    DateMillis(f64),
}

impl RawDs {
    fn kind(&self) -> &'static str {
        match self {
            RawDs::Text(_) => "a string",
            RawDs::Number(_) => "a number",
            RawDs::DateMillis(_) => "a Date",
        }
    }
}

/// A ds column as JS gave it: values of any kind, or integer steps copied from a typed array (no value per row to
/// check for its kind).
enum DsColumn {
    Raw(Vec<RawDs>),
    Steps(Vec<f64>),
}

impl Default for DsColumn {
    fn default() -> Self {
        DsColumn::Raw(Vec::new())
    }
}

impl DsColumn {
    fn len(&self) -> usize {
        match self {
            DsColumn::Raw(values) => values.len(),
            DsColumn::Steps(steps) => steps.len(),
        }
    }
}

/// Columns gathered from any of the accepted shapes; any other numeric column is an exogenous variable. Every
/// value is copied out of JS as it is read (see `arrays`): reading the next column may run user code.
#[derive(Default)]
struct Columns {
    unique_id: Vec<String>,
    /// `unique_id` given as integer codes into `labels` (typed-array data): `unique_id` is then empty.
    codes: Option<(Vec<u32>, Vec<String>)>,
    ds: DsColumn,
    y: Vec<f64>,
    exog: Vec<Column>,
}

/// Reads `data` (named `name` in messages) into a panel at frequency `freq` (inferred when `None`); columns besides
/// `unique_id`, `ds`, `y` (and `labels`, the names of integer `unique_id` codes) are exogenous variables over time.
pub fn panel_from_js(data: &Unknown<'_>, name: &str, freq: Option<Frequency>) -> ArgResult<Panel> {
    let raw = data.value();
    if let Some(panel) = super::dataset::dataset_panel(&napi::Env::from_raw(raw.env), data)? {
        return match freq {
            Some(freq) if freq != panel.frequency() => Err(ArgError::Range(format!(
                "{name}: the dataset's series step by {} but the forecaster's frequency is {freq}",
                panel.frequency()
            ))),
            _ => Ok(Panel::clone(&panel)),
        };
    }
    let columns = read_columns(data, name, Target::Required)?;
    let ds = ds_column(columns.ds, name)?;
    Ok(match columns.codes {
        Some((codes, labels)) => Panel::from_codes(&codes, &labels, ds, columns.y, columns.exog, freq)?,
        None => Panel::with_exogenous(&columns.unique_id, &ds, &columns.y, columns.exog, freq)?,
    })
}

/// Adds static exogenous variables to `panel` from a table of one row per series (`{ unique_id, <column>… }` as
/// columns or rows; NeuralForecast's `static_df`).
pub fn with_static_from_js(panel: Panel, data: &Unknown<'_>, name: &str) -> ArgResult<Panel> {
    let columns = read_table(data, name)?;
    Ok(panel.with_statics(&columns.unique_id, columns.exog)?)
}

/// Reads future values of exogenous variables (`{ unique_id, ds, <column>… }` as columns or rows; NeuralForecast's
/// `futr_df`).
pub fn future_from_js(data: &Unknown<'_>, name: &str) -> ArgResult<FutureExog> {
    let columns = read_columns(data, name, Target::Absent)?;
    let ds = ds_column(columns.ds, name)?;
    Ok(FutureExog::new(columns.unique_id, ds, columns.exog)?)
}

/// Whether a table has the target column `y`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Required,
    Absent,
}

/// A table without ds: one row per series.
fn read_table(data: &Unknown<'_>, name: &str) -> ArgResult<Columns> {
    if data.get_type()? != ValueType::Object || data.is_typedarray()? {
        return Err(ArgError::Type(format!("{name} must be columns {{ unique_id, <column>… }} or an array of rows, got {}", describe(data))));
    }
    let columns = if data.is_array()? {
        read_rows(data, name, &["unique_id"], Target::Absent)?
    } else {
        read_column_object(&args::object(data, name)?, name, &["unique_id"], Target::Absent)?
    };
    if columns.unique_id.is_empty() {
        return Err(ArgError::Range(format!("{name} is empty")));
    }
    Ok(columns)
}

fn read_columns(data: &Unknown<'_>, name: &str, target: Target) -> ArgResult<Columns> {
    let shape_error = || {
        ArgError::Type(format!(
            "{name} must be columns {{ unique_id, ds, y }}, an array of {{ unique_id, ds, y }} rows, or a numeric \
             array (one series), got {}",
            describe(data)
        ))
    };
    if data.get_type()? != ValueType::Object {
        return Err(shape_error());
    }
    if data.is_typedarray()? && target == Target::Required {
        return Ok(bare_series(args::f64s(data, name)?));
    }
    let keys: &[&str] = if target == Target::Required { COLUMN_KEYS } else { &COLUMN_KEYS[..2] };
    if data.is_array()? {
        let raw = data.value();
        let rows = unsafe { Array::from_napi_value(raw.env, raw.value) }?;
        return match rows.get::<Unknown>(0)? {
            None => Err(ArgError::Range(format!("{name} is empty"))),
            Some(first) if first.get_type()? == ValueType::Number && target == Target::Required => {
                Ok(bare_series(args::f64s(data, name)?))
            }
            Some(_) => read_rows(data, name, keys, target),
        };
    }
    if data.is_typedarray()? {
        return Err(shape_error());
    }
    read_column_object(&args::object(data, name)?, name, keys, target)
}

fn bare_series(y: Vec<f64>) -> Columns {
    Columns {
        unique_id: vec![DEFAULT_SERIES_ID.to_string(); y.len()],
        ds: DsColumn::Steps((0..y.len()).map(|i| i as f64).collect()),
        y,
        exog: Vec::new(),
        codes: None,
    }
}

/// `unique_id` as integer codes (a Uint32Array, Int32Array or Float64Array of whole numbers) with their names in
/// `labels` (by default the codes' decimal forms): the fast form of large panels, no string per row. The codes
/// are copied before `labels` is read: its getter may detach their buffer.
fn series_codes(object: &Object<'_>, ids: &Unknown<'_>, name: &str) -> ArgResult<Option<(Vec<u32>, Vec<String>)>> {
    use napi::sys::TypedarrayType as Kind;
    let field = format!("{name}.unique_id");
    let codes: Vec<u32> = match args::typed_kind(ids)? {
        None => return Ok(None),
        Some(Kind::uint32_array) => args::copied(ids, &field, "a Uint32Array")?,
        Some(Kind::int32_array) => {
            let values = args::copied::<i32>(ids, &field, "an Int32Array")?;
            values.iter().enumerate().map(|(i, &c)| u32::try_from(c).map_err(|_| code_error(&field, i, c as f64))).collect::<ArgResult<_>>()?
        }
        Some(_) => {
            let values = args::f64s(ids, &field)?;
            let code = |(i, &c): (usize, &f64)| if c.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&c) { Ok(c as u32) } else { Err(code_error(&field, i, c)) };
            values.iter().enumerate().map(code).collect::<ArgResult<_>>()?
        }
    };
    let labels = match args::property(object, "labels")? {
        Some(labels) => string_column(&labels, &format!("{name}.labels"))?,
        None => (0..codes.iter().max().map_or(0, |&m| m as usize + 1)).map(|c| c.to_string()).collect(),
    };
    Ok(Some((codes, labels)))
}

fn code_error(field: &str, row: usize, value: f64) -> ArgError {
    ArgError::Range(format!("{field}[{row}] is {value}: integer series codes must be whole numbers from 0 to 4294967295"))
}

/// Columns of an object: `keys` (`unique_id`, and `ds` and `y` when listed) and any other key as a numeric
/// exogenous column.
fn read_column_object(object: &Object<'_>, name: &str, keys: &[&str], target: Target) -> ArgResult<Columns> {
    let mut exog = Vec::new();
    for key in Object::keys(object)? {
        if keys.contains(&key.as_str()) {
            continue;
        }
        if let Some(values) = args::property(object, &key)? {
            let column = format!("{name}.{key}");
            if !(values.is_array()? || values.is_typedarray()?) {
                return Err(ArgError::Type(format!("{column} must be a numeric column (an exogenous variable), got {}", describe(&values))));
            }
            exog.push(Column { name: key, values: args::f64s(&values, &column)? });
        }
    }
    let y = match target {
        Target::Required => {
            let y_name = format!("{name}.y");
            let y = args::property(object, "y")?
                .ok_or_else(|| ArgError::Type(format!("{y_name} is missing: the target column is required")))?;
            args::f64s(&y, &y_name)?
        }
        Target::Absent => Vec::new(),
    };
    let ids = args::property(object, "unique_id")?;
    let codes = match (&ids, target) {
        (Some(ids), Target::Required) => series_codes(object, ids, name)?,
        _ => None,
    };
    if codes.is_none() && args::property(object, "labels")?.is_some() {
        return Err(ArgError::Type(format!("{name}.labels names integer unique_id codes; give unique_id as a Uint32Array or Int32Array")));
    }
    let unique_id = match (ids, &codes, target) {
        (_, Some(_), _) => Vec::new(),
        (Some(ids), None, _) => string_column(&ids, &format!("{name}.unique_id"))?,
        (None, None, Target::Required) => vec![DEFAULT_SERIES_ID.to_string(); y.len()],
        (None, None, Target::Absent) => return Err(ArgError::Type(format!("{name}.unique_id is missing"))),
    };
    let id_count = codes.as_ref().map_or(unique_id.len(), |(c, _)| c.len());
    let ds = match (keys.contains(&"ds"), args::property(object, "ds")?, target) {
        (true, Some(ds), _) => ds_values(&ds, &format!("{name}.ds"))?,
        (true, None, Target::Absent) => return Err(ArgError::Type(format!("{name}.ds is missing"))),
        _ => match &codes {
            Some((c, _)) => steps_within_codes(c),
            None => steps_within_series(&unique_id),
        },
    };
    let rows = if target == Target::Required { y.len() } else { id_count };
    if id_count != rows || ds.len() != rows {
        return Err(DataError::ColumnLengths { unique_id: id_count, ds: ds.len(), y: rows }.into());
    }
    Ok(Columns { unique_id, codes, ds, y, exog })
}

/// As [`steps_within_series`] for integer series codes.
fn steps_within_codes(codes: &[u32]) -> DsColumn {
    let mut seen = std::collections::HashMap::<u32, usize>::new();
    DsColumn::Steps(
        codes
            .iter()
            .map(|&code| {
                let count = seen.entry(code).or_insert(0);
                *count += 1;
                (*count - 1) as f64
            })
            .collect(),
    )
}

/// Integer steps 0, 1, 2, … counted separately within each series (ds omitted).
fn steps_within_series(unique_id: &[String]) -> DsColumn {
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    DsColumn::Steps(
        unique_id
            .iter()
            .map(|id| {
                let count = seen.entry(id.as_str()).or_insert(0);
                *count += 1;
                (*count - 1) as f64
            })
            .collect(),
    )
}

/// Rows of objects with `keys` (among `unique_id`, `ds`, `y`) and the same other keys, numeric exogenous values,
/// in every row (those of the first row).
fn read_rows(rows: &Unknown<'_>, name: &str, keys: &[&str], target: Target) -> ArgResult<Columns> {
    let mut columns = Columns::default();
    args::each_element(rows, name, "rows", |row, i| {
        let row_name = format!("{name}[{i}]");
        let row = args::object(row, &row_name)?;
        let field = |key: &str| {
            args::property(&row, key)?.ok_or_else(|| ArgError::Type(format!("{row_name}.{key} is missing")))
        };
        columns.unique_id.push(id_value(&field("unique_id")?, &format!("{row_name}.unique_id"))?);
        if keys.contains(&"ds") {
            if let DsColumn::Raw(values) = &mut columns.ds {
                values.push(ds_value(&field("ds")?, &format!("{row_name}.ds"))?);
            }
        }
        if target == Target::Required {
            columns.y.push(args::number(&field("y")?, &format!("{row_name}.y"))?);
        }
        let others: Vec<String> = Object::keys(&row)?.into_iter().filter(|k| !COLUMN_KEYS.contains(&k.as_str())).collect();
        if i == 0 {
            columns.exog = others.iter().map(|k| Column { name: k.clone(), values: Vec::new() }).collect();
        } else if let Some(extra) = others.iter().find(|k| !columns.exog.iter().any(|c| &c.name == *k)) {
            return Err(ArgError::Type(format!("{row_name}.{extra} is not a column of the first row; every row needs the same columns")));
        }
        for column in &mut columns.exog {
            let value = field(&column.name)?;
            column.values.push(args::number(&value, &format!("{row_name}.{}", column.name))?);
        }
        Ok(())
    })?;
    if !keys.contains(&"ds") {
        columns.ds = steps_within_series(&columns.unique_id);
    }
    Ok(columns)
}

/// A series id: a string, or a number used by its decimal form (NeuralForecast allows integer ids).
fn id_value(value: &Unknown<'_>, name: &str) -> ArgResult<String> {
    let raw = value.value();
    match value.get_type()? {
        ValueType::String => Ok(unsafe { String::from_napi_value(raw.env, raw.value) }?),
        ValueType::Number => Ok(format_number(unsafe { f64::from_napi_value(raw.env, raw.value) }?)),
        _ => Err(ArgError::Type(format!("{name} must be a string or a number, got {}", describe(value)))),
    }
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn string_column(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<String>> {
    args::each_element(value, name, "strings or numbers", |v, i| id_value(v, &format!("{name}[{i}]")))
}

fn ds_values(value: &Unknown<'_>, name: &str) -> ArgResult<DsColumn> {
    if value.get_type()? == ValueType::Object && value.is_typedarray()? {
        return Ok(DsColumn::Steps(args::f64s(value, name)?));
    }
    Ok(DsColumn::Raw(args::each_element(value, name, "strings, numbers or Dates", |v, i| ds_value(v, &format!("{name}[{i}]")))?))
}

fn ds_value(value: &Unknown<'_>, name: &str) -> ArgResult<RawDs> {
    let raw = value.value();
    match value.get_type()? {
        ValueType::String => Ok(RawDs::Text(unsafe { String::from_napi_value(raw.env, raw.value) }?)),
        ValueType::Number => Ok(RawDs::Number(unsafe { f64::from_napi_value(raw.env, raw.value) }?)),
        ValueType::Object if value.is_date()? => {
            let date = unsafe { napi::JsDate::from_napi_value(raw.env, raw.value) }?;
            Ok(RawDs::DateMillis(date.value_of()?))
        }
        _ => Err(ArgError::Type(format!("{name} must be a string, a number or a Date, got {}", describe(value)))),
    }
}

/// Checks that every ds has the kind of the first and converts the column.
fn ds_column(column: DsColumn, name: &str) -> ArgResult<Vec<Ds>> {
    let values = match column {
        DsColumn::Steps(steps) => return Ok(ds_from_numbers(&steps)?),
        DsColumn::Raw(values) => values,
    };
    let Some(first) = values.first() else { return Ok(Vec::new()) };
    if let Some((row, odd)) =
        values.iter().enumerate().find(|(_, v)| std::mem::discriminant(*v) != std::mem::discriminant(first))
    {
        return Err(ArgError::Type(format!(
            "{name}: ds mixes kinds: row 0 is {} but row {row} is {}; use one kind for the whole column",
            first.kind(),
            odd.kind()
        )));
    }
    let ds = match first {
        RawDs::Text(_) => {
            let texts: Vec<&str> = values.iter().filter_map(|v| if let RawDs::Text(t) = v { Some(t.as_str()) } else { None }).collect();
            parse_ds_column(&texts)?
        }
        RawDs::Number(_) => ds_from_numbers(&numbers_of(&values))?,
        RawDs::DateMillis(_) => ds_from_epoch_millis(&numbers_of(&values))?,
    };
    Ok(ds)
}

fn numbers_of(values: &[RawDs]) -> Vec<f64> {
    values
        .iter()
        .filter_map(|v| match v {
            RawDs::Number(x) | RawDs::DateMillis(x) => Some(*x),
            RawDs::Text(_) => None,
        })
        .collect()
}

/// A frequency option: a pandas alias (`'MS'`, `'30min'`, `'1'`), or a positive integer number, the step of
/// integer ds (NeuralForecast's `freq=1`).
pub fn frequency_from_js(value: &Unknown<'_>, name: &str) -> ArgResult<Frequency> {
    if value.get_type()? == ValueType::Number {
        let step = args::integer(value, name, 1, u32::MAX as usize)?;
        return Ok(Frequency::step(step as i64)?);
    }
    if value.get_type()? != ValueType::String {
        return Err(ArgError::Type(format!("{name} must be a pandas frequency alias (a string) or a positive integer step, got {}", describe(value))));
    }
    Frequency::parse(&args::string(value, name)?).map_err(|e| ArgError::Range(format!("{name}: {e}")))
}

//! `Dataset`: a panel read and validated in Rust (from a CSV file, without a JS object per row), which `fit`,
//! `predict({ data })` and `update` accept in place of columns.

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::{Env, Task};
use napi_derive::napi;

use super::args::{self, with_js_errors, ArgError, ArgResult};
use crate::data::{read_csv, CsvOptions, Frequency, Panel};

/// A validated panel of series (long format), shared without copying by the calls that read it.
#[napi]
pub struct Dataset {
    pub(crate) panel: Arc<Panel>,
}

#[napi]
impl Dataset {
    /// Validates long-format data (columns, rows or one numeric series, as `fit` takes it) once into a Dataset that
    /// later calls read without converting again; `frequency` [inferred].
    #[napi(factory, catch_unwind, ts_args_type = "data: unknown, frequency?: string")]
    pub fn from_columns(env: Env, data: Unknown<'_>, frequency: Option<String>) -> napi::Result<Self> {
        with_js_errors(&env, "Dataset.fromColumns", || {
            let freq = frequency.map(|f| Frequency::parse(&f).map_err(|e| ArgError::Range(format!("frequency: {e}")))).transpose()?;
            Ok(Dataset { panel: Arc::new(super::data::panel_from_js(&data, "data", freq)?) })
        })
    }

    /// Rows (observations) over all series.
    #[napi(getter)]
    pub fn n_rows(&self) -> f64 {
        self.panel.n_rows() as f64
    }

    #[napi(getter)]
    pub fn n_series(&self) -> u32 {
        self.panel.n_series() as u32
    }

    /// Series ids in storage order (first appearance in the file).
    #[napi(getter)]
    pub fn ids(&self) -> Vec<String> {
        self.panel.ids().to_vec()
    }

    /// The exogenous columns over time (every column besides the id, time and target columns).
    #[napi(getter)]
    pub fn exogenous(&self) -> Vec<String> {
        self.panel.exogenous().iter().map(|c| c.name.clone()).collect()
    }

    /// The frequency of the series (a pandas alias, or the integer step).
    #[napi(getter)]
    pub fn frequency(&self) -> String {
        self.panel.frequency().to_string()
    }
}

/// The panel of `value` when it is a `Dataset`.
pub fn dataset_panel(env: &Env, value: &Unknown<'_>) -> ArgResult<Option<Arc<Panel>>> {
    use napi::bindgen_prelude::{ClassInstance, FromNapiValue, JavaScriptClassExt};
    use napi::JsValue;
    if value.get_type()? != napi::ValueType::Object || !Dataset::instance_of(env, value)? {
        return Ok(None);
    }
    let raw = value.value();
    let dataset = unsafe { ClassInstance::<Dataset>::from_napi_value(raw.env, raw.value) }?;
    Ok(Some(dataset.as_ref().panel.clone()))
}

const CSV_KEYS: &[&str] = &["idCol", "timeCol", "targetCol", "delimiter", "frequency"];

pub struct ReadCsvTask {
    path: PathBuf,
    options: CsvOptions,
    freq: Option<Frequency>,
}

impl Task for ReadCsvTask {
    type Output = Result<Panel, String>;
    type JsValue = Dataset;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(read_csv(&self.path, &self.options, self.freq).map_err(|e| e.to_string()))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Dataset> {
        output.map(|panel| Dataset { panel: Arc::new(panel) }).map_err(|m| ArgError::Range(format!("readCsv: {m}")).into_napi(&env))
    }
}

/// Reads a long-format CSV file off the JS thread: `idCol` ['unique_id'; null for a file of one series], `timeCol`
/// ['ds'], `targetCol` ['y'], `delimiter` [','], `frequency` [inferred]; every other column is a numeric exogenous
/// variable.
#[napi(catch_unwind, ts_args_type = "path: string, options?: { idCol?: string | null, timeCol?: string, targetCol?: string, delimiter?: string, frequency?: string }", ts_return_type = "Promise<Dataset>")]
pub fn read_csv_file(env: Env, path: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<ReadCsvTask>> {
    with_js_errors(&env, "readCsv", || {
        let path = PathBuf::from(args::string(&path, "path")?);
        let mut csv = CsvOptions::default();
        let mut freq = None;
        if let Some(o) = args::options(options.as_ref(), "options", CSV_KEYS)? {
            if let Some(v) = args::property(&o, "idCol")? {
                csv.id_col = if v.get_type()? == napi::ValueType::Null { None } else { Some(args::string(&v, "options.idCol")?) };
            }
            if let Some(v) = args::property(&o, "timeCol")? {
                csv.time_col = args::string(&v, "options.timeCol")?;
            }
            if let Some(v) = args::property(&o, "targetCol")? {
                csv.target_col = args::string(&v, "options.targetCol")?;
            }
            if let Some(v) = args::property(&o, "delimiter")? {
                let text = args::string(&v, "options.delimiter")?;
                csv.delimiter = match text.as_bytes() {
                    [byte] => *byte,
                    _ => return Err(ArgError::Range(format!("options.delimiter must be one ASCII character, got {text:?}"))),
                };
            }
            if let Some(v) = args::property(&o, "frequency")? {
                let alias = args::string(&v, "options.frequency")?;
                freq = Some(Frequency::parse(&alias).map_err(|e| ArgError::Range(format!("options.frequency: {e}")))?);
            }
        }
        Ok(AsyncTask::new(ReadCsvTask { path, options: csv, freq }))
    })
}

//! `Dataset`: a panel read and validated in Rust (from a CSV file, without a JS object per row), which `fit`,
//! `predict({ data })` and `update` accept in place of columns.

use std::sync::Arc;

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;

use super::args::{with_js_errors, ArgResult};
use crate::data::Panel;

/// A validated panel of series (long format), shared without copying by the calls that read it.
#[napi]
pub struct Dataset {
    pub(crate) panel: Arc<Panel>,
}

#[napi]
impl Dataset {
    /// Validates long-format data (columns, rows or one numeric series, as `fit` takes it) once into a Dataset that
    /// later calls read without converting again; `frequency` [inferred].
    #[napi(factory, catch_unwind, ts_args_type = "data: unknown, frequency?: string | number")]
    pub fn from_columns(env: Env, data: Unknown<'_>, frequency: Option<Unknown<'_>>) -> napi::Result<Self> {
        with_js_errors(&env, "Dataset.fromColumns", || {
            let freq = match &frequency {
                Some(f) if f.get_type()? != napi::ValueType::Undefined => Some(super::data::frequency_from_js(f, "frequency")?),
                _ => None,
            };
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

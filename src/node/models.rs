//! Model options under NeuralForecast's hyper-parameter names (camelCase): converted to JSON here, read and
//! validated by the core (`ModelSpec::from_options`).
//!
//! A model is given as a plain object `{ type: 'LSTM', h: 12, … }` or as an instance of the JS classes
//! `models.LSTM`, `models.TCN`, …, which hold the options `resolveModelOptions` returns (defaults filled in); Auto
//! models (`models.AutoNHITS`, …) hold their search's options.

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;

use super::args::{self, with_js_errors, ArgError, ArgResult};
use crate::engine::{AutoSpec, ModelKind, ModelSpec, SearchAlg};

/// Reads a model given as an options object (plain or a `models.*` instance) into a spec; `seed`, the
/// forecaster's, overrides the model's `randomSeed`.
pub fn model_spec(value: &Unknown<'_>, name: &str, seed: Option<usize>) -> ArgResult<ModelSpec> {
    let mut options = args::json_object(value, name)?;
    if let Some(seed) = seed {
        options.insert("randomSeed".into(), seed.into());
    }
    Ok(ModelSpec::from_options(&options, name)?)
}

/// Validates a model's options and returns them with NeuralForecast's defaults filled in (used by the
/// `models.*` classes; a plain `{ type, … }` object passed to NeuralForecaster goes through the same checks).
#[napi(catch_unwind, ts_args_type = "type: string, options: Record<string, unknown>", ts_return_type = "Record<string, unknown>")]
pub fn resolve_model_options(env: Env, kind: Unknown<'_>, options: Unknown<'_>) -> napi::Result<serde_json::Value> {
    with_js_errors(&env, "models", || {
        let kind_name = args::string(&kind, "type")?;
        if let Some(searched) = AutoSpec::kind_of(&kind_name) {
            let map = args::json_object(&options, &kind_name)?;
            if map.contains_key("type") {
                return Err(ArgError::Type(format!("{kind_name} has an unknown option 'type' (the class names the model)")));
            }
            let spec = AutoSpec::model_spec(searched, &map, &kind_name)?;
            let search = spec.search.as_ref().expect("an Auto model has a search");
            return Ok(serde_json::Value::Object(search.to_options(&spec.alias)));
        }
        let kind = ModelKind::parse(&kind_name).ok_or_else(|| {
            ArgError::Range(format!("type: unknown model '{kind_name}'; available models: {}", ModelKind::names().join(", ")))
        })?;
        let name = kind.name();
        if options.get_type()? == napi::ValueType::Undefined {
            return Err(ArgError::Type(format!("{name}: options must be an object with at least h")));
        }
        let map = args::json_object(&options, name)?;
        if map.contains_key("type") {
            return Err(ArgError::Type(format!("{name} has an unknown option 'type' (the class names the model)")));
        }
        let spec: ArgResult<ModelSpec> = ModelSpec::of_kind(kind, &map, name).map_err(ArgError::from);
        Ok(serde_json::Value::Object(spec?.to_options()))
    })
}

/// The sampled options of each trial of an Auto model's search, in trial order: trial k's depend on the seed and k
/// alone, so any process can train trial k by itself (`neuro-divergent/distributed`'s search).
#[napi(catch_unwind, ts_args_type = "type: string, options: Record<string, unknown>", ts_return_type = "Record<string, unknown>[]")]
pub fn auto_trial_configs(env: Env, kind: Unknown<'_>, options: Unknown<'_>) -> napi::Result<serde_json::Value> {
    with_js_errors(&env, "models", || {
        let kind_name = args::string(&kind, "type")?;
        let searched = AutoSpec::kind_of(&kind_name)
            .ok_or_else(|| ArgError::Range(format!("type: '{kind_name}' is not an Auto model; available: {}", AutoSpec::type_names().join(", "))))?;
        let mut map = args::json_object(&options, &kind_name)?;
        map.remove("type");
        let spec = AutoSpec::model_spec(searched, &map, &kind_name)?;
        let search = spec.search.as_ref().expect("an Auto model has a search");
        if search.search_alg != SearchAlg::Random {
            return Err(ArgError::Range(format!(
                "{kind_name}.searchAlg: '{}' draws each configuration from the results of the trials before it; autoTrialConfigs lists those of 'random'",
                search.search_alg.name()
            )));
        }
        Ok((0..search.num_samples).map(|trial| serde_json::Value::Object(search.space.sample(search.seed, trial))).collect())
    })
}

/// The model types this build provides (`models.<type>` classes).
#[napi(catch_unwind)]
pub fn model_types() -> Vec<String> {
    ModelKind::names().into_iter().map(String::from).collect()
}

/// The Auto model types this build provides (`models.Auto<type>` classes): the models with a default search space.
#[napi(catch_unwind)]
pub fn auto_model_types() -> Vec<String> {
    AutoSpec::type_names()
}

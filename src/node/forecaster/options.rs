//! The options of `NeuralForecaster`'s constructor and calls, read from JS values into the engine's types:
//! the forecaster (models, frequency, threads, …), fit, predict's levels and cross-validation.

use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, Object, Unknown};
use napi::{JsValue, ValueType};

use super::super::args::{self, describe, ArgError, ArgResult};
use super::super::data::frequency_from_js;
use super::super::models::model_spec;
use crate::data::Frequency;
use crate::engine::{CrossValidation, Engine, EngineConfig, FitOptions, IntervalMethod, PredictionIntervals, RefitPolicy, ScalerType};

const OPTION_KEYS: &[&str] = &[
    "models",
    "frequency",
    "freq",
    "localScalerType",
    "numThreads",
    "simdEnabled",
    "memoryPool",
    "lowMemory",
    "seed",
    "backend",
];

pub(super) const FIT_KEYS: &[&str] = &[
    "maxSteps",
    "epochs",
    "batchSize",
    "windowsBatchSize",
    "learningRate",
    "validationSize",
    "valSize",
    "earlyStopping",
    "patience",
    "predictionIntervals",
    "staticData",
    "warmStart",
    "onProgress",
    "signal",
];

pub(super) fn engine_config(options: &Unknown<'_>) -> ArgResult<EngineConfig> {
    let options = args::options(Some(options), "options", OPTION_KEYS)?
        .ok_or_else(|| ArgError::Type("options must be an object with a models array, got undefined".into()))?;
    let models_value = args::property(&options, "models")?
        .ok_or_else(|| ArgError::Type("options.models is missing: give at least one model".into()))?;
    let seed = optional(&options, "seed", |v, n| args::integer(v, n, 0, u32::MAX as usize))?;
    let models = args::each_element(&models_value, "options.models", "models", |model, i| model_spec(model, &format!("options.models[{i}]"), seed))?;
    if models.is_empty() {
        return Err(ArgError::Range("options.models is empty: give at least one model".into()));
    }
    check_backend(&options)?;
    Ok(EngineConfig {
        models,
        freq: frequency_option(&options)?,
        local_scaler_type: optional(&options, "localScalerType", |v, n| scaler_type(v, n))?
            .unwrap_or(ScalerType::Identity),
        num_threads: optional(&options, "numThreads", |v, n| args::integer(v, n, 1, crate::engine::MAX_THREADS))?.unwrap_or(0),
        simd_enabled: optional(&options, "simdEnabled", args::boolean)?.unwrap_or(true),
        memory_pool: optional(&options, "memoryPool", args::boolean)?.unwrap_or(true),
        low_memory: optional(&options, "lowMemory", args::boolean)?.unwrap_or(false),
    })
}

/// Reads `options[key]` with `read` when present.
pub(super) fn optional<T>(
    options: &Object<'_>,
    key: &str,
    read: impl FnOnce(&Unknown<'_>, &str) -> ArgResult<T>,
) -> ArgResult<Option<T>> {
    args::property(options, key)?.map(|v| read(&v, &format!("options.{key}"))).transpose()
}

fn frequency_option(options: &Object<'_>) -> ArgResult<Option<Frequency>> {
    let frequency = args::property(options, "frequency")?;
    let freq = args::property(options, "freq")?;
    let (value, key) = match (frequency, freq) {
        (Some(_), Some(_)) => {
            return Err(ArgError::Type("options.frequency and options.freq are the same option; give one".into()))
        }
        (Some(v), None) => (v, "options.frequency"),
        (None, Some(v)) => (v, "options.freq"),
        (None, None) => return Ok(None),
    };
    frequency_from_js(&value, key).map(Some)
}

fn scaler_type(value: &Unknown<'_>, name: &str) -> ArgResult<ScalerType> {
    let text = args::string(value, name)?;
    ScalerType::parse(&text).map_err(|e| ArgError::Range(format!("{name}: {e}")))
}

fn check_backend(options: &Object<'_>) -> ArgResult<()> {
    let Some(value) = args::property(options, "backend")? else { return Ok(()) };
    match args::string(&value, "options.backend")?.as_str() {
        "cpu" => Ok(()),
        "cuda" => Err(ArgError::Napi(napi::Error::from_reason(
            "options.backend 'cuda' is not available: this build of neuro-divergent has no CUDA backend; use 'cpu'",
        ))),
        other => Err(ArgError::Range(format!("options.backend must be 'cpu' or 'cuda', got '{other}'"))),
    }
}

pub(super) fn model_index(engine: &Engine, value: &Unknown<'_>, name: &str) -> ArgResult<usize> {
    let models = &engine.config().models;
    if value.get_type()? == ValueType::String {
        let alias = args::string(value, name)?;
        return models.iter().position(|m| m.alias == alias).ok_or_else(|| {
            let aliases: Vec<&str> = models.iter().map(|m| m.alias.as_str()).collect();
            ArgError::Range(format!("{name}: no model is called '{alias}'; models: {}", aliases.join(", ")))
        });
    }
    if value.get_type()? != ValueType::Number {
        return Err(ArgError::Type(format!("{name} must be a model index or alias, got {}", describe(value))));
    }
    args::integer(value, name, 0, models.len() - 1)
}

pub(super) fn fit_options(options: Option<&Unknown<'_>>) -> ArgResult<FitOptions> {
    let mut fit = FitOptions::default();
    let Some(options) = args::options(options, "options", FIT_KEYS)? else { return Ok(fit) };
    let count = |v: &Unknown<'_>, n: &str| args::integer(v, n, 1, u32::MAX as usize);
    fit.max_steps = optional(&options, "maxSteps", count)?;
    fit.epochs = optional(&options, "epochs", count)?;
    if fit.max_steps.is_some() && fit.epochs.is_some() {
        return Err(ArgError::Type("options: give maxSteps or epochs, not both".into()));
    }
    fit.batch_size = optional(&options, "batchSize", count)?;
    fit.windows_batch_size = optional(&options, "windowsBatchSize", count)?;
    fit.learning_rate = optional(&options, "learningRate", args::positive_number)?;
    let size = |v: &Unknown<'_>, n: &str| args::integer(v, n, 0, u32::MAX as usize);
    fit.validation_size = match (optional(&options, "validationSize", size)?, optional(&options, "valSize", size)?) {
        (Some(_), Some(_)) => {
            return Err(ArgError::Type("options.validationSize and options.valSize are the same option; give one".into()))
        }
        (size, val_size) => size.or(val_size).unwrap_or(0),
    };
    fit.early_stopping = optional(&options, "earlyStopping", args::boolean)?.unwrap_or(false);
    fit.patience = optional(&options, "patience", count)?;
    fit.prediction_intervals = optional(&options, "predictionIntervals", prediction_intervals)?;
    fit.warm_start = optional(&options, "warmStart", args::boolean)?.unwrap_or(true);
    Ok(fit)
}

/// The fit's `staticData` option, if given.
pub(super) fn static_data<'a>(options: Option<&Unknown<'a>>) -> ArgResult<Option<Unknown<'a>>> {
    match args::options(options, "options", FIT_KEYS)? {
        Some(options) => args::property(&options, "staticData"),
        None => Ok(None),
    }
}

/// `{ nWindows, stepSize, method }`, NeuralForecast's `PredictionIntervals` (defaults 2, 1, 'conformal_distribution').
fn prediction_intervals(value: &Unknown<'_>, name: &str) -> ArgResult<PredictionIntervals> {
    let options = args::options(Some(value), name, &["nWindows", "stepSize", "method"])?
        .ok_or_else(|| ArgError::Type(format!("{name} must be an object")))?;
    let mut intervals = PredictionIntervals::default();
    let field = |key: &str| format!("{name}.{key}");
    if let Some(v) = args::property(&options, "nWindows")? {
        intervals.n_windows = args::integer(&v, &field("nWindows"), 2, 1 << 16)?;
    }
    if let Some(v) = args::property(&options, "stepSize")? {
        intervals.step_size = args::integer(&v, &field("stepSize"), 1, u32::MAX as usize)?;
    }
    if let Some(v) = args::property(&options, "method")? {
        let text = args::string(&v, &field("method"))?;
        intervals.method = IntervalMethod::parse(&text).ok_or_else(|| {
            ArgError::Range(format!("{}: unknown method '{text}'; methods: {}", field("method"), IntervalMethod::NAMES.join(", ")))
        })?;
    }
    Ok(intervals)
}

/// IQLoss quantiles: an array of numbers strictly between 0 and 1.
pub(super) fn quantiles(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<f64>> {
    let quantiles = args::f64s(value, name)?;
    if let Some(bad) = quantiles.iter().find(|q| !(**q > 0.0 && **q < 1.0)) {
        return Err(ArgError::Range(format!("{name} must hold quantiles strictly between 0 and 1, got {bad}")));
    }
    Ok(quantiles)
}

/// An array of strings.
pub(super) fn string_list(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<String>> {
    args::each_element(value, name, "strings", |v, i| args::string(v, &format!("{name}[{i}]")))
}

/// Interval levels in percent: a number or an array of numbers.
pub(super) fn levels(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<f64>> {
    let levels = if value.get_type()? == napi::ValueType::Number {
        vec![args::number(value, name)?]
    } else {
        args::f64s(value, name)?
    };
    if let Some(bad) = levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
        return Err(ArgError::Range(format!("{name} must hold percentages between 0 and 100 (exclusive), got {bad}")));
    }
    Ok(levels)
}

/// The options of `crossValidation` (`onProgress` and `signal` are the JS wrapper's).
pub(super) const CROSS_VALIDATION_KEYS: &[&str] =
    &["nWindows", "stepSize", "refit", "horizon", "level", "fitOptions", "staticData", "onProgress", "signal"];

/// The windows of a cross-validation: `nWindows` [1], `stepSize` [1], `refit` [false], `horizon` [h], `level`.
pub(super) fn cross_validation(options: Option<&Object<'_>>) -> ArgResult<CrossValidation> {
    let mut cv = CrossValidation { n_windows: 1, step_size: 1, refit: RefitPolicy::Never, horizon: None, levels: Vec::new() };
    let Some(options) = options else { return Ok(cv) };
    let count = |key: &str| args::property(options, key)?.map(|v| at_least_one(&v, key)).transpose();
    cv.n_windows = count("nWindows")?.unwrap_or(1);
    cv.step_size = count("stepSize")?.unwrap_or(1);
    cv.horizon = count("horizon")?;
    if let Some(refit) = args::property(options, "refit")? {
        cv.refit = match refit.get_type()? {
            ValueType::Boolean if args::boolean(&refit, "refit")? => RefitPolicy::Every(1),
            ValueType::Boolean => RefitPolicy::Never,
            ValueType::Number => RefitPolicy::Every(at_least_one(&refit, "refit")?),
            _ => return Err(ArgError::Type(format!("refit must be false, true or a number of windows, got {}", describe(&refit)))),
        };
    }
    cv.levels = optional(options, "level", levels)?.unwrap_or_default();
    Ok(cv)
}

/// An integer of at least 1 (cross-validation's counts).
fn at_least_one(value: &Unknown<'_>, name: &str) -> ArgResult<usize> {
    let x = args::number(value, name)?;
    if !(x.fract() == 0.0 && x >= 1.0 && x <= u32::MAX as f64) {
        return Err(ArgError::Range(format!("{name} must be an integer >= 1, got {x}")));
    }
    Ok(x as usize)
}

/// The options of cross-validation fit `fit` (made for window `window`): `fitOptions`, or what it returns for
/// `(fit, window)` when it is a function.
pub(super) fn cross_validation_fit(given: Option<&Unknown<'_>>, fit: usize, window: usize) -> ArgResult<FitOptions> {
    let Some(value) = given else { return Ok(FitOptions::default()) };
    let returned;
    let options = if value.get_type()? == ValueType::Function {
        let raw = value.value();
        let function = unsafe { Function::<FnArgs<(u32, u32)>, Unknown<'_>>::from_napi_value(raw.env, raw.value) }?;
        returned = function.call(FnArgs::from((fit as u32, window as u32)))?;
        &returned
    } else {
        value
    };
    if static_data(Some(options))?.is_some() {
        return Err(ArgError::Type("fitOptions.staticData: give staticData to crossValidation itself (it serves every fit)".into()));
    }
    fit_options(Some(options))
}

/// `save`'s options: `format` ('neuro-divergent', the default, or 'neuralforecast') and `overwrite` (default:
/// false for NeuralForecast's directory, as its `save(overwrite=False)`; true for a checkpoint file).
pub(super) fn save_options(options: Option<&Unknown<'_>>) -> ArgResult<(super::tasks::SaveFormat, bool)> {
    use super::tasks::SaveFormat;
    let Some(options) = args::options(options, "options", &["format", "overwrite"])? else {
        return Ok((SaveFormat::Checkpoint, true));
    };
    let format = match optional(&options, "format", args::string)?.as_deref() {
        None | Some("neuro-divergent") => SaveFormat::Checkpoint,
        Some("neuralforecast") => SaveFormat::NeuralForecast,
        Some(other) => {
            return Err(ArgError::Range(format!("options.format must be 'neuro-divergent' or 'neuralforecast', got '{other}'")))
        }
    };
    let overwrite = optional(&options, "overwrite", args::boolean)?.unwrap_or(format == SaveFormat::Checkpoint);
    Ok((format, overwrite))
}

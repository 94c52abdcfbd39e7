//! Model options under NeuralForecast's hyper-parameter names (camelCase), validated into `ModelSpec`s.
//!
//! A model is given as a plain object `{ type: 'LSTM', h: 12, … }` or as an instance of the JS classes
//! `models.LSTM` / `models.GRU`, which hold the options `resolveModelOptions` returns (defaults filled in).

use napi::bindgen_prelude::{Object, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

use super::args::{self, describe, with_js_errors, ArgError, ArgResult};
use super::forecaster::scaler_type;
use crate::engine::{ModelKind, ModelSpec, ScalerType};
use crate::nn::loss::Loss;

const MODEL_KEYS: &[&str] = &[
    "type",
    "alias",
    "h",
    "horizon",
    "inputSize",
    "encoderNLayers",
    "encoderHiddenSize",
    "decoderHiddenSize",
    "decoderLayers",
    "scalerType",
    "loss",
    "learningRate",
    "maxSteps",
    "batchSize",
    "numLrDecays",
    "earlyStopPatienceSteps",
    "valCheckSteps",
    "randomSeed",
];

/// Model types this build provides, by their NeuralForecast class names.
const MODEL_TYPES: &[(&str, ModelKind)] = &[("LSTM", ModelKind::Lstm), ("GRU", ModelKind::Gru)];

/// Sizes beyond this are rejected before anything is allocated.
const MAX_SIZE: usize = 1 << 20;

fn kind_name(kind: ModelKind) -> &'static str {
    MODEL_TYPES.iter().find(|(_, k)| *k == kind).map_or("?", |(name, _)| name)
}

fn model_kind(value: &Unknown<'_>, name: &str) -> ArgResult<ModelKind> {
    let text = args::string(value, name)?;
    MODEL_TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(&text)).map(|(_, k)| *k).ok_or_else(|| {
        let known: Vec<&str> = MODEL_TYPES.iter().map(|(n, _)| *n).collect();
        ArgError::Range(format!("{name}: unknown model '{text}'; available models: {}", known.join(", ")))
    })
}

/// Reads a model given as an options object (plain or a `models.*` instance) into a spec.
pub fn model_spec(value: &Unknown<'_>, name: &str) -> ArgResult<ModelSpec> {
    let options = args::options(Some(value), name, MODEL_KEYS)?
        .ok_or_else(|| ArgError::Type(format!("{name} must be a model object, got {}", describe(value))))?;
    let kind = match args::property(&options, "type")? {
        Some(t) => model_kind(&t, &format!("{name}.type"))?,
        None => return Err(ArgError::Type(format!("{name}.type is missing (for example 'LSTM')"))),
    };
    spec_from_options(kind, &options, name)
}

fn spec_from_options(kind: ModelKind, options: &Object<'_>, name: &str) -> ArgResult<ModelSpec> {
    let field = |key: &str| format!("{name}.{key}");
    let size = |key: &str| -> ArgResult<Option<usize>> {
        args::property(options, key)?.map(|v| args::integer(&v, &field(key), 1, MAX_SIZE)).transpose()
    };
    let h = match (size("h")?, size("horizon")?) {
        (Some(_), Some(_)) => return Err(ArgError::Type(format!("{name}: give h or horizon, not both"))),
        (Some(h), None) | (None, Some(h)) => h,
        (None, None) => return Err(ArgError::Type(format!("{} is missing: the forecast horizon", field("h")))),
    };
    let mut spec = ModelSpec::new(kind, h);
    spec.input_size = size("inputSize")?.unwrap_or(3 * h);
    if let Some(v) = size("encoderNLayers")? {
        spec.encoder_n_layers = v;
    }
    if let Some(v) = size("encoderHiddenSize")? {
        spec.encoder_hidden_size = v;
    }
    if let Some(v) = size("decoderHiddenSize")? {
        spec.decoder_hidden_size = v;
    }
    if let Some(v) = size("decoderLayers")? {
        spec.decoder_layers = v;
    }
    if let Some(v) = size("maxSteps")? {
        spec.max_steps = v;
    }
    if let Some(v) = size("batchSize")? {
        spec.batch_size = v;
    }
    if let Some(v) = size("valCheckSteps")? {
        spec.val_check_steps = v;
    }
    spec.early_stop_patience_steps = size("earlyStopPatienceSteps")?;
    if let Some(v) = args::property(options, "numLrDecays")? {
        spec.num_lr_decays = args::integer(&v, &field("numLrDecays"), 0, MAX_SIZE)?;
    }
    if let Some(v) = args::property(options, "alias")? {
        spec.alias = args::string(&v, &field("alias"))?;
    }
    if let Some(v) = args::property(options, "scalerType")? {
        spec.scaler_type = scaler_type(&v, &field("scalerType"))?;
    }
    if let Some(v) = args::property(options, "learningRate")? {
        spec.learning_rate = args::positive_number(&v, &field("learningRate"))?;
    }
    if let Some(v) = args::property(options, "randomSeed")? {
        spec.random_seed = args::integer(&v, &field("randomSeed"), 0, u32::MAX as usize)? as u64;
    }
    if let Some(v) = args::property(options, "loss")? {
        spec.loss = loss(&v, &field("loss"))?;
    }
    Ok(spec)
}

const LOSS_NAMES: &str = "'MAE', 'MSE', 'HuberLoss' (or { type: 'HuberLoss', delta }), { type: 'QuantileLoss', q }";

/// A loss by NeuralForecast's class name, or an object with its parameters.
fn loss(value: &Unknown<'_>, name: &str) -> ArgResult<Loss> {
    let (kind, options) = if value.get_type()? == ValueType::String {
        (args::string(value, name)?, None)
    } else {
        let options = args::options(Some(value), name, &["type", "delta", "q"])?
            .ok_or_else(|| ArgError::Type(format!("{name} must be a loss name or object, got {}", describe(value))))?;
        let kind = args::property(&options, "type")?
            .ok_or_else(|| ArgError::Type(format!("{name}.type is missing; losses: {LOSS_NAMES}")))?;
        (args::string(&kind, &format!("{name}.type"))?, Some(options))
    };
    let parameter = |key: &str| -> ArgResult<Option<f64>> {
        match &options {
            Some(o) => args::property(o, key)?.map(|v| args::number(&v, &format!("{name}.{key}"))).transpose(),
            None => Ok(None),
        }
    };
    let invalid = |e: crate::nn::NnError| ArgError::Range(format!("{name}: {e}"));
    match kind.as_str() {
        "MAE" => Ok(Loss::Mae),
        "MSE" => Ok(Loss::Mse),
        "HuberLoss" => Loss::huber(parameter("delta")?.unwrap_or(1.0) as f32).map_err(invalid),
        "QuantileLoss" => {
            let q = parameter("q")?.ok_or_else(|| ArgError::Type(format!("{name}.q is missing: the quantile")))?;
            Loss::quantile(q as f32).map_err(invalid)
        }
        "MQLoss" => Err(ArgError::Range(format!(
            "{name}: MQLoss (multi-quantile prediction intervals) is not available yet; losses: {LOSS_NAMES}"
        ))),
        other => Err(ArgError::Range(format!("{name}: unknown loss '{other}'; losses: {LOSS_NAMES}"))),
    }
}

fn loss_to_js<'e>(env: &'e Env, loss: &Loss) -> napi::Result<Object<'e>> {
    let mut object = Object::new(env)?;
    match loss {
        Loss::Mae => object.set("type", "MAE")?,
        Loss::Mse => object.set("type", "MSE")?,
        Loss::Huber { delta } => {
            object.set("type", "HuberLoss")?;
            object.set("delta", *delta as f64)?;
        }
        Loss::Quantile { q } => {
            object.set("type", "QuantileLoss")?;
            object.set("q", *q as f64)?;
        }
        Loss::MultiQuantile { .. } => object.set("type", "MQLoss")?,
    }
    Ok(object)
}

fn scaler_name(scaler: ScalerType) -> &'static str {
    match scaler {
        ScalerType::Identity => "identity",
        ScalerType::Standard => "standard",
        ScalerType::Robust => "robust",
        ScalerType::MinMax => "minmax",
    }
}

/// The model's options with every default filled in, as the `models.*` classes hold them.
fn spec_to_js<'e>(env: &'e Env, spec: &ModelSpec) -> napi::Result<Object<'e>> {
    let mut o = Object::new(env)?;
    o.set("type", kind_name(spec.kind))?;
    o.set("alias", spec.alias.as_str())?;
    o.set("h", spec.h as u32)?;
    o.set("inputSize", spec.input_size as u32)?;
    o.set("encoderNLayers", spec.encoder_n_layers as u32)?;
    o.set("encoderHiddenSize", spec.encoder_hidden_size as u32)?;
    o.set("decoderHiddenSize", spec.decoder_hidden_size as u32)?;
    o.set("decoderLayers", spec.decoder_layers as u32)?;
    o.set("scalerType", scaler_name(spec.scaler_type))?;
    o.set("loss", loss_to_js(env, &spec.loss)?)?;
    o.set("learningRate", spec.learning_rate)?;
    o.set("maxSteps", spec.max_steps as u32)?;
    o.set("batchSize", spec.batch_size as u32)?;
    o.set("numLrDecays", spec.num_lr_decays as u32)?;
    if let Some(patience) = spec.early_stop_patience_steps {
        o.set("earlyStopPatienceSteps", patience as u32)?;
    }
    o.set("valCheckSteps", spec.val_check_steps as u32)?;
    o.set("randomSeed", spec.random_seed as f64)?;
    Ok(o)
}

/// Validates a model's options and returns them with NeuralForecast's defaults filled in (used by the
/// `models.*` classes; a plain `{ type, … }` object passed to NeuralForecaster goes through the same checks).
#[napi(catch_unwind, ts_args_type = "type: string, options: Record<string, unknown>", ts_return_type = "Record<string, unknown>")]
pub fn resolve_model_options<'e>(env: &'e Env, kind: Unknown<'_>, options: Unknown<'_>) -> napi::Result<Object<'e>> {
    let spec = with_js_errors(env, "models", || {
        let kind = model_kind(&kind, "type")?;
        let name = kind_name(kind);
        let options = args::options(Some(&options), name, &MODEL_KEYS[1..])?
            .ok_or_else(|| ArgError::Type(format!("{name}: options must be an object with at least h")))?;
        let spec = spec_from_options(kind, &options, name)?;
        spec.num_parameters().map_err(ArgError::from)?;
        Ok(spec)
    })?;
    spec_to_js(env, &spec)
}

/// The model types this build provides (`models.<type>` classes).
#[napi(catch_unwind)]
pub fn model_types() -> Vec<String> {
    MODEL_TYPES.iter().map(|(n, _)| n.to_string()).collect()
}

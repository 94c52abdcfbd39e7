//! The `loss` option: a loss read from NeuralForecast's class name or an object with its parameters, and written
//! back.

use serde_json::{Map, Value};

use crate::engine::error::EngineError;
use crate::models::ModelOptions;
use crate::nn::loss::Loss;
use crate::nn::NnError;

const LOSS_NAMES: &str =
    "'MAE', 'MSE', 'HuberLoss' (or { type: 'HuberLoss', delta }), { type: 'QuantileLoss', q }, 'MQLoss' (or { type: 'MQLoss', level } / { type: 'MQLoss', quantiles })";

/// A loss by NeuralForecast's class name, or an object with its parameters.
pub(super) fn parse_loss(value: &Value, name: &str) -> Result<Loss, EngineError> {
    let empty = Map::new();
    let (kind, options) = match value {
        Value::String(kind) => (kind.as_str(), &empty),
        Value::Object(options) => {
            let o = ModelOptions::new(name, options);
            o.check_keys(&[&["type", "delta", "q", "level", "quantiles"]])?;
            let kind = o.string("type")?.ok_or_else(|| EngineError::Type(format!("{name}.type is missing; losses: {LOSS_NAMES}")))?;
            (kind, options)
        }
        other => {
            return Err(EngineError::Type(format!(
                "{name} must be a loss name or object, got {}",
                crate::models::options::describe(other)
            )))
        }
    };
    let o = ModelOptions::new(name, options);
    let invalid = |e: NnError| EngineError::Range(format!("{name}: {e}"));
    match kind {
        "MAE" => Ok(Loss::Mae),
        "MSE" => Ok(Loss::Mse),
        "HuberLoss" => Loss::huber(o.positive("delta")?.unwrap_or(1.0) as f32).map_err(invalid),
        "QuantileLoss" => {
            let q = o.number("q")?.ok_or_else(|| EngineError::Type(format!("{name}.q is missing: the quantile")))?;
            Loss::quantile(q as f32).map_err(invalid)
        }
        "MQLoss" => match (numbers(&o, "level")?, numbers(&o, "quantiles")?) {
            (Some(_), Some(_)) => Err(EngineError::Type(format!("{name}: give level or quantiles, not both"))),
            (None, Some(quantiles)) => Loss::multi_quantile(quantiles.iter().map(|&q| q as f32).collect()).map_err(invalid),
            // NeuralForecast's MQLoss default: level=[80, 90].
            (level, None) => Loss::multi_quantile_levels(&level.unwrap_or_else(|| vec![80.0, 90.0])).map_err(invalid),
        },
        other => Err(EngineError::Range(format!("{name}: unknown loss '{other}'; losses: {LOSS_NAMES}"))),
    }
}

/// An array of numbers.
fn numbers(o: &ModelOptions<'_>, key: &str) -> Result<Option<Vec<f64>>, EngineError> {
    let Some(value) = o.get(key) else { return Ok(None) };
    let items = value.as_array().ok_or_else(|| {
        EngineError::Type(format!("{} must be an array of numbers, got {}", o.field(key), crate::models::options::describe(value)))
    })?;
    let values = items.iter().enumerate().map(|(i, v)| {
        v.as_f64()
            .ok_or_else(|| EngineError::Type(format!("{}[{i}] must be a number, got {}", o.field(key), crate::models::options::describe(v))))
    });
    values.collect::<Result<Vec<_>, _>>().map(Some)
}

/// The loss as the options object [`parse_loss`] reads.
pub(super) fn loss_options(loss: &Loss) -> Value {
    match loss {
        Loss::Mae => serde_json::json!({ "type": "MAE" }),
        Loss::Mse => serde_json::json!({ "type": "MSE" }),
        Loss::Huber { delta } => serde_json::json!({ "type": "HuberLoss", "delta": *delta as f64 }),
        Loss::Quantile { q } => serde_json::json!({ "type": "QuantileLoss", "q": *q as f64 }),
        Loss::MultiQuantile { quantiles } => {
            serde_json::json!({ "type": "MQLoss", "quantiles": quantiles.iter().map(|&q| q as f64).collect::<Vec<_>>() })
        }
    }
}

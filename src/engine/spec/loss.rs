//! The `loss` option: a loss read from NeuralForecast's class name or an object with its parameters, and written
//! back.

use serde_json::{Map, Value};

use crate::engine::error::EngineError;
use crate::models::ModelOptions;
use crate::nn::loss::Loss;
use crate::nn::NnError;

const LOSS_NAMES: &str = "'MAE', 'MSE', 'RMSE', 'MAPE', 'SMAPE', { type: 'MASE', seasonality }, 'relMSE', 'HuberLoss' (or { type: 'HuberLoss', delta }), { type: 'QuantileLoss', q }, 'MQLoss' (or { type: 'MQLoss', level } / { type: 'MQLoss', quantiles }), { type: 'HuberQLoss', q, delta }, 'HuberMQLoss' (or { type: 'HuberMQLoss', level / quantiles, delta }), 'IQLoss' (or { type: 'IQLoss', cosEmbeddingDim, concentration0, concentration1 })";

/// The options each loss takes besides `type`.
fn loss_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "MASE" => &["seasonality"],
        "HuberLoss" => &["delta"],
        "QuantileLoss" => &["q"],
        "MQLoss" => &["level", "quantiles"],
        "HuberQLoss" => &["q", "delta"],
        "HuberMQLoss" => &["level", "quantiles", "delta"],
        "IQLoss" => &["cosEmbeddingDim", "concentration0", "concentration1"],
        _ => &[],
    }
}

/// A loss by NeuralForecast's class name, or an object with its parameters.
pub(super) fn parse_loss(value: &Value, name: &str) -> Result<Loss, EngineError> {
    let empty = Map::new();
    let (kind, options) = match value {
        Value::String(kind) => (kind.as_str(), &empty),
        Value::Object(options) => {
            let o = ModelOptions::new(name, options);
            let kind = o.string("type")?.ok_or_else(|| EngineError::Type(format!("{name}.type is missing; losses: {LOSS_NAMES}")))?;
            o.check_keys(&[&["type"], loss_keys(kind)])?;
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
    // NeuralForecast's default Huber threshold.
    let delta = || -> Result<f32, EngineError> { Ok(o.positive("delta")?.unwrap_or(1.0) as f32) };
    match kind {
        "MAE" => Ok(Loss::Mae),
        "MSE" => Ok(Loss::Mse),
        "RMSE" => Ok(Loss::Rmse),
        "MAPE" => Ok(Loss::Mape),
        "SMAPE" => Ok(Loss::Smape),
        "relMSE" => Ok(Loss::RelMse),
        "MASE" => {
            let seasonality = o.size("seasonality")?.ok_or_else(|| {
                EngineError::Type(format!("{name}.seasonality is missing: MASE needs the season length (e.g. 7 for daily data, 12 for monthly)"))
            })?;
            Loss::mase(seasonality).map_err(invalid)
        }
        "HuberLoss" => Loss::huber(delta()?).map_err(invalid),
        "QuantileLoss" => Loss::quantile(required_quantile(&o, kind)?).map_err(invalid),
        "HuberQLoss" => Loss::huber_quantile(required_quantile(&o, kind)?, delta()?).map_err(invalid),
        "MQLoss" => match quantile_list(&o)? {
            QuantileList::Quantiles(quantiles) => Loss::multi_quantile(quantiles).map_err(invalid),
            QuantileList::Levels(levels) => Loss::multi_quantile_levels(&levels).map_err(invalid),
        },
        "HuberMQLoss" => match quantile_list(&o)? {
            QuantileList::Quantiles(quantiles) => Loss::huber_multi_quantile(quantiles, delta()?).map_err(invalid),
            QuantileList::Levels(levels) => Loss::huber_multi_quantile_levels(&levels, delta()?).map_err(invalid),
        },
        "IQLoss" => {
            // NeuralForecast's defaults: cos_embedding_dim=64, concentration0=concentration1=1 (uniform quantiles).
            let cos_embedding_dim = o.size("cosEmbeddingDim")?.unwrap_or(64);
            let concentration0 = o.positive("concentration0")?.unwrap_or(1.0) as f32;
            let concentration1 = o.positive("concentration1")?.unwrap_or(1.0) as f32;
            Loss::implicit_quantile(cos_embedding_dim, concentration0, concentration1).map_err(invalid)
        }
        "HuberIQLoss" => Err(EngineError::Range(format!(
            "{name}: {kind} is not supported (IQLoss is); use IQLoss, or HuberMQLoss for Huberized quantile forecasts"
        ))),
        other => Err(EngineError::Range(format!("{name}: unknown loss '{other}'; losses: {LOSS_NAMES}"))),
    }
}

/// The `q` of a single-quantile loss.
fn required_quantile(o: &ModelOptions<'_>, kind: &str) -> Result<f32, EngineError> {
    let q = o.number("q")?.ok_or_else(|| EngineError::Type(format!("{} is missing: the quantile {kind} estimates", o.field("q"))))?;
    Ok(q as f32)
}

/// A multi-quantile loss's quantiles: explicit, or the median and interval bounds of levels.
enum QuantileList {
    Quantiles(Vec<f32>),
    Levels(Vec<f64>),
}

fn quantile_list(o: &ModelOptions<'_>) -> Result<QuantileList, EngineError> {
    match (numbers(o, "level")?, numbers(o, "quantiles")?) {
        (Some(_), Some(_)) => Err(EngineError::Type(format!("{}: give level or quantiles, not both", o.path()))),
        (None, Some(quantiles)) => Ok(QuantileList::Quantiles(quantiles.iter().map(|&q| q as f32).collect())),
        // NeuralForecast's default: level=[80, 90].
        (level, None) => Ok(QuantileList::Levels(level.unwrap_or_else(|| vec![80.0, 90.0]))),
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
pub(crate) fn loss_options(loss: &Loss) -> Value {
    let list = |quantiles: &[f32]| quantiles.iter().map(|&q| q as f64).collect::<Vec<_>>();
    match loss {
        Loss::Mae => serde_json::json!({ "type": "MAE" }),
        Loss::Mse => serde_json::json!({ "type": "MSE" }),
        Loss::Rmse => serde_json::json!({ "type": "RMSE" }),
        Loss::Mape => serde_json::json!({ "type": "MAPE" }),
        Loss::Smape => serde_json::json!({ "type": "SMAPE" }),
        Loss::Mase { seasonality } => serde_json::json!({ "type": "MASE", "seasonality": seasonality }),
        Loss::RelMse => serde_json::json!({ "type": "relMSE" }),
        Loss::Huber { delta } => serde_json::json!({ "type": "HuberLoss", "delta": *delta as f64 }),
        Loss::Quantile { q } => serde_json::json!({ "type": "QuantileLoss", "q": *q as f64 }),
        Loss::MultiQuantile { levels: Some(levels), .. } => serde_json::json!({ "type": "MQLoss", "level": levels }),
        Loss::MultiQuantile { quantiles, levels: None } => serde_json::json!({ "type": "MQLoss", "quantiles": list(quantiles) }),
        Loss::HuberQuantile { q, delta } => serde_json::json!({ "type": "HuberQLoss", "q": *q as f64, "delta": *delta as f64 }),
        Loss::HuberMultiQuantile { delta, levels: Some(levels), .. } => {
            serde_json::json!({ "type": "HuberMQLoss", "level": levels, "delta": *delta as f64 })
        }
        Loss::HuberMultiQuantile { quantiles, delta, levels: None } => {
            serde_json::json!({ "type": "HuberMQLoss", "quantiles": list(quantiles), "delta": *delta as f64 })
        }
        Loss::ImplicitQuantile { cos_embedding_dim, concentration0, concentration1 } => serde_json::json!({
            "type": "IQLoss",
            "cosEmbeddingDim": cos_embedding_dim,
            "concentration0": *concentration0 as f64,
            "concentration1": *concentration1 as f64,
        }),
    }
}

//! The `loss` option: a loss read from NeuralForecast's class name or an object with its parameters, and written
//! back.

use serde_json::{Map, Value};

use crate::engine::error::EngineError;
use crate::models::ModelOptions;
use crate::nn::loss::distribution::{isqf, Distribution};
use crate::nn::loss::{DistributionLoss, Loss};
use crate::nn::NnError;

const LOSS_NAMES: &str = "'MAE', 'MSE', 'RMSE', 'MAPE', 'SMAPE', { type: 'MASE', seasonality }, 'relMSE', 'HuberLoss' (or { type: 'HuberLoss', delta }), 'TukeyLoss' (or { type: 'TukeyLoss', c, normalize }), { type: 'QuantileLoss', q }, 'MQLoss' (or { type: 'MQLoss', level } / { type: 'MQLoss', quantiles }), { type: 'HuberQLoss', q, delta }, 'HuberMQLoss' (or { type: 'HuberMQLoss', level / quantiles, delta }), 'IQLoss' (or { type: 'IQLoss', cosEmbeddingDim, concentration0, concentration1 }), { type: 'DistributionLoss', distribution, level / quantiles, numSamples, returnParams, rho, numPieces }, 'GMM' / 'PMM' / 'NBMM' (or { type, nComponents, weighted, level / quantiles, numSamples, returnParams })";

/// `DistributionLoss`'s distributions, as NeuralForecast names them.
const DISTRIBUTION_NAMES: &str = "'Normal', 'StudentT', 'Poisson', 'NegativeBinomial', 'Tweedie', 'Bernoulli', 'ISQF'";

/// The options each loss takes besides `type`.
fn loss_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "MASE" => &["seasonality"],
        "HuberLoss" => &["delta"],
        "TukeyLoss" => &["c", "normalize"],
        "QuantileLoss" => &["q"],
        "MQLoss" => &["level", "quantiles"],
        "HuberQLoss" => &["q", "delta"],
        "HuberMQLoss" => &["level", "quantiles", "delta"],
        "IQLoss" => &["cosEmbeddingDim", "concentration0", "concentration1"],
        "DistributionLoss" => &["distribution", "level", "quantiles", "numSamples", "returnParams", "rho", "numPieces"],
        "GMM" | "PMM" => &["nComponents", "weighted", "level", "quantiles", "numSamples", "returnParams", "batchCorrelation", "horizonCorrelation"],
        "NBMM" => &["nComponents", "weighted", "level", "quantiles", "numSamples", "returnParams"],
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
        // NeuralForecast's defaults: c = 4.685, normalize = true.
        "TukeyLoss" => Loss::tukey(o.positive("c")?.unwrap_or(4.685) as f32, o.boolean("normalize")?.unwrap_or(true)).map_err(invalid),
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
        "DistributionLoss" => distribution_loss(&o, distribution(&o)?),
        "GMM" | "PMM" | "NBMM" => distribution_loss(&o, mixture(&o, kind)?),
        // NeuralForecast's ISQF is a distribution of DistributionLoss, not a loss of its own.
        "ISQF" => Err(EngineError::Range(format!(
            "{name}: ISQF is a DistributionLoss distribution: give {{ type: 'DistributionLoss', distribution: 'ISQF', numPieces, level / quantiles }}"
        ))),
        "HuberIQLoss" => Err(EngineError::Range(format!(
            "{name}: {kind} is not supported (IQLoss is); use IQLoss, or HuberMQLoss for Huberized quantile forecasts"
        ))),
        other => Err(EngineError::Range(format!("{name}: unknown loss '{other}'; losses: {LOSS_NAMES}"))),
    }
}

/// `DistributionLoss`'s `distribution` (and Tweedie's `rho`, required as NeuralForecast's; ISQF's `numPieces`,
/// 5 by default, its knots set by the loss's quantiles).
fn distribution(o: &ModelOptions<'_>) -> Result<Distribution, EngineError> {
    let name = o.string("distribution")?.ok_or_else(|| {
        EngineError::Type(format!("{} is missing: the distribution's name, one of {DISTRIBUTION_NAMES}", o.field("distribution")))
    })?;
    let rho = o.number("rho")?;
    if rho.is_some() && name != "Tweedie" {
        return Err(EngineError::Type(format!("{} is Tweedie's power; distribution '{name}' takes none", o.field("rho"))));
    }
    let num_pieces = o.integer("numPieces", 1, isqf::MAX_PIECES)?;
    if num_pieces.is_some() && name != "ISQF" {
        return Err(EngineError::Type(format!("{} is ISQF's pieces per knot interval; distribution '{name}' takes none", o.field("numPieces"))));
    }
    let invalid = |e: NnError| EngineError::Range(format!("{}: {e}", o.path()));
    match name {
        "Normal" => Ok(Distribution::Normal),
        "StudentT" => Ok(Distribution::StudentT),
        "Poisson" => Ok(Distribution::Poisson),
        "NegativeBinomial" => Ok(Distribution::NegativeBinomial),
        "Bernoulli" => Ok(Distribution::Bernoulli),
        "Tweedie" => {
            let rho = rho.ok_or_else(|| EngineError::Type(format!("{} is missing: Tweedie needs its power rho (1 < rho < 2)", o.field("rho"))))?;
            Distribution::tweedie(rho as f32).map_err(invalid)
        }
        "ISQF" => Distribution::isqf(num_pieces.unwrap_or(5)).map_err(invalid),
        other => Err(EngineError::Range(format!("{}: unknown distribution '{other}'; distributions: {DISTRIBUTION_NAMES}", o.field("distribution")))),
    }
}

/// A mixture loss (`GMM`, `PMM`, `NBMM`) with NeuralForecast's defaults: 1 component (PMM 10), unweighted.
fn mixture(o: &ModelOptions<'_>, kind: &str) -> Result<Distribution, EngineError> {
    for key in ["batchCorrelation", "horizonCorrelation"] {
        if o.boolean(key)? == Some(true) {
            return Err(EngineError::Range(format!("{}: correlated mixtures are not supported (only false, the default)", o.field(key))));
        }
    }
    let components = o.size("nComponents")?.unwrap_or(if kind == "PMM" { 10 } else { 1 });
    let weighted = o.boolean("weighted")?.unwrap_or(false);
    let invalid = |e: NnError| EngineError::Range(format!("{}: {e}", o.path()));
    match kind {
        "GMM" => Distribution::gmm(components, weighted),
        "PMM" => Distribution::pmm(components, weighted),
        _ => Distribution::nbmm(components, weighted),
    }
    .map_err(invalid)
}

/// The options every distribution loss shares: `level` (default [80, 90]) or `quantiles`, `numSamples` (1000)
/// and `returnParams` (false). `DistributionLoss` sorts its quantiles, as NeuralForecast's; the mixtures keep
/// their order.
fn distribution_loss(o: &ModelOptions<'_>, distribution: Distribution) -> Result<Loss, EngineError> {
    let num_samples = o.integer("numSamples", 1, crate::nn::loss::distribution_loss::MAX_SAMPLES)?.unwrap_or(1000);
    let return_params = o.boolean("returnParams")?.unwrap_or(false);
    let sort = !matches!(distribution, Distribution::Gmm { .. } | Distribution::Pmm { .. } | Distribution::Nbmm { .. });
    let invalid = |e: NnError| EngineError::Range(format!("{}: {e}", o.path()));
    let loss = match quantile_list(o)? {
        QuantileList::Quantiles(mut quantiles) => {
            if sort {
                quantiles.sort_by(f32::total_cmp);
            }
            DistributionLoss::with_quantiles(distribution, quantiles, num_samples, return_params)
        }
        QuantileList::Levels(levels) => DistributionLoss::with_levels(distribution, &levels, num_samples, return_params),
    };
    loss.map(Loss::Distribution).map_err(invalid)
}

/// NeuralForecast's name of a distribution loss's class (`DistributionLoss` or a mixture's) and its distribution.
fn distribution_options(loss: &DistributionLoss) -> Value {
    let mut options = Map::new();
    let (kind, components, weighted) = match loss.distribution {
        Distribution::Gmm { components, weighted } => ("GMM", Some(components), weighted),
        Distribution::Pmm { components, weighted } => ("PMM", Some(components), weighted),
        Distribution::Nbmm { components, weighted } => ("NBMM", Some(components), weighted),
        _ => ("DistributionLoss", None, false),
    };
    options.insert("type".into(), kind.into());
    match (&loss.distribution, components) {
        (_, Some(components)) => {
            options.insert("nComponents".into(), components.into());
            options.insert("weighted".into(), weighted.into());
        }
        (Distribution::Tweedie { rho }, None) => {
            options.insert("distribution".into(), "Tweedie".into());
            options.insert("rho".into(), (*rho as f64).into());
        }
        (Distribution::Isqf(isqf), None) => {
            options.insert("distribution".into(), "ISQF".into());
            options.insert("numPieces".into(), isqf.num_pieces().into());
        }
        (distribution, None) => {
            options.insert("distribution".into(), distribution_name(distribution).into());
        }
    }
    match &loss.levels {
        Some(levels) => options.insert("level".into(), levels.clone().into()),
        None => options.insert("quantiles".into(), loss.quantiles.iter().map(|&q| q as f64).collect::<Vec<_>>().into()),
    };
    options.insert("numSamples".into(), loss.num_samples.into());
    options.insert("returnParams".into(), loss.return_params.into());
    Value::Object(options)
}

/// NeuralForecast's name of a (non-mixture) distribution.
fn distribution_name(distribution: &Distribution) -> &'static str {
    match distribution {
        Distribution::Normal => "Normal",
        Distribution::StudentT => "StudentT",
        Distribution::Poisson => "Poisson",
        Distribution::NegativeBinomial => "NegativeBinomial",
        Distribution::Tweedie { .. } => "Tweedie",
        Distribution::Bernoulli => "Bernoulli",
        Distribution::Gmm { .. } => "GMM",
        Distribution::Pmm { .. } => "PMM",
        Distribution::Nbmm { .. } => "NBMM",
        Distribution::Isqf(_) => "ISQF",
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
        Loss::Tukey { c, normalize } => serde_json::json!({ "type": "TukeyLoss", "c": *c as f64, "normalize": normalize }),
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
        Loss::Distribution(loss) => distribution_options(loss),
    }
}

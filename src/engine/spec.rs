//! Model and engine configuration under NeuralForecast's names and defaults.
//!
//! A model is described by an options object (camelCase NeuralForecast argument names, `type` naming the class),
//! read here into a [`ModelSpec`]: the training options every model shares, and the model's own architecture
//! ([`Architecture`]), which its [`ModelConfig`] reads and validates.

use serde_json::{Map, Value};

use super::error::EngineError;
use super::network::Network;
use crate::data::Frequency;
use crate::models::gru::GruConfig;
use crate::models::lstm::LstmConfig;
use crate::models::mlp::MlpConfig;
use crate::models::nbeats::NbeatsConfig;
use crate::models::nbeatsx::NbeatsxConfig;
use crate::models::nhits::NhitsConfig;
use crate::models::tcn::TcnConfig;
use crate::models::transformer::TransformerConfig;
use crate::models::model::{InputSizeDefault, ModelConfig, ModelShape, TrainingDefaults};
use crate::models::options::{OptionError, MAX_SIZE};
use crate::models::prophet::ProphetConfig;
use crate::models::{ExogSizes, ModelOptions};
use crate::nn::loss::Loss;
use crate::nn::NnError;

/// Declares the neural model kinds: each a [`ModelConfig`], its variant of [`ModelKind`] and [`Architecture`].
macro_rules! architectures {
    ($($kind:ident => $config:ty),* $(,)?) => {
        /// Every model type: the neural ones, each a [`ModelConfig`], and Prophet.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ModelKind {
            $($kind,)*
            Prophet,
        }

        /// A model's architecture: its configuration, shape included.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Architecture {
            $($kind($config)),*
        }

        impl ModelKind {
            pub const ALL: &'static [ModelKind] = &[$(ModelKind::$kind,)* ModelKind::Prophet];

            /// NeuralForecast's class name (Prophet's own for Prophet), also the default alias.
            pub fn name(self) -> &'static str {
                match self {
                    $(ModelKind::$kind => <$config as ModelConfig>::NAME,)*
                    ModelKind::Prophet => ProphetConfig::NAME,
                }
            }

            /// The model's own options (architecture, or Prophet's).
            fn option_keys(self) -> &'static [&'static str] {
                match self {
                    $(ModelKind::$kind => <$config as ModelConfig>::OPTION_KEYS,)*
                    ModelKind::Prophet => ProphetConfig::OPTION_KEYS,
                }
            }

            /// The shared training defaults of a neural model; `None` for Prophet.
            fn training_defaults(self) -> Option<TrainingDefaults> {
                match self {
                    $(ModelKind::$kind => Some(<$config as ModelConfig>::TRAINING_DEFAULTS),)*
                    ModelKind::Prophet => None,
                }
            }

            /// A neural model's default architecture for `shape`, overridden by `options`.
            fn architecture(self, shape: ModelShape, options: &ModelOptions<'_>) -> Result<Architecture, OptionError> {
                match self {
                    $(ModelKind::$kind => {
                        let mut config = <$config as ModelConfig>::new(shape);
                        config.read_options(options)?;
                        Ok(Architecture::$kind(config))
                    })*
                    ModelKind::Prophet => Err(OptionError::Type("Prophet is not a neural network".into())),
                }
            }
        }

        impl Architecture {
            pub fn kind(&self) -> ModelKind {
                match self {
                    $(Architecture::$kind(_) => ModelKind::$kind),*
                }
            }

            pub fn shape(&self) -> &ModelShape {
                match self {
                    $(Architecture::$kind(c) => c.shape()),*
                }
            }

            fn write_options(&self, out: &mut Map<String, Value>) {
                match self {
                    $(Architecture::$kind(c) => c.write_options(out)),*
                }
            }

            /// Exact parameter count and activations per window, by arithmetic.
            pub fn memory_estimate(&self) -> (u128, u128) {
                match self {
                    $(Architecture::$kind(c) => c.memory_estimate()),*
                }
            }

            /// The network with freshly initialised weights.
            pub(crate) fn build(&self) -> Result<Network, NnError> {
                match self {
                    $(Architecture::$kind(c) => Ok(Network::new(c.build()?))),*
                }
            }
        }
    };
}

architectures! {
    Lstm => LstmConfig,
    Gru => GruConfig,
    Mlp => MlpConfig,
    Tcn => TcnConfig,
    Nbeats => NbeatsConfig,
    Nbeatsx => NbeatsxConfig,
    Nhits => NhitsConfig,
    VanillaTransformer => TransformerConfig,
}

impl ModelKind {
    /// A kind by its class name (any case) or one of NeuralForecast's other names for it (`Transformer`).
    pub fn parse(name: &str) -> Option<ModelKind> {
        if name.eq_ignore_ascii_case("Transformer") {
            return Some(ModelKind::VanillaTransformer);
        }
        ModelKind::ALL.iter().copied().find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// The class names of this build, for messages and `models.*`.
    pub fn names() -> Vec<&'static str> {
        ModelKind::ALL.iter().map(|k| k.name()).collect()
    }
}

/// Scaling of a window (`scalerType`) or of a whole series (`localScalerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalerType {
    Identity,
    Standard,
    Robust,
    MinMax,
}

impl ScalerType {
    pub const NAMES: &'static [&'static str] = &["identity", "standard", "robust", "minmax"];

    pub fn parse(s: &str) -> Result<ScalerType, EngineError> {
        match s {
            "identity" => Ok(ScalerType::Identity),
            "standard" => Ok(ScalerType::Standard),
            "robust" => Ok(ScalerType::Robust),
            "minmax" => Ok(ScalerType::MinMax),
            other => Err(EngineError::Range(format!("unknown scaler '{other}'; scalers: {}", Self::NAMES.join(", ")))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScalerType::Identity => "identity",
            ScalerType::Standard => "standard",
            ScalerType::Robust => "robust",
            ScalerType::MinMax => "minmax",
        }
    }
}

/// Names of a model's exogenous columns (NeuralForecast's `futr_exog_list`, `hist_exog_list`, `stat_exog_list`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExogLists {
    pub futr: Vec<String>,
    pub hist: Vec<String>,
    pub stat: Vec<String>,
}

impl ExogLists {
    pub fn sizes(&self) -> ExogSizes {
        ExogSizes { futr: self.futr.len(), hist: self.hist.len(), stat: self.stat.len() }
    }
}

/// A neural model: its architecture and the training options every neural model shares, NeuralForecast defaults
/// filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralSpec {
    pub architecture: Architecture,
    pub scaler_type: ScalerType,
    pub loss: Loss,
    pub learning_rate: f64,
    pub max_steps: usize,
    /// Windows per training step.
    pub batch_size: usize,
    /// Times the learning rate is halved over `max_steps` (0: constant, NeuralForecast's -1).
    pub num_lr_decays: usize,
    /// Validation checks without improvement before stopping (None: off).
    pub early_stop_patience_steps: Option<usize>,
    pub val_check_steps: usize,
    pub exog: ExogLists,
}

/// Prophet, a local model fitted to each series on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ProphetSpec {
    pub h: usize,
    pub config: ProphetConfig,
    /// Seeds the simulation of its uncertainty intervals.
    pub random_seed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    Neural(Box<NeuralSpec>),
    Prophet(ProphetSpec),
}

/// One model of a forecaster: its output column name and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub alias: String,
    pub method: Method,
}

/// The options every model reads, besides its architecture's.
const COMMON_KEYS: &[&str] = &["type", "alias", "h", "horizon", "randomSeed"];

/// The training options every neural model reads.
const NEURAL_KEYS: &[&str] = &[
    "inputSize",
    "scalerType",
    "loss",
    "learningRate",
    "maxSteps",
    "batchSize",
    "numLrDecays",
    "earlyStopPatienceSteps",
    "valCheckSteps",
    "futrExogList",
    "histExogList",
    "statExogList",
];

const LOSS_NAMES: &str =
    "'MAE', 'MSE', 'HuberLoss' (or { type: 'HuberLoss', delta }), { type: 'QuantileLoss', q }, 'MQLoss' (or { type: 'MQLoss', level } / { type: 'MQLoss', quantiles })";

impl From<OptionError> for EngineError {
    fn from(e: OptionError) -> Self {
        match e {
            OptionError::Type(m) => EngineError::Type(m),
            OptionError::Range(m) => EngineError::Range(m),
        }
    }
}

impl ModelSpec {
    /// Reads a model from its options object; `type` names the model (`path` names the object in messages,
    /// e.g. `models[0]`).
    pub fn from_options(options: &Map<String, Value>, path: &str) -> Result<ModelSpec, EngineError> {
        let reader = ModelOptions::new(path, options);
        let name = reader
            .string("type")?
            .ok_or_else(|| EngineError::Type(format!("{path}.type is missing (for example 'LSTM')")))?;
        let kind = ModelKind::parse(name).ok_or_else(|| {
            EngineError::Range(format!("{path}.type: unknown model '{name}'; available models: {}", ModelKind::names().join(", ")))
        })?;
        Self::of_kind(kind, options, path)
    }

    /// Reads the options of a model of `kind` (a `type` key, if present, is ignored).
    pub fn of_kind(kind: ModelKind, options: &Map<String, Value>, path: &str) -> Result<ModelSpec, EngineError> {
        let o = ModelOptions::new(path, options);
        let h = match (o.size("h")?, o.size("horizon")?) {
            (Some(_), Some(_)) => return Err(EngineError::Type(format!("{path}: give h or horizon, not both"))),
            (Some(h), None) | (None, Some(h)) => h,
            (None, None) => return Err(EngineError::Type(format!("{} is missing: the forecast horizon", o.field("h")))),
        };
        let random_seed = o.integer("randomSeed", 0, u32::MAX as usize)?.unwrap_or(1) as u64;
        let alias = o.string("alias")?.unwrap_or(kind.name()).to_string();
        let method = match kind.training_defaults() {
            Some(defaults) => {
                o.check_keys(&[COMMON_KEYS, NEURAL_KEYS, kind.option_keys()])?;
                Method::Neural(Box::new(neural_spec(kind, defaults, &o, h, random_seed)?))
            }
            None => {
                o.check_keys(&[COMMON_KEYS, kind.option_keys()])?;
                let mut config = ProphetConfig::default();
                config.read_options(&o)?;
                Method::Prophet(ProphetSpec { h, config, random_seed })
            }
        };
        let spec = ModelSpec { alias, method };
        spec.validate()?;
        Ok(spec)
    }

    /// NeuralForecast's defaults for `kind` at horizon `h` and input size `input_size`.
    pub fn new(kind: ModelKind, h: usize, input_size: usize) -> Result<ModelSpec, EngineError> {
        let options = serde_json::json!({ "h": h, "inputSize": input_size });
        Self::of_kind(kind, options.as_object().expect("an object literal"), kind.name())
    }

    /// Every option, defaults filled in, under the names [`ModelSpec::from_options`] reads.
    pub fn to_options(&self) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("type".into(), self.kind().name().into());
        o.insert("alias".into(), self.alias.clone().into());
        o.insert("h".into(), self.h().into());
        match &self.method {
            Method::Neural(neural) => neural.write_options(&mut o),
            Method::Prophet(prophet) => {
                prophet.config.write_options(&mut o);
                o.insert("randomSeed".into(), prophet.random_seed.into());
            }
        }
        o
    }

    pub fn kind(&self) -> ModelKind {
        match &self.method {
            Method::Neural(neural) => neural.architecture.kind(),
            Method::Prophet(_) => ModelKind::Prophet,
        }
    }

    pub fn neural(&self) -> Option<&NeuralSpec> {
        match &self.method {
            Method::Neural(neural) => Some(neural),
            Method::Prophet(_) => None,
        }
    }

    pub fn h(&self) -> usize {
        match &self.method {
            Method::Neural(neural) => neural.h(),
            Method::Prophet(prophet) => prophet.h,
        }
    }

    /// The past values a forecast reads: the input window of a neural model, none for Prophet (which keeps its fit).
    pub fn input_size(&self) -> usize {
        self.neural().map_or(0, NeuralSpec::input_size)
    }

    pub fn random_seed(&self) -> u64 {
        match &self.method {
            Method::Neural(neural) => neural.shape().random_seed,
            Method::Prophet(prophet) => prophet.random_seed,
        }
    }

    /// Values per forecast point.
    pub fn outputs_per_point(&self) -> usize {
        self.neural().map_or(1, |n| n.shape().outputs_per_point)
    }

    /// Column names of this model's outputs: the alias, or `<alias>-median`, `<alias>-lo-80`, … for a
    /// multi-quantile loss (NeuralForecast's names).
    pub fn output_columns(&self) -> Vec<String> {
        match self.neural() {
            Some(neural) => neural.loss.output_names().iter().map(|suffix| format!("{}{suffix}", self.alias)).collect(),
            None => vec![self.alias.clone()],
        }
    }

    /// Checks sizes and rates; the error names the model and the field.
    pub fn validate(&self) -> Result<(), EngineError> {
        match &self.method {
            Method::Neural(neural) => neural.validate(&self.alias),
            Method::Prophet(_) => Ok(()),
        }
    }

    /// Trainable parameters of this configuration (as torch counts them), by arithmetic; 0 for Prophet.
    pub fn num_parameters(&self) -> usize {
        self.neural().map_or(0, |n| n.architecture.memory_estimate().0 as usize)
    }
}

/// The training options and architecture of a neural model of `kind`.
fn neural_spec(kind: ModelKind, defaults: TrainingDefaults, o: &ModelOptions<'_>, h: usize, random_seed: u64) -> Result<NeuralSpec, EngineError> {
    let input_size = match (o.size("inputSize")?, defaults.input_size) {
        (Some(size), _) => size,
        (None, InputSizeDefault::TimesHorizon(k)) => (k * h).min(MAX_SIZE),
        (None, InputSizeDefault::Required) => {
            return Err(EngineError::Type(format!("{} is missing: {} has no default input size", o.field("inputSize"), kind.name())))
        }
    };
    let loss = match o.get("loss") {
        Some(value) => parse_loss(value, &o.field("loss"))?,
        None => Loss::Mae,
    };
    let exog = ExogLists { futr: exog_list(o, "futrExogList")?, hist: exog_list(o, "histExogList")?, stat: exog_list(o, "statExogList")? };
    let shape = ModelShape { h, input_size, outputs_per_point: loss.outputs_per_point(), exog: exog.sizes(), random_seed };
    let scaler_type = match o.choice("scalerType", ScalerType::NAMES)? {
        Some(name) => ScalerType::parse(name)?,
        None => ScalerType::parse(defaults.scaler_type)?,
    };
    Ok(NeuralSpec {
        architecture: kind.architecture(shape, o)?,
        scaler_type,
        loss,
        learning_rate: o.positive("learningRate")?.unwrap_or(defaults.learning_rate),
        max_steps: o.size("maxSteps")?.unwrap_or(defaults.max_steps),
        batch_size: o.size("batchSize")?.unwrap_or(defaults.batch_size),
        num_lr_decays: o.integer("numLrDecays", 0, MAX_SIZE)?.unwrap_or(defaults.num_lr_decays),
        early_stop_patience_steps: o.size("earlyStopPatienceSteps")?,
        val_check_steps: o.size("valCheckSteps")?.unwrap_or(100),
        exog,
    })
}

impl NeuralSpec {
    pub fn shape(&self) -> &ModelShape {
        self.architecture.shape()
    }

    pub fn h(&self) -> usize {
        self.shape().h
    }

    pub fn input_size(&self) -> usize {
        self.shape().input_size
    }

    pub fn kind(&self) -> ModelKind {
        self.architecture.kind()
    }

    fn write_options(&self, o: &mut Map<String, Value>) {
        let shape = self.shape();
        o.insert("inputSize".into(), shape.input_size.into());
        self.architecture.write_options(o);
        o.insert("scalerType".into(), self.scaler_type.name().into());
        o.insert("loss".into(), loss_options(&self.loss));
        o.insert("learningRate".into(), self.learning_rate.into());
        o.insert("maxSteps".into(), self.max_steps.into());
        o.insert("batchSize".into(), self.batch_size.into());
        o.insert("numLrDecays".into(), self.num_lr_decays.into());
        if let Some(patience) = self.early_stop_patience_steps {
            o.insert("earlyStopPatienceSteps".into(), patience.into());
        }
        o.insert("valCheckSteps".into(), self.val_check_steps.into());
        o.insert("randomSeed".into(), shape.random_seed.into());
        for (key, list) in [("futrExogList", &self.exog.futr), ("histExogList", &self.exog.hist), ("statExogList", &self.exog.stat)] {
            if !list.is_empty() {
                o.insert(key.into(), list.clone().into());
            }
        }
    }

    /// Checks the sizes and rates; the error names the model (`alias`) and the field.
    fn validate(&self, alias: &str) -> Result<(), EngineError> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(EngineError::Range(format!(
                "model '{alias}': learningRate must be a finite number greater than 0, got {}",
                self.learning_rate
            )));
        }
        self.check_memory(alias)
    }

    /// Rejects configurations whose weights or activations would not fit in memory, by arithmetic alone, so
    /// that a huge size is an error before anything is allocated.
    fn check_memory(&self, alias: &str) -> Result<(), EngineError> {
        const MAX_PARAMETERS: u128 = 1 << 27;
        /// f32 activations of a 16-window forecast chunk.
        const MAX_ACTIVATIONS: u128 = 1 << 28;
        let (parameters, per_window) = self.architecture.memory_estimate();
        if parameters > MAX_PARAMETERS {
            return Err(EngineError::Range(format!(
                "model '{alias}': about {parameters} parameters is too large (at most {MAX_PARAMETERS}); reduce {}",
                self.kind().option_keys().join(", ")
            )));
        }
        if 16 * per_window > MAX_ACTIVATIONS {
            return Err(EngineError::Range(format!(
                "model '{alias}': inputSize {} and h {} need about {} MB of activations per 16 windows (at most {} MB); reduce inputSize or the model size",
                self.input_size(),
                self.h(),
                (16 * per_window * 4) >> 20,
                (MAX_ACTIVATIONS * 4) >> 20
            )));
        }
        self.check_batch(alias, self.batch_size)
    }

    /// Rejects a training batch whose per-shard gradients and activations would not fit in memory.
    pub(crate) fn check_batch(&self, alias: &str, batch: usize) -> Result<(), EngineError> {
        const MAX_TRAINING_FLOATS: u128 = 1 << 30;
        /// More windows a step than any forecasting setup uses (NeuralForecast's largest default is 1024).
        const MAX_BATCH: usize = 1 << 16;
        if batch > MAX_BATCH {
            return Err(EngineError::Range(format!("model '{alias}': batchSize must be at most {MAX_BATCH} windows a step, got {batch}")));
        }
        let (parameters, per_window) = self.architecture.memory_estimate();
        let shard = super::train::shard_windows(batch, parameters) as u128;
        let floats = (batch as u128).div_ceil(shard) * (parameters + shard * per_window);
        if floats > MAX_TRAINING_FLOATS {
            return Err(EngineError::Range(format!(
                "model '{alias}': batchSize {batch} needs about {} MB of gradients and activations (at most {} MB); use a smaller batchSize",
                (floats * 4) >> 20,
                (MAX_TRAINING_FLOATS * 4) >> 20
            )));
        }
        Ok(())
    }
}

/// Distinct, non-empty column names.
fn exog_list(o: &ModelOptions<'_>, key: &str) -> Result<Vec<String>, EngineError> {
    let names = o.strings(key)?.unwrap_or_default();
    if let Some(empty) = names.iter().position(String::is_empty) {
        return Err(EngineError::Range(format!("{}[{empty}] is an empty column name", o.field(key))));
    }
    if let Some((i, name)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        return Err(EngineError::Range(format!("{}[{i}]: column '{name}' is listed twice", o.field(key))));
    }
    Ok(names)
}

/// A loss by NeuralForecast's class name, or an object with its parameters.
fn parse_loss(value: &Value, name: &str) -> Result<Loss, EngineError> {
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
fn loss_options(loss: &Loss) -> Value {
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

#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub models: Vec<ModelSpec>,
    /// None: inferred from the data at fit.
    pub freq: Option<Frequency>,
    pub local_scaler_type: ScalerType,
    /// 0: one thread per core.
    pub num_threads: usize,
    pub simd_enabled: bool,
    pub memory_pool: bool,
    pub low_memory: bool,
}

impl EngineConfig {
    pub fn new(models: Vec<ModelSpec>) -> EngineConfig {
        EngineConfig {
            models,
            freq: None,
            local_scaler_type: ScalerType::Identity,
            num_threads: 0,
            simd_enabled: true,
            memory_pool: true,
            low_memory: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(options: Value) -> Result<ModelSpec, EngineError> {
        ModelSpec::from_options(options.as_object().unwrap(), "models[0]")
    }

    #[test]
    fn defaults_come_from_each_model() {
        let lstm = spec(json!({ "type": "lstm", "h": 12 })).unwrap();
        let neural = lstm.neural().unwrap();
        assert_eq!((lstm.input_size(), neural.scaler_type, neural.batch_size), (36, ScalerType::Robust, 128));
        let mlp = spec(json!({ "type": "MLP", "h": 12, "inputSize": 24 })).unwrap();
        let neural = mlp.neural().unwrap();
        assert_eq!((neural.scaler_type, neural.batch_size, mlp.alias.as_str()), (ScalerType::Identity, 1024, "MLP"));
        let prophet = spec(json!({ "type": "Prophet", "h": 12, "seasonalityMode": "multiplicative" })).unwrap();
        assert_eq!((prophet.h(), prophet.input_size(), prophet.output_columns()), (12, 0, vec!["Prophet".to_string()]));
        assert_eq!(ModelSpec::from_options(&prophet.to_options(), "again").unwrap(), prophet);
        let neural_option = spec(json!({ "type": "Prophet", "h": 12, "maxSteps": 3 })).unwrap_err();
        assert!(matches!(neural_option, EngineError::Type(m) if m.contains("'maxSteps'")));
        let missing = spec(json!({ "type": "MLP", "h": 12 })).unwrap_err();
        assert!(matches!(missing, EngineError::Type(m) if m.contains("models[0].inputSize is missing")));
    }

    #[test]
    fn options_round_trip() {
        let options = json!({ "type": "GRU", "h": 6, "inputSize": 12, "encoderHiddenSize": 16, "loss": { "type": "MQLoss", "level": [80, 95] }, "alias": "g", "earlyStopPatienceSteps": 3 });
        let first = spec(options).unwrap();
        assert_eq!(first.output_columns(), ["g-median", "g-lo-95", "g-lo-80", "g-hi-80", "g-hi-95"]);
        let again = ModelSpec::from_options(&first.to_options(), "again").unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn errors_name_the_field() {
        let unknown = spec(json!({ "type": "LSTM", "h": 3, "hiddenSize": 8 })).unwrap_err();
        assert!(matches!(unknown, EngineError::Type(m) if m.contains("'hiddenSize'") && m.contains("encoderHiddenSize")));
        let kind = spec(json!({ "type": "Prophecy", "h": 3 })).unwrap_err();
        assert!(matches!(kind, EngineError::Range(m) if m.contains("Prophecy") && m.contains("LSTM")));
        let loss = spec(json!({ "type": "LSTM", "h": 3, "loss": "RMSLE" })).unwrap_err();
        assert!(matches!(loss, EngineError::Range(m) if m.contains("models[0].loss")));
        let huge = spec(json!({ "type": "LSTM", "h": 12, "encoderHiddenSize": 1_000_000 })).unwrap_err();
        assert!(matches!(huge, EngineError::Range(m) if m.contains("parameters")));
        let twice = spec(json!({ "type": "LSTM", "h": 3, "histExogList": ["a", "a"] })).unwrap_err();
        assert!(matches!(twice, EngineError::Range(m) if m.contains("listed twice")));
    }
}

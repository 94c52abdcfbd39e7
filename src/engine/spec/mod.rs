//! Model and engine configuration under NeuralForecast's names and defaults.
//!
//! A model is described by an options object (camelCase NeuralForecast argument names, `type` naming the class),
//! read here into a [`ModelSpec`]: the training options every model shares, and the model's own architecture
//! ([`Architecture`]), which its [`ModelConfig`](crate::models::model::ModelConfig) reads and validates.

mod config;
mod kinds;
mod limits;
mod loss;
mod neural;

use serde_json::{Map, Value};

use super::error::EngineError;
use crate::models::options::OptionError;
use crate::models::prophet::ProphetConfig;
use crate::models::ModelOptions;
use super::auto::AutoSpec;

pub use config::{EngineConfig, ScalerType};
pub use kinds::{Architecture, ModelKind};
pub use neural::{ExogLists, NeuralSpec};
pub(crate) use loss::loss_options;

use neural::{neural_spec, NEURAL_KEYS};

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
    /// An Auto model's search (`method` is then its first trial's model until a fit puts the winner there).
    pub search: Option<Box<AutoSpec>>,
}

/// The options every model reads, besides its architecture's.
const COMMON_KEYS: &[&str] = &["type", "alias", "h", "horizon", "randomSeed"];

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
        if let Some(kind) = AutoSpec::kind_of(name) {
            return AutoSpec::model_spec(kind, options, path);
        }
        let kind = ModelKind::parse(name).ok_or_else(|| {
            EngineError::Range(format!(
                "{path}.type: unknown model '{name}'; available models: {}, {}",
                ModelKind::names().join(", "),
                AutoSpec::type_names().join(", ")
            ))
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
        let spec = ModelSpec { alias, method, search: None };
        spec.validate()?;
        Ok(spec)
    }

    /// Every option a model of `kind` reads.
    pub fn accepted_keys(kind: ModelKind) -> Vec<&'static str> {
        let neural: &[&str] = if kind.training_defaults().is_some() { NEURAL_KEYS } else { &[] };
        [COMMON_KEYS, neural, kind.option_keys()].concat()
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

    /// Forecast columns per point (a distribution loss's mean, quantiles and parameters; else the outputs).
    pub fn columns_per_point(&self) -> usize {
        self.neural().map_or(1, NeuralSpec::columns_per_point)
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
        self.neural().map_or(0, |n| n.memory_estimate().0 as usize)
    }

    /// The values a checkpoint stores for this configuration: its parameters and buffers, by arithmetic.
    pub fn stored_values(&self) -> usize {
        self.num_parameters() + self.neural().map_or(0, |n| n.architecture.buffer_values() as usize)
    }
}

#[cfg(test)]
mod tests;

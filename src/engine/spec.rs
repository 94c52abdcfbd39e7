//! Model and engine configuration under NeuralForecast's names and defaults.

use super::error::EngineError;
use crate::data::Frequency;
use crate::models::{Gru, Lstm, RecurrentConfig};
use crate::nn::loss::Loss;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Lstm,
    Gru,
}

impl ModelKind {
    /// NeuralForecast's class name, also the default alias.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lstm => "LSTM",
            ModelKind::Gru => "GRU",
        }
    }

    pub fn parse(name: &str) -> Option<ModelKind> {
        [ModelKind::Lstm, ModelKind::Gru].into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
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
    pub fn parse(s: &str) -> Result<ScalerType, EngineError> {
        match s {
            "identity" => Ok(ScalerType::Identity),
            "standard" => Ok(ScalerType::Standard),
            "robust" => Ok(ScalerType::Robust),
            "minmax" => Ok(ScalerType::MinMax),
            other => Err(EngineError::Range(format!(
                "unknown scaler '{other}'; scalers: identity, standard, robust, minmax"
            ))),
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

/// One model's hyper-parameters (NeuralForecast names; `ModelSpec::new` gives NeuralForecast's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub kind: ModelKind,
    pub alias: String,
    pub h: usize,
    pub input_size: usize,
    pub encoder_n_layers: usize,
    pub encoder_hidden_size: usize,
    pub decoder_hidden_size: usize,
    pub decoder_layers: usize,
    pub scaler_type: ScalerType,
    pub loss: Loss,
    pub learning_rate: f64,
    pub max_steps: usize,
    /// Windows per training step.
    pub batch_size: usize,
    /// Times the learning rate is halved over `max_steps` (0: constant, NeuralForecast's default -1 for LSTM/GRU).
    pub num_lr_decays: usize,
    /// Validation checks without improvement before stopping (None: off).
    pub early_stop_patience_steps: Option<usize>,
    pub val_check_steps: usize,
    pub random_seed: u64,
}

impl ModelSpec {
    /// NeuralForecast's defaults for `kind` at horizon `h` (lstm.py / gru.py signatures).
    pub fn new(kind: ModelKind, h: usize) -> ModelSpec {
        ModelSpec {
            kind,
            alias: kind.name().to_string(),
            h,
            input_size: 3 * h,
            encoder_n_layers: 2,
            encoder_hidden_size: match kind {
                ModelKind::Lstm => 128,
                ModelKind::Gru => 200,
            },
            decoder_hidden_size: 128,
            decoder_layers: 2,
            scaler_type: ScalerType::Robust,
            loss: Loss::Mae,
            learning_rate: 1e-3,
            max_steps: 1000,
            batch_size: 32,
            num_lr_decays: 0,
            early_stop_patience_steps: None,
            val_check_steps: 100,
            random_seed: 1,
        }
    }

    pub(crate) fn recurrent_config(&self) -> RecurrentConfig {
        RecurrentConfig {
            h: self.h,
            input_size: self.input_size,
            encoder_n_layers: self.encoder_n_layers,
            encoder_hidden_size: self.encoder_hidden_size,
            decoder_hidden_size: self.decoder_hidden_size,
            decoder_layers: self.decoder_layers,
            loss: self.loss.clone(),
            random_seed: self.random_seed,
        }
    }

    /// Checks the sizes and rates; the error names the model and the field.
    pub fn validate(&self) -> Result<(), EngineError> {
        let sizes = [
            ("h", self.h),
            ("inputSize", self.input_size),
            ("encoderNLayers", self.encoder_n_layers),
            ("encoderHiddenSize", self.encoder_hidden_size),
            ("decoderHiddenSize", self.decoder_hidden_size),
            ("decoderLayers", self.decoder_layers),
            ("maxSteps", self.max_steps),
            ("batchSize", self.batch_size),
            ("valCheckSteps", self.val_check_steps),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(EngineError::Range(format!("model '{}': {name} must be at least 1, got 0", self.alias)));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(EngineError::Range(format!(
                "model '{}': learningRate must be a finite number greater than 0, got {}",
                self.alias, self.learning_rate
            )));
        }
        self.check_memory()?;
        if self.loss.outputs_per_point() != 1 {
            return Err(EngineError::Range(format!(
                "model '{}': multi-quantile losses are not available yet",
                self.alias
            )));
        }
        Ok(())
    }

    /// Rejects configurations whose weights or activations would not fit in memory, by arithmetic alone, so
    /// that a huge size is an error before anything is allocated.
    fn check_memory(&self) -> Result<(), EngineError> {
        const MAX_PARAMETERS: u128 = 1 << 27;
        /// f32 activations of a 16-window forecast chunk.
        const MAX_ACTIVATIONS: u128 = 1 << 28;
        let (parameters, per_window) = self.memory_estimate();
        if parameters > MAX_PARAMETERS {
            return Err(EngineError::Range(format!(
                "model '{}': about {parameters} parameters is too large (at most {MAX_PARAMETERS}); reduce encoderHiddenSize, encoderNLayers, decoderHiddenSize or decoderLayers",
                self.alias
            )));
        }
        if 16 * per_window > MAX_ACTIVATIONS {
            return Err(EngineError::Range(format!(
                "model '{}': inputSize {} with {} layers of {} units needs about {} MB of activations per 16 windows (at most {} MB); reduce inputSize or the model size",
                self.alias,
                self.input_size,
                self.encoder_n_layers,
                self.encoder_hidden_size,
                16 * per_window * 4 >> 20,
                MAX_ACTIVATIONS * 4 >> 20
            )));
        }
        self.check_batch(self.batch_size)
    }

    /// Rejects a training batch whose per-shard gradients and activations would not fit in memory.
    pub(crate) fn check_batch(&self, batch: usize) -> Result<(), EngineError> {
        const MAX_TRAINING_FLOATS: u128 = 1 << 30;
        const SHARD: u128 = 8;
        let (parameters, per_window) = self.memory_estimate();
        let floats = (batch as u128).div_ceil(SHARD) * (parameters + SHARD * per_window);
        if floats > MAX_TRAINING_FLOATS {
            return Err(EngineError::Range(format!(
                "model '{}': batchSize {batch} needs about {} MB of gradients and activations (at most {} MB); use a smaller batchSize",
                self.alias,
                floats * 4 >> 20,
                MAX_TRAINING_FLOATS * 4 >> 20
            )));
        }
        Ok(())
    }

    /// The parameter count (exact, by arithmetic: nothing is allocated) and an upper bound of the f32
    /// activations one window keeps.
    pub(crate) fn memory_estimate(&self) -> (u128, u128) {
        let [l, h, layers, hidden, dec, dec_layers] =
            [self.input_size, self.h, self.encoder_n_layers, self.encoder_hidden_size, self.decoder_hidden_size, self.decoder_layers]
                .map(|v| v as u128);
        let gates = match self.kind {
            ModelKind::Lstm => 4,
            ModelKind::Gru => 3,
        };
        let encoder = gates * hidden * (1 + hidden + 2) + layers.saturating_sub(1) * gates * hidden * (2 * hidden + 2);
        // NeuralForecast's MLP: one Linear(in, out) for a single layer, else in → dec → … → dec → out.
        let decoder = if dec_layers == 1 { hidden + 1 } else { (hidden + 1) * dec + dec_layers.saturating_sub(2) * (dec + 1) * dec + dec + 1 };
        let upsample = if h > l { (l + 1) * h } else { 0 };
        let per_window = l.max(h) * layers * hidden * (gates + 3) + h * dec_layers * dec;
        (encoder + decoder + upsample, per_window)
    }

    /// Trainable parameters of this configuration (as torch counts them).
    pub fn num_parameters(&self) -> Result<usize, EngineError> {
        self.validate()?;
        let config = self.recurrent_config();
        Ok(match self.kind {
            ModelKind::Lstm => Lstm::new(config)?.num_parameters(),
            ModelKind::Gru => Gru::new(config)?.num_parameters(),
        })
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

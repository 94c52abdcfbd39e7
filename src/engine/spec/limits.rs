//! The checks of a neural model's configuration: a usable learning rate, and the memory limits on its parameters,
//! its activations and a training batch, by arithmetic before anything is allocated.

use super::NeuralSpec;
use crate::engine::error::EngineError;

impl NeuralSpec {
    /// Checks the sizes and rates; the error names the model (`alias`) and the field.
    pub(super) fn validate(&self, alias: &str) -> Result<(), EngineError> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(EngineError::Range(format!(
                "model '{alias}': learningRate must be a finite number greater than 0, got {}",
                self.learning_rate
            )));
        }
        self.check_memory(alias)
    }

    /// Exact parameter count and activations per window, by arithmetic: the architecture's and its loss head's.
    pub(crate) fn memory_estimate(&self) -> (u128, u128) {
        let (parameters, per_window) = self.architecture.memory_estimate();
        let (head_parameters, per_value) = self.loss.head_size();
        (parameters + head_parameters, per_window + self.h() as u128 * per_value)
    }

    /// Rejects configurations whose weights or activations would not fit in memory, by arithmetic alone, so
    /// that a huge size is an error before anything is allocated.
    fn check_memory(&self, alias: &str) -> Result<(), EngineError> {
        const MAX_PARAMETERS: u128 = 1 << 27;
        /// f32 activations of a 16-window forecast chunk.
        const MAX_ACTIVATIONS: u128 = 1 << 28;
        let (parameters, per_window) = self.memory_estimate();
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
        self.check_batch(alias, self.windows_batch_size)
    }

    /// Rejects a training batch whose per-shard gradients and activations would not fit in memory.
    pub(crate) fn check_batch(&self, alias: &str, batch: usize) -> Result<(), EngineError> {
        const MAX_TRAINING_FLOATS: u128 = 1 << 30;
        /// More windows a step than any forecasting setup uses (NeuralForecast's largest default is 1024).
        const MAX_BATCH: usize = 1 << 16;
        if batch > MAX_BATCH {
            return Err(EngineError::Range(format!("model '{alias}': windowsBatchSize must be at most {MAX_BATCH} windows a step, got {batch}")));
        }
        let (parameters, per_window) = self.memory_estimate();
        let shard = crate::engine::train::training_shard_windows(self, batch, parameters, false) as u128;
        let floats = (batch as u128).div_ceil(shard) * (parameters + shard * per_window);
        if floats > MAX_TRAINING_FLOATS {
            return Err(EngineError::Range(format!(
                "model '{alias}': windowsBatchSize {batch} needs about {} MB of gradients and activations (at most {} MB); use a smaller windowsBatchSize",
                (floats * 4) >> 20,
                (MAX_TRAINING_FLOATS * 4) >> 20
            )));
        }
        Ok(())
    }
}

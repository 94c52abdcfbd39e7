//! The architecture NeuralForecast's `LSTM` and `GRU` models share in their default, non-recurrent
//! mode (`recurrent=False`; neuralforecast/models/lstm.py and gru.py, `__init__` and `forward`):
//!
//! 1. `hist_encoder`: a multi-layer batch-first RNN over the `input_size` past values `[B, L, 1]`
//!    (univariate, no exogenous inputs here), from zero initial states; its output is the top layer's
//!    hidden state at every step, `[B, L, H]`.
//! 2. If `h > input_size`, `upsample_sequence = nn.Linear(input_size, h)` maps that sequence along the
//!    time axis to `[B, h, H]`; otherwise the last `h` steps are kept: `hidden_state[:, -h:]`.
//! 3. `mlp_decoder`: NeuralForecast's MLP (ReLU, `decoder_layers` layers of width
//!    `decoder_hidden_size`), applied to each of the `h` hidden states separately, giving
//!    `[B, h, outputs_per_point]` (one output per point, one per quantile for the multi-quantile loss).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::nn::error::{expect_len, nonzero};
use crate::nn::loss::Loss;
use crate::nn::mlp::{Mlp, MlpCache};
use crate::nn::recurrent::{Recurrent, RecurrentCache, RecurrentCell};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

use super::model::{ExogSizes, Model, WindowBatch};

/// A recurrent cell together with the NeuralForecast model defaults that differ between LSTM and GRU.
pub trait ForecasterCell: RecurrentCell {
    const DEFAULT_ENCODER_HIDDEN_SIZE: usize;
}

/// Hyper-parameters under NeuralForecast's names.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrentConfig {
    /// Forecast horizon.
    pub h: usize,
    /// Length of the input window (NeuralForecast's default `-1` means `3 * h`).
    pub input_size: usize,
    pub encoder_n_layers: usize,
    pub encoder_hidden_size: usize,
    pub decoder_hidden_size: usize,
    pub decoder_layers: usize,
    /// The training loss; it fixes the number of outputs per forecast point.
    pub loss: Loss,
    /// Seeds the parameter initialisation.
    pub random_seed: u64,
}

/// NeuralForecast's recurrent forecaster (see the module docs) with cell `C`.
#[derive(Debug, Clone)]
pub struct RecurrentForecaster<C> {
    config: RecurrentConfig,
    params: ParamStore,
    encoder: Recurrent<C>,
    decoder: Mlp,
    upsample: Option<Linear>,
}

/// Per-thread state of one forward/backward pass.
#[derive(Debug, Clone, Default)]
pub struct ForecasterCache {
    batch: usize,
    encoder: RecurrentCache,
    /// Encoder output transposed to `[B, H, L]`, the upsampling layer's input.
    upsample_input: Vec<f32>,
    /// `[B, H, h]`.
    upsampled: Vec<f32>,
    /// The `h` hidden states per window the decoder reads, `[B, h, H]`.
    decoder_input: Vec<f32>,
    decoder: MlpCache,
    d_decoder_input: Vec<f32>,
    d_upsampled: Vec<f32>,
    d_upsample_input: Vec<f32>,
    d_encoder_output: Vec<f32>,
}

impl<C: ForecasterCell> RecurrentForecaster<C> {
    /// NeuralForecast's defaults for horizon `h`: `input_size = 3 h`, 2 encoder layers, decoder MLP of
    /// 2 layers with 128 units, MAE loss, seed 1.
    pub fn default_config(h: usize) -> RecurrentConfig {
        RecurrentConfig {
            h,
            input_size: 3 * h,
            encoder_n_layers: 2,
            encoder_hidden_size: C::DEFAULT_ENCODER_HIDDEN_SIZE,
            decoder_hidden_size: 128,
            decoder_layers: 2,
            loss: Loss::Mae,
            random_seed: 1,
        }
    }

    /// Creates the parameters, in torch's registration order, from `config.random_seed`.
    pub fn new(config: RecurrentConfig) -> Result<Self, NnError> {
        nonzero("h", config.h)?;
        nonzero("input_size", config.input_size)?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(config.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let encoder = Recurrent::new(&mut init.pp("hist_encoder"), 1, config.encoder_hidden_size, config.encoder_n_layers)?;
        let decoder = Mlp::new(
            &mut init.pp("mlp_decoder"),
            config.encoder_hidden_size,
            config.loss.outputs_per_point(),
            config.decoder_hidden_size,
            config.decoder_layers,
        )?;
        let upsample = if config.h > config.input_size {
            Some(Linear::new(&mut init.pp("upsample_sequence"), config.input_size, config.h)?)
        } else {
            None
        };
        Ok(RecurrentForecaster { config, params, encoder, decoder, upsample })
    }

    pub fn config(&self) -> &RecurrentConfig {
        &self.config
    }

    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// For the optimizer and for loading checkpoints.
    pub fn params_mut(&mut self) -> &mut ParamStore {
        &mut self.params
    }

    pub fn num_parameters(&self) -> usize {
        self.params.num_parameters()
    }

    /// Forecasts `[B, h, outputs_per_point]` from `windows` `[B, input_size]`.
    pub fn forward<'c>(&self, windows: &[f32], batch: usize, cache: &'c mut ForecasterCache) -> Result<&'c [f32], NnError> {
        nonzero("batch size", batch)?;
        let (h, input_size, hidden) = (self.config.h, self.config.input_size, self.config.encoder_hidden_size);
        expect_len("input windows", batch * input_size, windows.len())?;
        cache.batch = batch;
        let encoded = self.encoder.forward(&self.params, windows, batch, input_size, &mut cache.encoder)?;
        cache.decoder_input.resize(batch * h * hidden, 0.0);
        match &self.upsample {
            Some(upsample) => {
                transpose_inner(encoded, batch, input_size, hidden, &mut cache.upsample_input);
                cache.upsampled.resize(batch * hidden * h, 0.0);
                upsample.forward(&self.params, &cache.upsample_input, batch * hidden, &mut cache.upsampled)?;
                transpose_inner(&cache.upsampled, batch, hidden, h, &mut cache.decoder_input);
            }
            None => {
                let last_steps = encoded.chunks_exact(input_size * hidden).map(|window| &window[(input_size - h) * hidden..]);
                cache.decoder_input.chunks_exact_mut(h * hidden).zip(last_steps).for_each(|(dst, src)| dst.copy_from_slice(src));
            }
        }
        self.decoder.forward(&self.params, &cache.decoder_input, batch * h, &mut cache.decoder)
    }

    /// Backpropagates `d_output` (d loss/d forecast, `[B, h, outputs_per_point]`) through the pass
    /// saved in `cache`, accumulating into `grads` (a store shaped like [`Self::params`]).
    pub fn backward(&self, cache: &mut ForecasterCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.params.check_same_layout(grads)?;
        let (h, input_size, hidden) = (self.config.h, self.config.input_size, self.config.encoder_hidden_size);
        let batch = cache.batch;
        nonzero("batch size of the cached forward pass", batch)?;
        cache.d_decoder_input.resize(batch * h * hidden, 0.0);
        self.decoder.backward(&self.params, &cache.decoder_input, &mut cache.decoder, d_output, grads, Some(&mut cache.d_decoder_input))?;
        cache.d_encoder_output.resize(batch * input_size * hidden, 0.0);
        match &self.upsample {
            Some(upsample) => {
                transpose_inner(&cache.d_decoder_input, batch, h, hidden, &mut cache.d_upsampled);
                cache.d_upsample_input.resize(batch * hidden * input_size, 0.0);
                upsample.backward(&self.params, &cache.upsample_input, &cache.d_upsampled, batch * hidden, grads, Some(&mut cache.d_upsample_input))?;
                transpose_inner(&cache.d_upsample_input, batch, hidden, input_size, &mut cache.d_encoder_output);
            }
            None => {
                // Only the last h steps reach the decoder; earlier outputs get no direct gradient.
                let d_last_steps = cache.d_decoder_input.chunks_exact(h * hidden);
                for (window, d_last) in cache.d_encoder_output.chunks_exact_mut(input_size * hidden).zip(d_last_steps) {
                    let (earlier, last) = window.split_at_mut((input_size - h) * hidden);
                    earlier.fill(0.0);
                    last.copy_from_slice(d_last);
                }
            }
        }
        self.encoder.backward(&self.params, &mut cache.encoder, &cache.d_encoder_output, grads, None)
    }
}

impl<C: ForecasterCell + Clone + Send + Sync + std::fmt::Debug + 'static> Model for RecurrentForecaster<C> {
    type Cache = ForecasterCache;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn params_mut(&mut self) -> &mut ParamStore {
        &mut self.params
    }

    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut ForecasterCache) -> Result<&'c [f32], NnError> {
        batch.check(self.config.input_size, self.config.h, ExogSizes::none())?;
        RecurrentForecaster::forward(self, batch.insample_y, batch.batch, cache)
    }

    fn backward(&self, cache: &mut ForecasterCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        RecurrentForecaster::backward(self, cache, d_output, grads)
    }
}

/// `[batch, rows, cols]` -> `[batch, cols, rows]` into `out` (torch's `permute(0, 2, 1)`).
fn transpose_inner(input: &[f32], batch: usize, rows: usize, cols: usize, out: &mut Vec<f32>) {
    out.resize(batch * rows * cols, 0.0);
    for (src, dst) in input.chunks_exact(rows * cols).zip(out.chunks_exact_mut(rows * cols)) {
        for r in 0..rows {
            for c in 0..cols {
                dst[c * rows + r] = src[r * cols + c];
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::nn::adam::{Adam, AdamConfig, StepLr};
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, weighted_sum};

    /// A small configuration for gradient checks and training tests.
    pub fn small_config(h: usize, input_size: usize, loss: Loss) -> RecurrentConfig {
        RecurrentConfig {
            h,
            input_size,
            encoder_n_layers: 2,
            encoder_hidden_size: 4,
            decoder_hidden_size: 5,
            decoder_layers: 2,
            loss,
            random_seed: 9,
        }
    }

    /// NeuralForecast's reference configuration of the parameter-count tests.
    pub fn reference_config<C: ForecasterCell>() -> RecurrentConfig {
        RecurrentConfig { input_size: 24, encoder_hidden_size: 64, decoder_hidden_size: 64, ..RecurrentForecaster::<C>::default_config(12) }
    }

    /// Finite-difference check of the whole model: gradients w.r.t. a sample of every parameter and
    /// w.r.t. every input value.
    pub fn check_model_gradients<C: ForecasterCell + Clone>(config: RecurrentConfig) {
        let batch = 3;
        let mut model = RecurrentForecaster::<C>::new(config.clone()).unwrap();
        let windows = random_vec(batch * config.input_size, 41);
        let weights = random_vec(batch * config.h * config.loss.outputs_per_point(), 42);
        let objective = |model: &RecurrentForecaster<C>, windows: &[f32]| {
            let mut cache = ForecasterCache::default();
            weighted_sum(model.forward(windows, batch, &mut cache).unwrap(), &weights)
        };
        let mut cache = ForecasterCache::default();
        model.forward(&windows, batch, &mut cache).unwrap();
        let mut grads = model.params().zeros_like();
        model.backward(&mut cache, &weights, &mut grads).unwrap();
        let mut params = model.params().clone();
        check_param_grads(&mut params, &grads, 8, |p| {
            *model.params_mut() = p.clone();
            objective(&model, &windows)
        });
        *model.params_mut() = params;
        // dL/d windows: rerun the encoder's backward with its input gradient exposed.
        let mut d_windows = vec![0.0; windows.len()];
        let mut unused_grads = grads.zeros_like();
        model.encoder.backward(&model.params, &mut cache.encoder, &cache.d_encoder_output, &mut unused_grads, Some(&mut d_windows)).unwrap();
        check_input_grads(&windows, &d_windows, usize::MAX, |w| objective(&model, w));
    }

    /// Fits sine-wave windows with Adam and returns the MAE before and after `steps` steps.
    pub fn fit_sine<C: ForecasterCell>(config: RecurrentConfig, steps: usize, learning_rate: f32) -> (f32, f32) {
        let (h, input_size, batch) = (config.h, config.input_size, 16);
        let mut model = RecurrentForecaster::<C>::new(config).unwrap();
        let series: Vec<f32> = (0..400).map(|t| (t as f32 * 2.0 * std::f32::consts::PI / 20.0).sin()).collect();
        let window_count = series.len() - input_size - h;
        let mut adam = Adam::new(model.params(), AdamConfig { learning_rate, ..AdamConfig::default() }, StepLr::constant()).unwrap();
        let mut grads = model.params().zeros_like();
        let mut cache = ForecasterCache::default();
        let (mut windows, mut targets) = (Vec::new(), Vec::new());
        let mut d_forecast = vec![0.0; batch * h];
        let mut losses = Vec::new();
        for step in 0..steps {
            windows.clear();
            targets.clear();
            for k in 0..batch {
                // A deterministic stride through all window start positions.
                let start = (step * batch + k) * 7 % window_count;
                windows.extend_from_slice(&series[start..start + input_size]);
                targets.extend_from_slice(&series[start + input_size..start + input_size + h]);
            }
            let forecast = model.forward(&windows, batch, &mut cache).unwrap();
            losses.push(Loss::Mae.value_and_grad(forecast, &targets, None, &mut d_forecast).unwrap());
            grads.fill_zero();
            model.backward(&mut cache, &d_forecast, &mut grads).unwrap();
            adam.step(model.params_mut(), &grads).unwrap();
        }
        let mean = |losses: &[f32]| losses.iter().sum::<f32>() / losses.len() as f32;
        (mean(&losses[..10]), mean(&losses[steps - 10..]))
    }

    #[test]
    fn transpose_inner_swaps_the_last_two_axes() {
        let mut out = Vec::new();
        transpose_inner(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1, 2, 3, &mut out);
        assert_eq!(out, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}

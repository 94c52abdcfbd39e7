//! The architecture NeuralForecast's `LSTM`, `GRU` and `RNN` models share in their default, non-recurrent
//! mode (`recurrent=False`; neuralforecast/models/lstm.py, gru.py and rnn.py, `__init__` and `forward`):
//!
//! 1. `hist_encoder`: a multi-layer batch-first RNN over the `input_size` past steps, from zero initial
//!    states. Each step's input is `[y_t | hist exog_t | stat exog | futr exog_t]` (`1 + X + S + F` values);
//!    the output is the top layer's hidden state at every step, `[B, L, H]`.
//! 2. If `h > input_size`, `upsample_sequence = nn.Linear(input_size, h)` maps that sequence along the
//!    time axis to `[B, h, H]`; otherwise the last `h` steps are kept: `hidden_state[:, -h:]`.
//! 3. The future exogenous values of the horizon are appended to each of the `h` hidden states
//!    (`[B, h, H + F]`), and `mlp_decoder` (NeuralForecast's MLP: ReLU, `decoder_layers` layers of width
//!    `decoder_hidden_size`) maps each to `outputs_per_point` values: `[B, h, outputs_per_point]`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionResult};
use crate::nn::error::nonzero;
use crate::nn::relu_mlp::{ReluMlp, ReluMlpCache};
use crate::nn::recurrent::{Recurrent, RecurrentCache, RecurrentCell};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// The architecture options every recurrent model reads.
pub const SHARED_OPTION_KEYS: [&str; 5] = ["encoderNLayers", "encoderHiddenSize", "decoderHiddenSize", "decoderLayers", "excludeInsampleY"];

/// A recurrent cell together with what differs between NeuralForecast's LSTM, GRU and RNN models; its
/// `Default` is the cell of the model's defaults.
pub trait ForecasterCell: RecurrentCell + Default + Clone + Copy + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// NeuralForecast's class name.
    const NAME: &'static str;
    /// The default `encoder_hidden_size` of its `__init__`.
    const DEFAULT_ENCODER_HIDDEN_SIZE: usize;
    /// Every architecture option: [`SHARED_OPTION_KEYS`] and those of the cell (RNN's `encoderActivation`).
    const OPTION_KEYS: &'static [&'static str] = &SHARED_OPTION_KEYS;

    /// Reads the cell's own options (those of `OPTION_KEYS` beyond the shared ones).
    fn read_options(&mut self, _options: &ModelOptions<'_>) -> OptionResult<()> {
        Ok(())
    }

    fn write_options(&self, _out: &mut Map<String, Value>) {}
}

/// A NeuralForecast recurrent model on `cell`: its [`ForecasterCell`] constants and its config and network types.
macro_rules! recurrent_model {
    ($cell:ty, $name:literal, default_encoder_hidden_size: $hidden:literal, $config:ident, $network:ident) => {
        impl $crate::models::recurrent_forecaster::ForecasterCell for $cell {
            const NAME: &'static str = $name;
            const DEFAULT_ENCODER_HIDDEN_SIZE: usize = $hidden;
        }

        pub type $config = $crate::models::recurrent_forecaster::RecurrentConfig<$cell>;
        pub type $network = $crate::models::recurrent_forecaster::RecurrentForecaster<$cell>;
    };
}
pub(crate) use recurrent_model;

/// Hyper-parameters under NeuralForecast's names, for cell `C`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrentConfig<C> {
    pub shape: ModelShape,
    pub encoder_n_layers: usize,
    pub encoder_hidden_size: usize,
    pub decoder_hidden_size: usize,
    pub decoder_layers: usize,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros (forecasts from the exogenous
    /// variables alone).
    pub exclude_insample_y: bool,
    /// The encoder's cell, with its own options.
    pub cell: C,
}

impl<C: ForecasterCell> RecurrentConfig<C> {
    /// Values per encoder step: `1 + X + S + F`.
    fn encoder_input_size(&self) -> usize {
        let exog = self.shape.exog;
        1 + exog.hist + exog.stat + exog.futr
    }

    /// Values per decoder row: the hidden state and the step's future exogenous values.
    fn decoder_input_size(&self) -> usize {
        self.encoder_hidden_size + self.shape.exog.futr
    }
}

impl<C: ForecasterCell> ModelConfig for RecurrentConfig<C> {
    type Network = RecurrentForecaster<C>;

    const NAME: &'static str = C::NAME;
    const OPTION_KEYS: &'static [&'static str] = C::OPTION_KEYS;
    /// lstm.py / gru.py: `input_size=-1` (3 h), `scaler_type='robust'`, `windows_batch_size=128`, `inference_windows_batch_size=1024`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults::SEQUENCE_ENCODERS;

    /// NeuralForecast's defaults: 2 encoder layers, a decoder MLP of 2 layers with 128 units, the window included.
    fn new(shape: ModelShape) -> Self {
        let encoder_hidden_size = C::DEFAULT_ENCODER_HIDDEN_SIZE;
        RecurrentConfig { shape, encoder_n_layers: 2, encoder_hidden_size, decoder_hidden_size: 128, decoder_layers: 2, exclude_insample_y: false, cell: C::default() }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([
            ("encoderNLayers", &mut self.encoder_n_layers), ("encoderHiddenSize", &mut self.encoder_hidden_size),
            ("decoderHiddenSize", &mut self.decoder_hidden_size), ("decoderLayers", &mut self.decoder_layers),
        ])?;
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        self.cell.read_options(options)
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("encoderNLayers", self.encoder_n_layers.into()), ("encoderHiddenSize", self.encoder_hidden_size.into()),
            ("decoderHiddenSize", self.decoder_hidden_size.into()), ("decoderLayers", self.decoder_layers.into()),
            ("excludeInsampleY", self.exclude_insample_y.into()),
        ]);
        self.cell.write_options(out);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let [l, h, layers, hidden, dec, dec_layers, input, dec_in, outputs] = [
            self.shape.input_size, self.shape.h, self.encoder_n_layers, self.encoder_hidden_size,
            self.decoder_hidden_size, self.decoder_layers, self.encoder_input_size(), self.decoder_input_size(),
            self.shape.outputs_per_point,
        ]
        .map(|v| v as u128);
        let gates = C::GATES as u128;
        let encoder = gates * hidden * (input + hidden + 2) + layers.saturating_sub(1) * gates * hidden * (2 * hidden + 2);
        // NeuralForecast's MLP: one Linear(in, out) for a single layer, else in → dec → … → dec → out.
        let decoder = if dec_layers == 1 {
            (dec_in + 1) * outputs
        } else {
            (dec_in + 1) * dec + dec_layers.saturating_sub(2) * (dec + 1) * dec + (dec + 1) * outputs
        };
        let upsample = if h > l { (l + 1) * h } else { 0 };
        let per_window = l.max(h) * (input + layers * hidden * (gates + 3)) + h * (dec_in + dec_layers * dec + outputs);
        (encoder + decoder + upsample, per_window)
    }

    /// Creates the parameters, in torch's registration order, from the shape's seed.
    fn build(&self) -> Result<RecurrentForecaster<C>, NnError> {
        let ModelShape { h, input_size, outputs_per_point, random_seed, .. } = self.shape;
        nonzero("h", h)?;
        nonzero("inputSize", input_size)?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let encoder =
            Recurrent::new(&mut init.pp("hist_encoder"), self.cell, self.encoder_input_size(), self.encoder_hidden_size, self.encoder_n_layers)?;
        let decoder = ReluMlp::new(&mut init.pp("mlp_decoder"), self.decoder_input_size(), outputs_per_point,
            self.decoder_hidden_size, self.decoder_layers)?;
        let upsample = if h > input_size { Some(Linear::new(&mut init.pp("upsample_sequence"), input_size, h)?) } else { None };
        Ok(RecurrentForecaster { config: self.clone(), params, encoder, decoder, upsample })
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

/// NeuralForecast's recurrent forecaster (see the module docs) with cell `C`.
#[derive(Debug, Clone)]
pub struct RecurrentForecaster<C> {
    config: RecurrentConfig<C>,
    params: ParamStore,
    encoder: Recurrent<C>,
    decoder: ReluMlp,
    upsample: Option<Linear>,
}

/// Per-thread state of one forward/backward pass.
#[derive(Debug, Clone, Default)]
pub struct ForecasterCache {
    batch: usize,
    /// `[B, L, 1 + X + S + F]` when the model has exogenous inputs (otherwise the windows are the input).
    encoder_input: Vec<f32>,
    encoder: RecurrentCache,
    /// Encoder output transposed to `[B, H, L]`, the upsampling layer's input.
    upsample_input: Vec<f32>,
    /// `[B, H, h]`.
    upsampled: Vec<f32>,
    /// The `h` hidden states per window the decoder reads, `[B, h, H]`.
    hidden_states: Vec<f32>,
    /// Each of those hidden states followed by its step's future exogenous values: `[B, h, H + F]`.
    decoder_input: Vec<f32>,
    decoder: ReluMlpCache,
    d_decoder_input: Vec<f32>,
    /// `[B, h, H]`: the hidden-state part of `d_decoder_input`.
    d_hidden: Vec<f32>,
    d_upsampled: Vec<f32>,
    d_upsample_input: Vec<f32>,
    d_encoder_output: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(ForecasterCache { batch, encoder_input, encoder, upsample_input, upsampled, hidden_states, decoder_input, decoder, d_decoder_input, d_hidden, d_upsampled, d_upsample_input, d_encoder_output });

impl<C: ForecasterCell> RecurrentForecaster<C> {
    pub fn num_parameters(&self) -> usize {
        self.params.num_parameters()
    }

    /// The encoder's input: the windows themselves, or each step's `[y | hist | stat | futr]` in the cache.
    fn encoder_input<'a>(&self, batch: &WindowBatch<'a>, buffer: &'a mut Vec<f32>) -> &'a [f32] {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        if exog.is_empty() {
            return batch.insample_y;
        }
        buffer.clear();
        for b in 0..batch.batch {
            let stat = &batch.stat_exog[b * exog.stat..(b + 1) * exog.stat];
            for t in 0..l {
                buffer.push(batch.insample_y[b * l + t]);
                buffer.extend_from_slice(&batch.hist_exog[(b * l + t) * exog.hist..(b * l + t + 1) * exog.hist]);
                buffer.extend_from_slice(stat);
                let futr_row = b * (l + h) + t;
                buffer.extend_from_slice(&batch.futr_exog[futr_row * exog.futr..(futr_row + 1) * exog.futr]);
            }
        }
        buffer
    }

    /// Writes the `h` hidden states of each window into the decoder input rows, followed by the horizon's future
    /// exogenous values.
    fn fill_decoder_input(&self, batch: &WindowBatch<'_>, hidden_states: &[f32], out: &mut Vec<f32>) {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let hidden = self.config.encoder_hidden_size;
        out.clear();
        for (b, states) in hidden_states.chunks_exact(h * hidden).enumerate() {
            for (k, state) in states.chunks_exact(hidden).enumerate() {
                out.extend_from_slice(state);
                let futr_row = b * (l + h) + l + k;
                out.extend_from_slice(&batch.futr_exog[futr_row * exog.futr..(futr_row + 1) * exog.futr]);
            }
        }
    }
}

impl_model!(RecurrentForecaster<C>, RecurrentConfig<C>, ForecasterCache, C: ForecasterCell);

impl<C: ForecasterCell> RecurrentForecaster<C> {
    /// Forecasts `[B, h, outputs_per_point]`.
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut ForecasterCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, input_size, .. } = self.config.shape;
        let (b, hidden) = (batch.batch, self.config.encoder_hidden_size);
        cache.batch = b;
        let input = self.encoder_input(batch, &mut cache.encoder_input);
        let encoded = self.encoder.forward(&self.params, input, b, input_size, &mut cache.encoder)?;
        let states = &mut cache.hidden_states;
        match &self.upsample {
            Some(upsample) => {
                transpose_inner(encoded, b, input_size, hidden, &mut cache.upsample_input);
                cache.upsampled.resize(b * hidden * h, 0.0);
                upsample.forward(&self.params, &cache.upsample_input, b * hidden, &mut cache.upsampled)?;
                transpose_inner(&cache.upsampled, b, hidden, h, states);
            }
            None => {
                states.clear();
                encoded.chunks_exact(input_size * hidden).for_each(|window| states.extend_from_slice(&window[(input_size - h) * hidden..]));
            }
        }
        self.fill_decoder_input(batch, &cache.hidden_states, &mut cache.decoder_input);
        self.decoder.forward(&self.params, &cache.decoder_input, b * h, &mut cache.decoder)
    }

    /// Backpropagates `d_output` (`[B, h, outputs_per_point]`) through the pass saved in `cache`.
    fn backward_pass(&self, cache: &mut ForecasterCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let ModelShape { h, input_size, .. } = self.config.shape;
        let hidden = self.config.encoder_hidden_size;
        let batch = cache.batch;
        nonzero("batch size of the cached forward pass", batch)?;
        let decoder_width = self.config.decoder_input_size();
        cache.d_decoder_input.resize(batch * h * decoder_width, 0.0);
        self.decoder.backward(&self.params, &cache.decoder_input, &mut cache.decoder, d_output, grads, Some(&mut cache.d_decoder_input))?;
        // The future exogenous columns are inputs, not parameters: only the hidden part flows back.
        cache.d_hidden.clear();
        cache.d_decoder_input.chunks_exact(decoder_width).for_each(|row| cache.d_hidden.extend_from_slice(&row[..hidden]));
        cache.d_encoder_output.resize(batch * input_size * hidden, 0.0);
        match &self.upsample {
            Some(upsample) => {
                transpose_inner(&cache.d_hidden, batch, h, hidden, &mut cache.d_upsampled);
                cache.d_upsample_input.resize(batch * hidden * input_size, 0.0);
                upsample.backward(&self.params, &cache.upsample_input, &cache.d_upsampled, batch * hidden, grads, Some(&mut cache.d_upsample_input))?;
                transpose_inner(&cache.d_upsample_input, batch, hidden, input_size, &mut cache.d_encoder_output);
            }
            None => {
                // Only the last h steps reach the decoder; earlier outputs get no direct gradient.
                let d_last_steps = cache.d_hidden.chunks_exact(h * hidden);
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
    use crate::models::model::tests::{assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape};
    use crate::models::{ExogSizes, Model};
    use crate::nn::gru::GruCell;
    use crate::nn::lstm::LstmCell;

    /// A small configuration for gradient checks and training tests.
    pub fn small_config<C: ForecasterCell>(h: usize, input_size: usize, exog: ExogSizes) -> RecurrentConfig<C> {
        RecurrentConfig { encoder_hidden_size: 4, decoder_hidden_size: 5, ..RecurrentConfig::new(shape(h, input_size, exog)) }
    }

    /// NeuralForecast's reference configuration of the parameter-count tests and benchmarks.
    pub fn reference_config<C: ForecasterCell>() -> RecurrentConfig<C> {
        let shape = ModelShape { random_seed: 1, ..shape(12, 24, ExogSizes::none()) };
        RecurrentConfig { encoder_hidden_size: 64, decoder_hidden_size: 64, ..RecurrentConfig::new(shape) }
    }

    /// [`small_config`] with `h` 6 over 4 inputs (upsampled) and `outputs_per_point` values per step.
    fn upsampled_with_quantiles<C: ForecasterCell>(exog: ExogSizes, outputs_per_point: usize) -> RecurrentConfig<C> {
        let config = small_config::<C>(6, 4, exog);
        RecurrentConfig { shape: ModelShape { outputs_per_point, ..config.shape }, ..config }
    }

    /// The same seed gives the same weights, another seed others.
    fn assert_weights_follow_the_seed<C: ForecasterCell>() {
        let config = reference_config::<C>();
        assert_eq!(config.build().unwrap().params(), config.build().unwrap().params());
        let reseeded = RecurrentConfig { shape: ModelShape { random_seed: 2, ..config.shape }, ..config.clone() };
        assert_ne!(config.build().unwrap().params(), reseeded.build().unwrap().params());
    }

    #[test]
    fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
        // One W_hh product kernel for every batch size: a window's bits do not depend on its batch.
        assert_window_alone_equals_batch(&reference_config::<LstmCell>());
        assert_window_alone_equals_batch(&reference_config::<GruCell>());
    }

    #[test]
    fn same_seed_gives_identical_weights() {
        assert_weights_follow_the_seed::<GruCell>();
        assert_weights_follow_the_seed::<LstmCell>();
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_model_gradients(&small_config::<GruCell>(3, 5, ExogSizes::none()));
        check_model_gradients(&small_config::<LstmCell>(3, 5, ExogSizes::none()));
    }

    #[test]
    fn gradients_match_finite_differences_with_exogenous_inputs_upsampling_and_quantiles() {
        check_model_gradients(&upsampled_with_quantiles::<GruCell>(ExogSizes { futr: 2, hist: 2, stat: 1 }, 2));
        check_model_gradients(&upsampled_with_quantiles::<LstmCell>(ExogSizes { futr: 2, hist: 1, stat: 2 }, 3));
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        fn sine_config<C: ForecasterCell>() -> RecurrentConfig<C> {
            RecurrentConfig { encoder_hidden_size: 16, decoder_hidden_size: 16, ..small_config(12, 24, ExogSizes::none()) }
        }
        assert_fits_sine(&sine_config::<GruCell>(), 150, 1e-2, 0.2);
        assert_fits_sine(&sine_config::<LstmCell>(), 150, 1e-2, 0.2);
    }

    #[test]
    fn transpose_inner_swaps_the_last_two_axes() {
        let mut out = Vec::new();
        transpose_inner(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1, 2, 3, &mut out);
        assert_eq!(out, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}

//! NeuralForecast's `DeepAR` (neuralforecast/models/deepar.py, a `RECURRENT` model): an `nn.LSTM`
//! (`hist_encoder`, torch's dropout between its layers) reads one step per input, `[y_t | hist_{t+1} | futr_{t+1} |
//! stat]`, and an MLP (`decoder`) maps each hidden state to the loss's outputs for `y_{t+1}`.
//!
//! - Windows hold NeuralForecast's recurrent input size, `inputSize + 1` values (its `input_size += 1`); the
//!   historic exogenous values of the steps being forecast are unknown and enter as zeros, as its
//!   `_parse_windows` masks them.
//! - Training (a batch with a training seed) is teacher forced: the window's inputs run through the LSTM and
//!   the last `h_train` hidden states are decoded, each the forecast of the value after its input, the engine
//!   feeding the first `h_train - 1` targets as inputs ([`crate::models::ModelConfig::training_horizon`]).
//! - Inference (no training seed) is autoregressive: the window is encoded once, then each of the `h` steps
//!   feeds a value back as the next input, the LSTM state carried from step to step ([`Recurrent::step`]).
//!   - With a DistributionLoss, by default (`sampling: 'ancestral'`, DeepAR's paper and NeuralForecast before
//!     3.0), the final state is repeated for `trajectorySamples` paths, each step draws one value per path from
//!     that path's distribution and feeds each path its own draw; the paths run as one `[B · paths, H]` matrix,
//!     and the forecast is `[B, h, paths]` draws, whose mean and quantiles the engine reports.
//!   - `sampling: 'mean'` (NeuralForecast 3.3's `_predict_step_recurrent_batch`) feeds back the distribution's
//!     mean (a point loss: the mean of its outputs), and the forecast is the loss's outputs per step.
//!   Draws are in the scaler's space (the space of the inputs fed back), seeded by the model's seed, the
//!   window's key, the step (`point_seed`) and, within a step, the path's index.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{ExogSizes, InputSizeDefault, Model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use crate::nn::error::{expect_len, nonzero};
use crate::nn::loss::distribution::Distribution;
use crate::nn::loss::distribution_loss::point_seed;
use crate::nn::loss::{DistributionLoss, Loss};
use crate::nn::lstm::LstmCell;
use crate::nn::recurrent::{Recurrent, RecurrentCache, StepState};
use crate::nn::relu_mlp::{ReluMlp, ReluMlpCache};
use crate::nn::{NnError, ParamInit, ParamStore};

/// NeuralForecast's `trajectory_samples=100`.
const DEFAULT_TRAJECTORY_SAMPLES: usize = 100;

/// How a DistributionLoss forecast runs over the horizon (the `sampling` option, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// `'ancestral'`: `trajectorySamples` paths, each fed its own draws.
    Ancestral,
    /// `'mean'`: NeuralForecast 3.3's feed-back of the distribution's mean.
    Mean,
}

impl Sampling {
    const NAMES: [&'static str; 2] = ["ancestral", "mean"];

    fn name(self) -> &'static str {
        match self {
            Sampling::Ancestral => "ancestral",
            Sampling::Mean => "mean",
        }
    }
}

/// Hyper-parameters under NeuralForecast's names.
#[derive(Debug, Clone, PartialEq)]
pub struct DeepArConfig {
    /// `input_size` is NeuralForecast's recurrent one: the `inputSize` option plus 1.
    pub shape: ModelShape,
    pub lstm_n_layers: usize,
    pub lstm_hidden_size: usize,
    pub lstm_dropout: f64,
    /// Hidden layers of the decoder MLP (0: one linear layer).
    pub decoder_hidden_layers: usize,
    pub decoder_hidden_size: usize,
    /// Sample paths of a distribution forecast (NeuralForecast's `trajectory_samples`).
    pub trajectory_samples: usize,
    /// Targets per training window (NeuralForecast's `h_train`).
    pub h_train: usize,
    /// The `sampling` option as given (`None`: ancestral with a DistributionLoss, the mean feed-back otherwise).
    pub sampling: Option<Sampling>,
    /// The training loss's distribution, whose mean (in the scaler's space) a forecast step feeds back; `None`
    /// for a point loss, whose forecast (the mean of its quantiles) is fed back.
    pub feedback: Option<Distribution>,
}

impl DeepArConfig {
    /// Values per LSTM step: `1 + X + F + S`.
    fn encoder_input_size(&self) -> usize {
        let exog = self.shape.exog;
        1 + exog.hist + exog.futr + exog.stat
    }

    /// NeuralForecast's MLP decoder: `decoder_hidden_layers + 1` layers.
    fn decoder_layers(&self) -> usize {
        self.decoder_hidden_layers + 1
    }
}

impl ModelConfig for DeepArConfig {
    type Network = DeepAr;

    const NAME: &'static str = "DeepAR";
    const OPTION_KEYS: &'static [&'static str] =
        &["lstmNLayers", "lstmHiddenSize", "lstmDropout", "decoderHiddenLayers", "decoderHiddenSize", "trajectorySamples", "hTrain", "sampling"];
    /// deepar.py: `input_size=-1` (3 h), `scaler_type='identity'`, `num_lr_decays=3`, the rest as BaseWindows.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { input_size: InputSizeDefault::TimesHorizon(3), num_lr_decays: 3, ..TrainingDefaults::WINDOWS };
    const RECURRENT: bool = true;

    /// deepar.py's defaults: 2 LSTM layers of 128 with dropout 0.1, a linear decoder, 100 paths, `h_train=1`.
    fn new(shape: ModelShape) -> Self {
        DeepArConfig {
            shape,
            lstm_n_layers: 2,
            lstm_hidden_size: 128,
            lstm_dropout: 0.1,
            decoder_hidden_layers: 0,
            decoder_hidden_size: 0,
            trajectory_samples: DEFAULT_TRAJECTORY_SAMPLES,
            h_train: 1,
            sampling: None,
            feedback: None,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([
            ("lstmNLayers", &mut self.lstm_n_layers), ("lstmHiddenSize", &mut self.lstm_hidden_size),
            ("trajectorySamples", &mut self.trajectory_samples), ("hTrain", &mut self.h_train),
        ])?;
        self.decoder_hidden_layers = options.integer("decoderHiddenLayers", 0, super::options::MAX_SIZE)?.unwrap_or(self.decoder_hidden_layers);
        self.decoder_hidden_size = options.integer("decoderHiddenSize", 0, super::options::MAX_SIZE)?.unwrap_or(self.decoder_hidden_size);
        self.lstm_dropout = options.dropout_probability("lstmDropout")?.unwrap_or(self.lstm_dropout);
        if let Some(name) = options.choice("sampling", &Sampling::NAMES)? {
            self.sampling = Some(if name == "mean" { Sampling::Mean } else { Sampling::Ancestral });
        }
        if self.decoder_hidden_layers > 0 && self.decoder_hidden_size == 0 {
            return Err(OptionError::Range(format!(
                "{} must be greater than 0 when decoderHiddenLayers is {} (NeuralForecast's MLP)",
                options.field("decoderHiddenSize"),
                self.decoder_hidden_layers
            )));
        }
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("lstmNLayers", self.lstm_n_layers.into()), ("lstmHiddenSize", self.lstm_hidden_size.into()),
            ("lstmDropout", self.lstm_dropout.into()), ("decoderHiddenLayers", self.decoder_hidden_layers.into()),
            ("decoderHiddenSize", self.decoder_hidden_size.into()), ("trajectorySamples", self.trajectory_samples.into()),
            ("hTrain", self.h_train.into()),
        ]);
        if let Some(sampling) = self.sampling {
            out.insert("sampling".into(), sampling.name().into());
        }
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let [l, h, h_train, layers, hidden, dec, input, outputs] = [
            self.shape.input_size, self.shape.h, self.h_train, self.lstm_n_layers, self.lstm_hidden_size,
            self.decoder_hidden_size, self.encoder_input_size(), self.shape.outputs_per_point,
        ]
        .map(|v| v as u128);
        let dec_layers = self.decoder_layers() as u128;
        let encoder = 4 * hidden * (input + hidden + 2) + layers.saturating_sub(1) * 4 * hidden * (2 * hidden + 2);
        let decoder = if dec_layers == 1 {
            (hidden + 1) * outputs
        } else {
            (hidden + 1) * dec + (dec_layers - 2) * (dec + 1) * dec + (dec + 1) * outputs
        };
        // The training sequence (with its dropped copies) and the decoded steps; an ancestral forecast's paths (a
        // step's LSTM state and decoder activations for each, and their draws).
        let steps = l + h_train.max(h);
        let paths = self.trajectory_samples as u128;
        let per_path = input + layers * hidden * 9 + hidden + dec_layers * dec + 2 * outputs + h;
        let per_window = steps * (input + layers * hidden * 9) + steps * (hidden + dec_layers * dec + outputs) + paths * per_path;
        (encoder + decoder, per_window)
    }

    fn build(&self) -> Result<DeepAr, NnError> {
        let ModelShape { h, input_size, outputs_per_point, random_seed, .. } = self.shape;
        nonzero("h", h)?;
        nonzero("inputSize", input_size)?;
        nonzero("hTrain", self.h_train)?;
        nonzero("trajectorySamples", self.trajectory_samples)?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let encoder = Recurrent::new(&mut init.pp("hist_encoder"), LstmCell, self.encoder_input_size(), self.lstm_hidden_size, self.lstm_n_layers)?
            .with_dropout(self.lstm_dropout as f32)?;
        let decoder = ReluMlp::new(&mut init.pp("decoder"), self.lstm_hidden_size, outputs_per_point, self.decoder_hidden_size, self.decoder_layers())?;
        Ok(DeepAr { config: self.clone(), params, encoder, decoder })
    }

    /// deepar.py's `loss=DistributionLoss(distribution="StudentT", level=[80, 90], return_params=False)`, with
    /// DistributionLoss's `num_samples=1000` (which [`ModelConfig::adopt_loss`] replaces by `trajectorySamples`).
    fn default_loss() -> Result<Loss, NnError> {
        DistributionLoss::with_levels(Distribution::StudentT, &[80.0, 90.0], 1000, false).map(Loss::Distribution)
    }

    fn training_horizon(&self) -> Option<usize> {
        Some(self.h_train)
    }

    /// A DistributionLoss forecast draws `trajectory_samples` per point (NeuralForecast's `n_samples`), not the
    /// loss's `num_samples`: as paths (ancestral), or per step around the fed-back mean (NeuralForecast 3.3). A
    /// point loss draws none, so `trajectorySamples` and `sampling: 'ancestral'` are refused with one; and the
    /// paths have no one distribution per step to return, so `returnParams` needs `sampling: 'mean'`.
    fn adopt_loss(&mut self, loss: &mut Loss) -> Result<(), NnError> {
        match loss {
            Loss::Distribution(distribution) => {
                if distribution.return_params && self.sampling != Some(Sampling::Mean) {
                    let reason = "must be 'mean' for a DistributionLoss with returnParams (ancestral sample paths have no one distribution per step to return)".into();
                    return Err(NnError::InvalidValue { what: "sampling", reason });
                }
                distribution.num_samples = self.trajectory_samples;
                self.feedback = Some(distribution.distribution.clone());
            }
            _ if self.trajectory_samples != DEFAULT_TRAJECTORY_SAMPLES => {
                let reason = format!("the draws per point of a DistributionLoss forecast; a point loss draws none, so leave it at {DEFAULT_TRAJECTORY_SAMPLES}");
                return Err(NnError::InvalidValue { what: "trajectorySamples", reason });
            }
            _ if self.sampling == Some(Sampling::Ancestral) => {
                let reason = "'ancestral' draws sample paths from a DistributionLoss; a point loss has nothing to draw (leave sampling out or give 'mean')".into();
                return Err(NnError::InvalidValue { what: "sampling", reason });
            }
            _ => self.feedback = None,
        }
        Ok(())
    }
}

/// NeuralForecast's DeepAR network (see the module docs).
#[derive(Debug, Clone)]
pub struct DeepAr {
    config: DeepArConfig,
    params: ParamStore,
    encoder: Recurrent<LstmCell>,
    decoder: ReluMlp,
}

/// Per-thread state of a forward/backward pass or of an autoregressive forecast.
#[derive(Debug, Clone, Default)]
pub struct DeepArCache {
    batch: usize,
    seq_len: usize,
    /// Decoded steps per window of the last training pass (`h_train`).
    decoded: usize,
    /// `[B, T, 1 + X + F + S]`.
    encoder_input: Vec<f32>,
    encoder: RecurrentCache,
    /// The hidden states the decoder reads: `[B, h_train, H]` (training) or `[B, H]` (one forecast step).
    decoder_input: Vec<f32>,
    decoder: ReluMlpCache,
    state: StepState,
    /// One autoregressive step's inputs `[B, 1 + X + F + S]`.
    step_input: Vec<f32>,
    /// A distribution's parameters at one point.
    distribution_params: Vec<f64>,
    /// `[B, steps, outputs_per_point]`, or `[B, h, paths]` draws of an ancestral forecast.
    output: Vec<f32>,
    /// Each path's distribution outputs at the current step, `[B · paths, outputs_per_point]`.
    path_outputs: Vec<f32>,
    d_decoder_input: Vec<f32>,
    d_encoder_output: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(DeepArCache { batch, seq_len, decoded, encoder_input, encoder, decoder_input, decoder, state, step_input, distribution_params, output, path_outputs, d_decoder_input, d_encoder_output });

impl DeepAr {
    pub fn config(&self) -> &DeepArConfig {
        &self.config
    }

    pub fn num_parameters(&self) -> usize {
        self.params.num_parameters()
    }

    /// The sample paths of a forecast: `trajectorySamples` with a DistributionLoss unless `sampling: 'mean'`.
    fn paths(&self) -> Option<usize> {
        let ancestral = self.config.feedback.is_some() && self.config.sampling != Some(Sampling::Mean);
        ancestral.then_some(self.config.trajectory_samples)
    }

    /// Appends one LSTM input row: `y`, the historic values of the step forecast (zeros when unknown), its
    /// future values, the static ones.
    fn push_row(out: &mut Vec<f32>, y: f32, hist: Option<&[f32]>, futr: &[f32], stat: &[f32], hist_len: usize) {
        out.push(y);
        match hist {
            Some(hist) => out.extend_from_slice(hist),
            None => out.resize(out.len() + hist_len, 0.0),
        }
        out.extend_from_slice(futr);
        out.extend_from_slice(stat);
    }

    /// The encoder input of `batch`'s windows of `seq_len` inputs and `horizon` future steps: step `t` reads
    /// `y_t` and the exogenous values of step `t + 1`, historic ones up to step `known - 1` (later ones unknown).
    fn fill_encoder_input(&self, batch: &WindowBatch<'_>, seq_len: usize, horizon: usize, known: usize, out: &mut Vec<f32>) {
        let ExogSizes { futr, hist, stat } = self.config.shape.exog;
        out.clear();
        for b in 0..batch.batch {
            let stat_row = &batch.stat_exog[b * stat..(b + 1) * stat];
            for t in 0..seq_len {
                let next = t + 1;
                let hist_row = (next < known).then(|| &batch.hist_exog[(b * seq_len + next) * hist..][..hist]);
                let futr_row = &batch.futr_exog[(b * (seq_len + horizon) + next) * futr..][..futr];
                Self::push_row(out, batch.insample_y[b * seq_len + t], hist_row, futr_row, stat_row, hist);
            }
        }
    }

    /// Teacher-forced training pass: `[B, h_train, outputs_per_point]` from windows of any input length.
    fn training_pass<'c>(&self, batch: &WindowBatch<'_>, seed: u64, cache: &'c mut DeepArCache) -> Result<&'c [f32], NnError> {
        let (b, h_train, hidden) = (nonzero("batch size", batch.batch)?, self.config.h_train, self.config.lstm_hidden_size);
        let seq_len = batch.insample_y.len() / b;
        if seq_len < h_train {
            return Err(NnError::InvalidValue { what: "DeepAR training windows", reason: format!("{seq_len} inputs, fewer than hTrain = {h_train}") });
        }
        batch.check(seq_len, h_train, self.config.shape.exog)?;
        (cache.batch, cache.seq_len, cache.decoded) = (b, seq_len, h_train);
        self.fill_encoder_input(batch, seq_len, h_train, seq_len + 1 - h_train, &mut cache.encoder_input);
        let encoded = self.encoder.forward_training(&self.params, &cache.encoder_input, b, seq_len, Some(seed), &mut cache.encoder)?;
        cache.decoder_input.clear();
        encoded.chunks_exact(seq_len * hidden).for_each(|w| cache.decoder_input.extend_from_slice(&w[(seq_len - h_train) * hidden..]));
        self.decoder.forward(&self.params, &cache.decoder_input, b * h_train, &mut cache.decoder)
    }

    /// Encodes the windows once and decodes their last hidden states: the first forecast step's outputs `[B,
    /// outputs_per_point]` into `cache.path_outputs`.
    fn encode_windows(&self, batch: &WindowBatch<'_>, cache: &mut DeepArCache) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        batch.check(l, h, exog)?;
        let (b, hidden) = (batch.batch, self.config.lstm_hidden_size);
        (cache.batch, cache.seq_len, cache.decoded) = (b, l, 0);
        self.fill_encoder_input(batch, l, h, l, &mut cache.encoder_input);
        let encoded = self.encoder.forward(&self.params, &cache.encoder_input, b, l, &mut cache.encoder)?;
        cache.decoder_input.clear();
        encoded.chunks_exact(l * hidden).for_each(|w| cache.decoder_input.extend_from_slice(&w[(l - 1) * hidden..]));
        let first = self.decoder.forward(&self.params, &cache.decoder_input, b, &mut cache.decoder)?;
        cache.path_outputs.clear();
        cache.path_outputs.extend_from_slice(first);
        Ok(())
    }

    /// The next step's LSTM inputs of window `w` into `out`: `y`, its future values at step `tau`, its statics
    /// (its historic values are unknown).
    fn push_step_row(&self, batch: &WindowBatch<'_>, w: usize, tau: usize, y: f32, out: &mut Vec<f32>) {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let futr = &batch.futr_exog[(w * (l + h) + l + tau) * exog.futr..][..exog.futr];
        Self::push_row(out, y, None, futr, &batch.stat_exog[w * exog.stat..][..exog.stat], exog.hist);
    }

    /// Ancestral forecast `[B, h, paths]`: draws in the scaler's space (see the module docs).
    fn ancestral_pass<'c>(&self, batch: &WindowBatch<'_>, paths: usize, cache: &'c mut DeepArCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, outputs_per_point: outputs, random_seed, .. } = self.config.shape;
        let distribution = self.config.feedback.as_ref().ok_or_else(|| NnError::InvalidValue { what: "DeepAR sampling", reason: "ancestral sampling needs a DistributionLoss".into() })?;
        let b = batch.batch;
        if !batch.sample_keys.is_empty() {
            expect_len("DeepAR sample keys", b, batch.sample_keys.len())?;
        }
        self.encode_windows(batch, cache)?;
        // Each window's outputs repeated for its paths, in place from the last window back.
        cache.path_outputs.resize(b * paths * outputs, 0.0);
        for w in (0..b).rev() {
            for p in (0..paths).rev() {
                cache.path_outputs.copy_within(w * outputs..(w + 1) * outputs, (w * paths + p) * outputs);
            }
        }
        self.encoder.resume(&self.params, &cache.encoder, paths, &mut cache.state)?;
        cache.output.resize(b * h * paths, 0.0);
        cache.distribution_params.resize(distribution.param_count(), 0.0);
        for tau in 0..h {
            for w in 0..b {
                let key = batch.sample_keys.get(w).copied().unwrap_or(0);
                let mut rng = ChaCha8Rng::seed_from_u64(point_seed(random_seed, key, tau));
                let raw = cache.path_outputs[w * paths * outputs..][..paths * outputs].chunks_exact(outputs);
                for (draw, raw) in cache.output[(w * h + tau) * paths..][..paths].iter_mut().zip(raw) {
                    distribution.params(raw, 0.0, 1.0, &mut cache.distribution_params);
                    *draw = distribution.sample(&cache.distribution_params, &mut rng) as f32;
                }
            }
            if tau + 1 == h {
                break;
            }
            cache.step_input.clear();
            for w in 0..b {
                for p in 0..paths {
                    self.push_step_row(batch, w, tau + 1, cache.output[(w * h + tau) * paths + p], &mut cache.step_input);
                }
            }
            let top = self.encoder.step(&self.params, &cache.step_input, &mut cache.state)?;
            let step = self.decoder.forward(&self.params, top, b * paths, &mut cache.decoder)?;
            cache.path_outputs.clear();
            cache.path_outputs.extend_from_slice(step);
        }
        Ok(&cache.output)
    }

    /// Autoregressive forecast `[B, h, outputs_per_point]` feeding back each step's mean (see the module docs).
    fn mean_feedback_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut DeepArCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, outputs_per_point: outputs, .. } = self.config.shape;
        let b = batch.batch;
        self.encode_windows(batch, cache)?;
        cache.output.resize(b * h * outputs, 0.0);
        for (w, step) in cache.path_outputs.chunks_exact(outputs).enumerate() {
            cache.output[w * h * outputs..][..outputs].copy_from_slice(step);
        }
        self.encoder.resume(&self.params, &cache.encoder, 1, &mut cache.state)?;
        for tau in 1..h {
            cache.step_input.clear();
            for w in 0..b {
                // NeuralForecast feeds back the distribution's mean in the scaler's space, or the mean of a
                // multi-output point forecast (MQLoss's quantiles).
                let previous = &cache.output[(w * h + tau - 1) * outputs..][..outputs];
                let y = match &self.config.feedback {
                    Some(distribution) => {
                        cache.distribution_params.resize(outputs, 0.0);
                        distribution.params(previous, 0.0, 1.0, &mut cache.distribution_params);
                        distribution.mean(&cache.distribution_params) as f32
                    }
                    None => previous.iter().sum::<f32>() / outputs as f32,
                };
                self.push_step_row(batch, w, tau, y, &mut cache.step_input);
            }
            let top = self.encoder.step(&self.params, &cache.step_input, &mut cache.state)?;
            let step = self.decoder.forward(&self.params, top, b, &mut cache.decoder)?;
            for (w, values) in step.chunks_exact(outputs).enumerate() {
                cache.output[(w * h + tau) * outputs..][..outputs].copy_from_slice(values);
            }
        }
        Ok(&cache.output)
    }

    fn backward_pass(&self, cache: &mut DeepArCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let (b, seq_len, decoded, hidden) = (cache.batch, cache.seq_len, cache.decoded, self.config.lstm_hidden_size);
        if decoded == 0 {
            return Err(NnError::InvalidValue { what: "DeepAR cache", reason: "backward needs a training pass (a batch with a training seed)".into() });
        }
        expect_len("DeepAR output gradient", b * decoded * self.config.shape.outputs_per_point, d_output.len())?;
        cache.d_decoder_input.resize(b * decoded * hidden, 0.0);
        self.decoder.backward(&self.params, &cache.decoder_input, &mut cache.decoder, d_output, grads, Some(&mut cache.d_decoder_input))?;
        cache.d_encoder_output.clear();
        for d_last in cache.d_decoder_input.chunks_exact(decoded * hidden) {
            // Only the decoded steps reach the loss.
            cache.d_encoder_output.resize(cache.d_encoder_output.len() + (seq_len - decoded) * hidden, 0.0);
            cache.d_encoder_output.extend_from_slice(d_last);
        }
        self.encoder.backward(&self.params, &mut cache.encoder, &cache.d_encoder_output, grads, None)
    }
}

impl Model for DeepAr {
    type Cache = DeepArCache;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn params_mut(&mut self) -> &mut ParamStore {
        &mut self.params
    }

    /// Training batches (with a seed) are teacher forced over their own length; others forecast `h` steps.
    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut DeepArCache) -> Result<&'c [f32], NnError> {
        match batch.train_seed {
            Some(seed) => self.training_pass(batch, seed, cache),
            None => match self.paths() {
                Some(paths) => self.ancestral_pass(batch, paths, cache),
                None => self.mean_feedback_pass(batch, cache),
            },
        }
    }

    fn backward(&self, cache: &mut DeepArCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.params.check_same_layout(grads)?;
        self.backward_pass(cache, d_output, grads)
    }

    fn forecast_paths(&self) -> Option<usize> {
        self.paths()
    }
}

#[cfg(test)]
#[path = "deepar_tests.rs"]
mod tests;

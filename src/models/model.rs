//! What every neural forecasting model provides to the training engine: NeuralForecast's `windows_batch` in,
//! `[B, h, outputs_per_point]` forecasts out, with an explicit backward pass.

use crate::nn::{NnError, ParamStore};

/// Numbers of exogenous variables a model is built for (NeuralForecast's `futr_exog_size`, `hist_exog_size`,
/// `stat_exog_size`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExogSizes {
    /// Known in the past and the future: `[B, L + h, futr]`.
    pub futr: usize,
    /// Known only in the past: `[B, L, hist]`.
    pub hist: usize,
    /// Constant per series: `[B, stat]`.
    pub stat: usize,
}

impl ExogSizes {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.futr + self.hist + self.stat == 0
    }
}

/// A batch of windows, window-scaled, as NeuralForecast's `windows_batch` (all row-major, `f32`):
/// `insample_y` `[B, L]`, `hist_exog` `[B, L, hist]`, `futr_exog` `[B, L + h, futr]`, `stat_exog` `[B, stat]`.
/// The exogenous slices are empty when the model has none of that kind.
#[derive(Debug, Clone, Copy)]
pub struct WindowBatch<'a> {
    pub batch: usize,
    pub insample_y: &'a [f32],
    pub hist_exog: &'a [f32],
    pub futr_exog: &'a [f32],
    pub stat_exog: &'a [f32],
    /// `Some(seed)` while training: stochastic layers (dropout) draw their masks from it, so a step's result
    /// depends on the seed alone, not on which thread runs it. `None` at inference (dropout off).
    pub train_seed: Option<u64>,
}

impl<'a> WindowBatch<'a> {
    /// Inference input of univariate windows without exogenous variables.
    pub fn univariate(insample_y: &'a [f32], batch: usize) -> Self {
        WindowBatch { batch, insample_y, hist_exog: &[], futr_exog: &[], stat_exog: &[], train_seed: None }
    }

    /// Checks every slice's length against a model of input size `input_size`, horizon `h` and `exog` sizes.
    pub fn check(&self, input_size: usize, h: usize, exog: ExogSizes) -> Result<(), NnError> {
        use crate::nn::error::{expect_len, nonzero};
        let b = nonzero("batch size", self.batch)?;
        expect_len("input windows", b * input_size, self.insample_y.len())?;
        expect_len("historic exogenous inputs", b * input_size * exog.hist, self.hist_exog.len())?;
        expect_len("future exogenous inputs", b * (input_size + h) * exog.futr, self.futr_exog.len())?;
        expect_len("static exogenous inputs", b * exog.stat, self.stat_exog.len())
    }
}

/// A forecasting network with explicit forward and backward passes over a [`crate::nn::ParamStore`].
///
/// `forward` keeps what `backward` needs in a caller-owned cache, so one set of weights serves several threads,
/// each with its own cache and gradient store.
pub trait Model: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// Per-thread activations and scratch buffers, reused across calls.
    type Cache: Default + Send + 'static;

    fn params(&self) -> &ParamStore;

    /// For the optimizer and for loading checkpoints.
    fn params_mut(&mut self) -> &mut ParamStore;

    /// Forecasts `[B, h, outputs_per_point]` (normalised space) of `batch`.
    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut Self::Cache) -> Result<&'c [f32], NnError>;

    /// Backpropagates `d_output` (d loss / d forecast, the shape of the forward output) through the pass saved
    /// in `cache`, accumulating into `grads` (a store shaped like [`Model::params`]).
    fn backward(&self, cache: &mut Self::Cache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError>;
}

/// What every model's configuration shares: the forecasting problem it is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelShape {
    /// Forecast horizon.
    pub h: usize,
    /// Length of the input window `L`.
    pub input_size: usize,
    /// Values per forecast point: 1, or one per quantile of a multi-quantile loss (NeuralForecast's
    /// `outputsize_multiplier`).
    pub outputs_per_point: usize,
    pub exog: ExogSizes,
    /// Seeds the parameter initialisation.
    pub random_seed: u64,
}

/// How a model's `inputSize` defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSizeDefault {
    /// NeuralForecast's `input_size=-1`: this many times `h`.
    TimesHorizon(usize),
    /// The model has no default (NBEATS, NHITS, MLP): `inputSize` must be given.
    Required,
}

/// A model's NeuralForecast defaults for the training options every model shares (its `__init__` signature).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingDefaults {
    pub input_size: InputSizeDefault,
    /// `scaler_type`: "identity", "standard", "robust" or "minmax".
    pub scaler_type: &'static str,
    pub learning_rate: f64,
    pub max_steps: usize,
    /// Windows per training step (NeuralForecast's `windows_batch_size`).
    pub batch_size: usize,
    /// Times the learning rate is halved over training (NeuralForecast's `num_lr_decays`; its -1 is 0).
    pub num_lr_decays: usize,
}

/// A model's configuration: NeuralForecast's defaults, its architecture options under camelCase names, an
/// arithmetic size estimate (so a huge configuration is refused before anything is allocated) and the network.
pub trait ModelConfig: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    type Network: Model;

    /// NeuralForecast's class name (`TCN`, `NBEATS`, …): the model's `type` and default alias.
    const NAME: &'static str;
    /// The architecture options [`ModelConfig::read_options`] reads (the shared training options are the
    /// engine's).
    const OPTION_KEYS: &'static [&'static str];
    const TRAINING_DEFAULTS: TrainingDefaults;

    /// NeuralForecast's default architecture for `shape`.
    fn new(shape: ModelShape) -> Self;

    fn shape(&self) -> &ModelShape;

    /// Overrides the defaults with the architecture options present in `options`, validating each.
    fn read_options(&mut self, options: &crate::models::ModelOptions<'_>) -> crate::models::options::OptionResult<()>;

    /// Writes every architecture option, defaults filled in, under the keys `read_options` reads.
    fn write_options(&self, out: &mut serde_json::Map<String, serde_json::Value>);

    /// The exact number of parameters (by arithmetic, nothing allocated) and an upper bound of the f32 values of
    /// activations that one window keeps for the backward pass.
    fn memory_estimate(&self) -> (u128, u128);

    /// Builds the network with freshly initialised weights (seeded by `shape().random_seed`).
    fn build(&self) -> Result<Self::Network, NnError>;
}

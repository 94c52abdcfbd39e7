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

    /// Errors naming `model` and the lists given, for a model whose NeuralForecast class takes no exogenous
    /// variables (its `EXOGENOUS_FUTR = EXOGENOUS_HIST = EXOGENOUS_STAT = False`).
    pub fn refuse_all(&self, model: &str) -> Result<(), NnError> {
        Self::refuse([self.futr, self.hist, self.stat], &format!("{model} takes no exogenous variables"))
    }

    /// Errors naming `model` and the historic and static lists given, for a model whose NeuralForecast class
    /// takes future variables alone (`EXOGENOUS_FUTR = True`, `EXOGENOUS_HIST = EXOGENOUS_STAT = False`).
    pub fn refuse_hist_stat(&self, model: &str) -> Result<(), NnError> {
        Self::refuse([0, self.hist, self.stat], &format!("{model} takes future exogenous variables only"))
    }

    /// Errors with `reason` and the lists whose `counts` (futr, hist, stat) are not zero.
    fn refuse(counts: [usize; 3], reason: &str) -> Result<(), NnError> {
        let given: Vec<&str> =
            counts.into_iter().zip(["futrExogList", "histExogList", "statExogList"]).filter_map(|(count, list)| (count > 0).then_some(list)).collect();
        if given.is_empty() {
            return Ok(());
        }
        Err(NnError::InvalidValue { what: "exogenous inputs", reason: format!("{reason}; remove {}", given.join(", ")) })
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
    /// Each window's key in a forecast (`engine::batch::sample_key`, its series and cutoff), which with the model's
    /// seed and the step seeds a model's own draws (DeepAR's sample paths); empty: every window's key is 0.
    pub sample_keys: &'a [u64],
}

impl<'a> WindowBatch<'a> {
    /// Inference input of univariate windows without exogenous variables.
    pub fn univariate(insample_y: &'a [f32], batch: usize) -> Self {
        WindowBatch { batch, insample_y, hist_exog: &[], futr_exog: &[], stat_exog: &[], train_seed: None, sample_keys: &[] }
    }

    /// The number of multivariate windows in the batch of a model of `n_series` series: its rows in groups of
    /// `n_series` (series `s` of window `w` in row `w · n_series + s`); an error when the rows do not divide.
    pub fn multivariate_windows(&self, n_series: usize) -> Result<usize, NnError> {
        let n = crate::nn::error::nonzero("nSeries", n_series)?;
        if !self.batch.is_multiple_of(n) {
            return Err(NnError::InvalidValue {
                what: "multivariate batch",
                reason: format!("{} rows are not whole windows of nSeries = {n} series", self.batch),
            });
        }
        Ok(self.batch / n)
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
    /// Per-thread activations and scratch buffers, reused across calls (their size is what `memoryStats` counts).
    type Cache: Default + Send + Sync + 'static + crate::nn::heap_bytes::HeapBytes;

    fn params(&self) -> &ParamStore;

    /// For the optimizer and for loading checkpoints.
    fn params_mut(&mut self) -> &mut ParamStore;

    /// Forecasts `[B, h, outputs_per_point]` (normalised space) of `batch`.
    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut Self::Cache) -> Result<&'c [f32], NnError>;

    /// Backpropagates `d_output` (d loss / d forecast, the shape of the forward output) through the pass saved
    /// in `cache`, accumulating into `grads` (a store shaped like [`Model::params`]).
    fn backward(&self, cache: &mut Self::Cache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError>;

    /// Folds the batch statistics of the training pass in `cache` into the model's buffers (BatchNorm's running
    /// statistics, see [`crate::nn::TensorKind`]); nothing for a model without buffers. The engine calls it once
    /// per training step, after the step's one pass over the whole batch.
    fn update_buffers(&mut self, _cache: &Self::Cache) -> Result<(), NnError> {
        Ok(())
    }

    /// `Some(paths)` when a forecast pass (no training seed) returns `paths` sample paths per point, `[B, h,
    /// paths]` draws in the scaler's space, instead of the loss's outputs per point (DeepAR's ancestral sampling,
    /// drawn with [`WindowBatch::sample_keys`]); the engine then forms the forecast columns from the draws.
    fn forecast_paths(&self) -> Option<usize> {
        None
    }
}

thread_local! {
    /// The zero windows [`without_insample_y`] hands over, kept per thread so steady forecasts do not allocate.
    static ZERO_WINDOWS: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `forward` on `batch` with every input window zeroed: NeuralForecast's `exclude_insample_y`, which
/// multiplies the scaled `insample_y` by 0 before the network sees it (the window's scale still applies to the
/// forecast). The exogenous inputs pass unchanged.
pub fn without_insample_y<R>(batch: &WindowBatch<'_>, forward: impl FnOnce(&WindowBatch<'_>) -> R) -> R {
    let mut zeros = ZERO_WINDOWS.take();
    zeros.clear();
    zeros.resize(batch.insample_y.len(), 0.0);
    let result = forward(&WindowBatch { insample_y: &zeros, ..*batch });
    ZERO_WINDOWS.set(zeros);
    result
}

/// Implements [`Model`] for a network struct that keeps its configuration (a [`ModelConfig`]) in `config` and
/// its parameters in `params`, with inherent methods for the two passes:
/// `forward_pass(&self, batch, cache) -> Result<&[f32], NnError>` on a batch already checked against the
/// configuration's shape, and `backward_pass(&self, cache, d_output, grads) -> Result<(), NnError>` on a gradient
/// store already checked to be shaped like the parameters. Also gives the network a `config()` accessor.
/// `impl_model!(Network, Config, Cache)`, or for a generic network `impl_model!(Network<C>, Config, Cache, C: Bound)`;
/// a network with buffers names its inherent `fn(&mut self, &Cache) -> Result<(), NnError>` that implements
/// [`Model::update_buffers`]: `impl_model!(Network, Config, Cache; update_running_statistics)`.
macro_rules! impl_model {
    ($network:ty, $config:ty, $cache:ty $(, $param:ident: $bound:path)? $(; $update_buffers:ident)?) => {
        impl$(<$param: $bound>)? $network {
            pub fn config(&self) -> &$config {
                &self.config
            }
        }

        impl$(<$param: $bound>)? $crate::models::model::Model for $network {
            type Cache = $cache;

            fn params(&self) -> &$crate::nn::ParamStore {
                &self.params
            }

            fn params_mut(&mut self) -> &mut $crate::nn::ParamStore {
                &mut self.params
            }

            fn forward<'c>(
                &self,
                batch: &$crate::models::model::WindowBatch<'_>,
                cache: &'c mut $cache,
            ) -> Result<&'c [f32], $crate::nn::NnError> {
                let shape = $crate::models::model::ModelConfig::shape(&self.config);
                batch.check(shape.input_size, shape.h, shape.exog)?;
                if $crate::models::model::ModelConfig::exclude_insample_y(&self.config) {
                    return $crate::models::model::without_insample_y(batch, |batch| self.forward_pass(batch, cache));
                }
                self.forward_pass(batch, cache)
            }

            fn backward(&self, cache: &mut $cache, d_output: &[f32], grads: &mut $crate::nn::ParamStore) -> Result<(), $crate::nn::NnError> {
                self.params.check_same_layout(grads)?;
                self.backward_pass(cache, d_output, grads)
            }
            $(
                fn update_buffers(&mut self, cache: &$cache) -> Result<(), $crate::nn::NnError> {
                    self.$update_buffers(cache)
                }
            )?
        }
    };
}
pub(crate) use impl_model;

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
    /// Series per training step (NeuralForecast's `batch_size`).
    pub batch_size: usize,
    /// Windows per training step, drawn among those series' windows (`windows_batch_size`).
    pub windows_batch_size: usize,
    /// Windows per forward pass at prediction and validation (`inference_windows_batch_size`; None: all, its -1).
    pub inference_windows_batch_size: Option<usize>,
    /// Times the learning rate is halved over training (NeuralForecast's `num_lr_decays`; its -1 is 0).
    pub num_lr_decays: usize,
}

impl TrainingDefaults {
    /// NeuralForecast's `BaseWindows` defaults, which a model's `__init__` changes in part: `input_size`
    /// required, `scaler_type='identity'`, `learning_rate=1e-3`, `max_steps=1000`, `batch_size=32`,
    /// `windows_batch_size=1024`, `inference_windows_batch_size=-1`, `num_lr_decays=-1`.
    pub const WINDOWS: TrainingDefaults = TrainingDefaults {
        input_size: InputSizeDefault::Required,
        scaler_type: "identity",
        learning_rate: 1e-3,
        max_steps: 1000,
        batch_size: 32,
        windows_batch_size: 1024,
        inference_windows_batch_size: None,
        num_lr_decays: 0,
    };

    /// What dlinear.py and nlinear.py change in [`TrainingDefaults::WINDOWS`]: `max_steps=5000`,
    /// `learning_rate=1e-4`, `inference_windows_batch_size=1024`.
    pub const LINEAR: TrainingDefaults = TrainingDefaults {
        learning_rate: 1e-4,
        max_steps: 5000,
        inference_windows_batch_size: Some(1024),
        ..TrainingDefaults::WINDOWS
    };

    /// What lstm.py, gru.py and tcn.py change in [`TrainingDefaults::WINDOWS`]: `input_size=-1` (3 h),
    /// `scaler_type='robust'`, `windows_batch_size=128`, `inference_windows_batch_size=1024`.
    pub const SEQUENCE_ENCODERS: TrainingDefaults = TrainingDefaults {
        input_size: InputSizeDefault::TimesHorizon(3),
        scaler_type: "robust",
        windows_batch_size: 128,
        inference_windows_batch_size: Some(1024),
        ..TrainingDefaults::WINDOWS
    };
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
    /// NeuralForecast's `RECURRENT` models (DeepAR): their windows hold `inputSize + 1` values, as its
    /// `input_size += 1` for them (the input shifted by one step: each step forecasts the next).
    const RECURRENT: bool = false;

    /// The training loss when none is given: NeuralForecast's `loss` default for the model (MAE but for DeepAR's
    /// `DistributionLoss(StudentT, level=[80, 90])`).
    fn default_loss() -> Result<crate::nn::loss::Loss, NnError> {
        Ok(crate::nn::loss::Loss::Mae)
    }

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

    /// Values of the buffers the network stores besides its parameters (BatchNorm's running statistics, see
    /// [`crate::nn::TensorKind`]), by arithmetic: a checkpoint holds both.
    fn buffer_values(&self) -> u128 {
        0
    }

    /// NeuralForecast's `exclude_insample_y`: the network sees zeros for the input window (see
    /// [`without_insample_y`]); only models whose NeuralForecast class has the option override this.
    fn exclude_insample_y(&self) -> bool {
        false
    }

    /// `Some(n_series)` for NeuralForecast's `MULTIVARIATE` models, which forecast `n_series` aligned series
    /// jointly: their batches come in groups of `n_series` rows, row `w · n_series + s` being series `s` of window
    /// `w`, every series of a group cut at the same time (see [`WindowBatch::multivariate_windows`]). `None`
    /// (the default): each row is a window of its own.
    fn n_series(&self) -> Option<usize> {
        None
    }

    /// `Some(h_train)` for a [`ModelConfig::RECURRENT`] model: its training windows have `h_train` targets, of
    /// which it reads the first `h_train - 1` as inputs after the window's own (teacher forcing), and its
    /// forward pass with a training seed returns `[B, h_train, outputs_per_point]`. `None`: the horizon.
    fn training_horizon(&self) -> Option<usize> {
        None
    }

    /// Lets the model see the training loss it is built with, and adjust it (DeepAR feeds back a distribution's
    /// mean and draws `trajectorySamples` per point); an error names what does not fit together.
    fn adopt_loss(&mut self, _loss: &mut crate::nn::loss::Loss) -> Result<(), NnError> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::nn::adam::{Adam, AdamConfig, StepLr};
    use crate::nn::gradcheck::{check_param_grads, random_vec, weighted_sum};
    use crate::nn::loss::{Loss, LossTargets};

    /// A model shape with one output per point and seed 9.
    pub fn shape(h: usize, input_size: usize, exog: ExogSizes) -> ModelShape {
        ModelShape { h, input_size, outputs_per_point: 1, exog, random_seed: 9 }
    }

    /// `config` after `edit`.
    pub fn with<C>(mut config: C, edit: impl FnOnce(&mut C)) -> C {
        edit(&mut config);
        config
    }

    /// Builds `config`, asserts that its estimate counts exactly the parameters built, and returns the count.
    pub fn assert_count_matches_estimate<C: ModelConfig>(config: &C) -> usize {
        let count = config.build().unwrap().params().num_parameters();
        assert_eq!(config.memory_estimate().0, count as u128, "{config:?}");
        count
    }

    /// Random inputs of every kind the shape asks for, `batch` windows.
    pub struct RandomBatch {
        pub batch: usize,
        pub insample_y: Vec<f32>,
        pub hist_exog: Vec<f32>,
        pub futr_exog: Vec<f32>,
        pub stat_exog: Vec<f32>,
    }

    impl RandomBatch {
        pub fn new(shape: &ModelShape, batch: usize, seed: u64) -> Self {
            let ModelShape { h, input_size: l, exog, .. } = *shape;
            RandomBatch {
                batch,
                insample_y: random_vec(batch * l, seed),
                hist_exog: random_vec(batch * l * exog.hist, seed + 1),
                futr_exog: random_vec(batch * (l + h) * exog.futr, seed + 2),
                stat_exog: random_vec(batch * exog.stat, seed + 3),
            }
        }

        /// Windows `range` as a batch of their own.
        pub fn windows(&self, range: std::ops::Range<usize>) -> RandomBatch {
            let part = |values: &[f32]| values[values.len() / self.batch * range.start..values.len() / self.batch * range.end].to_vec();
            RandomBatch {
                batch: range.len(),
                insample_y: part(&self.insample_y),
                hist_exog: part(&self.hist_exog),
                futr_exog: part(&self.futr_exog),
                stat_exog: part(&self.stat_exog),
            }
        }

        pub fn view(&self, train_seed: Option<u64>) -> WindowBatch<'_> {
            WindowBatch {
                batch: self.batch,
                insample_y: &self.insample_y,
                hist_exog: &self.hist_exog,
                futr_exog: &self.futr_exog,
                stat_exog: &self.stat_exog,
                train_seed,
                sample_keys: &[],
            }
        }
    }

    /// Finite-difference check of a whole model's parameter gradients (a sample of every tensor), on a random
    /// batch with all the exogenous inputs the configuration has; a fixed training seed keeps dropout masks
    /// the same across the perturbed passes.
    pub fn check_model_gradients<C: ModelConfig>(config: &C) {
        // Three windows (of `nSeries` rows each for a multivariate model).
        let batch = 3 * config.n_series().unwrap_or(1);
        let shape = *config.shape();
        let mut model = config.build().unwrap();
        let inputs = RandomBatch::new(&shape, batch, 41);
        let weights = random_vec(batch * shape.h * shape.outputs_per_point, 42);
        let objective = |model: &C::Network| {
            let mut cache = <C::Network as Model>::Cache::default();
            weighted_sum(model.forward(&inputs.view(Some(5)), &mut cache).unwrap(), &weights)
        };
        let mut cache = <C::Network as Model>::Cache::default();
        let output_len = model.forward(&inputs.view(Some(5)), &mut cache).unwrap().len();
        assert_eq!(output_len, weights.len(), "forward output is [B, h, outputs_per_point]");
        let mut grads = model.params().zeros_like();
        model.backward(&mut cache, &weights, &mut grads).unwrap();
        let mut params = model.params().clone();
        check_param_grads(&mut params, &grads, 6, |p| {
            *model.params_mut() = p.clone();
            objective(&model)
        });
    }

    /// Asserts that a window's forecast has the same bits alone and in batches of other sizes (Linear's forward
    /// kernel does not depend on the rows; see nn::matmul).
    pub fn assert_window_alone_equals_batch<C: ModelConfig>(config: &C) {
        let shape = *config.shape();
        let model = config.build().unwrap();
        let all = RandomBatch::new(&shape, 40, 3);
        let per_window = shape.h * shape.outputs_per_point;
        let mut cache = <C::Network as Model>::Cache::default();
        let mut forecast = |range: std::ops::Range<usize>| {
            let start = range.start;
            let forecast = model.forward(&all.windows(range).view(None), &mut cache).unwrap();
            forecast[(2 - start) * per_window..][..per_window].to_vec()
        };
        let alone = forecast(2..3);
        assert_eq!(alone, forecast(0..40));
        assert_eq!(alone, forecast(1..3));
        assert_eq!(alone, forecast(2..7));
    }

    /// Fits sine-wave windows with Adam (see [`fit_sine`]) and asserts that the MAE of the last ten steps is
    /// under `ratio` times that of the first ten.
    pub fn assert_fits_sine<C: ModelConfig>(config: &C, steps: usize, learning_rate: f32, ratio: f32) {
        let (before, after) = fit_sine(config, steps, learning_rate);
        assert!(after < ratio * before, "MAE {before} -> {after}");
    }

    /// Fits sine-wave windows (no exogenous inputs) with Adam and returns the MAE of the first and the last
    /// ten steps.
    fn fit_sine<C: ModelConfig>(config: &C, steps: usize, learning_rate: f32) -> (f32, f32) {
        let ModelShape { h, input_size, .. } = *config.shape();
        let batch = 16;
        let mut model = config.build().unwrap();
        let series: Vec<f32> = (0..400).map(|t| (t as f32 * 2.0 * std::f32::consts::PI / 20.0).sin()).collect();
        let window_count = series.len() - input_size - h;
        let mut adam = Adam::new(model.params(), AdamConfig { learning_rate, ..AdamConfig::default() }, StepLr::constant()).unwrap();
        let mut grads = model.params().zeros_like();
        let mut cache = <C::Network as Model>::Cache::default();
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
            let input = WindowBatch { train_seed: Some(step as u64), ..WindowBatch::univariate(&windows, batch) };
            let forecast = model.forward(&input, &mut cache).unwrap();
            losses.push(Loss::Mae.value_and_grad(forecast, &LossTargets::without_insample(&targets, None), &mut d_forecast).unwrap());
            grads.fill_zero();
            model.backward(&mut cache, &d_forecast, &mut grads).unwrap();
            adam.step(model.params_mut(), &grads).unwrap();
        }
        let mean = |losses: &[f32]| losses.iter().sum::<f32>() / losses.len() as f32;
        (mean(&losses[..10]), mean(&losses[steps - 10..]))
    }
}

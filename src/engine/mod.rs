//! The training engine behind `NeuralForecaster`: global models fitted over a panel of series, forecasts after
//! each series' end or from new history, the single-window low-latency path, and safetensors checkpoints.

mod checkpoint;
mod error;
mod network;
mod scaler;
mod spec;
mod train;

use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use error::{EngineError, ErrorKind};
pub use scaler::Scale;
pub use spec::{Architecture, EngineConfig, ExogLists, ModelKind, ModelSpec, ScalerType};

use crate::data::{advance, Ds, Frequency, Panel};
use crate::kernels::Isa;
use crate::models::WindowBatch;
use network::{Network, NetworkCache};
use train::{scale_window, scale_windows, train, TrainRun, WindowScaling};

/// Overrides of the models' training settings for one fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitOptions {
    pub max_steps: Option<usize>,
    /// Passes over all training windows; overrides `max_steps` (the caller rejects giving both).
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub learning_rate: Option<f64>,
    /// Last points of each series held out for the validation loss (0: none).
    pub validation_size: usize,
    pub early_stopping: bool,
    pub patience: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProgressEvent {
    pub model: usize,
    pub alias: std::sync::Arc<str>,
    pub step: usize,
    pub max_steps: usize,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
}

/// What the progress callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelFitReport {
    pub alias: String,
    pub steps: usize,
    pub train_loss: Vec<f64>,
    pub val_loss: Vec<f64>,
    pub stopped_early: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitReport {
    pub models: Vec<ModelFitReport>,
    pub elapsed_ms: f64,
    /// The callback stopped the fit; the engine kept its state from before the fit.
    pub aborted: bool,
}

/// Forecasts in long format: `n_series × horizon` rows, series in panel order; one column per model alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub unique_id: Vec<String>,
    pub ds: Vec<Ds>,
    pub columns: Vec<(String, Vec<f64>)>,
}

/// What forecasting a series needs after fit: enough to predict right after loading a checkpoint.
#[derive(Debug, Clone, PartialEq)]
struct SeriesState {
    id: String,
    last_ds: Ds,
    /// The local scaler's statistics.
    scale: Scale,
    /// The last `max inputSize` values, locally scaled.
    tail: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
struct Fitted {
    freq: Frequency,
    series: Vec<SeriesState>,
}

/// Reused buffers of a forecast: one per worker of a batch, one per model for single windows.
#[derive(Default)]
struct ForecastScratch {
    inputs: Vec<f32>,
    targets: Vec<f32>,
    values: Vec<f64>,
    median: Vec<f64>,
    scales: Vec<Scale>,
    cache: NetworkCache,
}

/// The most threads a forecaster may start; more is surely a mistake (or a damaged checkpoint).
pub const MAX_THREADS: usize = 1024;

/// The process-wide pool for a thread count and SIMD setting. Forecasters share pools instead of each starting
/// and stopping threads of its own: fewer threads when many forecasters exist, and no memory growth from
/// allocator arenas of threads that come and go.
fn thread_pool(num_threads: usize, simd_enabled: bool) -> Result<Arc<rayon::ThreadPool>, EngineError> {
    static POOLS: Mutex<Vec<((usize, bool), Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    let key = (num_threads, simd_enabled);
    if let Some((_, pool)) = pools.iter().find(|(k, _)| *k == key) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(num_threads)
        .thread_name(move |i| format!("neuro-divergent-{num_threads}-{i}"))
        .start_handler(move |_| crate::nn::fast::set_thread_simd(simd_enabled))
        .build()
        .map_err(|e| EngineError::Range(format!("cannot start {num_threads} threads: {e}")))?;
    pools.push((key, Arc::new(pool)));
    Ok(pools[pools.len() - 1].1.clone())
}

pub struct Engine {
    config: EngineConfig,
    networks: Vec<Network>,
    fitted: Option<Fitted>,
    threads: Arc<rayon::ThreadPool>,
    window_scratch: Vec<Mutex<ForecastScratch>>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        let first = config.models.first().ok_or_else(|| EngineError::Range("give at least one model".into()))?;
        for (i, spec) in config.models.iter().enumerate() {
            spec.validate()?;
            if spec.h() != first.h() {
                return Err(EngineError::Range(format!(
                    "all models must share the horizon h: '{}' has {} but '{}' has {}",
                    spec.alias,
                    spec.h(),
                    first.alias,
                    first.h()
                )));
            }
            if config.models[..i].iter().any(|m| m.alias == spec.alias) {
                return Err(EngineError::Range(format!(
                    "two models are called '{}'; give each an alias",
                    spec.alias
                )));
            }
        }
        if config.num_threads > MAX_THREADS {
            return Err(EngineError::Range(format!("numThreads must be at most {MAX_THREADS}, got {}", config.num_threads)));
        }
        let networks = config.models.iter().map(|spec| spec.architecture.build()).collect::<Result<Vec<_>, _>>()?;
        let threads = thread_pool(config.num_threads, config.simd_enabled)?;
        let window_scratch = config.models.iter().map(|_| Mutex::default()).collect();
        Ok(Engine { config, networks, fitted: None, threads, window_scratch })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn is_fitted(&self) -> bool {
        self.fitted.is_some()
    }

    /// Ids of the fitted series (empty before fit).
    pub fn series_ids(&self) -> Vec<&str> {
        self.fitted.iter().flat_map(|f| f.series.iter().map(|s| s.id.as_str())).collect()
    }

    fn isa(&self) -> Isa {
        if self.config.simd_enabled {
            crate::simd::detected()
        } else {
            Isa::Scalar
        }
    }

    fn max_input_size(&self) -> usize {
        self.config.models.iter().map(|m| m.input_size()).max().unwrap_or(1)
    }

    fn horizon(&self) -> usize {
        self.config.models[0].h()
    }

    /// Trains every model on `panel`, one after another; a fitted engine continues from its weights. When
    /// `progress` returns `Control::Stop`, the engine keeps the weights and state it had before this call.
    pub fn fit(
        &mut self,
        panel: &Panel,
        options: &FitOptions,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
    ) -> Result<FitReport, EngineError> {
        let started = Instant::now();
        let _simd = crate::nn::fast::scoped_simd(self.config.simd_enabled);
        let isa = self.isa();
        let (states, scaled) = self.local_scaling(panel)?;
        let mut trained = self.networks.clone();
        let mut report = FitReport::default();
        for (model_index, (network, spec)) in trained.iter_mut().zip(&self.config.models).enumerate() {
            let run = TrainRun { spec, model_index, panel: &scaled, options, isa, threads: &self.threads };
            // The loop runs on a pool thread, so each step's parallel work is forked from inside the pool
            // (rayon's cross-pool injection queue would allocate).
            match self.threads.install(|| train(network, &run, progress))? {
                Some(model_report) => report.models.push(model_report),
                None => {
                    report.aborted = true;
                    report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
                    return Ok(report);
                }
            }
        }
        self.networks = trained;
        self.fitted = Some(Fitted { freq: panel.frequency(), series: states });
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(report)
    }

    /// Per-series local scaling: the states to forecast from, and the scaled panel to train on.
    fn local_scaling(&self, panel: &Panel) -> Result<(Vec<SeriesState>, Panel), EngineError> {
        let keep = self.max_input_size();
        panel.check_min_length(keep, "inputSize")?;
        let (isa, mut scratch) = (self.isa(), Vec::new());
        let mut states = Vec::with_capacity(panel.n_series());
        let mut scaled_y = Vec::with_capacity(panel.n_rows());
        let mut row_ids = Vec::with_capacity(panel.n_rows());
        for series in panel.series_iter() {
            let scale = Scale::of(self.config.local_scaler_type, series.y, isa, &mut scratch);
            let start = scaled_y.len();
            scaled_y.extend(series.y.iter().map(|&v| scale.apply(v)));
            row_ids.extend(std::iter::repeat_n(series.id, series.len()));
            states.push(SeriesState {
                id: series.id.to_string(),
                last_ds: series.last_ds().ok_or_else(|| EngineError::Range(format!("series '{}' is empty", series.id)))?,
                scale,
                tail: scaled_y[start + series.len() - keep..].to_vec(),
            });
        }
        let scaled = Panel::from_columns(&row_ids, panel.ds(), &scaled_y, Some(panel.frequency()))?;
        Ok((states, scaled))
    }

    /// Forecasts `horizon` (≤ h, default h) steps after every series: the fitted ones, or those of `history`
    /// (no refit).
    pub fn predict(&self, history: Option<&Panel>, horizon: Option<usize>) -> Result<Forecast, EngineError> {
        let fitted = self.fitted.as_ref().ok_or(EngineError::NotFitted)?;
        let h = self.horizon();
        let horizon = horizon.unwrap_or(h);
        if horizon == 0 || horizon > h {
            return Err(EngineError::Range(format!("horizon must be between 1 and the models' h = {h}, got {horizon}")));
        }
        let owned;
        let (freq, series) = match history {
            Some(panel) => {
                owned = self.local_scaling(panel)?.0;
                (panel.frequency(), &owned)
            }
            None => (fitted.freq, &fitted.series),
        };
        let mut forecast = Forecast { unique_id: Vec::new(), ds: Vec::new(), columns: Vec::new() };
        for state in series {
            for k in 1..=horizon {
                forecast.unique_id.push(state.id.clone());
                forecast.ds.push(advance(state.last_ds, freq, k as i64)?);
            }
        }
        for (network, spec) in self.networks.iter().zip(&self.config.models) {
            let values = self.forecast_series(network, spec, series, horizon)?;
            let outputs = spec.shape().outputs_per_point;
            for (k, column) in spec.output_columns().into_iter().enumerate() {
                forecast.columns.push((column, values.iter().skip(k).step_by(outputs).copied().collect()));
            }
        }
        Ok(forecast)
    }

    /// One model's forecasts for every series, `[series, horizon, outputs_per_point]`: their stored tails through
    /// [`Engine::forecast_batch`], then the local scaling inverted.
    fn forecast_series(
        &self,
        network: &Network,
        spec: &ModelSpec,
        series: &[SeriesState],
        horizon: usize,
    ) -> Result<Vec<f64>, EngineError> {
        let (l, h, outputs) = (spec.input_size(), spec.h(), spec.shape().outputs_per_point);
        let inputs: Vec<f32> = series.iter().flat_map(|s| s.tail[s.tail.len() - l..].iter().map(|&v| v as f32)).collect();
        let mut full = vec![0.0; series.len() * h * outputs];
        self.forecast_batch(network, spec, &inputs, &mut full)?;
        let mut out = Vec::with_capacity(series.len() * horizon * outputs);
        for (state, forecast) in series.iter().zip(full.chunks_exact(h * outputs)) {
            out.extend(forecast[..horizon * outputs].iter().map(|&z| state.scale.invert(z)));
        }
        Ok(out)
    }

    /// Forecasts `h × outputs_per_point` values per window of `inputs` (`[n, input_size]`, window scaling
    /// inverted) into `out` (`[n, h, outputs_per_point]`), in parallel over fixed chunks of windows, so the numbers
    /// do not depend on the thread count.
    fn forecast_batch(&self, network: &Network, spec: &ModelSpec, inputs: &[f32], out: &mut [f64]) -> Result<(), EngineError> {
        use rayon::prelude::*;
        const CHUNK: usize = 16;
        let (l, h, isa) = (spec.input_size(), spec.h(), self.isa());
        let per_window = h * spec.shape().outputs_per_point;
        self.threads.install(|| {
            let chunks = out.par_chunks_mut(CHUNK * per_window).zip(inputs.par_chunks(CHUNK * l));
            chunks.try_for_each_init(ForecastScratch::default, |scratch, (out, chunk)| {
                let n = chunk.len() / l;
                scratch.inputs.clear();
                scratch.inputs.extend_from_slice(chunk);
                scratch.targets.resize(n * h, 0.0);
                let buffers =
                    WindowScaling { values: &mut scratch.values, scratch: &mut scratch.median, scales: &mut scratch.scales };
                scale_windows(spec, isa, &mut scratch.inputs, &mut scratch.targets, buffers);
                let forecast = network.forward(&WindowBatch::univariate(&scratch.inputs, n), &mut scratch.cache)?;
                for (i, (out, z)) in out.chunks_exact_mut(per_window).zip(forecast.chunks_exact(per_window)).enumerate() {
                    let scale = scratch.scales.get(i).copied().unwrap_or(Scale::IDENTITY);
                    out.iter_mut().zip(z).for_each(|(o, &z)| *o = scale.invert(z as f64));
                }
                Ok::<(), EngineError>(())
            })
        })
    }

    /// Forecasts `h × outputs_per_point` values per window of raw values (`windows`: `[n, inputSize]` row-major)
    /// into `out` (`[n, h, outputs_per_point]`): the batch form of [`Engine::forecast_window`].
    pub fn forecast_windows(&self, model: usize, windows: &[f64], out: &mut [f64]) -> Result<(), EngineError> {
        let (network, spec) = self.window_model(model)?;
        let l = spec.input_size();
        if windows.is_empty() || windows.len() % l != 0 {
            return Err(EngineError::Range(format!(
                "windows must hold a whole number of windows of inputSize = {l} values for model '{}', got {} values",
                spec.alias,
                windows.len()
            )));
        }
        let n = windows.len() / l;
        if let Some(i) = windows.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::Range(format!("window {} value {} is {}, not a finite number", i / l, i % l, windows[i])));
        }
        let per_window = spec.h() * spec.shape().outputs_per_point;
        if out.len() != n * per_window {
            return Err(EngineError::Range(format!("out must hold {n} x {per_window} = {} values, got {}", n * per_window, out.len())));
        }
        let _simd = crate::nn::fast::scoped_simd(self.config.simd_enabled);
        let inputs: Vec<f32> = windows.iter().map(|&v| v as f32).collect();
        self.forecast_batch(network, spec, &inputs, out)
    }

    /// The model a window forecast runs, once fitted and without local scaling (a bare window does not say
    /// which series it is).
    fn window_model(&self, model: usize) -> Result<(&Network, &ModelSpec), EngineError> {
        if self.fitted.is_none() {
            return Err(EngineError::NotFitted);
        }
        let (network, spec) = match (self.networks.get(model), self.config.models.get(model)) {
            (Some(n), Some(s)) => (n, s),
            _ => return Err(EngineError::Range(format!("model index {model} is out of range"))),
        };
        if self.config.local_scaler_type != ScalerType::Identity {
            return Err(EngineError::Range(
                "window forecasts need localScalerType 'identity' (a window does not say which series it is)".into(),
            ));
        }
        Ok((network, spec))
    }

    /// Forecasts `h × outputs_per_point` values (`[h, outputs_per_point]`) into `out` from one window of the last
    /// `inputSize` raw values, reusing buffers so a steady stream of calls does not allocate.
    pub fn forecast_window(&self, model: usize, window: &[f64], out: &mut [f64]) -> Result<(), EngineError> {
        let (network, spec) = self.window_model(model)?;
        if window.len() != spec.input_size() {
            return Err(EngineError::Range(format!(
                "window must hold inputSize = {} values for model '{}', got {}",
                spec.input_size(),
                spec.alias,
                window.len()
            )));
        }
        if let Some(i) = window.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::Range(format!("window[{i}] is {}, not a finite number", window[i])));
        }
        let per_window = spec.h() * spec.shape().outputs_per_point;
        if out.len() != per_window {
            return Err(EngineError::Range(format!("out must hold {per_window} values, got {}", out.len())));
        }
        let _simd = crate::nn::fast::scoped_simd(self.config.simd_enabled);
        let mut guard = self.window_scratch[model].lock().unwrap_or_else(|p| p.into_inner());
        let scratch = &mut *guard;
        scratch.inputs.clear();
        scratch.inputs.extend(window.iter().map(|&v| v as f32));
        let scale = match spec.scaler_type {
            ScalerType::Identity => Scale::IDENTITY,
            kind => scale_window(kind, self.isa(), &mut scratch.inputs, &mut [], &mut scratch.values, &mut scratch.median),
        };
        let forecast = network.forward(&WindowBatch::univariate(&scratch.inputs, 1), &mut scratch.cache)?;
        for (o, &z) in out.iter_mut().zip(forecast) {
            *o = scale.invert(z as f64);
        }
        Ok(())
    }

    /// Values a window forecast of `model` writes: `h × outputs_per_point`.
    pub fn window_output_len(&self, model: usize) -> Option<usize> {
        self.config.models.get(model).map(|spec| spec.h() * spec.shape().outputs_per_point)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod fuzz_tests;

//! The training engine behind `NeuralForecaster`: global models fitted over a panel of series, forecasts after
//! each series' end or from new history, the single-window low-latency path, and safetensors checkpoints.

mod auto;
mod batch;
mod checkpoint;
mod conformal;
mod cross_validation;
mod error;
mod forecast;
mod implicit_quantiles;
mod insample;
mod interpretability;
mod local;
mod memory;
mod multivariate;
mod network;
mod neuralforecast;
mod scaler;
mod slots;
mod spec;
mod train;
mod update;
mod validation;
mod windows;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use auto::{AutoSpec, SearchAlg, SearchReport, TrialRow};
pub use error::{EngineError, ErrorKind};
pub use scaler::Scale;
pub use memory::MemoryStats;
pub use interpretability::FeatureImportances;
pub use conformal::{conformal_intervals, Calibration, IntervalMethod, PredictionIntervals};
pub use cross_validation::{CrossValidation, CrossValidationResult, CrossValidationStep, RefitPolicy};
pub use neuralforecast::is_neuralforecast_dir;
pub use spec::{Architecture, EngineConfig, ExogLists, Method, ModelKind, ModelSpec, NeuralSpec, ProphetSpec, ScalerType};

use crate::data::{advance, Column, DataError, Ds, Frequency, Panel};
use crate::kernels::Isa;
use crate::models::prophet::ProphetFit;
use crate::nn::loss::distribution_loss::ForecastPointScratch;
use crate::nn::loss::implicit_quantile::MEDIAN;
use conformal::Conformal;
use batch::{Batch, ExogColumns};
use network::{Network, NetworkCache};
#[cfg(test)]
pub(crate) use train::shard_windows;
use train::{train, TrainRun};

/// Overrides of the models' training settings for one fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    pub max_steps: Option<usize>,
    /// Passes over the series in batches of `batch_size` (one step a batch); overrides `max_steps` (the caller
    /// rejects giving both).
    pub epochs: Option<usize>,
    /// Series per step.
    pub batch_size: Option<usize>,
    /// Windows per step.
    pub windows_batch_size: Option<usize>,
    pub learning_rate: Option<f64>,
    /// Last points of each series held out for the validation loss (0: none; NeuralForecast's `val_size`).
    pub validation_size: usize,
    pub early_stopping: bool,
    pub patience: Option<usize>,
    /// Conformal prediction intervals: calibrate on the last windows of every series (an extra fit).
    pub prediction_intervals: Option<PredictionIntervals>,
    /// Continue from the current weights (NeuralForecast's default, `use_init_models=False`); `false` starts from
    /// the seeded initial weights.
    pub warm_start: bool,
    /// Train up to this step of each model's run and keep its training state there (`None`: the whole run): the
    /// next fit with `train_until` resumes from it, as if it had never paused (successive halving's rungs).
    pub train_until: Option<usize>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_steps: None,
            epochs: None,
            batch_size: None,
            windows_batch_size: None,
            learning_rate: None,
            validation_size: 0,
            early_stopping: false,
            patience: None,
            prediction_intervals: None,
            warm_start: true,
            train_until: None,
        }
    }
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
    /// Trainable parameters (Lightning's model summary count); 0 for Prophet, fitted per series without any.
    pub parameters: usize,
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
    /// The local scaler's statistics of each stored exogenous column over time ([`Fitted::temporal`]).
    exog_scales: Vec<Scale>,
    /// The last `max inputSize` values, locally scaled.
    tail: Vec<f64>,
    /// The last `max inputSize` values of each stored exogenous column over time ([`Fitted::temporal`]), locally
    /// scaled.
    exog_tail: Vec<Vec<f64>>,
    /// The series' value of each stored static column ([`Fitted::statics`]).
    statics: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
struct Fitted {
    freq: Frequency,
    series: Vec<SeriesState>,
    /// The exogenous columns over time the models read, whose tails each series keeps.
    temporal: Vec<String>,
    /// The static exogenous columns the models read.
    statics: Vec<String>,
    /// Conformity scores of the point models, when fitted with prediction intervals.
    conformal: Option<Conformal>,
    /// The data of the fit, which in-sample forecasts run over (`None` after loading a checkpoint, which keeps
    /// only the tails).
    history: Option<Arc<Panel>>,
}

impl Fitted {
    /// Where model `alias`'s exogenous columns are among the stored ones.
    fn exog_columns(&self, alias: &str, spec: &NeuralSpec) -> Result<ExogColumns, EngineError> {
        let temporal: Vec<&str> = self.temporal.iter().map(String::as_str).collect();
        let statics: Vec<&str> = self.statics.iter().map(String::as_str).collect();
        ExogColumns::resolve(alias, &spec.exog, &temporal, &statics)
    }
}

/// Future values of exogenous variables (NeuralForecast's `futr_df`): rows of a series id and a ds, with one
/// value per column.
#[derive(Debug, Clone, PartialEq)]
pub struct FutureExog {
    unique_id: Vec<String>,
    ds: Vec<Ds>,
    columns: Vec<Column>,
}

impl FutureExog {
    /// Checks that the columns have one finite value per row.
    pub fn new(unique_id: Vec<String>, ds: Vec<Ds>, columns: Vec<Column>) -> Result<FutureExog, DataError> {
        if unique_id.len() != ds.len() {
            return Err(DataError::ColumnLengths { unique_id: unique_id.len(), ds: ds.len(), y: ds.len() });
        }
        for column in &columns {
            if column.values.len() != ds.len() {
                return Err(DataError::ExogLength { column: column.name.clone(), len: column.values.len(), rows: ds.len() });
            }
            if let Some(row) = column.values.iter().position(|v| !v.is_finite()) {
                let series = unique_id[row].clone();
                return Err(DataError::NonFiniteExog { column: column.name.clone(), series, row, value: column.values[row] });
            }
        }
        Ok(FutureExog { unique_id, ds, columns })
    }

    /// Every row of `panel` with its exogenous columns over time: the future of any earlier cutoff.
    fn from_panel(panel: &Panel) -> FutureExog {
        let ids = panel.series_iter().flat_map(|s| std::iter::repeat_n(s.id.to_string(), s.len())).collect();
        FutureExog { unique_id: ids, ds: panel.ds().to_vec(), columns: panel.exogenous().to_vec() }
    }

    /// For each of `series`, the next `h` values of the future columns `columns.futr` (indices into `temporal`)
    /// as `[temporal column, step]`, 0 elsewhere; the error names the missing column, or the series and ds.
    fn per_series(&self, temporal: &[String], columns: &ExogColumns, series: &[SeriesState], h: usize, freq: Frequency) -> Result<Vec<Vec<f64>>, EngineError> {
        let rows: std::collections::HashMap<(&str, Ds), usize> =
            self.unique_id.iter().zip(&self.ds).enumerate().map(|(row, (id, &ds))| ((id.as_str(), ds), row)).collect();
        let sources = columns
            .futr
            .iter()
            .map(|&c| {
                let column = self.columns.iter().find(|column| column.name == temporal[c]);
                column.map(|column| (c, column)).ok_or_else(|| EngineError::Range(format!("futrData has no column '{}'", temporal[c])))
            })
            .collect::<Result<Vec<_>, _>>()?;
        series
            .iter()
            .map(|state| {
                let mut values = vec![0.0; temporal.len() * h];
                for step in 0..h {
                    let ds = advance(state.last_ds, freq, step as i64 + 1)?;
                    let row = rows.get(&(state.id.as_str(), ds)).ok_or_else(|| {
                        EngineError::Range(format!(
                            "futrData has no row for series '{}' at ds {ds} (the model reads the next {h} values of {})",
                            state.id,
                            sources.iter().map(|(_, c)| c.name.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                    })?;
                    for (c, column) in &sources {
                        values[c * h + step] = column.values[*row];
                    }
                }
                Ok(values)
            })
            .collect()
    }
}

/// A model's learned state: a global network, or one Prophet fit per fitted series (in series order).
#[derive(Debug, Clone)]
enum Trained {
    Neural(Network),
    Prophet(Vec<ProphetFit>),
    /// An unfitted Auto model's network while its search runs: not held, as every trial builds its own; the search
    /// puts the winner's (or the first trial's again) in its place before it returns.
    Searching,
}

impl Trained {
    fn new(spec: &ModelSpec) -> Result<Trained, EngineError> {
        Ok(match &spec.method {
            Method::Neural(neural) => Trained::Neural(
                neural.architecture.build(&neural.loss).map_err(|e| EngineError::Range(format!("model '{}': {e}", spec.alias)))?,
            ),
            Method::Prophet(_) => Trained::Prophet(Vec::new()),
        })
    }

    fn network(&self) -> Option<&Network> {
        match self {
            Trained::Neural(network) => Some(network),
            Trained::Prophet(_) | Trained::Searching => None,
        }
    }
}

/// Reused buffers of a forecast: per model, one per thread of a batch forecast (the first also for single windows).
#[derive(Default)]
struct ForecastScratch {
    batch: Batch,
    cache: NetworkCache,
    /// A distribution loss's parameters and draws of one point.
    points: ForecastPointScratch,
}
crate::nn::heap_bytes::heap_bytes!(ForecastScratch { batch, cache, points });

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
        .start_handler(move |_| crate::simd::set_thread_simd(simd_enabled))
        .build()
        .map_err(|e| EngineError::Range(format!("cannot start {num_threads} threads: {e}")))?;
    pools.push((key, Arc::new(pool)));
    Ok(pools[pools.len() - 1].1.clone())
}

pub struct Engine {
    config: EngineConfig,
    models: Vec<Trained>,
    fitted: Option<Fitted>,
    threads: Arc<rayon::ThreadPool>,
    forecast_scratch: Vec<slots::Slots<ForecastScratch>>,
    /// Per model, the search of an Auto model at the last fit.
    searches: Vec<Option<SearchReport>>,
    /// Per model, the training a fit with `train_until` paused (what the next such fit resumes).
    paused: Vec<Option<train::Paused>>,
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
            if let Some(other) = config.models[..i].iter().find(|m| m.output_columns().iter().any(|c| spec.output_columns().contains(c))) {
                return Err(EngineError::Range(format!(
                    "two models are called '{}' (or name the same output column as '{}'); give each an alias",
                    spec.alias, other.alias
                )));
            }
        }
        if config.num_threads > MAX_THREADS {
            return Err(EngineError::Range(format!("numThreads must be at most {MAX_THREADS}, got {}", config.num_threads)));
        }
        let models = config.models.iter().map(Trained::new).collect::<Result<Vec<_>, _>>()?;
        let threads = thread_pool(config.num_threads, config.simd_enabled)?;
        let forecast_scratch = config.models.iter().map(|_| slots::Slots::new(threads.current_num_threads())).collect();
        let searches = vec![None; config.models.len()];
        let paused = config.models.iter().map(|_| None).collect();
        Ok(Engine { config, models, fitted: None, threads, forecast_scratch, searches, paused })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs later calls on `num_threads` threads (0: all cores) instead of the count the checkpoint was saved
    /// with: a worker machine sizes its own threads. Forecasts are identical for any count.
    pub fn set_num_threads(&mut self, num_threads: usize) -> Result<(), EngineError> {
        if num_threads > MAX_THREADS {
            return Err(EngineError::Range(format!("numThreads must be at most {MAX_THREADS}, got {num_threads}")));
        }
        self.threads = thread_pool(num_threads, self.config.simd_enabled)?;
        self.forecast_scratch = self.config.models.iter().map(|_| slots::Slots::new(self.threads.current_num_threads())).collect();
        self.config.num_threads = num_threads;
        Ok(())
    }

    pub fn is_fitted(&self) -> bool {
        self.fitted.is_some()
    }

    /// The frequency the series were fitted at (`None` before fit).
    pub fn fitted_frequency(&self) -> Option<Frequency> {
        self.fitted.as_ref().map(|f| f.freq)
    }

    /// The next `horizon` (default h) ids and ds of every fitted series, as `futrData` needs them (NeuralForecast's
    /// `make_future_dataframe`).
    pub fn future_frame(&self, horizon: Option<usize>) -> Result<Forecast, EngineError> {
        let fitted = self.fitted.as_ref().ok_or(EngineError::NotFitted)?;
        future_rows(&fitted.series, fitted.freq, horizon.unwrap_or(self.horizon()))
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

    /// The longest history a forecast reads (0 when only Prophet, which keeps its fit instead).
    fn max_input_size(&self) -> usize {
        self.config.models.iter().map(|m| m.input_size()).max().unwrap_or(0)
    }

    fn horizon(&self) -> usize {
        self.config.models[0].h()
    }

    /// Trains every model on `panel`, one after another; a fitted engine continues from its weights. With
    /// `options.prediction_intervals`, the models are first trained on the panel without its last windows and
    /// scored on them (the conformity scores), then trained on the whole panel from the same starting weights.
    /// When `progress` returns `Control::Stop`, the engine keeps the weights and state it had before this call.
    pub fn fit(
        &mut self,
        panel: &Panel,
        options: &FitOptions,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
    ) -> Result<FitReport, EngineError> {
        let report = match self.run_searches(panel, options, progress) {
            Ok(Some(refit)) => self.fit_models(panel, &refit, progress),
            Ok(None) => Ok(FitReport { aborted: true, ..FitReport::default() }),
            Err(e) => Err(e),
        };
        self.end_call(report)
    }

    fn fit_models(
        &mut self,
        panel: &Panel,
        options: &FitOptions,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
    ) -> Result<FitReport, EngineError> {
        let started = Instant::now();
        let _simd = crate::simd::scoped_simd(self.config.simd_enabled);
        validation::check_early_stopping(&self.config.models, options)?;
        validation::check_targets(&self.config.models, panel)?;
        if !options.warm_start {
            // A failed or stopped fit keeps the fitted weights: the fresh ones are only swapped in at the end.
            let fresh = self.config.models.iter().map(Trained::new).collect::<Result<Vec<_>, _>>()?;
            let mut restart = self.subset(&(0..self.models.len()).collect::<Vec<_>>())?;
            restart.models = fresh;
            restart.paused.iter_mut().for_each(|p| *p = None);
            let report = restart.fit_models(panel, &FitOptions { warm_start: true, ..options.clone() }, progress)?;
            if !report.aborted {
                (self.models, self.fitted, self.paused) = (restart.models, restart.fitted, restart.paused);
            }
            return Ok(report);
        }
        let conformal = match &options.prediction_intervals {
            Some(intervals) => match self.calibrate(panel, options, intervals, progress)? {
                Some(conformal) => Some(conformal),
                None => return Ok(FitReport { aborted: true, elapsed_ms: started.elapsed().as_secs_f64() * 1e3, ..FitReport::default() }),
            },
            None => None,
        };
        let (fitted, scaled) = self.fitted_on(panel, conformal)?;
        let mut report = FitReport::default();
        match self.train_models(panel, &scaled, options, progress, &mut report)? {
            Some((trained, paused)) => {
                (self.models, self.paused) = (trained, paused);
                self.fitted = Some(fitted);
            }
            None => report.aborted = true,
        }
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(report)
    }

    /// What a fit on `panel` keeps to forecast from (each series' scale and tails, the exogenous columns the models
    /// read, `conformal`), with the panel to train on (after local scaling).
    fn fitted_on<'p>(&self, panel: &'p Panel, conformal: Option<Conformal>) -> Result<(Fitted, Cow<'p, Panel>), EngineError> {
        let (temporal, statics) = self.exog_names(panel);
        let (series, scaled) = self.local_scaling(panel, &temporal, &statics)?;
        let history = Some(Arc::new(panel.clone()));
        Ok((Fitted { freq: panel.frequency(), series, temporal, statics, conformal, history }, scaled))
    }

    /// The exogenous columns of `panel` that some model reads: over time (in the panel's order), and static.
    fn exog_names(&self, panel: &Panel) -> (Vec<String>, Vec<String>) {
        let lists: Vec<&ExogLists> = self.config.models.iter().filter_map(|m| m.neural()).map(|n| &n.exog).collect();
        let used = |name: &String, static_list: bool| {
            lists.iter().any(|l| if static_list { l.stat.contains(name) } else { l.futr.contains(name) || l.hist.contains(name) })
        };
        let temporal = panel.exogenous().iter().map(|c| &c.name).filter(|n| used(n, false)).cloned().collect();
        let statics = panel.statics().iter().map(|c| &c.name).filter(|n| used(n, true)).cloned().collect();
        (temporal, statics)
    }

    /// The models trained on `panel` (`scaled`: after local scaling), from the current weights (and paused
    /// training, under `train_until`), with the training each paused; `None` when the progress callback stopped
    /// the fit.
    #[allow(clippy::type_complexity)]
    fn train_models(
        &self,
        panel: &Panel,
        scaled: &Panel,
        options: &FitOptions,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
        report: &mut FitReport,
    ) -> Result<Option<(Vec<Trained>, Vec<Option<train::Paused>>)>, EngineError> {
        let isa = self.isa();
        let mut trained = self.models.clone();
        let mut paused: Vec<Option<train::Paused>> = self.config.models.iter().map(|_| None).collect();
        for (model_index, (model, spec)) in trained.iter_mut().zip(&self.config.models).enumerate() {
            let model_report = match (model, &spec.method) {
                (Trained::Neural(network), Method::Neural(neural)) => {
                    let temporal: Vec<&str> = scaled.exogenous().iter().map(|c| c.name.as_str()).collect();
                    let statics: Vec<&str> = scaled.statics().iter().map(|c| c.name.as_str()).collect();
                    let exog = ExogColumns::resolve(&spec.alias, &neural.exog, &temporal, &statics)?;
                    if let Some(n_series) = neural.n_series() {
                        multivariate::check_panel(&spec.alias, n_series, scaled)?;
                    }
                    let run = TrainRun {
                        spec: neural,
                        alias: &spec.alias,
                        model_index,
                        panel: scaled,
                        exog: &exog,
                        options,
                        isa,
                        threads: &self.threads,
                        low_memory: self.config.low_memory,
                    };
                    // The loop runs on a pool thread, so each step's parallel work is forked from inside the pool
                    // (rayon's cross-pool injection queue would allocate).
                    let resume = self.paused[model_index].clone();
                    match self.threads.install(|| train(network, &run, resume, progress))? {
                        Some((model_report, model_paused)) => {
                            paused[model_index] = model_paused;
                            Some(model_report)
                        }
                        None => None,
                    }
                }
                (Trained::Prophet(fits), Method::Prophet(prophet)) => {
                    *fits = local::fit_prophet(prophet, panel, &self.threads)?;
                    local::prophet_report(&spec.alias, model_index, fits, progress)
                }
                _ => unreachable!("a model's learned state always matches its method"),
            };
            match model_report {
                Some(model_report) => report.models.push(model_report),
                None => return Ok(None),
            }
        }
        Ok(Some((trained, paused)))
    }

    /// Per-series local scaling of y and of the `temporal` exogenous columns (NeuralForecast's core scales every
    /// temporal column): the states to forecast from (with the tails of the `temporal` columns and the values of
    /// the `statics`), and the scaled panel to train on (`panel` itself for the identity scaler, which saves a copy
    /// of the data).
    fn local_scaling<'p>(&self, panel: &'p Panel, temporal: &[String], statics: &[String]) -> Result<(Vec<SeriesState>, Cow<'p, Panel>), EngineError> {
        let keep = self.max_input_size();
        panel.check_min_length(keep.max(1), "inputSize")?;
        let column = |columns: &[Column], name: &String, kind: &str| {
            let found = columns.iter().position(|c| &c.name == name);
            found.ok_or_else(|| EngineError::Range(format!("the data has no {kind} exogenous column '{name}', which the models read")))
        };
        let temporal = temporal.iter().map(|n| column(panel.exogenous(), n, "temporal")).collect::<Result<Vec<_>, _>>()?;
        let statics = statics.iter().map(|n| column(panel.statics(), n, "static")).collect::<Result<Vec<_>, _>>()?;
        let (isa, mut scratch) = (self.isa(), Vec::new());
        let identity = self.config.local_scaler_type == ScalerType::Identity;
        let mut states = Vec::with_capacity(panel.n_series());
        let mut scaled_y = Vec::with_capacity(if identity { 0 } else { panel.n_rows() });
        let mut scaled_exog: Vec<Column> = if identity { Vec::new() } else { panel.exogenous().to_vec() };
        for (s, series) in panel.series_iter().enumerate() {
            let scale = Scale::local(self.config.local_scaler_type, series.y, isa, &mut scratch);
            let rows = panel.offsets()[s]..panel.offsets()[s + 1];
            let exog_scales: Vec<Scale> = temporal
                .iter()
                .map(|&c| {
                    let exog_scale = Scale::local(self.config.local_scaler_type, &panel.exogenous()[c].values[rows.clone()], isa, &mut scratch);
                    if !identity {
                        scaled_exog[c].values[rows.clone()].iter_mut().for_each(|v| *v = exog_scale.apply(*v));
                    }
                    exog_scale
                })
                .collect();
            let scaled = if identity {
                series.y
            } else {
                let start = scaled_y.len();
                scaled_y.extend(series.y.iter().map(|&v| scale.apply(v)));
                &scaled_y[start..]
            };
            let end = panel.offsets()[s + 1];
            states.push(SeriesState {
                id: series.id.to_string(),
                last_ds: series.last_ds().ok_or_else(|| EngineError::Range(format!("series '{}' is empty", series.id)))?,
                scale,
                tail: scaled[series.len() - keep..].to_vec(),
                exog_tail: temporal
                    .iter()
                    .zip(&exog_scales)
                    .map(|(&c, exog_scale)| panel.exogenous()[c].values[end - keep..end].iter().map(|&v| exog_scale.apply(v)).collect())
                    .collect(),
                exog_scales,
                statics: statics.iter().map(|&c| panel.statics()[c].values[s]).collect(),
            });
        }
        if identity {
            return Ok((states, Cow::Borrowed(panel)));
        }
        let scaled = panel.with_values(scaled_y, scaled_exog).ok_or_else(|| EngineError::Range("local scaling gave non-finite values".into()))?;
        Ok((states, Cow::Owned(scaled)))
    }

    /// Forecasts `horizon` (≤ h, default h) steps after every series: the fitted ones, or those of `history`
    /// (no refit of the neural models; Prophet, a local model, is fitted to each series of `history`). With
    /// `levels`, adds `<alias>-lo-<level>` and `<alias>-hi-<level>` columns: Prophet's own intervals, and
    /// conformal intervals for point models fitted with prediction intervals; an IQLoss model gives those columns
    /// (and no `_ql0.5` one) from its forecasts at those quantiles.
    pub fn predict(&self, history: Option<&Panel>, horizon: Option<usize>, levels: &[f64], future: Option<&FutureExog>) -> Result<Forecast, EngineError> {
        self.predict_quantiles(history, horizon, levels, &[], future)
    }

    /// [`Engine::predict`], and with `quantiles` (not with `levels`), the IQLoss models' `<alias>_ql<q>` column
    /// per quantile instead of their `_ql0.5` one (NeuralForecast's `predict(quantiles=...)`); an error for
    /// models of other losses.
    pub fn predict_quantiles(
        &self,
        history: Option<&Panel>,
        horizon: Option<usize>,
        levels: &[f64],
        quantiles: &[f64],
        future: Option<&FutureExog>,
    ) -> Result<Forecast, EngineError> {
        let fitted = self.fitted.as_ref().ok_or(EngineError::NotFitted)?;
        let forecast = match history {
            Some(panel) => self.local_scaling(panel, &fitted.temporal, &fitted.statics).and_then(|(series, _)| {
                let request = Request { freq: panel.frequency(), series: &series, local_fits: Refit(panel), horizon, levels, quantiles, future };
                self.forecast(fitted, request)
            }),
            None if fitted.series.is_empty() => Err(EngineError::Range(
                "this forecaster keeps no series (it was loaded from a NeuralForecast directory): give the history, predict({ data })".into(),
            )),
            None => {
                let request = Request { freq: fitted.freq, series: &fitted.series, local_fits: Stored(None), horizon, levels, quantiles, future };
                self.forecast(fitted, request)
            }
        };
        self.end_call(forecast)
    }

    /// As [`Engine::predict`] for the fitted series `ids` only (in that order), on the calling thread for a few
    /// series: the per-bar path after [`Engine::update`]. With a multivariate model, which forecasts every series
    /// at once, all are forecast and the rows of `ids` kept.
    pub fn predict_series(&self, ids: &[&str], horizon: Option<usize>, levels: &[f64], future: Option<&FutureExog>) -> Result<Forecast, EngineError> {
        let fitted = self.fitted.as_ref().ok_or(EngineError::NotFitted)?;
        let indices = ids
            .iter()
            .map(|id| fitted.series.iter().position(|s| s.id == *id).ok_or_else(|| EngineError::Range(format!("series '{id}' was not fitted"))))
            .collect::<Result<Vec<_>, _>>()?;
        if self.config.models.iter().any(|m| multivariate::n_series(m).is_some()) {
            let request = Request { freq: fitted.freq, series: &fitted.series, local_fits: Stored(None), horizon, levels, quantiles: &[], future };
            return self.end_call(self.forecast(fitted, request).map(|all| multivariate::rows_of_series(&all, &indices, horizon.unwrap_or(self.horizon()))));
        }
        let series: Vec<SeriesState> = indices.iter().map(|&i| fitted.series[i].clone()).collect();
        let request = Request { freq: fitted.freq, series: &series, local_fits: Stored(Some(&indices)), horizon, levels, quantiles: &[], future };
        self.end_call(self.forecast(fitted, request))
    }

    /// The forecast columns of every model for `request.series`.
    fn forecast(&self, fitted: &Fitted, request: Request<'_>) -> Result<Forecast, EngineError> {
        let Request { freq, series, local_fits, horizon, levels, quantiles, future } = request;
        let h = self.horizon();
        let horizon = horizon.unwrap_or(h);
        if horizon == 0 || horizon > h {
            return Err(EngineError::Range(format!("horizon must be between 1 and the models' h = {h}, got {horizon}")));
        }
        conformal::check_levels(levels)?;
        let asked_quantiles = implicit_quantiles::asked(levels, quantiles)?;
        let _simd = crate::simd::scoped_simd(self.config.simd_enabled);
        let mut forecast = future_rows(series, freq, horizon)?;
        for (index, (model, spec)) in self.models.iter().zip(&self.config.models).enumerate() {
            match (model, &spec.method) {
                (Trained::Neural(network), Method::Neural(neural)) if implicit_quantiles::applies(neural, &asked_quantiles) => {
                    let request = forecast::SeriesRequest { fitted, series, future, horizon, quantile: MEDIAN };
                    forecast.columns.extend(self.implicit_quantile_columns(index, network, neural, &spec.alias, &request, &asked_quantiles)?);
                }
                (_, method) if !quantiles.is_empty() => return Err(implicit_quantiles::not_implicit(&spec.alias, method)),
                (Trained::Neural(network), Method::Neural(neural)) => {
                    let request = forecast::SeriesRequest { fitted, series, future, horizon, quantile: MEDIAN };
                    let values = self.forecast_series(index, network, neural, &spec.alias, &request)?;
                    let columns = neural.columns_per_point();
                    for (k, column) in spec.output_columns().into_iter().enumerate() {
                        forecast.columns.push((column, values.iter().skip(k).step_by(columns).copied().collect()));
                    }
                    // Conformal intervals are for point models; quantile and distribution models give their own.
                    if !levels.is_empty() && columns == 1 {
                        let scores = fitted.conformal.as_ref().and_then(|c| c.scores(index, &fitted.series, series)).transpose()?;
                        let scores = scores.ok_or_else(|| conformal::no_intervals(&spec.alias))?;
                        let point = &forecast.columns[forecast.columns.len() - 1].1;
                        let columns = conformal::intervals(&spec.alias, point, &scores, horizon, levels, fitted)?;
                        forecast.columns.extend(columns);
                    }
                }
                (Trained::Prophet(fits), Method::Prophet(prophet)) => {
                    let fits: Vec<ProphetFit> = match local_fits {
                        Refit(panel) => local::fit_prophet(prophet, panel, &self.threads)?,
                        Stored(None) => fits.clone(),
                        Stored(Some(indices)) => indices.iter().map(|&i| fits[i].clone()).collect(),
                    };
                    forecast.columns.extend(local::forecast_prophet(&spec.alias, prophet, &fits, series, freq, horizon, levels)?);
                }
                _ => unreachable!("a model's learned state always matches its method"),
            }
        }
        Ok(forecast)
    }
}

/// The `horizon` rows after each series (ids and ds), without forecast columns yet.
fn future_rows(series: &[SeriesState], freq: Frequency, horizon: usize) -> Result<Forecast, EngineError> {
    let mut rows = Forecast { unique_id: Vec::with_capacity(series.len() * horizon), ds: Vec::with_capacity(series.len() * horizon), columns: Vec::new() };
    for state in series {
        for k in 1..=horizon {
            rows.unique_id.push(state.id.clone());
            rows.ds.push(advance(state.last_ds, freq, k as i64)?);
        }
    }
    Ok(rows)
}

/// Where a forecast's Prophet fits come from: the stored ones (all, or those of some fitted series), or fresh fits to
/// new history.
#[derive(Clone, Copy)]
enum LocalFits<'a> {
    Stored(Option<&'a [usize]>),
    Refit(&'a Panel),
}
use LocalFits::{Refit, Stored};

/// What a forecast is of: series (with their frequency and local fits), horizon, interval levels or quantiles,
/// future values.
struct Request<'a> {
    freq: Frequency,
    series: &'a [SeriesState],
    local_fits: LocalFits<'a>,
    horizon: Option<usize>,
    levels: &'a [f64],
    /// IQLoss models' quantiles (`predict({ quantiles })`).
    quantiles: &'a [f64],
    future: Option<&'a FutureExog>,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tft_training_tests;

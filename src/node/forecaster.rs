//! `NeuralForecaster`: the engine behind a JS class. Heavy calls (fit, predict, save, load, toBuffer,
//! fromBuffer) run as async tasks on libuv's thread pool and return Promises; `forecastWindow` is the synchronous
//! low-latency path. One engine serves one call at a time: a call made while `fit` runs is rejected with a clear
//! error instead of waiting behind it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use napi::bindgen_prelude::{AsyncTask, Buffer, Float64Array, Float64ArraySlice, Object, ToNapiValue, TypeName, Uint32ArraySlice, Unknown};
use napi::{Env, JsValue, Task, ValueType};
use napi_derive::napi;

use super::args::{self, describe, with_js_errors, ArgError, ArgResult};
use super::data::{future_from_js, panel_from_js, with_static_from_js};
use super::models::model_spec;
use crate::data::{format_ds_column, Frequency, Panel};
use crate::engine::{
    Control, Engine, EngineConfig, EngineError, ErrorKind, FitOptions, FitReport, Forecast, FutureExog, IntervalMethod,
    PredictionIntervals, ProgressEvent, ScalerType,
};

impl From<EngineError> for ArgError {
    fn from(e: EngineError) -> Self {
        match e.kind() {
            ErrorKind::Type => ArgError::Type(e.to_string()),
            ErrorKind::Range => ArgError::Range(e.to_string()),
            ErrorKind::Other => ArgError::Napi(napi::Error::from_reason(e.to_string())),
        }
    }
}

const OPTION_KEYS: &[&str] = &[
    "models",
    "frequency",
    "freq",
    "localScalerType",
    "numThreads",
    "simdEnabled",
    "memoryPool",
    "lowMemory",
    "seed",
    "backend",
];

const FIT_KEYS: &[&str] = &[
    "maxSteps",
    "epochs",
    "batchSize",
    "learningRate",
    "validationSize",
    "earlyStopping",
    "patience",
    "predictionIntervals",
    "staticData",
    "warmStart",
    "onProgress",
    "signal",
];


/// Shared by a forecaster and its running tasks.
struct Shared {
    engine: RwLock<Engine>,
    /// Set while a fit runs (from the call until its Promise settles).
    fitting: AtomicBool,
}

impl Shared {
    fn new(engine: Engine) -> Arc<Shared> {
        Arc::new(Shared { engine: RwLock::new(engine), fitting: AtomicBool::new(false) })
    }

    fn ensure_idle(&self, what: &str) -> ArgResult<()> {
        if self.fitting.load(Ordering::Acquire) {
            return Err(ArgError::Napi(napi::Error::from_reason(format!(
                "cannot {what} while fit() is running on this forecaster; await the fit first"
            ))));
        }
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Engine> {
        self.engine.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Engine> {
        self.engine.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs core work on a worker thread, turning a panic into an error instead of letting it unwind into libuv.
fn guarded<T>(what: &str, work: impl FnOnce() -> Result<T, ArgError>) -> Result<T, ArgError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
        Err(ArgError::Napi(napi::Error::from_reason(format!("{what}: internal error (a bug in neuro-divergent)"))))
    })
}

/// A task's failure, kept until `reject` runs on the JS thread where the typed JS error can be created.
type TaskResult<T> = Result<T, ArgError>;

fn settle<T>(env: &Env, function: &str, outcome: TaskResult<T>) -> napi::Result<T> {
    outcome.map_err(|e| e.context(function).into_napi(env))
}

// ---- construction -------------------------------------------------------------------------------------------

fn engine_config(options: &Unknown<'_>) -> ArgResult<EngineConfig> {
    let options = args::options(Some(options), "options", OPTION_KEYS)?
        .ok_or_else(|| ArgError::Type("options must be an object with a models array, got undefined".into()))?;
    let models_value = args::property(&options, "models")?
        .ok_or_else(|| ArgError::Type("options.models is missing: give at least one model".into()))?;
    let seed = optional(&options, "seed", |v, n| args::integer(v, n, 0, u32::MAX as usize))?;
    let mut models = Vec::new();
    for (i, model) in args::elements(&models_value, "options.models", "models")?.iter().enumerate() {
        models.push(model_spec(model, &format!("options.models[{i}]"), seed)?);
    }
    if models.is_empty() {
        return Err(ArgError::Range("options.models is empty: give at least one model".into()));
    }
    check_backend(&options)?;
    Ok(EngineConfig {
        models,
        freq: frequency_option(&options)?,
        local_scaler_type: optional(&options, "localScalerType", |v, n| scaler_type(v, n))?
            .unwrap_or(ScalerType::Identity),
        num_threads: optional(&options, "numThreads", |v, n| args::integer(v, n, 1, crate::engine::MAX_THREADS))?.unwrap_or(0),
        simd_enabled: optional(&options, "simdEnabled", args::boolean)?.unwrap_or(true),
        memory_pool: optional(&options, "memoryPool", args::boolean)?.unwrap_or(true),
        low_memory: optional(&options, "lowMemory", args::boolean)?.unwrap_or(false),
    })
}

/// Reads `options[key]` with `read` when present.
fn optional<T>(
    options: &Object<'_>,
    key: &str,
    read: impl FnOnce(&Unknown<'_>, &str) -> ArgResult<T>,
) -> ArgResult<Option<T>> {
    args::property(options, key)?.map(|v| read(&v, &format!("options.{key}"))).transpose()
}

fn frequency_option(options: &Object<'_>) -> ArgResult<Option<Frequency>> {
    let frequency = args::property(options, "frequency")?;
    let freq = args::property(options, "freq")?;
    let (value, key) = match (frequency, freq) {
        (Some(_), Some(_)) => {
            return Err(ArgError::Type("options.frequency and options.freq are the same option; give one".into()))
        }
        (Some(v), None) => (v, "options.frequency"),
        (None, Some(v)) => (v, "options.freq"),
        (None, None) => return Ok(None),
    };
    let text = args::string(&value, key)?;
    Frequency::parse(&text).map(Some).map_err(|e| ArgError::Range(format!("{key}: {e}")))
}

pub fn scaler_type(value: &Unknown<'_>, name: &str) -> ArgResult<ScalerType> {
    let text = args::string(value, name)?;
    ScalerType::parse(&text).map_err(|e| ArgError::Range(format!("{name}: {e}")))
}

fn check_backend(options: &Object<'_>) -> ArgResult<()> {
    let Some(value) = args::property(options, "backend")? else { return Ok(()) };
    match args::string(&value, "options.backend")?.as_str() {
        "cpu" => Ok(()),
        "cuda" => Err(ArgError::Napi(napi::Error::from_reason(
            "options.backend 'cuda' is not available: this build of neuro-divergent has no CUDA backend; use 'cpu'",
        ))),
        other => Err(ArgError::Range(format!("options.backend must be 'cpu' or 'cuda', got '{other}'"))),
    }
}

// ---- fit control --------------------------------------------------------------------------------------------

/// Progress and cancellation of one fit, shared between the JS thread and the worker running it.
#[derive(Default)]
struct FitState {
    abort: AtomicBool,
    latest: Mutex<Option<ProgressEvent>>,
}

/// Handle of a running fit: the JS wrapper polls `progress()` for `onProgress` and calls `abort()` when its
/// AbortSignal fires.
#[napi]
pub struct FitControl {
    state: Arc<FitState>,
}

/// One training step's progress.
#[napi(object)]
pub struct FitProgress {
    /// Index of the model in `options.models`.
    pub model: u32,
    pub alias: String,
    /// Steps done so far for this model.
    pub step: u32,
    pub max_steps: u32,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
}

#[napi]
impl FitControl {
    #[napi(constructor)]
    pub fn new() -> Self {
        FitControl { state: Arc::default() }
    }

    /// Asks the running fit to stop after its current step; the forecaster keeps the weights it had before.
    #[napi]
    pub fn abort(&self) {
        self.state.abort.store(true, Ordering::Release);
    }

    /// The latest progress, or null before the first step.
    #[napi]
    pub fn progress(&self) -> Option<FitProgress> {
        let latest = self.state.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest.as_ref().map(|e| FitProgress {
            model: e.model as u32,
            alias: e.alias.to_string(),
            step: e.step as u32,
            max_steps: e.max_steps as u32,
            train_loss: e.train_loss,
            val_loss: e.val_loss,
        })
    }
}

impl Default for FitControl {
    fn default() -> Self {
        Self::new()
    }
}

// ---- the class ----------------------------------------------------------------------------------------------

#[napi(js_name = "NeuralForecaster")]
pub struct NativeForecaster {
    shared: Arc<Shared>,
}

#[napi]
impl NativeForecaster {
    /// Creates a forecaster; see `NeuralForecasterOptions`.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, options: Unknown<'_>) -> napi::Result<Self> {
        with_js_errors(&env, "new NeuralForecaster", || {
            let engine = Engine::new(engine_config(&options)?)?;
            Ok(NativeForecaster { shared: Shared::new(engine) })
        })
    }

    /// Whether the forecaster has been fitted (or loaded from a fitted checkpoint).
    #[napi(getter)]
    pub fn is_fitted(&self) -> bool {
        self.shared.engine.try_read().map(|e| e.is_fitted()).unwrap_or(false)
    }

    /// Trains every model on `data`; resolves with the fit report. A fitted forecaster continues from its weights.
    #[napi(catch_unwind)]
    pub fn fit(
        &self,
        env: Env,
        data: Unknown<'_>,
        options: Option<Unknown<'_>>,
        control: &FitControl,
    ) -> napi::Result<AsyncTask<FitTask>> {
        with_js_errors(&env, "NeuralForecaster.fit", || {
            self.shared.ensure_idle("fit")?;
            let freq = self.shared.read().config().freq;
            let mut panel = panel_from_js(&data, "data", freq)?;
            if let Some(statics) = static_data(options.as_ref())? {
                panel = with_static_from_js(panel, &statics, "options.staticData")?;
            }
            let options = fit_options(options.as_ref())?;
            self.shared.fitting.store(true, Ordering::Release);
            Ok(AsyncTask::new(FitTask {
                shared: self.shared.clone(),
                panel,
                options,
                state: control.state.clone(),
            }))
        })
    }

    /// Forecasts every series: after the fitted data, or from `options.data` (new history, no refit).
    #[napi(catch_unwind)]
    pub fn predict(&self, env: Env, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<PredictTask>> {
        with_js_errors(&env, "NeuralForecaster.predict", || {
            self.shared.ensure_idle("predict")?;
            let options = args::options(options.as_ref(), "options", &["horizon", "data", "staticData", "futrData", "level"])?;
            let mut task = PredictTask { shared: self.shared.clone(), history: None, horizon: None, levels: Vec::new(), future: None };
            if let Some(options) = options {
                task.horizon = optional(&options, "horizon", |v, n| args::integer(v, n, 1, u32::MAX as usize))?;
                task.levels = optional(&options, "level", levels)?.unwrap_or_default();
                task.future = optional(&options, "futrData", future_from_js)?;
                if let Some(data) = args::property(&options, "data")? {
                    let freq = self.shared.read().config().freq;
                    let mut panel = panel_from_js(&data, "options.data", freq)?;
                    if let Some(statics) = args::property(&options, "staticData")? {
                        panel = with_static_from_js(panel, &statics, "options.staticData")?;
                    }
                    task.history = Some(panel);
                }
            }
            Ok(AsyncTask::new(task))
        })
    }

    /// Appends new observations (`{ unique_id, ds, y, <exogenous column>… }` as columns or rows) to fitted series,
    /// synchronously: each series must continue right after its last ds at the fitted frequency. The next
    /// forecast starts after them, without a refit.
    #[napi(catch_unwind, ts_args_type = "data: unknown")]
    pub fn update(&self, env: Env, data: Unknown<'_>) -> napi::Result<()> {
        with_js_errors(&env, "NeuralForecaster.update", || {
            self.shared.ensure_idle("update")?;
            let freq = self.shared.read().fitted_frequency().ok_or(ArgError::from(EngineError::NotFitted))?;
            let rows = panel_from_js(&data, "data", Some(freq))?;
            Ok(self.shared.write().update(&rows)?)
        })
    }

    /// Forecasts the fitted series `ids` (one id or an array), synchronously: the per-bar path after `update`.
    #[napi(catch_unwind, ts_args_type = "ids: string | string[], options?: { horizon?: number, level?: number | number[], futrData?: unknown }", ts_return_type = "Record<string, unknown>")]
    pub fn forecast_series(&self, env: Env, ids: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<ForecastObject> {
        with_js_errors(&env, "NeuralForecaster.forecastSeries", || {
            self.shared.ensure_idle("forecastSeries")?;
            let ids = if ids.get_type()? == napi::ValueType::String { vec![args::string(&ids, "ids")?] } else { string_list(&ids, "ids")? };
            let (mut horizon, mut levels, mut future) = (None, Vec::new(), None);
            if let Some(options) = args::options(options.as_ref(), "options", &["horizon", "level", "futrData"])? {
                horizon = optional(&options, "horizon", |v, n| args::integer(v, n, 1, u32::MAX as usize))?;
                levels = optional(&options, "level", self::levels)?.unwrap_or_default();
                future = optional(&options, "futrData", future_from_js)?;
            }
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            Ok(ForecastObject(self.shared.read().predict_series(&ids, horizon, &levels, future.as_ref())?))
        })
    }

    /// The next `horizon` (default h) `{ unique_id, ds }` rows of every fitted series: the frame to fill with future
    /// exogenous values (NeuralForecast's `make_future_dataframe`).
    #[napi(catch_unwind, ts_return_type = "{ unique_id: { labels: string[], counts: Uint32Array }, ds: Float64Array | string[] }")]
    pub fn future_frame(&self, env: Env, horizon: Option<Unknown<'_>>) -> napi::Result<ForecastObject> {
        with_js_errors(&env, "NeuralForecaster.futureFrame", || {
            let horizon = match &horizon {
                Some(h) if h.get_type()? != napi::ValueType::Undefined => Some(args::integer(h, "horizon", 1, 1 << 20)?),
                _ => None,
            };
            Ok(ForecastObject(self.shared.read().future_frame(horizon)?))
        })
    }

    /// Forecasts one window of the last `inputSize` raw values, synchronously (the low-latency path).
    #[napi(catch_unwind, ts_args_type = "window: Float64Array | Float32Array | number[], options?: { model?: number | string }")]
    pub fn forecast_window(&self, env: Env, window: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<Float64Array> {
        with_js_errors(&env, "NeuralForecaster.forecastWindow", || {
            self.shared.ensure_idle("forecastWindow")?;
            let window = args::numbers(&window, "window")?;
            let engine = self.shared.read();
            let model = match args::options(options.as_ref(), "options", &["model"])? {
                Some(o) => optional(&o, "model", |v, n| model_index(&engine, v, n))?.unwrap_or(0),
                None => 0,
            };
            let mut out = vec![0.0; engine.window_output_len(model).unwrap_or(0)];
            engine.forecast_window(model, &window.to_f64(), &mut out)?;
            // JS-owned memory: see `IntoFloatArray` in ops.rs for why not an external buffer.
            Ok(Float64ArraySlice::copy_from(&env, &out)?.into_typed_array(&env)?)
        })
    }

    /// Forecasts many windows at once (`windows`: n × inputSize values, one window after another) off the JS
    /// thread; resolves to n × h values.
    #[napi(catch_unwind, ts_args_type = "windows: Float64Array | Float32Array | number[], options?: { model?: number | string }")]
    pub fn forecast_windows(&self, env: Env, windows: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<WindowsTask>> {
        with_js_errors(&env, "NeuralForecaster.forecastWindows", || {
            self.shared.ensure_idle("forecastWindows")?;
            let windows = args::numbers(&windows, "windows")?.to_f64().into_owned();
            let engine = self.shared.read();
            let model = match args::options(options.as_ref(), "options", &["model"])? {
                Some(o) => optional(&o, "model", |v, n| model_index(&engine, v, n))?.unwrap_or(0),
                None => 0,
            };
            Ok(AsyncTask::new(WindowsTask { shared: self.shared.clone(), model, windows }))
        })
    }

    /// Writes a safetensors checkpoint atomically (temporary file, then rename).
    #[napi(catch_unwind, ts_args_type = "path: string")]
    pub fn save(&self, env: Env, path: Unknown<'_>) -> napi::Result<AsyncTask<SaveTask>> {
        with_js_errors(&env, "NeuralForecaster.save", || {
            self.shared.ensure_idle("save")?;
            let path = PathBuf::from(args::string(&path, "path")?);
            Ok(AsyncTask::new(SaveTask { shared: self.shared.clone(), path }))
        })
    }

    /// The checkpoint as bytes (the same safetensors content `save` writes).
    #[napi(catch_unwind)]
    pub fn to_buffer(&self, env: Env) -> napi::Result<AsyncTask<ToBufferTask>> {
        with_js_errors(&env, "NeuralForecaster.toBuffer", || {
            self.shared.ensure_idle("toBuffer")?;
            Ok(AsyncTask::new(ToBufferTask { shared: self.shared.clone() }))
        })
    }

    /// Loads a forecaster from a checkpoint file written by `save`.
    #[napi(catch_unwind, ts_args_type = "path: string")]
    pub fn load(env: Env, path: Unknown<'_>) -> napi::Result<AsyncTask<LoadTask>> {
        with_js_errors(&env, "NeuralForecaster.load", || {
            let path = PathBuf::from(args::string(&path, "path")?);
            Ok(AsyncTask::new(LoadTask { source: CheckpointSource::File(path) }))
        })
    }

    /// Loads a forecaster from checkpoint bytes made by `toBuffer`.
    #[napi(catch_unwind, ts_args_type = "buffer: Uint8Array")]
    pub fn from_buffer(env: Env, buffer: Unknown<'_>) -> napi::Result<AsyncTask<LoadTask>> {
        with_js_errors(&env, "NeuralForecaster.fromBuffer", || {
            let bytes = args::bytes(&buffer, "buffer")?;
            Ok(AsyncTask::new(LoadTask { source: CheckpointSource::Bytes(bytes) }))
        })
    }
}

fn model_index(engine: &Engine, value: &Unknown<'_>, name: &str) -> ArgResult<usize> {
    let models = &engine.config().models;
    if value.get_type()? == ValueType::String {
        let alias = args::string(value, name)?;
        return models.iter().position(|m| m.alias == alias).ok_or_else(|| {
            let aliases: Vec<&str> = models.iter().map(|m| m.alias.as_str()).collect();
            ArgError::Range(format!("{name}: no model is called '{alias}'; models: {}", aliases.join(", ")))
        });
    }
    if value.get_type()? != ValueType::Number {
        return Err(ArgError::Type(format!("{name} must be a model index or alias, got {}", describe(value))));
    }
    args::integer(value, name, 0, models.len() - 1)
}

fn fit_options(options: Option<&Unknown<'_>>) -> ArgResult<FitOptions> {
    let mut fit = FitOptions::default();
    let Some(options) = args::options(options, "options", FIT_KEYS)? else { return Ok(fit) };
    let count = |v: &Unknown<'_>, n: &str| args::integer(v, n, 1, u32::MAX as usize);
    fit.max_steps = optional(&options, "maxSteps", count)?;
    fit.epochs = optional(&options, "epochs", count)?;
    if fit.max_steps.is_some() && fit.epochs.is_some() {
        return Err(ArgError::Type("options: give maxSteps or epochs, not both".into()));
    }
    fit.batch_size = optional(&options, "batchSize", count)?;
    fit.learning_rate = optional(&options, "learningRate", args::positive_number)?;
    fit.validation_size =
        optional(&options, "validationSize", |v, n| args::integer(v, n, 0, u32::MAX as usize))?.unwrap_or(0);
    fit.early_stopping = optional(&options, "earlyStopping", args::boolean)?.unwrap_or(false);
    fit.patience = optional(&options, "patience", count)?;
    fit.prediction_intervals = optional(&options, "predictionIntervals", prediction_intervals)?;
    fit.warm_start = optional(&options, "warmStart", args::boolean)?.unwrap_or(true);
    Ok(fit)
}

/// The fit's `staticData` option, if given.
fn static_data<'a>(options: Option<&Unknown<'a>>) -> ArgResult<Option<Unknown<'a>>> {
    match args::options(options, "options", FIT_KEYS)? {
        Some(options) => args::property(&options, "staticData"),
        None => Ok(None),
    }
}

/// `{ nWindows, stepSize, method }`, NeuralForecast's `PredictionIntervals` (defaults 2, 1, 'conformal_distribution').
fn prediction_intervals(value: &Unknown<'_>, name: &str) -> ArgResult<PredictionIntervals> {
    let options = args::options(Some(value), name, &["nWindows", "stepSize", "method"])?
        .ok_or_else(|| ArgError::Type(format!("{name} must be an object")))?;
    let mut intervals = PredictionIntervals::default();
    let field = |key: &str| format!("{name}.{key}");
    if let Some(v) = args::property(&options, "nWindows")? {
        intervals.n_windows = args::integer(&v, &field("nWindows"), 2, 1 << 16)?;
    }
    if let Some(v) = args::property(&options, "stepSize")? {
        intervals.step_size = args::integer(&v, &field("stepSize"), 1, u32::MAX as usize)?;
    }
    if let Some(v) = args::property(&options, "method")? {
        let text = args::string(&v, &field("method"))?;
        intervals.method = IntervalMethod::parse(&text).ok_or_else(|| {
            ArgError::Range(format!("{}: unknown method '{text}'; methods: {}", field("method"), IntervalMethod::NAMES.join(", ")))
        })?;
    }
    Ok(intervals)
}

/// An array of strings.
fn string_list(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<String>> {
    let items = args::elements(value, name, "strings")?;
    items.iter().enumerate().map(|(i, v)| args::string(v, &format!("{name}[{i}]"))).collect()
}

/// Interval levels in percent: a number or an array of numbers.
fn levels(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<f64>> {
    let levels = if value.get_type()? == napi::ValueType::Number {
        vec![args::number(value, name)?]
    } else {
        args::numbers(value, name)?.to_f64().into_owned()
    };
    if let Some(bad) = levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
        return Err(ArgError::Range(format!("{name} must hold percentages between 0 and 100 (exclusive), got {bad}")));
    }
    Ok(levels)
}

// ---- tasks --------------------------------------------------------------------------------------------------

pub struct FitTask {
    shared: Arc<Shared>,
    panel: Panel,
    options: FitOptions,
    state: Arc<FitState>,
}

/// The fit report: per model, the loss curves and steps run.
#[napi(object)]
pub struct ModelFitSummary {
    pub alias: String,
    pub steps: u32,
    pub train_loss: Vec<f64>,
    pub val_loss: Vec<f64>,
    pub stopped_early: bool,
}

#[napi(object)]
pub struct FitSummary {
    pub models: Vec<ModelFitSummary>,
    /// Wall time of the fit in milliseconds.
    pub elapsed_ms: f64,
    /// True when an AbortSignal stopped the fit; the forecaster then keeps the weights it had before.
    pub aborted: bool,
}

impl Task for FitTask {
    type Output = TaskResult<FitReport>;
    type JsValue = FitSummary;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, panel, options, state) = (&self.shared, &self.panel, &self.options, &self.state);
        Ok(guarded("fit", || {
            let mut on_step = |event: &ProgressEvent| {
                *state.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(event.clone());
                if state.abort.load(Ordering::Acquire) {
                    Control::Stop
                } else {
                    Control::Continue
                }
            };
            Ok(shared.write().fit(panel, options, &mut on_step)?)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<FitSummary> {
        let report = settle(&env, "NeuralForecaster.fit", output)?;
        Ok(FitSummary {
            models: report
                .models
                .into_iter()
                .map(|m| ModelFitSummary {
                    alias: m.alias,
                    steps: m.steps as u32,
                    train_loss: m.train_loss,
                    val_loss: m.val_loss,
                    stopped_early: m.stopped_early,
                })
                .collect(),
            elapsed_ms: report.elapsed_ms,
            aborted: report.aborted,
        })
    }

    fn finally(self, _env: Env) -> napi::Result<()> {
        self.shared.fitting.store(false, Ordering::Release);
        Ok(())
    }
}

pub struct PredictTask {
    shared: Arc<Shared>,
    history: Option<Panel>,
    horizon: Option<usize>,
    levels: Vec<f64>,
    future: Option<FutureExog>,
}

impl Task for PredictTask {
    type Output = TaskResult<Forecast>;
    type JsValue = ForecastObject;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, history, horizon, levels, future) = (&self.shared, self.history.as_ref(), self.horizon, &self.levels, self.future.as_ref());
        Ok(guarded("predict", || Ok(shared.read().predict(history, horizon, levels, future)?)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<ForecastObject> {
        settle(&env, "NeuralForecaster.predict", output).map(ForecastObject)
    }
}

pub struct WindowsTask {
    shared: Arc<Shared>,
    model: usize,
    windows: Vec<f64>,
}

impl Task for WindowsTask {
    type Output = TaskResult<Vec<f64>>;
    type JsValue = Float64Array;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, model, windows) = (&self.shared, self.model, &self.windows);
        Ok(guarded("forecastWindows", || {
            let engine = shared.read();
            let spec = &engine.config().models[model];
            let mut out = vec![0.0; windows.len() / spec.input_size() * engine.window_output_len(model).unwrap_or(0)];
            engine.forecast_windows(model, windows, &mut out)?;
            Ok(out)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Float64Array> {
        settle(&env, "NeuralForecaster.forecastWindows", output).map(Float64Array::new)
    }
}

/// A forecast as `{ unique_id: { labels, counts }, ds, <alias>: Float64Array, … }`, packed for main.js to unpack: the
/// ids as one label per run of equal ids (a series' rows) with the run lengths, and integer steps as a Float64Array.
/// Setting 120,000 array elements one napi call at a time costs more than the forecast of 10,000 series on a thread;
/// JavaScript builds the same arrays from the packed form in a millisecond.
pub struct ForecastObject(Forecast);

impl TypeName for ForecastObject {
    fn type_name() -> &'static str {
        "Forecast"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for ForecastObject {
    unsafe fn to_napi_value(raw_env: napi::sys::napi_env, value: Self) -> napi::Result<napi::sys::napi_value> {
        let env = Env::from_raw(raw_env);
        let forecast = value.0;
        // Typed arrays in JS-owned memory, as forecastWindow's: an external buffer waits for a finalizer on the
        // event loop, so a synchronous loop of forecasts would hold every result until it yields.
        let floats = |values: &[f64]| Float64ArraySlice::copy_from(&env, values)?.into_typed_array(&env);
        let mut object = Object::new(&env)?;
        object.set("unique_id", packed_ids(&env, &forecast.unique_id)?)?;
        if forecast.ds.iter().all(|d| d.is_int()) {
            object.set("ds", floats(&forecast.ds.iter().map(|d| d.to_epoch_millis()).collect::<Vec<_>>())?)?;
        } else {
            object.set("ds", format_ds_column(&forecast.ds))?;
        }
        for (alias, values) in forecast.columns {
            object.set(alias, floats(&values)?)?;
        }
        Ok(object.raw())
    }
}

/// A forecast's row ids as `{ labels, counts }`: one label per run of equal ids and the run's length.
fn packed_ids<'e>(env: &'e Env, ids: &[String]) -> napi::Result<Object<'e>> {
    let mut labels: Vec<&str> = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    for id in ids {
        match (labels.last(), counts.last_mut()) {
            (Some(&last), Some(count)) if last == id => *count += 1,
            _ => {
                labels.push(id);
                counts.push(1);
            }
        }
    }
    let mut packed = Object::new(env)?;
    packed.set("labels", labels)?;
    packed.set("counts", Uint32ArraySlice::copy_from(env, &counts)?.into_typed_array(env)?)?;
    Ok(packed)
}

pub struct SaveTask {
    shared: Arc<Shared>,
    path: PathBuf,
}

impl Task for SaveTask {
    type Output = TaskResult<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, path) = (&self.shared, &self.path);
        Ok(guarded("save", || Ok(shared.read().save(path)?)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<()> {
        settle(&env, "NeuralForecaster.save", output)
    }
}

pub struct ToBufferTask {
    shared: Arc<Shared>,
}

impl Task for ToBufferTask {
    type Output = TaskResult<Vec<u8>>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let shared = &self.shared;
        Ok(guarded("toBuffer", || Ok(shared.read().to_bytes()?)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Buffer> {
        settle(&env, "NeuralForecaster.toBuffer", output).map(Buffer::from)
    }
}

enum CheckpointSource {
    File(PathBuf),
    Bytes(Vec<u8>),
}

pub struct LoadTask {
    source: CheckpointSource,
}

impl Task for LoadTask {
    type Output = TaskResult<Engine>;
    type JsValue = NativeForecaster;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let source = &self.source;
        Ok(guarded("load", || {
            Ok(match source {
                CheckpointSource::File(path) => Engine::load(path)?,
                CheckpointSource::Bytes(bytes) => Engine::from_bytes(bytes)?,
            })
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<NativeForecaster> {
        let function = match self.source {
            CheckpointSource::File(_) => "NeuralForecaster.load",
            CheckpointSource::Bytes(_) => "NeuralForecaster.fromBuffer",
        };
        Ok(NativeForecaster { shared: Shared::new(settle(&env, function, output)?) })
    }
}

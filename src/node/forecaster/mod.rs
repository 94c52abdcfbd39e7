//! `NeuralForecaster`: the engine behind a JS class. Heavy calls (fit, predict, predictInsample, crossValidation,
//! save, load, toBuffer, fromBuffer) run as async tasks on libuv's thread pool and return Promises; `forecastWindow` is the
//! synchronous low-latency path. One engine serves one call at a time: a call made while `fit` runs is rejected
//! with a clear error instead of waiting behind it. The options are read in `options`, the tasks live in `tasks`,
//! and their results become JS objects in `frames`.

mod frames;
mod options;
mod tasks;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use napi::bindgen_prelude::{AsyncTask, Float64Array, Float64ArraySlice, Object, Unknown};
use napi::Env;
use napi_derive::napi;

use super::args::{self, with_js_errors, ArgError, ArgResult};
use super::data::{future_from_js, panel_from_js, with_static_from_js};
use super::guard::{guarded, Guarded};
use crate::data::Panel;
use crate::engine::{Engine, EngineError, ErrorKind, Forecast};
use frames::Frame;
use options::{engine_config, fit_options, levels, model_index, optional, save_options, static_data, string_list, CROSS_VALIDATION_KEYS};
use tasks::{CheckpointSource, CrossValidationTask, FitControl, FitTask, ImportancesTask, InsampleTask, LoadTask, PredictTask, SaveTask, ToBufferTask, WindowsTask};

impl From<EngineError> for ArgError {
    fn from(e: EngineError) -> Self {
        match e.kind() {
            ErrorKind::Type => ArgError::Type(e.to_string()),
            ErrorKind::Range => ArgError::Range(e.to_string()),
            ErrorKind::Other => ArgError::Napi(napi::Error::from_reason(e.to_string())),
        }
    }
}


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

    /// Marks a fit as running, unless one already is (user code run while the fit's arguments were read may have
    /// started one).
    fn claim_fit(&self) -> ArgResult<()> {
        match self.fitting.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(()),
            Err(_) => self.ensure_idle("fit"),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Engine> {
        self.engine.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Engine> {
        self.engine.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A task's failure, kept until `reject` runs on the JS thread where the typed JS error can be created.
type TaskResult<T> = Result<T, ArgError>;

fn settle<T>(env: &Env, function: &str, outcome: TaskResult<T>) -> napi::Result<T> {
    outcome.map_err(|e| e.context(function).into_napi(env))
}

/// What `memoryStats()` returns: bytes of reusable buffers held between calls. With `memoryPool: false` every
/// call frees them before it returns. Training buffers are never kept past a fit, so they are not here.
#[napi(object)]
pub struct MemoryStats {
    /// The forecaster's own forecast buffers: each model's input batches and network activations, one set per
    /// thread of a batch forecast (only the calling thread's set under `lowMemory`).
    pub scratch_bytes: f64,
    /// The packed weights (of layers under 128 inputs) that the threads of the forecaster's thread pool keep for
    /// reuse. Forecasters with the same `numThreads` and `simdEnabled` share one pool, so these bytes are shared
    /// with them. A forecast run on the calling thread (forecastWindow, a predict of up to 16 windows) keeps such
    /// a buffer on that thread, which is not counted here (other forecasters use it too) but is freed at the end
    /// of the call under `memoryPool: false`.
    pub thread_bytes: f64,
    /// `scratchBytes + threadBytes`.
    pub total_bytes: f64,
}

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
    ) -> napi::Result<AsyncTask<Guarded<FitTask>>> {
        with_js_errors(&env, "NeuralForecaster.fit", || {
            self.shared.ensure_idle("fit")?;
            let panel = self.panel_of(&data, "data", static_data(options.as_ref())?)?;
            let options = fit_options(options.as_ref())?;
            self.shared.claim_fit()?;
            Ok(guarded("NeuralForecaster.fit", FitTask {
                shared: self.shared.clone(),
                panel,
                options,
                state: control.state.clone(),
            }))
        })
    }

    /// Forecasts every series: after the fitted data, or from `options.data` (new history, no refit).
    #[napi(catch_unwind)]
    pub fn predict(&self, env: Env, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<PredictTask>>> {
        with_js_errors(&env, "NeuralForecaster.predict", || {
            self.shared.ensure_idle("predict")?;
            let options = args::options(options.as_ref(), "options", &["horizon", "data", "staticData", "futrData", "level", "quantiles"])?;
            let mut task =
                PredictTask { shared: self.shared.clone(), history: None, horizon: None, levels: Vec::new(), quantiles: Vec::new(), future: None };
            if let Some(options) = options {
                task.horizon = optional(&options, "horizon", |v, n| args::integer(v, n, 1, u32::MAX as usize))?;
                task.levels = optional(&options, "level", levels)?.unwrap_or_default();
                task.quantiles = optional(&options, "quantiles", options::quantiles)?.unwrap_or_default();
                task.future = optional(&options, "futrData", future_from_js)?;
                if let Some(data) = args::property(&options, "data")? {
                    task.history = Some(self.panel_of(&data, "options.data", args::property(&options, "staticData")?)?);
                }
            }
            Ok(guarded("NeuralForecaster.predict", task))
        })
    }

    /// Forecasts the fitted data window after window, `options.stepSize` [1] points apart (NeuralForecast's
    /// `predict_insample`); resolves with `{ unique_id, ds, cutoff, y, <model column>… }`.
    #[napi(catch_unwind, ts_args_type = "options?: { stepSize?: number }", ts_return_type = "Promise<Record<string, unknown>>")]
    pub fn predict_insample(&self, env: Env, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<InsampleTask>>> {
        with_js_errors(&env, "NeuralForecaster.predictInsample", || {
            self.shared.ensure_idle("predictInsample")?;
            let options = args::options(options.as_ref(), "options", &["stepSize"])?;
            let step_size = match &options {
                Some(o) => optional(o, "stepSize", |v, n| args::integer(v, n, 1, u32::MAX as usize))?.unwrap_or(1),
                None => 1,
            };
            Ok(guarded("NeuralForecaster.predictInsample", InsampleTask { shared: self.shared.clone(), step_size }))
        })
    }

    /// A TFT's interpretability outputs over the fitted series' last windows (NeuralForecast's
    /// `feature_importances` and `attention_weights`): resolves with `{ model, static, past, future, attention }`.
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { model?: string, futrData?: unknown }",
        ts_return_type = "Promise<{ model: string, static: Record<string, number>, past: Record<string, number>, future: Record<string, number>, attention: number[][] }>"
    )]
    pub fn feature_importances(&self, env: Env, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<ImportancesTask>>> {
        with_js_errors(&env, "NeuralForecaster.featureImportances", || {
            self.shared.ensure_idle("featureImportances")?;
            let mut task = ImportancesTask { shared: self.shared.clone(), model: None, future: None };
            if let Some(options) = args::options(options.as_ref(), "options", &["model", "futrData"])? {
                task.model = optional(&options, "model", |v, n| args::string(v, n))?;
                task.future = optional(&options, "futrData", future_from_js)?;
            }
            Ok(guarded("NeuralForecaster.featureImportances", task))
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
            // Reading data may have run user code that started a fit.
            self.shared.ensure_idle("update")?;
            Ok(self.shared.write().update(&rows)?)
        })
    }

    /// Forecasts the fitted series `ids` (one id or an array), synchronously: the per-bar path after `update`.
    #[napi(catch_unwind, ts_args_type = "ids: string | string[], options?: { horizon?: number, level?: number | number[], futrData?: unknown }", ts_return_type = "Record<string, unknown>")]
    pub fn forecast_series(&self, env: Env, ids: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<Frame<Forecast>> {
        with_js_errors(&env, "NeuralForecaster.forecastSeries", || {
            self.shared.ensure_idle("forecastSeries")?;
            let ids = if ids.get_type()? == napi::ValueType::String { vec![args::string(&ids, "ids")?] } else { string_list(&ids, "ids")? };
            let (mut horizon, mut levels, mut future) = (None, Vec::new(), None);
            if let Some(options) = args::options(options.as_ref(), "options", &["horizon", "level", "futrData"])? {
                horizon = optional(&options, "horizon", |v, n| args::integer(v, n, 1, u32::MAX as usize))?;
                levels = optional(&options, "level", options::levels)?.unwrap_or_default();
                future = optional(&options, "futrData", future_from_js)?;
            }
            self.shared.ensure_idle("forecastSeries")?;
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            Ok(Frame(self.shared.read().predict_series(&ids, horizon, &levels, future.as_ref())?))
        })
    }

    /// The next `horizon` (default h) `{ unique_id, ds }` rows of every fitted series: the frame to fill with future
    /// exogenous values (NeuralForecast's `make_future_dataframe`).
    #[napi(catch_unwind, ts_return_type = "{ unique_id: { labels: string[], counts: Uint32Array }, ds: Float64Array | string[] }")]
    pub fn future_frame(&self, env: Env, horizon: Option<Unknown<'_>>) -> napi::Result<Frame<Forecast>> {
        with_js_errors(&env, "NeuralForecaster.futureFrame", || {
            let horizon = match &horizon {
                Some(h) if h.get_type()? != napi::ValueType::Undefined => Some(args::integer(h, "horizon", 1, 1 << 20)?),
                _ => None,
            };
            Ok(Frame(self.shared.read().future_frame(horizon)?))
        })
    }

    /// Bytes of reusable buffers the forecaster holds between calls (see `MemoryStats` in main.d.ts).
    #[napi(catch_unwind)]
    pub fn memory_stats(&self, env: Env) -> napi::Result<MemoryStats> {
        with_js_errors(&env, "NeuralForecaster.memoryStats", || {
            self.shared.ensure_idle("read memoryStats")?;
            let stats = self.shared.read().memory_stats();
            Ok(MemoryStats {
                scratch_bytes: stats.scratch_bytes as f64,
                thread_bytes: stats.thread_bytes as f64,
                total_bytes: stats.total_bytes() as f64,
            })
        })
    }

    /// The search of an Auto model at the last fit (`model`: its index or alias): `{ rows, bestConfig, stopped,
    /// skipped }`, each row `{ trial, config, validLoss, steps, seconds, pruned, stoppedByBudget, error? }`; `null`
    /// before its first fit.
    #[napi(catch_unwind, ts_args_type = "model: number | string", ts_return_type = "Record<string, unknown> | null")]
    pub fn search_results(&self, env: Env, model: Unknown<'_>) -> napi::Result<serde_json::Value> {
        with_js_errors(&env, "NeuralForecaster.searchResults", || {
            self.shared.ensure_idle("read search results")?;
            let engine = self.shared.read();
            let index = model_index(&engine, &model, "model")?;
            let spec = &engine.config().models[index];
            if spec.search.is_none() {
                return Err(ArgError::Range(format!("model '{}' is not an Auto model: it has no search", spec.alias)));
            }
            Ok(engine.search_report(index).map_or(serde_json::Value::Null, search_json))
        })
    }

    /// Forecasts one window of the last `inputSize` raw values, synchronously (the low-latency path).
    #[napi(catch_unwind, ts_args_type = "window: Float64Array | Float32Array | number[], options?: { model?: number | string }")]
    pub fn forecast_window(&self, env: Env, window: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<Float64Array> {
        with_js_errors(&env, "NeuralForecaster.forecastWindow", || {
            self.shared.ensure_idle("forecastWindow")?;
            let window = args::f64s(&window, "window")?;
            let model = model_option(options.as_ref())?;
            self.shared.ensure_idle("forecastWindow")?;
            let engine = self.shared.read();
            let model = model.map_or(Ok(0), |m| model_index(&engine, &m, "options.model"))?;
            let mut out = vec![0.0; engine.window_output_len(model).unwrap_or(0)];
            engine.forecast_window(model, &window, &mut out)?;
            // JS-owned memory: see `IntoFloatArray` in ops.rs for why not an external buffer.
            Ok(Float64ArraySlice::copy_from(&env, &out)?.into_typed_array(&env)?)
        })
    }

    /// Forecasts many windows at once (`windows`: n × inputSize values, one window after another) off the JS
    /// thread; resolves to n × h values.
    #[napi(catch_unwind, ts_args_type = "windows: Float64Array | Float32Array | number[], options?: { model?: number | string }")]
    pub fn forecast_windows(&self, env: Env, windows: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<WindowsTask>>> {
        with_js_errors(&env, "NeuralForecaster.forecastWindows", || {
            self.shared.ensure_idle("forecastWindows")?;
            let windows = args::f64s(&windows, "windows")?;
            let model = model_option(options.as_ref())?;
            let model = model.map_or(Ok(0), |m| model_index(&self.shared.read(), &m, "options.model"))?;
            Ok(guarded("NeuralForecaster.forecastWindows", WindowsTask { shared: self.shared.clone(), model, windows }))
        })
    }

    /// Cross-validates copies of this forecaster (at its current weights; the forecaster is left as it is) on the
    /// last windows of every series of `data` (NeuralForecast's `cross_validation`); resolves with the forecasts
    /// beside the actual values, or null when `control` stopped a fit.
    #[napi(catch_unwind, ts_return_type = "Promise<Record<string, unknown> | null>")]
    pub fn cross_validation(&self, env: Env, data: Unknown<'_>, options: Option<Unknown<'_>>, control: &FitControl) -> napi::Result<AsyncTask<Guarded<CrossValidationTask>>> {
        with_js_errors(&env, "crossValidation", || {
            self.shared.ensure_idle("crossValidation")?;
            let options = args::options(options.as_ref(), "options", CROSS_VALIDATION_KEYS)?;
            let cv = options::cross_validation(options.as_ref())?;
            let property = |key: &str| options.as_ref().map(|o| args::property(o, key)).transpose().map(Option::flatten);
            let panel = self.panel_of(&data, "data", property("staticData")?)?;
            let fit_options = property("fitOptions")?;
            let fits = cv.fit_windows().into_iter().enumerate();
            let fit_options = fits.map(|(fit, window)| options::cross_validation_fit(fit_options.as_ref(), fit, window)).collect::<ArgResult<_>>()?;
            Ok(guarded("crossValidation", CrossValidationTask { shared: self.shared.clone(), panel, cv, fit_options, state: control.state.clone() }))
        })
    }

    /// Writes a safetensors checkpoint atomically (temporary file, then rename), or with
    /// `{ format: 'neuralforecast' }` NeuralForecast's model directory (temporary directory, then rename).
    #[napi(catch_unwind, ts_args_type = "path: string, options?: { format?: 'neuro-divergent' | 'neuralforecast'; overwrite?: boolean }")]
    pub fn save(&self, env: Env, path: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<SaveTask>>> {
        with_js_errors(&env, "NeuralForecaster.save", || {
            self.shared.ensure_idle("save")?;
            let path = PathBuf::from(args::string(&path, "path")?);
            let (format, overwrite) = save_options(options.as_ref())?;
            Ok(guarded("NeuralForecaster.save", SaveTask { shared: self.shared.clone(), path, format, overwrite }))
        })
    }

    /// The checkpoint as bytes (the same safetensors content `save` writes).
    #[napi(catch_unwind)]
    pub fn to_buffer(&self, env: Env) -> napi::Result<AsyncTask<Guarded<ToBufferTask>>> {
        with_js_errors(&env, "NeuralForecaster.toBuffer", || {
            self.shared.ensure_idle("toBuffer")?;
            Ok(guarded("NeuralForecaster.toBuffer", ToBufferTask { shared: self.shared.clone() }))
        })
    }

    /// Loads a forecaster from a checkpoint file written by `save`, or from a directory NeuralForecast saved;
    /// `options.numThreads` replaces the saved thread count.
    #[napi(catch_unwind, ts_args_type = "path: string, options?: { numThreads?: number }")]
    pub fn load(env: Env, path: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<LoadTask>>> {
        with_js_errors(&env, "NeuralForecaster.load", || {
            let path = PathBuf::from(args::string(&path, "path")?);
            let num_threads = load_threads_option(options.as_ref())?;
            Ok(guarded("NeuralForecaster.load", LoadTask { source: CheckpointSource::File(path), num_threads }))
        })
    }

    /// Loads a forecaster from checkpoint bytes made by `toBuffer`; `options.numThreads` replaces the saved
    /// thread count.
    #[napi(catch_unwind, ts_args_type = "buffer: Uint8Array, options?: { numThreads?: number }")]
    pub fn from_buffer(env: Env, buffer: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<AsyncTask<Guarded<LoadTask>>> {
        with_js_errors(&env, "NeuralForecaster.fromBuffer", || {
            let bytes = args::bytes(&buffer, "buffer")?;
            let num_threads = load_threads_option(options.as_ref())?;
            Ok(guarded("NeuralForecaster.fromBuffer", LoadTask { source: CheckpointSource::Bytes(bytes), num_threads }))
        })
    }
}

/// `options.numThreads` of `load` / `fromBuffer` (0: all cores).
fn load_threads_option(options: Option<&Unknown<'_>>) -> ArgResult<Option<usize>> {
    let Some(options) = args::options(options, "options", &["numThreads"])? else { return Ok(None) };
    args::property(&options, "numThreads")?
        .map(|v| args::integer(&v, "options.numThreads", 1, crate::engine::MAX_THREADS))
        .transpose()
}

/// The `model` of a window call's options (`{ model }`), read before the engine is locked: reading runs user code,
/// which may call back into the forecaster.
fn model_option<'a>(options: Option<&Unknown<'a>>) -> ArgResult<Option<Unknown<'a>>> {
    args::options(options, "options", &["model"])?.map_or(Ok(None), |o: Object<'a>| args::property(&o, "model"))
}

impl NativeForecaster {
    /// `data` (named `name` in messages) as a panel at the forecaster's frequency, with the `staticData` option added.
    fn panel_of(&self, data: &Unknown<'_>, name: &str, statics: Option<Unknown<'_>>) -> ArgResult<Panel> {
        let freq = self.shared.read().config().freq;
        let panel = panel_from_js(data, name, freq)?;
        match statics {
            Some(statics) => with_static_from_js(panel, &statics, "options.staticData"),
            None => Ok(panel),
        }
    }
}

/// A search's report as JS reads it (camelCase keys; a failed trial's loss is `null`).
fn search_json(report: &crate::engine::SearchReport) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = report
        .rows
        .iter()
        .map(|row| {
            let mut o = serde_json::json!({
                "trial": row.trial,
                "config": row.config,
                "validLoss": row.valid_loss,
                "steps": row.steps,
                "seconds": row.seconds,
                "pruned": row.pruned,
                "stoppedByBudget": row.stopped_by_budget,
            });
            if let Some(error) = &row.error {
                o["error"] = error.clone().into();
            }
            o
        })
        .collect();
    serde_json::json!({
        "rows": rows,
        "bestConfig": report.best_row().map(|row| row.config.clone()),
        "stopped": report.stopped,
        "skipped": report.skipped,
    })
}

//! The async tasks behind `NeuralForecaster`'s Promises (fit, predict, predictInsample, featureImportances, forecastWindows,
//! crossValidation, save (our checkpoint or NeuralForecast's directory), toBuffer, load), run on libuv's thread pool, and `FitControl`, through which JS follows and stops a running fit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Buffer, Float64Array};
use napi::{Env, Task};
use napi_derive::napi;

use super::frames::Frame;
use super::{settle, NativeForecaster, Shared, TaskResult};
use super::super::args::ArgError;
use crate::data::Panel;
use crate::engine::{
    Control, CrossValidation, CrossValidationResult, CrossValidationStep, Engine, EngineError, FeatureImportances, FitOptions, FitReport,
    Forecast, FutureExog, ProgressEvent,
};

/// Progress and cancellation of one fit (or cross-validation), shared between the JS thread and the worker running it.
#[derive(Default)]
pub(super) struct FitState {
    abort: AtomicBool,
    latest: Mutex<Option<Step>>,
}

/// A training step, with the cross-validation fit and window it belongs to (0 and 0 in a plain fit).
struct Step {
    fit: usize,
    window: usize,
    event: ProgressEvent,
}

impl FitState {
    /// Keeps `event` (of fit `fit`, for window `window`) as the latest step and says whether to go on.
    fn record(&self, fit: usize, window: usize, event: &ProgressEvent) -> Control {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(Step { fit, window, event: event.clone() });
        if self.abort.load(Ordering::Acquire) {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    /// `read` of the latest step, `None` before the first.
    fn latest<T>(&self, read: impl FnOnce(&Step) -> T) -> Option<T> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(read)
    }
}

/// Handle of a running fit: the JS wrapper polls `progress()` for `onProgress` and calls `abort()` when its
/// AbortSignal fires.
#[napi]
pub struct FitControl {
    pub(super) state: Arc<FitState>,
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

impl FitProgress {
    fn of(event: &ProgressEvent) -> FitProgress {
        FitProgress {
            model: event.model as u32,
            alias: event.alias.to_string(),
            step: event.step as u32,
            max_steps: event.max_steps as u32,
            train_loss: event.train_loss,
            val_loss: event.val_loss,
        }
    }
}

/// One training step of a cross-validation.
#[napi(object)]
pub struct CrossValidationProgress {
    /// Index of the fit (0 for the first; one fit in all without refit).
    pub fit: u32,
    /// The window whose history the fit trains on.
    pub window: u32,
    pub progress: FitProgress,
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
        self.state.latest(|step| FitProgress::of(&step.event))
    }

    /// The latest progress of a cross-validation with its fit and window, or null before the first step.
    #[napi]
    pub fn cross_validation_progress(&self) -> Option<CrossValidationProgress> {
        self.state.latest(|step| CrossValidationProgress {
            fit: step.fit as u32,
            window: step.window as u32,
            progress: FitProgress::of(&step.event),
        })
    }
}

impl Default for FitControl {
    fn default() -> Self {
        Self::new()
    }
}

pub struct FitTask {
    pub(super) shared: Arc<Shared>,
    pub(super) panel: Panel,
    pub(super) options: FitOptions,
    pub(super) state: Arc<FitState>,
}

/// The fit report: per model, the loss curves and steps run.
#[napi(object)]
pub struct ModelFitSummary {
    pub alias: String,
    pub steps: u32,
    pub train_loss: Vec<f64>,
    pub val_loss: Vec<f64>,
    pub stopped_early: bool,
    /// Trainable parameters (Lightning's model summary count); 0 for Prophet.
    pub parameters: f64,
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
        let mut on_step = |event: &ProgressEvent| state.record(0, 0, event);
        Ok(shared.write().fit(panel, options, &mut on_step).map_err(ArgError::from))
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
                    parameters: m.parameters as f64,
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
    pub(super) shared: Arc<Shared>,
    pub(super) history: Option<Panel>,
    pub(super) horizon: Option<usize>,
    pub(super) levels: Vec<f64>,
    /// IQLoss models' quantiles.
    pub(super) quantiles: Vec<f64>,
    pub(super) future: Option<FutureExog>,
}

impl Task for PredictTask {
    type Output = TaskResult<Forecast>;
    type JsValue = Frame<Forecast>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, history, horizon, future) = (&self.shared, self.history.as_ref(), self.horizon, self.future.as_ref());
        Ok(shared.read().predict_quantiles(history, horizon, &self.levels, &self.quantiles, future).map_err(ArgError::from))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Frame<Forecast>> {
        settle(&env, "NeuralForecaster.predict", output).map(Frame)
    }
}

pub struct InsampleTask {
    pub(super) shared: Arc<Shared>,
    pub(super) step_size: usize,
}

impl Task for InsampleTask {
    type Output = TaskResult<CrossValidationResult>;
    type JsValue = Frame<CrossValidationResult>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, step_size) = (&self.shared, self.step_size);
        Ok(shared.read().predict_insample(step_size).map_err(ArgError::from))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Frame<CrossValidationResult>> {
        settle(&env, "NeuralForecaster.predictInsample", output).map(Frame)
    }
}

pub struct ImportancesTask {
    pub(super) shared: Arc<Shared>,
    pub(super) model: Option<String>,
    pub(super) future: Option<FutureExog>,
}

impl Task for ImportancesTask {
    type Output = TaskResult<FeatureImportances>;
    type JsValue = Frame<FeatureImportances>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let engine = self.shared.read();
        Ok(engine.feature_importances(self.model.as_deref(), self.future.as_ref()).map_err(ArgError::from))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Frame<FeatureImportances>> {
        settle(&env, "NeuralForecaster.featureImportances", output).map(Frame)
    }
}

pub struct WindowsTask {
    pub(super) shared: Arc<Shared>,
    pub(super) model: usize,
    pub(super) windows: Vec<f64>,
}

impl Task for WindowsTask {
    type Output = TaskResult<Vec<f64>>;
    type JsValue = Float64Array;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, model, windows) = (&self.shared, self.model, &self.windows);
        let engine = shared.read();
        let window_len = engine.window_input_len(model).unwrap_or(1).max(1);
        let mut out = vec![0.0; windows.len() / window_len * engine.window_output_len(model).unwrap_or(0)];
        Ok(engine.forecast_windows(model, windows, &mut out).map(|()| out).map_err(ArgError::from))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Float64Array> {
        settle(&env, "NeuralForecaster.forecastWindows", output).map(Float64Array::new)
    }
}

/// What `save` writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SaveFormat {
    /// Our safetensors checkpoint file.
    Checkpoint,
    /// NeuralForecast's model directory.
    NeuralForecast,
}

pub struct SaveTask {
    pub(super) shared: Arc<Shared>,
    pub(super) path: PathBuf,
    pub(super) format: SaveFormat,
    /// Replace an existing file or directory.
    pub(super) overwrite: bool,
}

impl Task for SaveTask {
    type Output = TaskResult<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, path, overwrite) = (&self.shared, &self.path, self.overwrite);
        let saved = match self.format {
            SaveFormat::NeuralForecast => shared.read().save_neuralforecast(path, overwrite),
            SaveFormat::Checkpoint if !overwrite && path.exists() => {
                Err(EngineError::Range(format!("{} already exists; pass overwrite: true to replace it", path.display())))
            }
            SaveFormat::Checkpoint => shared.read().save(path),
        };
        Ok(saved.map_err(ArgError::from))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<()> {
        settle(&env, "NeuralForecaster.save", output)
    }
}

pub struct ToBufferTask {
    pub(super) shared: Arc<Shared>,
}

impl Task for ToBufferTask {
    type Output = TaskResult<Vec<u8>>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let shared = &self.shared;
        Ok(shared.read().to_bytes().map_err(ArgError::from))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Buffer> {
        settle(&env, "NeuralForecaster.toBuffer", output).map(Buffer::from)
    }
}

pub(super) enum CheckpointSource {
    File(PathBuf),
    Bytes(Vec<u8>),
}

pub struct LoadTask {
    pub(super) source: CheckpointSource,
    /// `options.numThreads` of the call: replaces the checkpoint's thread count.
    pub(super) num_threads: Option<usize>,
}

impl Task for LoadTask {
    type Output = TaskResult<Engine>;
    type JsValue = NativeForecaster;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let source = &self.source;
        Ok(match source {
            // A directory can only be NeuralForecast's (its reader names what is missing).
            CheckpointSource::File(path) if path.is_dir() => Engine::load_neuralforecast(path),
            CheckpointSource::File(path) => Engine::load(path),
            CheckpointSource::Bytes(bytes) => Engine::from_bytes(bytes),
        }
        .and_then(|mut engine| {
            if let Some(num_threads) = self.num_threads {
                engine.set_num_threads(num_threads)?;
            }
            Ok(engine)
        })
        .map_err(ArgError::from))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<NativeForecaster> {
        let function = match self.source {
            CheckpointSource::File(_) => "NeuralForecaster.load",
            CheckpointSource::Bytes(_) => "NeuralForecaster.fromBuffer",
        };
        Ok(NativeForecaster { shared: Shared::new(settle(&env, function, output)?) })
    }
}

pub struct CrossValidationTask {
    pub(super) shared: Arc<Shared>,
    pub(super) panel: Panel,
    pub(super) cv: CrossValidation,
    /// One per fit of the cross-validation.
    pub(super) fit_options: Vec<FitOptions>,
    pub(super) state: Arc<FitState>,
}

impl Task for CrossValidationTask {
    type Output = TaskResult<CrossValidationResult>;
    /// null when the AbortSignal stopped a fit.
    type JsValue = Option<Frame<CrossValidationResult>>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (shared, panel, cv, fit_options, state) = (&self.shared, &self.panel, &self.cv, &self.fit_options, &self.state);
        let mut on_step = |step: &CrossValidationStep<'_>| state.record(step.fit, step.window, step.event);
        Ok(shared.read().cross_validation(panel, cv, fit_options, &mut on_step).map_err(|error| match error {
            EngineError::InWindow { window, n_windows, error } => {
                ArgError::from(*error).context(&format!("crossValidation window {} of {n_windows}", window + 1))
            }
            error => ArgError::from(error).context("crossValidation"),
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Option<Frame<CrossValidationResult>>> {
        let result = output.map_err(|e| e.into_napi(&env))?;
        Ok((!result.aborted).then_some(Frame(result)))
    }
}

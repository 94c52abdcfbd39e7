//! A neural model's specification ([`NeuralSpec`]): its architecture and the training options every neural model
//! shares, read from and written back to its options object.

use serde_json::{Map, Value};

use super::kinds::{Architecture, ModelKind};
use super::loss::{loss_options, parse_loss};
use super::ScalerType;
use crate::engine::error::EngineError;
use crate::models::model::{InputSizeDefault, ModelShape, TrainingDefaults};
use crate::models::options::{describe, OptionError, MAX_SIZE};
use crate::models::{ExogSizes, ModelOptions};
use crate::nn::loss::Loss;

/// Names of a model's exogenous columns (NeuralForecast's `futr_exog_list`, `hist_exog_list`, `stat_exog_list`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExogLists {
    pub futr: Vec<String>,
    pub hist: Vec<String>,
    pub stat: Vec<String>,
}

impl ExogLists {
    pub fn sizes(&self) -> ExogSizes {
        ExogSizes { futr: self.futr.len(), hist: self.hist.len(), stat: self.stat.len() }
    }
}

/// A neural model: its architecture and the training options every neural model shares, NeuralForecast defaults
/// filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralSpec {
    pub architecture: Architecture,
    pub scaler_type: ScalerType,
    pub loss: Loss,
    /// The validation loss (NeuralForecast's `valid_loss`; None: the training loss).
    pub valid_loss: Option<Loss>,
    pub learning_rate: f64,
    pub max_steps: usize,
    /// Series per training step (NeuralForecast's `batch_size`).
    pub batch_size: usize,
    /// Windows per training step, drawn among the step's series' windows (`windows_batch_size`).
    pub windows_batch_size: usize,
    /// Series per validation batch (`valid_batch_size`; its default is `batch_size`).
    pub valid_batch_size: usize,
    /// Windows per forward pass at prediction and validation (`inference_windows_batch_size`; None: all, its -1).
    pub inference_windows_batch_size: Option<usize>,
    /// Distance between consecutive training windows of a series (`step_size`).
    pub step_size: usize,
    /// Pads `inputSize - 1` zeros before each series so its first points are targets too (`start_padding_enabled`).
    pub start_padding_enabled: bool,
    /// Times the learning rate is halved over `max_steps` (0: constant, NeuralForecast's -1).
    pub num_lr_decays: usize,
    /// Validation checks without improvement before stopping (None: off).
    pub early_stop_patience_steps: Option<usize>,
    pub val_check_steps: usize,
    pub exog: ExogLists,
}

/// The training options every neural model reads.
pub(super) const NEURAL_KEYS: &[&str] = &[
    "inputSize",
    "scalerType",
    "loss",
    "validLoss",
    "learningRate",
    "maxSteps",
    "batchSize",
    "windowsBatchSize",
    "validBatchSize",
    "inferenceWindowsBatchSize",
    "stepSize",
    "startPaddingEnabled",
    "numLrDecays",
    "earlyStopPatienceSteps",
    "valCheckSteps",
    "futrExogList",
    "histExogList",
    "statExogList",
];

/// The training options and architecture of a neural model of `kind`.
pub(super) fn neural_spec(kind: ModelKind, defaults: TrainingDefaults, o: &ModelOptions<'_>, h: usize, random_seed: u64) -> Result<NeuralSpec, EngineError> {
    let input_size = match (o.size("inputSize")?, defaults.input_size) {
        (Some(size), _) => size,
        (None, InputSizeDefault::TimesHorizon(k)) => (k * h).min(MAX_SIZE),
        (None, InputSizeDefault::Required) => {
            return Err(EngineError::Type(format!("{} is missing: {} has no default input size", o.field("inputSize"), kind.name())))
        }
    } + usize::from(kind.recurrent());
    let loss = match o.get("loss") {
        Some(value) => parse_loss(value, &o.field("loss"))?,
        None => kind.default_loss().map_err(|e| EngineError::Range(format!("{}: {e}", o.field("loss"))))?,
    };
    let valid_loss = o.get("validLoss").map(|value| parse_loss(value, &o.field("validLoss"))).transpose()?;
    if let Some(valid) = &valid_loss {
        check_valid_loss(&loss, valid, &o.field("validLoss"))?;
    }
    loss.check_input_size(input_size).map_err(|e| EngineError::Range(format!("{}: {e}", o.field("loss"))))?;
    let exog = ExogLists { futr: exog_list(o, "futrExogList")?, hist: exog_list(o, "histExogList")?, stat: exog_list(o, "statExogList")? };
    let shape = ModelShape { h, input_size, outputs_per_point: loss.outputs_per_point(), exog: exog.sizes(), random_seed };
    let scaler_type = match o.choice("scalerType", ScalerType::NAMES)? {
        Some(name) => ScalerType::parse(name)?,
        None => ScalerType::parse(defaults.scaler_type)?,
    };
    let batch_size = o.size("batchSize")?.unwrap_or(defaults.batch_size);
    let mut loss = loss;
    let mut architecture = kind.architecture(shape, o)?;
    architecture.adopt_loss(&mut loss).map_err(|e| EngineError::Range(format!("{}: {e}", o.path())))?;
    if architecture.n_series().is_some() {
        // NeuralForecast normalises a multivariate TukeyLoss by the deviation across the series at each step,
        // which a batch's loss (one series per row) does not see.
        for (key, l) in [("loss", Some(&loss)), ("validLoss", valid_loss.as_ref())] {
            if let Some(Loss::Tukey { normalize: true, .. }) = l {
                return Err(EngineError::Range(format!(
                    "{}: TukeyLoss with normalize: true is not supported by a multivariate model; give normalize: false",
                    o.field(key)
                )));
            }
        }
    }
    Ok(NeuralSpec {
        architecture,
        scaler_type,
        loss,
        valid_loss,
        learning_rate: o.positive("learningRate")?.unwrap_or(defaults.learning_rate),
        max_steps: o.size("maxSteps")?.unwrap_or(defaults.max_steps),
        batch_size,
        windows_batch_size: o.size("windowsBatchSize")?.unwrap_or(defaults.windows_batch_size),
        valid_batch_size: o.size("validBatchSize")?.unwrap_or(batch_size),
        inference_windows_batch_size: windows_per_pass(o, defaults.inference_windows_batch_size)?,
        step_size: o.size("stepSize")?.unwrap_or(1),
        start_padding_enabled: o.boolean("startPaddingEnabled")?.unwrap_or(false),
        num_lr_decays: o.integer("numLrDecays", 0, MAX_SIZE)?.unwrap_or(defaults.num_lr_decays),
        early_stop_patience_steps: o.size("earlyStopPatienceSteps")?,
        val_check_steps: o.size("valCheckSteps")?.unwrap_or(100),
        exog,
    })
}

/// NeuralForecast's protections of `valid_loss`: a model trained with MQLoss forecasts quantiles and validates
/// with MQLoss; a point forecast cannot be scored by MQLoss (NeuralForecast would broadcast its one output over
/// every quantile, which scores nothing the model predicts).
fn check_valid_loss(loss: &Loss, valid: &Loss, name: &str) -> Result<(), EngineError> {
    match (loss, valid) {
        (Loss::Distribution(trained), Loss::Distribution(validated)) if trained.distribution == validated.distribution => return Ok(()),
        (Loss::Distribution(_), _) | (_, Loss::Distribution(_)) => {
            return Err(EngineError::Range(format!(
                "{name}: a distribution loss validates with its own negative log-likelihood: leave validLoss unset or give the training loss's distribution, and only with it"
            )))
        }
        _ => {}
    }
    let (outputs, valid_outputs) = (loss.outputs_per_point(), valid.outputs_per_point());
    // NeuralForecast: IQLoss trains and validates only with IQLoss (its forecasts are conditioned on a quantile).
    let implicit = |l: &Loss| matches!(l, Loss::ImplicitQuantile { .. });
    if implicit(loss) != implicit(valid) {
        return Err(EngineError::Range(format!("{name}: set validLoss to IQLoss when training with IQLoss, and only then")));
    }
    if outputs > 1 && !matches!(valid, Loss::MultiQuantile { .. }) {
        return Err(EngineError::Range(format!("{name}: set validLoss to MQLoss when training with MQLoss")));
    }
    if outputs != valid_outputs {
        return Err(EngineError::Range(format!(
            "{name}: the model forecasts {outputs} value(s) per point (its loss) but this validLoss scores {valid_outputs}; \
             give MQLoss with as many quantiles as the training loss, or a point loss for a point model"
        )));
    }
    Ok(())
}

impl NeuralSpec {
    /// The loss of the validation checks: `validLoss`, else the training loss (NeuralForecast's default).
    pub fn validation_loss(&self) -> &Loss {
        self.valid_loss.as_ref().unwrap_or(&self.loss)
    }

    pub fn shape(&self) -> &ModelShape {
        self.architecture.shape()
    }

    pub fn h(&self) -> usize {
        self.shape().h
    }

    /// Forecast columns per point ([`Loss::columns_per_point`]): the network's outputs, or a distribution loss's
    /// mean, quantiles and parameters.
    pub fn columns_per_point(&self) -> usize {
        self.loss.columns_per_point()
    }

    pub fn input_size(&self) -> usize {
        self.shape().input_size
    }

    pub fn kind(&self) -> ModelKind {
        self.architecture.kind()
    }

    /// The windows of a training step: NeuralForecast's window of the input and the training horizon
    /// (`h_train` for a recurrent model), and the batch the network reads from it, which for a recurrent model
    /// also holds the first `h_train - 1` targets as inputs (teacher forcing); the last value is that shift.
    pub fn training_windows(&self) -> (ModelShape, ModelShape, usize) {
        let shape = *self.shape();
        let Some(h_train) = self.architecture.training_horizon() else { return (shape, shape, 0) };
        let window = ModelShape { h: h_train, ..shape };
        (window, ModelShape { input_size: shape.input_size + h_train - 1, ..window }, h_train - 1)
    }

    /// `Some(n_series)` for a multivariate model, which trains and forecasts its series jointly.
    pub fn n_series(&self) -> Option<usize> {
        self.architecture.n_series()
    }

    /// Batch rows of one window: `nSeries` for a multivariate model (every series at once), else 1.
    pub fn window_rows(&self) -> usize {
        self.n_series().unwrap_or(1)
    }

    pub(super) fn write_options(&self, o: &mut Map<String, Value>) {
        let shape = self.shape();
        o.insert("inputSize".into(), (shape.input_size - usize::from(self.kind().recurrent())).into());
        self.architecture.write_options(o);
        o.insert("scalerType".into(), self.scaler_type.name().into());
        o.insert("loss".into(), loss_options(&self.loss));
        if let Some(valid) = &self.valid_loss {
            o.insert("validLoss".into(), loss_options(valid));
        }
        o.insert("learningRate".into(), self.learning_rate.into());
        o.insert("maxSteps".into(), self.max_steps.into());
        o.insert("batchSize".into(), self.batch_size.into());
        o.insert("windowsBatchSize".into(), self.windows_batch_size.into());
        o.insert("validBatchSize".into(), self.valid_batch_size.into());
        o.insert("inferenceWindowsBatchSize".into(), self.inference_windows_batch_size.map_or(Value::from(-1), Value::from));
        o.insert("stepSize".into(), self.step_size.into());
        o.insert("startPaddingEnabled".into(), self.start_padding_enabled.into());
        o.insert("numLrDecays".into(), self.num_lr_decays.into());
        if let Some(patience) = self.early_stop_patience_steps {
            o.insert("earlyStopPatienceSteps".into(), patience.into());
        }
        o.insert("valCheckSteps".into(), self.val_check_steps.into());
        o.insert("randomSeed".into(), shape.random_seed.into());
        for (key, list) in [("futrExogList", &self.exog.futr), ("histExogList", &self.exog.hist), ("statExogList", &self.exog.stat)] {
            if !list.is_empty() {
                o.insert(key.into(), list.clone().into());
            }
        }
    }
}

/// `inferenceWindowsBatchSize`: a size, or NeuralForecast's -1 (None: every window in one pass).
fn windows_per_pass(o: &ModelOptions<'_>, default: Option<usize>) -> Result<Option<usize>, EngineError> {
    const KEY: &str = "inferenceWindowsBatchSize";
    match o.get(KEY) {
        None => Ok(default),
        Some(v) if v.as_f64() == Some(-1.0) => Ok(None),
        Some(_) => o.size(KEY).map_err(|e| match e {
            OptionError::Range(_) => EngineError::Range(format!(
                "{} must be -1 (all windows) or an integer between 1 and {MAX_SIZE}, got {}",
                o.field(KEY),
                o.get(KEY).map_or_else(String::new, describe)
            )),
            other => other.into(),
        }),
    }
}

/// Distinct, non-empty column names.
fn exog_list(o: &ModelOptions<'_>, key: &str) -> Result<Vec<String>, EngineError> {
    let names = o.strings(key)?.unwrap_or_default();
    if let Some(empty) = names.iter().position(String::is_empty) {
        return Err(EngineError::Range(format!("{}[{empty}] is an empty column name", o.field(key))));
    }
    if let Some((i, name)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        return Err(EngineError::Range(format!("{}[{i}]: column '{name}' is listed twice", o.field(key))));
    }
    Ok(names)
}

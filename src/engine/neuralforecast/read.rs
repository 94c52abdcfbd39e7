//! Reading a directory NeuralForecast's `nf.save(dir)` wrote: `configuration.json` and one
//! `<alias>_<i>.safetensors` per model, into a forecaster that predicts from the history it is given. Every
//! hyper-parameter, tensor name, dtype and shape is checked before anything is returned.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};
use serde_json::{Map, Value};

use super::hyper_parameters::options_from_nf;
use super::tensor_names::{buffers, loss_buffers, stored_name, BufferValues};
use super::{Failure, NF_FORMAT};
use crate::data::Frequency;
use crate::engine::checkpoint::check_header_size;
use crate::engine::spec::{EngineConfig, ModelKind, ModelSpec, NeuralSpec, ScalerType};
use crate::engine::{Engine, EngineError, Fitted, Trained};

/// NeuralForecast's sidecars, which are not models.
const NOT_MODELS: &[&str] = &["dataset.safetensors", "configuration.safetensors"];

/// Whether `path` is a directory NeuralForecast saved (it holds `configuration.json`).
pub fn is_neuralforecast_dir(path: &Path) -> bool {
    path.is_dir() && path.join("configuration.json").is_file()
}

/// One model file: its alias (the file name before `_<i>`), specification and tensors.
struct ModelFile {
    file: String,
    spec: ModelSpec,
    bytes: Vec<u8>,
    shared: BTreeMap<String, Vec<String>>,
}

pub(super) fn load(dir: &Path) -> Result<Engine, EngineError> {
    let fail = Failure::new(dir);
    let text = std::fs::read_to_string(dir.join("configuration.json"))
        .map_err(|e| fail.at("configuration.json", format!("cannot be read ({e}): not a directory NeuralForecast 3.x saved")))?;
    let document: Value = serde_json::from_str(&text).map_err(|e| fail.at("configuration.json", format!("is not JSON ({e})")))?;
    check_format(document.get("nf_format"), &fail, "configuration.json")?;
    let fail = fail.read_format(NF_FORMAT);
    let configuration = document
        .get("configuration")
        .and_then(Value::as_object)
        .ok_or_else(|| fail.at("configuration.json", "has no 'configuration' object"))?;
    let (freq, local_scaler_type) = read_configuration(configuration, &fail)?;
    let aliases = configuration.get("alias_to_model").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|error| EngineError::Io { path: dir.display().to_string(), error })?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".safetensors") && !NOT_MODELS.contains(&name.as_str()))
        .collect();
    // NeuralForecast loads the files in name order, which is the order of its forecast columns.
    names.sort();
    if names.is_empty() {
        return Err(fail.message("holds no <model>_<i>.safetensors file"));
    }
    let files = names.iter().map(|name| read_model(dir, name, &aliases, &fail)).collect::<Result<Vec<_>, _>>()?;
    let h = configuration.get("h").and_then(Value::as_u64);
    if let Some(file) = files.iter().find(|f| Some(f.spec.h() as u64) != h) {
        return Err(fail.at(&file.file, format!("h = {} but configuration.json has h = {}", file.spec.h(), h.map_or("none".into(), |h| h.to_string()))));
    }
    let mut config = EngineConfig::new(files.iter().map(|f| f.spec.clone()).collect());
    config.freq = Some(freq);
    config.local_scaler_type = local_scaler_type;
    let mut engine = Engine::new(config).map_err(|e| fail.message(e.to_string()))?;
    for (model, file) in engine.models.iter_mut().zip(&files) {
        let (Trained::Neural(network), Some(neural)) = (model, file.spec.neural()) else {
            return Err(fail.at(&file.file, "is not a neural model"));
        };
        let tensors = SafeTensors::deserialize(&file.bytes).map_err(|e| fail.at(&file.file, format!("damaged or truncated tensor data ({e})")))?;
        let mut used = HashSet::new();
        for (name, tensor) in network.params_mut().iter_mut() {
            let stored = stored_name(neural.kind(), name);
            let key = resolve(&tensors, &file.shared, &stored).ok_or_else(|| fail.at(&file.file, format!("tensor '{stored}' is missing")))?;
            let view = tensors.tensor(&key).map_err(|e| fail.at(&file.file, format!("tensor '{key}': {e}")))?;
            if view.dtype() != Dtype::F32 {
                return Err(fail.at(&file.file, format!("tensor '{key}' is {:?}, expected F32", view.dtype())));
            }
            if view.shape() != tensor.shape.as_slice() {
                return Err(fail.at(
                    &file.file,
                    format!("tensor '{key}' has shape {:?} but the hyper-parameters give {:?}", view.shape(), tensor.shape),
                ));
            }
            for (value, raw) in tensor.data.iter_mut().zip(view.data().chunks_exact(4)) {
                *value = f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            }
            if tensor.data.iter().any(|v| !v.is_finite()) {
                return Err(fail.at(&file.file, format!("tensor '{key}' holds NaN or infinite weights")));
            }
            used.insert(key);
        }
        check_buffers(neural, &tensors, file, &fail, &mut used)?;
        let extra = tensors.names().into_iter().filter(|n| !used.contains(*n) && !n.starts_with("__hparams__.")).min().map(str::to_string);
        if let Some(extra) = extra {
            return Err(fail.at(&file.file, format!("tensor '{extra}' is not part of {}", neural.kind().name())));
        }
    }
    let specs: Vec<&NeuralSpec> = engine.config.models.iter().filter_map(ModelSpec::neural).collect();
    let mut temporal: Vec<String> = Vec::new();
    let mut statics: Vec<String> = Vec::new();
    for spec in specs {
        for name in spec.exog.futr.iter().chain(&spec.exog.hist) {
            if !temporal.contains(name) {
                temporal.push(name.clone());
            }
        }
        for name in &spec.exog.stat {
            if !statics.contains(name) {
                statics.push(name.clone());
            }
        }
    }
    // No series: NeuralForecast keeps its training data apart (`dataset.safetensors`); forecasts take the history.
    engine.fitted = Some(Fitted { freq, series: Vec::new(), temporal, statics, conformal: None, history: None });
    Ok(engine)
}

/// `nf_format` must be the one this library reads.
fn check_format(value: Option<&Value>, fail: &Failure, file: &str) -> Result<(), EngineError> {
    match value.and_then(Value::as_str) {
        Some(NF_FORMAT) => Ok(()),
        other => Err(fail.at(
            file,
            format!("nf_format {} is not supported; this library reads nf_format \"{NF_FORMAT}\" (NeuralForecast 3.x)", other.map_or("missing".into(), |f| format!("\"{f}\""))),
        )),
    }
}

/// The frequency and local scaler of `configuration.json`; refuses what we cannot reproduce.
fn read_configuration(configuration: &Map<String, Value>, fail: &Failure) -> Result<(Frequency, ScalerType), EngineError> {
    let at = |message: String| fail.at("configuration.json", message);
    let freq = match configuration.get("freq") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        other => return Err(at(format!("freq {} is not a frequency", other.unwrap_or(&Value::Null)))),
    };
    let freq = Frequency::parse(&freq).map_err(|e| at(format!("freq: {e}")))?;
    let local_scaler_type = match configuration.get("local_scaler_type").unwrap_or(&Value::Null) {
        Value::Null => ScalerType::Identity,
        Value::String(name) if name != "identity" && ScalerType::NAMES.contains(&name.as_str()) => ScalerType::parse(name)?,
        other => return Err(at(format!("local_scaler_type {other} is not supported (give None, 'standard', 'robust' or 'minmax')"))),
    };
    if !configuration.get("local_static_scaler_type").is_none_or(Value::is_null) {
        return Err(at("local_static_scaler_type is not supported (give None)".into()));
    }
    if configuration.get("categorical_vocab_").and_then(Value::as_object).is_some_and(|v| !v.is_empty()) {
        return Err(at("categorical exogenous columns (categorical_vocab_) are not supported".into()));
    }
    Ok((freq, local_scaler_type))
}

/// The tensor stored under `name`, or the one `shared` says it is tied to.
fn resolve(tensors: &SafeTensors<'_>, shared: &BTreeMap<String, Vec<String>>, name: &str) -> Option<String> {
    if tensors.tensor(name).is_ok() {
        return Some(name.to_string());
    }
    shared.iter().find(|(_, aliases)| aliases.iter().any(|a| a == name)).map(|(kept, _)| kept.clone()).filter(|k| tensors.tensor(k).is_ok())
}

/// The buffers NeuralForecast stores and we compute must be there, shaped and valued as ours.
fn check_buffers(neural: &NeuralSpec, tensors: &SafeTensors<'_>, file: &ModelFile, fail: &Failure, used: &mut HashSet<String>) -> Result<(), EngineError> {
    let mut expected = buffers(neural);
    if let Some(valid) = &neural.valid_loss {
        expected.extend(loss_buffers(valid, "valid_loss"));
    }
    for buffer in expected {
        let key = resolve(tensors, &file.shared, &buffer.name).ok_or_else(|| fail.at(&file.file, format!("tensor '{}' is missing", buffer.name)))?;
        let view = tensors.tensor(&key).map_err(|e| fail.at(&file.file, format!("tensor '{key}': {e}")))?;
        if view.shape() != buffer.shape.as_slice() {
            return Err(fail.at(&file.file, format!("tensor '{key}' has shape {:?} but the hyper-parameters give {:?}", view.shape(), buffer.shape)));
        }
        let matches = match (&buffer.values, view.dtype()) {
            (BufferValues::F32(ours), Dtype::F32) => view
                .data()
                .chunks_exact(4)
                .zip(ours)
                .all(|(raw, &v)| (f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) - v).abs() <= buffer.tolerance),
            (BufferValues::I64(ours), Dtype::I64) => {
                view.data().chunks_exact(8).zip(ours).all(|(raw, &v)| raw.try_into().ok().map(i64::from_le_bytes) == Some(v))
            }
            _ => false,
        };
        if !matches {
            return Err(fail.at(&file.file, format!("tensor '{key}' ({:?}) does not hold the values its hyper-parameters give", view.dtype())));
        }
        used.insert(key);
    }
    Ok(())
}

/// A model file's class, hyper-parameters (as our options) and tensors; `aliases` is `alias_to_model`.
fn read_model(dir: &Path, file: &str, aliases: &Map<String, Value>, fail: &Failure) -> Result<ModelFile, EngineError> {
    let at = |message: String| fail.at(file, message);
    let bytes = std::fs::read(dir.join(file)).map_err(|e| at(format!("cannot be read ({e})")))?;
    check_header_size(&bytes).map_err(|e| match e {
        EngineError::Checkpoint(m) => at(m),
        other => at(other.to_string()),
    })?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| at(format!("is truncated or not a safetensors file ({e})")))?;
    let metadata = metadata.metadata().clone().unwrap_or_default();
    check_format(metadata.get("nf_format").map(|f| Value::String(f.clone())).as_ref(), fail, file)?;
    let class = metadata.get("model_class").ok_or_else(|| at("metadata has no model_class".into()))?;
    let kind = ModelKind::ALL
        .iter()
        .copied()
        .find(|k| k.name() == class && *k != ModelKind::Prophet)
        .ok_or_else(|| at(format!("model class '{class}' is not supported; this library reads {}", neural_names().join(", "))))?;
    let alias = file.trim_end_matches(".safetensors").rsplit_once('_').map(|(alias, _)| alias).filter(|a| !a.is_empty());
    let alias = alias.ok_or_else(|| at("is not named <model>_<i>.safetensors".into()))?;
    if let Some(listed) = aliases.get(alias).and_then(Value::as_str) {
        if !listed.trim_start_matches("auto").eq_ignore_ascii_case(class) {
            return Err(at(format!("alias_to_model names '{listed}' but the file holds model_class '{class}'")));
        }
    }
    let hyper_parameters = metadata.get("hyper_parameters").ok_or_else(|| at("metadata has no hyper_parameters".into()))?;
    let hyper_parameters: Map<String, Value> =
        serde_json::from_str(hyper_parameters).map_err(|e| at(format!("metadata hyper_parameters is not a JSON object ({e})")))?;
    let shared: BTreeMap<String, Vec<String>> = match metadata.get("shared") {
        Some(text) => serde_json::from_str(text).map_err(|e| at(format!("metadata shared is not JSON ({e})")))?,
        None => BTreeMap::new(),
    };
    let mut options = options_from_nf(kind, &hyper_parameters, file).map_err(|m| fail.message(m))?;
    options.insert("alias".into(), alias.into());
    if kind == ModelKind::DeepAr {
        // NeuralForecast 3.3's DeepAR forecasts by feeding back each step's mean, not by sample paths.
        options.insert("sampling".into(), "mean".into());
    }
    let spec = ModelSpec::from_options(&options, file).map_err(|e| fail.message(e.to_string()))?;
    Ok(ModelFile { file: file.to_string(), spec, bytes, shared })
}

fn neural_names() -> Vec<&'static str> {
    ModelKind::ALL.iter().filter(|k| **k != ModelKind::Prophet).map(|k| k.name()).collect()
}

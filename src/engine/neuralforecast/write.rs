//! Writing a forecaster as NeuralForecast's `nf.save(dir)` does: `<alias>_<i>.safetensors` per model (tensor
//! names, dtypes and shapes as its state dict, its `shared` ties, `model_class`, `nf_format` and every constructor
//! argument in `hyper_parameters`) and `configuration.json`, into a temporary sibling directory renamed into place.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::{json, Map, Value};

use super::hyper_parameters::nf_from_options;
use super::tensor_names::{buffers, loss_buffers, shared, stored_name, BufferValues};
use super::{Failure, NF_FORMAT};
use crate::engine::spec::{ModelSpec, NeuralSpec, ScalerType};
use crate::engine::{Engine, EngineError, Trained};
use crate::nn::loss::Loss;

/// NeuralForecast's constructor arguments and defaults per class (`bench/neuralforecast_constructor_defaults.py`).
const CONSTRUCTOR_DEFAULTS: &str = include_str!("constructor_defaults.json");

/// The constructor defaults of NeuralForecast's class `class`.
pub(super) fn constructor_defaults(class: &str) -> Option<&'static Map<String, Value>> {
    static TABLE: OnceLock<Value> = OnceLock::new();
    let table = TABLE.get_or_init(|| serde_json::from_str(CONSTRUCTOR_DEFAULTS).unwrap_or(Value::Null));
    table.get("models")?.get(class)?.as_object()
}

/// One tensor to write: its stored name, dtype, shape and little-endian bytes.
struct Stored {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The files of the directory, by name.
pub(super) fn files(engine: &Engine, fail: &Failure) -> Result<Vec<(String, Vec<u8>)>, EngineError> {
    let mut files = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut alias_to_model = Map::new();
    for (model, spec) in engine.models.iter().zip(&engine.config.models) {
        let (Trained::Neural(network), Some(neural)) = (model, spec.neural()) else {
            return Err(fail.message(format!("model '{}' ({}) has no NeuralForecast counterpart", spec.alias, spec.kind().name())));
        };
        if [Some(&neural.loss), neural.valid_loss.as_ref()].into_iter().flatten().any(|l| matches!(l, crate::nn::loss::Loss::Distribution(_))) {
            return Err(fail.message(format!(
                "model '{}' has a distribution loss, which the NeuralForecast format does not carry yet; save it in this library's format",
                spec.alias
            )));
        }
        let count = counts.entry(spec.alias.as_str()).or_insert(0);
        let file = format!("{}_{count}.safetensors", spec.alias);
        *count += 1;
        alias_to_model.insert(spec.alias.clone(), spec.kind().name().to_lowercase().into());
        let params: Vec<(&str, &[usize], &[f32])> = network.params().iter().map(|(n, t)| (n, t.shape.as_slice(), t.data.as_slice())).collect();
        files.push((file.clone(), model_file(spec, neural, &params).map_err(|m| fail.at(&file, m))?));
    }
    let freq = engine.fitted_frequency().or(engine.config.freq).ok_or_else(|| fail.message("the forecaster has no frequency yet: fit it first"))?;
    let freq = freq.to_string();
    let freq = freq.parse::<i64>().map_or(Value::String(freq), Value::from);
    let local_scaler_type = match engine.config.local_scaler_type {
        ScalerType::Identity => Value::Null,
        other => other.name().into(),
    };
    let configuration = json!({
        "nf_format": NF_FORMAT,
        "configuration": {
            "h": engine.horizon(),
            "freq": freq,
            "_fitted": engine.is_fitted(),
            "local_scaler_type": local_scaler_type,
            "local_static_scaler_type": null,
            // NeuralForecast refits the local scalers on the history `predict(df)` is given, as we do.
            "scalers_": {},
            "static_scalers_": {},
            "categorical_vocab_": {},
            "id_col": "unique_id",
            "time_col": "ds",
            "target_col": "y",
            "prediction_intervals": null,
            "_cs_df": null,
            "alias_to_model": alias_to_model,
        }
    });
    files.push(("configuration.json".into(), configuration.to_string().into_bytes()));
    Ok(files)
}

/// The safetensors bytes of one model: its weights under NeuralForecast's names, the buffers NeuralForecast keeps,
/// the hparam tensors of its losses, and the metadata `NeuralForecast.load` reads.
fn model_file(spec: &ModelSpec, neural: &NeuralSpec, params: &[(&str, &[usize], &[f32])]) -> Result<Vec<u8>, String> {
    let kind = spec.kind();
    let defaults = constructor_defaults(kind.name()).ok_or_else(|| format!("no NeuralForecast constructor table for {}", kind.name()))?;
    let hyper_parameters = nf_from_options(spec, neural, defaults)?;
    let mut tensors: Vec<Stored> = params
        .iter()
        .map(|(name, shape, data)| Stored { name: stored_name(kind, name), dtype: Dtype::F32, shape: shape.to_vec(), bytes: f32_bytes(data) })
        .collect();
    let mut fixed = buffers(neural);
    if let Some(valid) = &neural.valid_loss {
        fixed.extend(loss_buffers(valid, "valid_loss"));
        // A separate IQLoss validation loss has a head of its own in NeuralForecast; ours validates with the trained one.
        if matches!(valid, Loss::ImplicitQuantile { .. }) {
            let heads = params.iter().filter_map(|(name, shape, data)| Some((name.strip_prefix("loss.")?, shape, data)));
            tensors.extend(heads.map(|(rest, shape, data)| Stored {
                name: format!("valid_loss.{rest}"),
                dtype: Dtype::F32,
                shape: shape.to_vec(),
                bytes: f32_bytes(data),
            }));
        }
    }
    for buffer in fixed {
        let (dtype, bytes) = match &buffer.values {
            BufferValues::F32(values) => (Dtype::F32, f32_bytes(values)),
            BufferValues::I64(values) => (Dtype::I64, values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        };
        tensors.push(Stored { name: buffer.name, dtype, shape: buffer.shape, bytes });
    }
    for (key, loss) in std::iter::once(("loss", &neural.loss)).chain(neural.valid_loss.as_ref().map(|l| ("valid_loss", l))) {
        if let Loss::MultiQuantile { quantiles, .. } | Loss::HuberMultiQuantile { quantiles, .. } = loss {
            let name = format!("__hparams__.{key}.state.quantiles");
            tensors.push(Stored { name, dtype: Dtype::F32, shape: vec![quantiles.len()], bytes: f32_bytes(quantiles) });
        }
    }
    let ours: Vec<&str> = params.iter().map(|(name, _, _)| *name).collect();
    let loss_tensors: Vec<String> = tensors.iter().map(|t| t.name.clone()).filter(|n| n.starts_with("loss.")).collect();
    let ties: BTreeMap<String, Vec<String>> = shared(kind, &ours, &loss_tensors, neural.valid_loss.is_none());
    let metadata = HashMap::from([
        ("model_class".to_string(), kind.name().to_string()),
        ("hyper_parameters".to_string(), Value::Object(hyper_parameters).to_string()),
        ("nf_format".to_string(), NF_FORMAT.to_string()),
        ("shared".to_string(), serde_json::to_string(&ties).map_err(|e| e.to_string())?),
    ]);
    let views = tensors
        .iter()
        .map(|t| TensorView::new(t.dtype, t.shape.clone(), &t.bytes).map(|view| (t.name.as_str(), view)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot encode the weights: {e}"))?;
    safetensors::tensor::serialize(views, Some(metadata)).map_err(|e| format!("cannot encode: {e}"))
}

pub(super) fn save(engine: &Engine, dir: &Path, overwrite: bool) -> Result<(), EngineError> {
    static SAVES: AtomicUsize = AtomicUsize::new(0);
    let fail = Failure::new(dir);
    if dir.exists() && !overwrite {
        return Err(EngineError::Range(format!("{} already exists; pass overwrite: true to replace it", dir.display())));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(EngineError::Range(format!("{} exists and is not a directory", dir.display())));
    }
    let files = files(engine, &fail)?;
    let name = dir.file_name().ok_or_else(|| EngineError::Range(format!("{} is not a directory path", dir.display())))?;
    let sibling = |what: &str| -> PathBuf {
        let mut temp = std::ffi::OsString::from(".");
        temp.push(name);
        temp.push(format!(".{what}-{}-{}", std::process::id(), SAVES.fetch_add(1, Ordering::Relaxed)));
        dir.with_file_name(temp)
    };
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |error| EngineError::Io { path, error }
    };
    let temp = sibling("tmp");
    let written = write_all(&temp, &files);
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(&temp);
        return Err(io(&temp)(error));
    }
    // The old directory moves aside first, so that `dir` is at every moment either the old or the new one.
    let old = dir.exists().then(|| sibling("old"));
    if let Some(old) = &old {
        if let Err(error) = std::fs::rename(dir, old) {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(io(dir)(error));
        }
    }
    if let Err(error) = std::fs::rename(&temp, dir) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, dir);
        }
        let _ = std::fs::remove_dir_all(&temp);
        return Err(io(dir)(error));
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

fn write_all(temp: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    std::fs::create_dir(temp)?;
    for (name, bytes) in files {
        let mut file = std::fs::File::create(temp.join(name))?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    Ok(())
}

//! Checkpoints: one safetensors file holding every model's f32 weights under `<alias>.<module path>` and, in
//! its metadata, the configuration and per-series state as JSON. Loading only parses data (never runs code),
//! checks the header size, dtypes, names and shapes against the configured models, and never panics.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::{json, Value};

use super::spec::{EngineConfig, ModelSpec, ScalerType};
use super::conformal::Conformal;
use super::{Engine, EngineError, Fitted, Scale, SeriesState, Trained};
use crate::models::prophet::ProphetFit;
use crate::data::{Ds, Frequency};

const FORMAT: &str = "neuro-divergent";
const FORMAT_VERSION: &str = "4";
/// The format before multi-quantile losses kept their levels: it stored quantiles only, named as levels.
const QUANTILES_ONLY_FORMAT_VERSION: &str = "3";
/// The format before `batchSize` counted series: its models' `batchSize` is today's `windowsBatchSize`.
const WINDOWS_BATCH_FORMAT_VERSION: &str = "2";
/// Larger headers are refused before they are parsed.
const MAX_HEADER_BYTES: u64 = 64 << 20;

fn bad(message: impl Into<String>) -> EngineError {
    EngineError::Checkpoint(message.into())
}

impl Engine {
    pub fn to_bytes(&self) -> Result<Vec<u8>, EngineError> {
        let mut names = Vec::new();
        let mut data: Vec<Vec<u8>> = Vec::new();
        let mut shapes = Vec::new();
        let networks = self.models.iter().zip(&self.config.models).filter_map(|(m, spec)| Some((m.network()?, spec)));
        for (network, spec) in networks {
            for (name, tensor) in network.params().iter() {
                names.push(format!("{}.{name}", spec.alias));
                data.push(tensor.data.iter().flat_map(|v| v.to_le_bytes()).collect());
                shapes.push(tensor.shape.clone());
            }
        }
        let views = names
            .iter()
            .zip(&data)
            .zip(&shapes)
            .map(|((name, bytes), shape)| {
                TensorView::new(Dtype::F32, shape.clone(), bytes).map(|view| (name.as_str(), view))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("cannot encode the weights: {e}")))?;
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("library_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("engine".to_string(), self.state_json().to_string()),
        ]);
        safetensors::tensor::serialize(views, Some(metadata)).map_err(|e| bad(format!("cannot encode: {e}")))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Engine, EngineError> {
        check_header_size(bytes)?;
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("not a safetensors file ({e})")))?;
        let meta = metadata.metadata().as_ref().ok_or_else(|| bad("no metadata: not a neuro-divergent checkpoint"))?;
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad("not a neuro-divergent checkpoint (format metadata missing or foreign)"));
        }
        let version = meta.get("format_version").map(String::as_str);
        if !matches!(version, Some(FORMAT_VERSION | QUANTILES_ONLY_FORMAT_VERSION | WINDOWS_BATCH_FORMAT_VERSION)) {
            return Err(bad(format!(
                "unsupported format_version {version:?}; this library reads {FORMAT_VERSION}, {QUANTILES_ONLY_FORMAT_VERSION} and {WINDOWS_BATCH_FORMAT_VERSION}"
            )));
        }
        let mut state: Value = meta
            .get("engine")
            .ok_or_else(|| bad("the engine metadata is missing"))
            .and_then(|s| serde_json::from_str(s).map_err(|e| bad(format!("engine metadata is not JSON: {e}"))))?;
        if version == Some(WINDOWS_BATCH_FORMAT_VERSION) {
            batch_size_as_windows(&mut state);
        }
        if version != Some(FORMAT_VERSION) {
            quantiles_as_levels(&mut state);
        }
        let config = config_from_json(&state)?;
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("damaged tensor data: {e}")))?;
        // Compare sizes by arithmetic before the engine allocates and initialises weights for the metadata's
        // models, so a damaged size costs nothing.
        let needed: u128 = config.models.iter().map(|m| m.stored_values() as u128).sum();
        let stored: u128 = tensors.tensors().iter().map(|(_, t)| t.data().len() as u128 / 4).sum();
        if needed != stored {
            return Err(bad(format!("the models described need {needed} weights but the file holds {stored}")));
        }
        let mut engine = Engine::new(config)?;
        load_weights(&mut engine, &tensors)?;
        engine.fitted = fitted_from_json(&state["fitted"], engine.config.models.len())?;
        load_local_fits(&mut engine, &state["local_fits"])?;
        check_fitted(&engine)?;
        Ok(engine)
    }

    /// Writes atomically: a temporary file beside `path`, flushed to disk, then renamed over `path`; on any
    /// failure the previous file is left as it was.
    pub fn save(&self, path: &Path) -> Result<(), EngineError> {
        static SAVES: AtomicUsize = AtomicUsize::new(0);
        let bytes = self.to_bytes()?;
        let io = |error| EngineError::Io { path: path.display().to_string(), error };
        let file_name = path.file_name().ok_or_else(|| EngineError::Range(format!("{} is not a file path", path.display())))?;
        let mut temp_name = file_name.to_os_string();
        temp_name.push(format!(".tmp-{}-{}", std::process::id(), SAVES.fetch_add(1, Ordering::Relaxed)));
        let temp = path.with_file_name(temp_name);
        let written = std::fs::File::create(&temp).and_then(|mut f| {
            f.write_all(&bytes)?;
            f.sync_all()
        });
        let renamed = written.and_then(|()| std::fs::rename(&temp, path));
        if let Err(error) = renamed {
            let _ = std::fs::remove_file(&temp);
            return Err(io(error));
        }
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Engine, EngineError> {
        let bytes = std::fs::read(path).map_err(|error| EngineError::Io { path: path.display().to_string(), error })?;
        Engine::from_bytes(&bytes).map_err(|e| match e {
            EngineError::Checkpoint(m) => bad(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn state_json(&self) -> Value {
        let c = &self.config;
        json!({
            "models": c.models.iter().map(|m| Value::Object(m.to_options())).collect::<Vec<_>>(),
            "freq": c.freq.map(|f| f.to_string()),
            "local_scaler_type": c.local_scaler_type.name(),
            "num_threads": c.num_threads,
            "simd_enabled": c.simd_enabled,
            "memory_pool": c.memory_pool,
            "low_memory": c.low_memory,
            "fitted": self.fitted.as_ref().map(|f| json!({
                "freq": f.freq.to_string(),
                "series": f.series.iter().map(|s| json!({
                    "id": s.id,
                    "last_ds": ds_json(s.last_ds),
                    "shift": s.scale.shift,
                    "scale": s.scale.scale,
                    "tail": s.tail,
                    "exog_tail": s.exog_tail,
                    "exog_shift": s.exog_scales.iter().map(|x| x.shift).collect::<Vec<_>>(),
                    "exog_scale": s.exog_scales.iter().map(|x| x.scale).collect::<Vec<_>>(),
                    "statics": s.statics,
                })).collect::<Vec<_>>(),
                "temporal": f.temporal,
                "statics": f.statics,
                "conformal": f.conformal.as_ref().map(Conformal::to_json),
            })),
            "local_fits": self.models.iter().map(|m| match m {
                Trained::Prophet(fits) => Value::Array(fits.iter().map(ProphetFit::to_json).collect()),
                Trained::Neural(_) | Trained::Searching => Value::Null,
            }).collect::<Vec<_>>(),
        })
    }
}

pub(super) fn check_header_size(bytes: &[u8]) -> Result<(), EngineError> {
    let length = bytes.get(..8).ok_or_else(|| bad("truncated: shorter than a safetensors header"))?;
    let header = u64::from_le_bytes(length.try_into().unwrap_or_default());
    if header > MAX_HEADER_BYTES || header > bytes.len() as u64 - 8 {
        return Err(bad(format!("header of {header} bytes does not fit the {}-byte file (truncated or foreign)", bytes.len())));
    }
    Ok(())
}

fn load_weights(engine: &mut Engine, tensors: &SafeTensors<'_>) -> Result<(), EngineError> {
    let mut expected = 0;
    let networks = engine.models.iter_mut().zip(&engine.config.models).filter_map(|(m, spec)| match m {
        Trained::Neural(network) => Some((network, spec)),
        Trained::Prophet(_) | Trained::Searching => None,
    });
    for (network, spec) in networks {
        for (name, tensor) in network.params_mut().iter_mut() {
            expected += 1;
            let key = format!("{}.{name}", spec.alias);
            let view = tensors.tensor(&key).map_err(|_| bad(format!("tensor '{key}' is missing")))?;
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!("tensor '{key}' is {:?}, expected F32", view.dtype())));
            }
            if view.shape() != tensor.shape.as_slice() {
                return Err(bad(format!("tensor '{key}' has shape {:?}, the model needs {:?}", view.shape(), tensor.shape)));
            }
            for (value, raw) in tensor.data.iter_mut().zip(view.data().chunks_exact(4)) {
                *value = f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            }
            if tensor.data.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!("tensor '{key}' holds NaN or infinite weights")));
            }
        }
    }
    if tensors.len() != expected {
        return Err(bad(format!("{} tensors, but the models have {expected}", tensors.len())));
    }
    Ok(())
}

fn ds_json(ds: Ds) -> Value {
    match ds {
        Ds::Int(step) => json!({ "int": step }),
        Ds::Time(_) => json!({ "time": ds.to_string() }),
    }
}

// ---- reading the JSON back: every field checked, errors name it ---------------------------------------------

fn field<'v>(v: &'v Value, key: &str) -> Result<&'v Value, EngineError> {
    v.get(key).ok_or_else(|| bad(format!("metadata field '{key}' is missing")))
}

fn uint(v: &Value, key: &str) -> Result<usize, EngineError> {
    field(v, key)?.as_u64().map(|x| x as usize).ok_or_else(|| bad(format!("metadata field '{key}' is not an integer")))
}

fn float(v: &Value, key: &str) -> Result<f64, EngineError> {
    field(v, key)?.as_f64().ok_or_else(|| bad(format!("metadata field '{key}' is not a number")))
}

fn text<'v>(v: &'v Value, key: &str) -> Result<&'v str, EngineError> {
    field(v, key)?.as_str().ok_or_else(|| bad(format!("metadata field '{key}' is not a string")))
}

fn flag(v: &Value, key: &str) -> Result<bool, EngineError> {
    field(v, key)?.as_bool().ok_or_else(|| bad(format!("metadata field '{key}' is not a boolean")))
}

fn scaler(v: &Value, key: &str) -> Result<ScalerType, EngineError> {
    ScalerType::parse(text(v, key)?).map_err(|e| bad(format!("metadata field '{key}': {e}")))
}

fn frequency(text: &str) -> Result<Frequency, EngineError> {
    Frequency::parse(text).map_err(|e| bad(format!("frequency: {e}")))
}

fn config_from_json(v: &Value) -> Result<EngineConfig, EngineError> {
    let models = field(v, "models")?
        .as_array()
        .ok_or_else(|| bad("metadata field 'models' is not a list"))?
        .iter()
        .enumerate()
        .map(|(i, m)| spec_from_json(m, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EngineConfig {
        models,
        freq: field(v, "freq")?.as_str().map(frequency).transpose()?,
        local_scaler_type: scaler(v, "local_scaler_type")?,
        num_threads: uint(v, "num_threads")?,
        simd_enabled: flag(v, "simd_enabled")?,
        memory_pool: flag(v, "memory_pool")?,
        low_memory: flag(v, "low_memory")?,
    })
}

/// Renames each model's `batchSize` of a version-2 file (windows a step) to `windowsBatchSize`, so that the
/// model trains on as many windows a step as it did and `batchSize` (series a step) takes its default.
fn batch_size_as_windows(state: &mut Value) {
    let models = state.get_mut("models").and_then(Value::as_array_mut).into_iter().flatten();
    for options in models.filter_map(Value::as_object_mut) {
        if let Some(windows) = options.remove("batchSize") {
            options.insert("windowsBatchSize".into(), windows);
        }
    }
}

/// Formats before 4 stored an MQLoss or HuberMQLoss given levels as its quantiles (the median, then the
/// interval bounds ascending) and named its columns by level (`-lo-80`): such a list becomes those levels again,
/// so the columns keep their names (quantiles given as such are now named as NeuralForecast does, `-lo-80.0`).
fn quantiles_as_levels(state: &mut Value) {
    let models = state.get_mut("models").and_then(Value::as_array_mut).into_iter().flatten();
    for model in models {
        for key in ["loss", "validLoss"] {
            let Some(loss) = model.get_mut(key).and_then(Value::as_object_mut) else { continue };
            let quantiles = loss.get("quantiles").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_f64).collect::<Vec<_>>());
            if let Some(levels) = quantiles.as_deref().and_then(levels_of_quantiles) {
                loss.remove("quantiles");
                loss.insert("level".into(), levels.into());
            }
        }
    }
}

/// The levels (widest first) whose `level_to_outputs` quantiles `quantiles` are, as the old names rounded them
/// (two decimals); None for any other list.
fn levels_of_quantiles(quantiles: &[f64]) -> Option<Vec<f64>> {
    let (&median, bounds) = quantiles.split_first()?;
    let half = bounds.len() / 2;
    let (lows, highs) = bounds.split_at(half);
    let ascending = bounds.windows(2).all(|w| w[0] < w[1]);
    let symmetric = lows.iter().zip(highs.iter().rev()).all(|(lo, hi)| (lo + hi - 1.0).abs() < 1e-6);
    if median != 0.5 || half == 0 || bounds.len() % 2 != 0 || !ascending || !symmetric || lows.last() >= Some(&0.5) {
        return None;
    }
    Some(lows.iter().map(|lo| ((100.0 - 200.0 * lo) * 100.0).round() / 100.0).collect())
}

/// A model's options as the file stores them, read as the API reads them (sizes capped, every field checked).
fn spec_from_json(v: &Value, index: usize) -> Result<ModelSpec, EngineError> {
    let options = v.as_object().ok_or_else(|| bad(format!("model {index} is not an options object")))?;
    ModelSpec::from_options(options, &format!("models[{index}]")).map_err(|e| bad(format!("model {index}: {e}")))
}

/// Each Prophet model's per-series fits (one per fitted series), `null` for the neural models.
fn load_local_fits(engine: &mut Engine, v: &Value) -> Result<(), EngineError> {
    let entries = v.as_array().filter(|a| a.len() == engine.models.len()).ok_or_else(|| bad("metadata field 'local_fits' must hold one entry per model"))?;
    let n_series = engine.fitted.as_ref().map_or(0, |f| f.series.len());
    for (index, (model, entry)) in engine.models.iter_mut().zip(entries).enumerate() {
        match (model, entry) {
            (Trained::Neural(_), Value::Null) => {}
            (Trained::Prophet(fits), Value::Array(values)) if values.len() == n_series => {
                *fits = values
                    .iter()
                    .map(|fit| ProphetFit::from_json(fit).map_err(|e| bad(format!("model {index}: {e}"))))
                    .collect::<Result<_, _>>()?;
            }
            _ => return Err(bad(format!("model {index}: its local fits do not match the model or the {n_series} fitted series"))),
        }
    }
    Ok(())
}

fn fitted_from_json(v: &Value, n_models: usize) -> Result<Option<Fitted>, EngineError> {
    if v.is_null() {
        return Ok(None);
    }
    let series = field(v, "series")?
        .as_array()
        .ok_or_else(|| bad("metadata field 'series' is not a list"))?
        .iter()
        .map(|s| {
            let exog_tail = field(s, "exog_tail")?
                .as_array()
                .ok_or_else(|| bad("metadata field 'exog_tail' is not a list"))?
                .iter()
                .map(|column| numbers(column, "exog_tail"))
                .collect::<Result<Vec<_>, _>>()?;
            // Checkpoints from before the exogenous columns were locally scaled hold none: they read them as they are.
            let exog_scales = match (s.get("exog_shift"), s.get("exog_scale")) {
                (Some(shift), Some(scale)) => {
                    let (shift, scale) = (numbers(shift, "exog_shift")?, numbers(scale, "exog_scale")?);
                    if shift.len() != exog_tail.len() || scale.len() != exog_tail.len() {
                        return Err(bad(format!("series '{}' keeps exogenous scales that do not match its exogenous tails", text(s, "id")?)));
                    }
                    shift.into_iter().zip(scale).map(|(shift, scale)| Scale { shift, scale }).collect()
                }
                _ => vec![Scale::IDENTITY; exog_tail.len()],
            };
            Ok(SeriesState {
                id: text(s, "id")?.to_string(),
                last_ds: ds_from_json(field(s, "last_ds")?)?,
                scale: Scale { shift: float(s, "shift")?, scale: float(s, "scale")? },
                exog_scales,
                tail: numbers(field(s, "tail")?, "tail")?,
                exog_tail,
                statics: numbers(field(s, "statics")?, "statics")?,
            })
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let names = |key: &str| -> Result<Vec<String>, EngineError> {
        let list = field(v, key)?.as_array().ok_or_else(|| bad(format!("metadata field '{key}' is not a list")))?;
        list.iter().map(|n| n.as_str().map(String::from).ok_or_else(|| bad(format!("metadata field '{key}' holds a non-string")))).collect()
    };
    let (temporal, statics) = (names("temporal")?, names("statics")?);
    if let Some(s) = series.iter().find(|s| s.exog_tail.len() != temporal.len() || s.statics.len() != statics.len()) {
        return Err(bad(format!("series '{}' keeps exogenous values that do not match the stored columns", s.id)));
    }
    let conformal = match field(v, "conformal")? {
        Value::Null => None,
        c => Some(Conformal::from_json(c, n_models, series.len()).map_err(bad)?),
    };
    Ok(Some(Fitted { freq: frequency(text(v, "freq")?)?, series, temporal, statics, conformal, history: None }))
}

/// A list of numbers.
fn numbers(v: &Value, key: &str) -> Result<Vec<f64>, EngineError> {
    let list = v.as_array().ok_or_else(|| bad(format!("metadata field '{key}' is not a list")))?;
    list.iter().map(|x| x.as_f64().ok_or_else(|| bad(format!("metadata field '{key}' holds a non-number")))).collect()
}

/// The stored series must be usable as they are: a tail as long as the longest input window, finite numbers.
fn check_fitted(engine: &Engine) -> Result<(), EngineError> {
    let needed = engine.max_input_size();
    for series in engine.fitted.iter().flat_map(|f| &f.series) {
        if series.tail.len() < needed {
            return Err(bad(format!("series '{}' keeps {} values, fewer than inputSize {needed}", series.id, series.tail.len())));
        }
        let values = series.tail.iter().chain(series.exog_tail.iter().flatten()).chain(&series.statics);
        if series.exog_tail.iter().any(|t| t.len() < needed) {
            return Err(bad(format!("series '{}' keeps exogenous tails shorter than inputSize {needed}", series.id)));
        }
        let mut scales = std::iter::once(&series.scale).chain(&series.exog_scales);
        let bad_scale = scales.any(|s| !(s.shift.is_finite() && s.scale.is_finite() && s.scale != 0.0));
        if bad_scale || values.clone().any(|v| !v.is_finite()) {
            return Err(bad(format!("series '{}' has a non-finite or zero scale or history value", series.id)));
        }
    }
    Ok(())
}

fn ds_from_json(v: &Value) -> Result<Ds, EngineError> {
    if let Some(step) = v.get("int").and_then(Value::as_i64) {
        return Ok(Ds::Int(step));
    }
    v.get("time").and_then(Value::as_str).and_then(Ds::parse).ok_or_else(|| bad("metadata field 'last_ds' is invalid"))
}

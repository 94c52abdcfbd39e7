//! NeuralForecast's `hyper_parameters` (every constructor argument, snake_case, as `nf.save` encodes them) to our
//! camelCase options and back. The mapping is generic: `snake_case` becomes `camelCase` and must be one of the
//! options the model reads; a small table holds the names whose meaning differs (NeuralForecast's `-1` and `None`
//! sentinels, the loss objects) and the trainer settings that play no part in a forecast.

use serde_json::{json, Map, Value};

use crate::engine::spec::{ModelKind, ModelSpec, NeuralSpec};
use crate::nn::loss::Loss;

/// Lightning/trainer and runtime settings NeuralForecast stores with a model: they steer its training loop or
/// logging, never a forecast, and nothing here reads them.
const TRAINER_KEYS: &[&str] = &[
    "enable_progress_bar",
    "enable_model_summary",
    "enable_checkpointing",
    "logger",
    "accelerator",
    "devices",
    "deterministic",
    "val_monitor",
    "dataloader_kwargs",
    // Sample paths of a DistributionLoss, which is refused on its own.
    "n_samples",
    // Embedding size of categorical exogenous columns, which must be absent (`cat_exog_list`).
    "cat_emb_dim",
];

/// Arguments we have no counterpart for, readable only at NeuralForecast's default (which is what we compute).
fn fixed_default(key: &str) -> Option<Value> {
    Some(match key {
        "n_series" | "h_train" | "tgt_size" => json!(1),
        "recurrent" | "drop_last_loader" | "exclude_insample_y" => json!(false),
        "training_data_availability_threshold" | "encoder_dropout" => json!(0.0),
        "encoder_bias" => json!(true),
        "cat_exog_list" | "categorical_cardinalities" | "optimizer" | "optimizer_kwargs" | "lr_scheduler"
        | "lr_scheduler_kwargs" | "context_size" | "decoder_activation" | "encoder_activation" | "n_polynomials" => Value::Null,
        _ => return None,
    })
}

/// `snake_case` → `camelCase` (`encoder_n_layers` → `encoderNLayers`).
pub(super) fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    for (i, part) in snake.split('_').enumerate() {
        let mut chars = part.chars();
        match chars.next() {
            Some(first) if i > 0 => {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
            Some(first) => {
                out.push(first);
                out.push_str(chars.as_str());
            }
            None => {}
        }
    }
    out
}

/// `camelCase` → `snake_case` (`encoderNLayers` → `encoder_n_layers`).
pub(super) fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Equal as JSON numbers (NeuralForecast writes `0.0` where we compare with `0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The options object [`ModelSpec::from_options`] reads for a model of `kind` saved with `hyper_parameters`;
/// `path` names the file in messages.
pub(super) fn options_from_nf(kind: ModelKind, hyper_parameters: &Map<String, Value>, path: &str) -> Result<Map<String, Value>, String> {
    let accepted = ModelSpec::accepted_keys(kind);
    let mut options = Map::new();
    options.insert("type".into(), kind.name().into());
    let input_size = hyper_parameters.get("input_size").cloned().unwrap_or(Value::Null);
    for (key, value) in hyper_parameters {
        let camel = camel_case(key);
        match key.as_str() {
            _ if TRAINER_KEYS.contains(&key.as_str()) => {}
            "loss" | "valid_loss" => {
                if !value.is_null() {
                    options.insert(camel, loss_options(value, &format!("{path} {key}"))?);
                }
            }
            // NeuralForecast's -1 sentinels: 3 h for the recurrent models, no decay, no early stopping.
            "input_size" | "num_lr_decays" | "early_stop_patience_steps" if value.as_f64() == Some(-1.0) => {
                if key == "num_lr_decays" {
                    options.insert(camel, 0.into());
                }
            }
            "inference_input_size" => {
                if !value.is_null() && !same(value, &input_size) {
                    return Err(format!("{path}: hyper-parameter inference_input_size = {value} differs from input_size = {input_size}; this library forecasts from input_size values"));
                }
            }
            _ if value.is_null() && fixed_default(key).is_none() => {}
            _ if accepted.contains(&camel.as_str()) => {
                options.insert(camel, value.clone());
            }
            _ => match fixed_default(key) {
                Some(default) if same(value, &default) => {}
                Some(default) => {
                    return Err(format!(
                        "{path}: hyper-parameter {key} = {value} is not supported (only NeuralForecast's default {default} is)"
                    ))
                }
                None => return Err(format!("{path}: unknown hyper-parameter {key} = {value} for {}", kind.name())),
            },
        }
    }
    Ok(options)
}

/// Our loss options from NeuralForecast's encoded loss `{"__nf__": "loss", "cls", "args", "state"}`.
fn loss_options(value: &Value, path: &str) -> Result<Value, String> {
    let tag = value.get("__nf__").and_then(Value::as_str);
    let class = value.get("cls").and_then(Value::as_str);
    let (Some("loss"), Some(class)) = (tag, class) else {
        return Err(format!("{path} is not an encoded NeuralForecast loss: {value}"));
    };
    let empty = Map::new();
    let args = value.get("args").and_then(Value::as_object).unwrap_or(&empty);
    let mut options = Map::new();
    options.insert("type".into(), class.into());
    match class {
        "MAE" | "MSE" | "RMSE" | "MAPE" | "SMAPE" | "MASE" | "relMSE" | "HuberLoss" | "TukeyLoss" | "QuantileLoss" | "MQLoss" | "HuberQLoss"
        | "HuberMQLoss" | "IQLoss" => {}
        "DistributionLoss" | "PMM" | "GMM" | "NBMM" | "ISQF" | "HuberIQLoss" => {
            return Err(format!("{path}: loss {class} is not supported yet in NeuralForecast directories (this library trains it: save in its own format)"))
        }
        other => return Err(format!("{path}: unknown or custom loss class '{other}'")),
    }
    for (key, arg) in args {
        match key.as_str() {
            "horizon_weight" | "y_train" if arg.is_null() => {}
            "horizon_weight" => return Err(format!("{path}: horizon_weight is not supported (give None)")),
            // NeuralForecast's MQLoss reads quantiles when given, else level.
            "level" if !args.get("quantiles").is_none_or(Value::is_null) => {}
            _ if arg.is_null() => {}
            _ => {
                options.insert(camel_case(key), arg.clone());
            }
        }
    }
    Ok(Value::Object(options))
}

/// NeuralForecast's encoded loss for `loss`, with its `state` (output names; the quantiles as the hparam tensor
/// `__hparams__.<key>.state.quantiles`).
pub(super) fn nf_loss(loss: &Loss, key: &str) -> Value {
    let ours = crate::engine::spec::loss_options(loss);
    let class = ours["type"].as_str().unwrap_or("MAE").to_string();
    let mut args = Map::new();
    for (name, value) in ours.as_object().into_iter().flatten() {
        if name != "type" {
            args.insert(snake_case(name), value.clone());
        }
    }
    if let Loss::MultiQuantile { quantiles, .. } | Loss::HuberMultiQuantile { quantiles, .. } = loss {
        // NeuralForecast always builds its quantiles from `level` unless `quantiles` is given (and needs a level
        // list either way): quantiles that some levels give are written as those levels, as NeuralForecast
        // names their columns then (`-lo-80`, not `-lo-80.0`).
        match levels_of(quantiles) {
            Some(levels) => {
                args.insert("level".into(), levels.into());
                args.insert("quantiles".into(), Value::Null);
            }
            None => {
                args.insert("level".into(), json!([80, 90]));
            }
        }
    }
    if matches!(loss, Loss::RelMse) {
        args.insert("y_train".into(), Value::Null);
    }
    args.insert("horizon_weight".into(), Value::Null);
    let mut state = Map::new();
    state.insert("output_names".into(), loss.output_names().into());
    if matches!(loss, Loss::MultiQuantile { .. } | Loss::HuberMultiQuantile { .. }) {
        state.insert("quantiles".into(), json!({ "__nf__": "tensor", "key": format!("__hparams__.{key}.state.quantiles"), "kind": "torch" }));
    }
    json!({ "__nf__": "loss", "cls": class, "args": args, "state": state })
}

/// The levels whose median and interval bounds are exactly `quantiles`, in NeuralForecast's order.
fn levels_of(quantiles: &[f32]) -> Option<Vec<Value>> {
    let mut levels: Vec<f64> = quantiles
        .iter()
        .filter(|&&q| q < 0.5)
        .map(|&q| ((100.0 - 200.0 * q as f64) * 100.0).round() / 100.0)
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let rebuilt = Loss::multi_quantile_levels(&levels).ok()?;
    let same = matches!(&rebuilt, Loss::MultiQuantile { quantiles: q, .. } if q == quantiles);
    // Whole levels as integers, as NeuralForecast's users write them (`level=[80, 90]`).
    same.then(|| levels.iter().map(|&l| if l.fract() == 0.0 { json!(l as i64) } else { json!(l) }).collect())
}

/// NeuralForecast's `hyper_parameters` for `spec` (alias `alias`): its constructor's defaults (`defaults`),
/// overridden by every option we hold.
pub(super) fn nf_from_options(spec: &ModelSpec, neural: &NeuralSpec, defaults: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let class = spec.kind().name();
    let mut out = defaults.clone();
    for (key, value) in spec.to_options() {
        let snake = snake_case(&key);
        let value = match key.as_str() {
            // DeepAR's forecast mode has no constructor argument (NeuralForecast 3.3 feeds back the mean).
            "type" | "sampling" => continue,
            "alias" => {
                if value.as_str() == Some(class) {
                    Value::Null
                } else {
                    value
                }
            }
            "loss" => nf_loss(&neural.loss, "loss"),
            "validLoss" => neural.valid_loss.as_ref().map_or(Value::Null, |l| nf_loss(l, "valid_loss")),
            "numLrDecays" if value.as_u64() == Some(0) => json!(-1),
            // NeuralForecast's None: as many series as a training batch.
            "validBatchSize" if value.as_u64() == Some(neural.batch_size as u64) => Value::Null,
            _ => value,
        };
        if !out.contains_key(&snake) {
            return Err(format!("{class}: option {key} has no NeuralForecast constructor argument {snake}"));
        }
        out.insert(snake, value);
    }
    // No validLoss: NeuralForecast's None (validation by the training loss), not a constructor's own default
    // (DeepAR's MAE()).
    if neural.valid_loss.is_none() && out.contains_key("valid_loss") {
        out.insert("valid_loss".into(), Value::Null);
    }
    Ok(out)
}

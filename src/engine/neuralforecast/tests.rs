//! The NeuralForecast directory reader and writer against the directories NeuralForecast 3.3 saved
//! (`__test__/fixtures/neuralforecast/`), the hyper-parameter mapping, and every refusal.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::hyper_parameters::{camel_case, options_from_nf, snake_case};

use crate::data::{read_csv, CsvOptions, Panel};
use crate::engine::spec::{ModelKind, ModelSpec};
use crate::engine::Engine;

const FIXTURES: &str = "__test__/fixtures/neuralforecast";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES).join(name)
}

fn train() -> Panel {
    read_csv(&fixture("train.csv"), &CsvOptions::default(), None).expect("train.csv")
}

/// The forecast columns of `expected_forecast.csv` (after unique_id and ds).
fn expected(name: &str) -> Vec<(String, Vec<f64>)> {
    let text = std::fs::read_to_string(fixture(name).join("expected_forecast.csv")).expect("expected_forecast.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let rows: Vec<Vec<f64>> = lines.map(|l| l.split(',').skip(2).map(|v| v.parse().expect("a number")).collect()).collect();
    header[2..].iter().enumerate().map(|(c, name)| (name.to_string(), rows.iter().map(|r| r[c]).collect())).collect()
}

/// Largest relative error of `ours` against NeuralForecast's forecast, 1e-3 absolute counting as 1e-4 near 0.
fn worst_error(name: &str) -> f64 {
    let engine = Engine::load_neuralforecast(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let forecast = engine.predict(Some(&train()), None, &[], None).expect("predicts");
    let expected = expected(name);
    assert_eq!(forecast.columns.iter().map(|c| c.0.clone()).collect::<Vec<_>>(), expected.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
    let mut worst = 0f64;
    for ((_, ours), (_, theirs)) in forecast.columns.iter().zip(&expected) {
        for (a, b) in ours.iter().zip(theirs) {
            let error = (a - b).abs() / b.abs().max(10.0);
            worst = worst.max(error);
        }
    }
    worst
}

/// The eight directories NeuralForecast 3.3 saved (manifest.json).
const MODELS: [&str; 8] = ["LSTM", "GRU", "TCN", "MLP", "NBEATS", "NHITS", "VanillaTransformer", "LSTM-MQLoss"];

#[test]
fn every_directory_reproduces_neuralforecast_forecast() {
    for name in MODELS {
        let worst = worst_error(name);
        assert!(worst < 1e-4, "{name}: relative error {worst:e}");
    }
}

// ---- the hyper-parameter mapping ------------------------------------------------------------------------------

#[test]
fn names_map_between_snake_case_and_camel_case() {
    for (snake, camel) in [("encoder_n_layers", "encoderNLayers"), ("n_pool_kernel_size", "nPoolKernelSize"), ("h", "h"), ("dropout_prob_theta", "dropoutProbTheta")] {
        assert_eq!(camel_case(snake), camel);
        assert_eq!(snake_case(camel), snake);
    }
}

/// The LSTM fixture's hyper-parameters.
fn lstm_hyper_parameters() -> Map<String, Value> {
    let bytes = std::fs::read(fixture("LSTM").join("LSTM_0.safetensors")).expect("the LSTM fixture");
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).expect("safetensors");
    let text = &metadata.metadata().as_ref().expect("metadata")["hyper_parameters"];
    serde_json::from_str(text).expect("JSON")
}

#[test]
fn neuralforecast_sentinels_and_trainer_keys_become_our_options() {
    let options = options_from_nf(ModelKind::Lstm, &lstm_hyper_parameters(), "LSTM_0.safetensors").expect("maps");
    assert_eq!(options["encoderHiddenSize"], json!(64));
    assert_eq!(options["scalerType"], json!("standard"));
    assert_eq!(options["loss"], json!({ "type": "MAE" }));
    // num_lr_decays = -1 (no decay) is our 0; early_stop_patience_steps = -1 (off) and None values are left out.
    assert_eq!(options["numLrDecays"], json!(0));
    for absent in ["earlyStopPatienceSteps", "validBatchSize", "alias", "enableProgressBar", "accelerator", "validLoss"] {
        assert!(!options.contains_key(absent), "{absent}");
    }
    let spec = ModelSpec::from_options(&options, "LSTM").expect("our options");
    assert_eq!((spec.h(), spec.input_size()), (12, 24));
}

#[test]
fn every_model_kind_has_neuralforecast_constructor_arguments_for_each_option() {
    for &kind in ModelKind::ALL.iter().filter(|k| **k != ModelKind::Prophet) {
        let defaults = super::write::constructor_defaults(kind.name()).unwrap_or_else(|| panic!("{}: rerun bench/neuralforecast_constructor_defaults.py", kind.name()));
        let mut options = json!({ "type": kind.name(), "h": 4, "inputSize": 8 }).as_object().unwrap().clone();
        if matches!(kind, ModelKind::TsMixer | ModelKind::TsMixerx | ModelKind::ITransformer) {
            // A multivariate model needs its series count.
            options.insert("nSeries".into(), json!(2));
        }
        if kind == ModelKind::DeepAr {
            // Its default DistributionLoss is not written in NeuralForecast's format yet (refused by write.rs).
            options.insert("loss".into(), json!("MAE"));
        }
        let spec = ModelSpec::from_options(&options, kind.name()).expect("defaults");
        let neural = spec.neural().expect("neural");
        let written = super::hyper_parameters::nf_from_options(&spec, neural, defaults).expect("every option has an argument");
        // Read back, the arguments give the same model.
        let options = options_from_nf(kind, &written, kind.name()).expect("reads back");
        let mut read = ModelSpec::from_options(&options, kind.name()).expect("our options");
        read.alias = spec.alias.clone();
        assert_eq!(read, spec, "{}", kind.name());
    }
}

#[test]
fn multi_quantile_losses_are_written_with_their_levels() {
    let loss = crate::nn::loss::Loss::multi_quantile_levels(&[80.0, 90.0]).expect("levels");
    let written = super::hyper_parameters::nf_loss(&loss, "loss");
    assert_eq!(written["args"]["level"], json!([80, 90]));
    assert_eq!(written["args"]["quantiles"], Value::Null);
    assert_eq!(written["state"]["output_names"], json!(["-median", "-lo-90", "-lo-80", "-hi-80", "-hi-90"]));
    let explicit = crate::nn::loss::Loss::multi_quantile(vec![0.2, 0.5, 0.7]).expect("quantiles");
    let written = super::hyper_parameters::nf_loss(&explicit, "loss");
    assert_eq!(written["args"]["quantiles"].as_array().map(Vec::len), Some(3));
}

#[test]
fn unsupported_hyper_parameters_are_named() {
    let mut hp = lstm_hyper_parameters();
    hp.insert("recurrent".into(), json!(true));
    let error = options_from_nf(ModelKind::Lstm, &hp, "LSTM_0.safetensors").unwrap_err();
    assert!(error.contains("recurrent = true is not supported"), "{error}");
    let mut hp = lstm_hyper_parameters();
    hp.insert("inference_input_size".into(), json!(48));
    let error = options_from_nf(ModelKind::Lstm, &hp, "LSTM_0.safetensors").unwrap_err();
    assert!(error.contains("inference_input_size = 48"), "{error}");
    let mut hp = lstm_hyper_parameters();
    hp.insert("mystery".into(), json!(3));
    let error = options_from_nf(ModelKind::Lstm, &hp, "LSTM_0.safetensors").unwrap_err();
    assert!(error.contains("unknown hyper-parameter mystery"), "{error}");
}

// ---- damaged directories ----------------------------------------------------------------------------------------

/// A copy of the LSTM fixture in a fresh temporary directory, with `damage` applied to it.
fn damaged(tag: &str, damage: impl FnOnce(&Path)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nd-nf-{}-{tag}", std::process::id())).join("LSTM");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    for entry in std::fs::read_dir(fixture("LSTM")).expect("the fixture") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("a copy");
    }
    damage(&dir);
    dir
}

/// Rewrites the header of the LSTM file (`edit` gets the header JSON and the length of the tensor data).
fn edit_header(dir: &Path, edit: impl FnOnce(&mut Map<String, Value>, usize)) {
    let file = dir.join("LSTM_0.safetensors");
    let bytes = std::fs::read(&file).expect("the model file");
    let length = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let mut header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + length]).expect("a JSON header");
    let data = &bytes[8 + length..];
    edit(&mut header, data.len());
    let text = serde_json::to_vec(&header).expect("JSON");
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(data);
    std::fs::write(file, out).expect("written");
}

fn edit_metadata(dir: &Path, key: &str, edit: impl FnOnce(&str) -> String) {
    edit_header(dir, |header, _| {
        let metadata = header["__metadata__"].as_object_mut().expect("metadata");
        let value = edit(metadata[key].as_str().unwrap_or_default());
        metadata.insert(key.into(), value.into());
    });
}

fn set_hyper_parameter(dir: &Path, key: &str, value: Value) {
    edit_metadata(dir, "hyper_parameters", |text| {
        let mut hp: Map<String, Value> = serde_json::from_str(text).expect("JSON");
        hp.insert(key.into(), value);
        Value::Object(hp).to_string()
    });
}

fn refusal(dir: &Path) -> String {
    match Engine::load_neuralforecast(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn damaged_directories_are_refused_naming_the_defect() {
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        ("missing tensor", damaged("missing", |d| edit_header(d, |h, _| {
            let bias = h.remove("mlp_decoder.layers.3.bias").expect("the bias");
            h.insert("mlp_decoder.layers.9.bias".into(), bias);
        })), "tensor 'mlp_decoder.layers.3.bias' is missing"),
        ("extra tensor", damaged("extra", |d| edit_header(d, |h, len| {
            h.insert("extra.bias".into(), json!({ "dtype": "F32", "shape": [0], "data_offsets": [len, len] }));
        })), "tensor 'extra.bias' is not part of LSTM"),
        ("wrong shape", damaged("shape", |d| set_hyper_parameter(d, "encoder_hidden_size", json!(32))),
            "tensor 'hist_encoder.weight_ih_l0' has shape [256, 1] but the hyper-parameters give [128, 1]"),
        ("non-JSON metadata", damaged("json", |d| edit_metadata(d, "hyper_parameters", |_| "{\"h\": 12,".into())), "hyper_parameters is not a JSON object"),
        ("unknown class", damaged("class", |d| edit_metadata(d, "model_class", |_| "Informer".into())), "model class 'Informer' is not supported"),
        ("file nf_format", damaged("file-format", |d| edit_metadata(d, "nf_format", |_| "1".into())), "LSTM_0.safetensors: nf_format \"1\" is not supported"),
        ("truncated file", damaged("truncated", |d| {
            let file = d.join("LSTM_0.safetensors");
            let bytes = std::fs::read(&file).expect("the model file");
            std::fs::write(&file, &bytes[..bytes.len() - 1000]).expect("written");
        }), "is truncated or not a safetensors file"),
        ("bad nf_format", damaged("format", |d| {
            let file = d.join("configuration.json");
            let text = std::fs::read_to_string(&file).expect("configuration.json").replace("\"nf_format\": \"2\"", "\"nf_format\": \"3\"");
            std::fs::write(file, text).expect("written");
        }), "configuration.json: nf_format \"3\" is not supported"),
        ("missing configuration.json", damaged("configuration", |d| std::fs::remove_file(d.join("configuration.json")).expect("removed")),
            "configuration.json: cannot be read"),
        ("distribution loss", damaged("distribution", |d| set_hyper_parameter(d, "loss", json!({ "__nf__": "loss", "cls": "DistributionLoss", "args": {}, "state": {} }))),
            "DistributionLoss is not supported yet"),
        ("custom loss", damaged("custom", |d| set_hyper_parameter(d, "loss", json!({ "__nf__": "loss", "cls": "MyLoss", "args": {}, "state": {} }))),
            "custom loss class 'MyLoss'"),
        ("optimizer", damaged("optimizer", |d| set_hyper_parameter(d, "optimizer", json!({ "__nf__": "torch_cls", "kind": "optimizer", "name": "SGD" }))),
            "hyper-parameter optimizer"),
        ("lr_scheduler", damaged("scheduler", |d| set_hyper_parameter(d, "lr_scheduler", json!({ "__nf__": "torch_cls", "kind": "lr_scheduler", "name": "StepLR" }))),
            "hyper-parameter lr_scheduler"),
    ];
    for (name, dir, expected) in cases {
        let message = refusal(&dir);
        assert!(message.contains(expected), "{name}: {message}");
        assert!(message.contains("NeuralForecast directory"), "{name}: {message}");
        let _ = std::fs::remove_dir_all(dir.parent().expect("the temporary parent"));
    }
}

#[test]
fn saving_writes_a_directory_that_loads_back_and_refuses_to_replace_one() {
    let engine = Engine::load_neuralforecast(&fixture("TCN")).expect("loads");
    let dir = std::env::temp_dir().join(format!("nd-nf-{}-save", std::process::id())).join("TCN");
    let _ = std::fs::remove_dir_all(dir.parent().expect("a parent"));
    std::fs::create_dir_all(dir.parent().expect("a parent")).expect("created");
    engine.save_neuralforecast(&dir, false).expect("saves");
    let again = engine.save_neuralforecast(&dir, false).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
    engine.save_neuralforecast(&dir, true).expect("overwrites");
    let loaded = Engine::load_neuralforecast(&dir).expect("loads back");
    let ours = engine.predict(Some(&train()), None, &[], None).expect("predicts");
    assert_eq!(loaded.predict(Some(&train()), None, &[], None).expect("predicts"), ours);
    let siblings: Vec<_> = std::fs::read_dir(dir.parent().expect("a parent")).expect("listed").collect();
    assert_eq!(siblings.len(), 1, "no temporary directory is left behind");
    let _ = std::fs::remove_dir_all(dir.parent().expect("a parent"));
}

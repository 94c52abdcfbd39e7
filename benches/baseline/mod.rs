//! The configuration of `../shared/reference/baselines.md`, shared by the neural benchmarks: AirPassengers, train on
//! the first 132 months; inputSize 24, h 12, standard window scaling, 32 windows a step, lr 1e-3, MAE, seed 1, each
//! model's architecture as listed there, on 2 threads (`engine` takes the threads and batch size, for the thread
//! scaling benchmarks).
// Each bench binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::Path;

use neuro_divergent::data::{read_csv, CsvOptions, Panel};
use neuro_divergent::engine::{Engine, EngineConfig, ModelSpec};
use serde_json::{json, Value};

/// The neural models of the baselines, with their architectures.
pub fn models() -> Vec<(&'static str, Value)> {
    vec![
        ("LSTM", json!({ "encoderNLayers": 2, "encoderHiddenSize": 64, "decoderHiddenSize": 64, "decoderLayers": 2 })),
        ("GRU", json!({ "encoderNLayers": 2, "encoderHiddenSize": 64, "decoderHiddenSize": 64, "decoderLayers": 2 })),
        ("TCN", json!({ "kernelSize": 2, "dilations": [1, 2, 4, 8, 16], "encoderHiddenSize": 64, "decoderHiddenSize": 64 })),
        ("NBEATS", json!({ "stackTypes": ["identity", "trend", "seasonality"], "mlpUnits": [[512, 512], [512, 512], [512, 512]] })),
        ("NHITS", json!({ "mlpUnits": [[512, 512], [512, 512], [512, 512]] })),
        ("VanillaTransformer", json!({ "hiddenSize": 64, "nHead": 4, "encoderLayers": 2, "decoderLayers": 1 })),
        ("DLinear", json!({ "movingAvgWindow": 25 })),
        ("NLinear", json!({})),
        ("RNN", json!({ "encoderNLayers": 2, "encoderHiddenSize": 64, "decoderHiddenSize": 64, "decoderLayers": 2 })),
        ("TiDE", json!({})),
        ("KAN", json!({})),
        ("PatchTST", json!({})),
        // Multivariate, on AirPassengers' one series.
        ("TSMixer", json!({ "nSeries": 1 })),
        ("iTransformer", json!({ "nSeries": 1 })),
        ("BiTCN", json!({})),
        ("TFT", json!({})),
        ("TSMixerx", json!({ "nSeries": 1 })),
        ("DeepAR", json!({})),
    ]
}

/// The training part of AirPassengers (the repository's copy of the shared data set).
pub fn air_passengers() -> Panel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/air_passengers.csv");
    let panel = read_csv(&path, &CsvOptions::default(), None).expect("data/air_passengers.csv reads");
    panel.without_last(12, "the test months").expect("144 months")
}

/// The architecture of `model` in [`models`].
pub fn architecture(model: &str) -> Value {
    models().into_iter().find(|(name, _)| *name == model).map(|(_, architecture)| architecture).expect("a model of the baselines")
}

/// An engine of one model of the baselines on `threads` threads, `batch` windows a step (the baselines: 2, 32).
pub fn engine(model: &str, architecture: &Value, threads: usize, batch: usize) -> Engine {
    let mut options = json!({ "type": model, "h": 12, "inputSize": 24, "scalerType": "standard", "batchSize": batch, "learningRate": 1e-3, "randomSeed": 1 });
    let options = options.as_object_mut().expect("an object");
    options.extend(architecture.as_object().expect("an object").clone());
    let spec = ModelSpec::from_options(options, model).expect("the baselines' options are valid");
    let mut config = EngineConfig::new(vec![spec]);
    config.num_threads = threads;
    Engine::new(config).expect("a valid engine")
}

//! The NeuralForecast directory reader and writer against the directories NeuralForecast 3.3 saved
//! (`__test__/fixtures/neuralforecast/`), the hyper-parameter mapping, and every refusal.

use std::path::{Path, PathBuf};

use crate::data::{read_csv, CsvOptions, Panel};
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

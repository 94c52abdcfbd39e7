//! TFT's training against NeuralForecast 3.3's from the same weights. bench/tft_grad_fixture.py wrote
//! tft_nf33_training.safetensors for the TFT of models/tft_nf33_forward.safetensors (h 12, inputSize 24, hidden 8,
//! 2 heads, no exogenous inputs) with dropout 0, standard window scaling and MAE on AirPassengers' first 132 months:
//! the loss and every parameter's gradient of NeuralForecast's `training_step` on all 108 training windows, and its
//! forecast after training on every window each step, which draws nothing at random.

use safetensors::SafeTensors;
use serde_json::json;

use super::batch::{Batch, ExogColumns};
use super::network::NetworkCache;
use super::spec::ModelSpec;
use super::tests::{air_passengers, engine, keep_going, spec_of};
use super::windows::{TrainingWindows, WindowSampler};
use super::{FitOptions, Trained};
use crate::nn::loss::implicit_quantile::{Quantiles, MEDIAN};
use crate::nn::ParamStore;

const WEIGHTS: &[u8] = include_bytes!("../models/tft_nf33_forward.safetensors");
const TRAINING: &[u8] = include_bytes!("tft_nf33_training.safetensors");

/// The training windows of the 132 months (NeuralForecast's `padder_train` adds h zeros): inputs from rows
/// 0..=107, the last 11 with fewer than 12 observed targets.
const WINDOWS: usize = 108;

fn values(file: &SafeTensors<'_>, name: &str) -> Vec<f32> {
    let view = file.tensor(name).unwrap_or_else(|_| panic!("{name} missing"));
    view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The fixture's configuration: `windowsBatchSize` 108 draws every window once a step.
fn fixture_spec(max_steps: usize) -> ModelSpec {
    spec_of(json!({
        "type": "TFT", "h": 12, "inputSize": 24, "hiddenSize": 8, "nHead": 2, "dropout": 0.0, "scalerType": "standard",
        "windowsBatchSize": WINDOWS, "maxSteps": max_steps, "learningRate": 1e-3, "randomSeed": 1,
    }))
}

/// Overwrites every parameter with the tensor of the same name in `file`.
fn load(params: &mut ParamStore, file: &SafeTensors<'_>) {
    for (name, tensor) in params.iter_mut() {
        let loaded = values(file, name);
        assert_eq!(loaded.len(), tensor.data.len(), "{name}");
        tensor.data.copy_from_slice(&loaded);
    }
}

#[test]
fn a_training_step_has_neuralforecasts_loss_and_gradients() {
    let spec = fixture_spec(1);
    let neural = spec.neural().unwrap();
    let mut network = neural.architecture.build(&neural.loss).unwrap();
    load(network.params_mut(), &SafeTensors::deserialize(WEIGHTS).unwrap());
    let (panel, _) = air_passengers();
    // The engine's own windows and batch: a step of 108 windows draws each one once.
    let index = TrainingWindows::new(&panel, neural, 0).unwrap();
    let mut windows = Vec::new();
    WindowSampler::new(&index, neural.batch_size, WINDOWS, 1, 1).draw(&mut windows);
    let mut starts: Vec<isize> = windows.iter().map(|w| w.start).collect();
    starts.sort_unstable();
    assert_eq!(starts, (0..WINDOWS as isize).collect::<Vec<_>>());
    let mut batch = Batch::default();
    batch.reset(WINDOWS, neural.shape());
    for (k, w) in windows.iter().enumerate() {
        batch.fill_from_panel(k, &panel, &ExogColumns::default(), w.series, w.start, index.train_length(w.series));
    }
    batch.scale(neural.scaler_type, crate::simd::detected());
    let mut cache = NetworkCache::default();
    let forecast = network.forward(&batch.view(Some(1)), Quantiles::All(MEDIAN), &mut cache).unwrap().to_vec();
    let mut d_output = vec![0.0; forecast.len()];
    let loss = neural.loss.value_and_grad(&forecast, &batch.loss_targets(), &mut d_output).unwrap();
    let mut grads = network.params().zeros_like();
    network.backward(&mut cache, &d_output, &mut grads).unwrap();

    let expected = SafeTensors::deserialize(TRAINING).unwrap();
    let theirs = values(&expected, "loss")[0];
    assert!((loss - theirs).abs() <= 1e-5 * theirs, "loss {loss} vs NeuralForecast's {theirs}");
    for (name, grad) in grads.iter() {
        let theirs = values(&expected, &format!("grad.{name}"));
        assert_eq!(theirs.len(), grad.data.len(), "{name}");
        let norm = theirs.iter().map(|g| (*g as f64).powi(2)).sum::<f64>().sqrt();
        let error = grad.data.iter().zip(&theirs).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>().sqrt();
        let largest = theirs.iter().fold(0.0f32, |m, g| m.max(g.abs()));
        let worst = grad.data.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        // Measured: at most 2.4e-6 relative (a tensor without gradient, such as the context layers fed zero
        // contexts, is zero in both).
        assert!(error <= 1e-4 * norm && worst <= 1e-4 * largest, "{name}: ours {:?}\nNeuralForecast's {theirs:?}", grad.data);
    }
}

/// The forecast of the 12 test months after training `spec`'s model on the 132 others from `weights`.
fn trained_forecast(spec: ModelSpec, weights: &SafeTensors<'_>) -> Vec<f64> {
    let (panel, _) = air_passengers();
    let mut e = engine(vec![spec], 2);
    match &mut e.models[0] {
        Trained::Neural(network) => load(network.params_mut(), weights),
        Trained::Prophet(_) | Trained::Searching => unreachable!("a TFT is a network"),
    }
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    e.predict(None, None, &[], None).unwrap().columns.swap_remove(0).1
}

#[test]
fn training_from_its_weights_forecasts_what_neuralforecast_does() {
    let ours = trained_forecast(fixture_spec(200), &SafeTensors::deserialize(WEIGHTS).unwrap());
    let theirs = values(&SafeTensors::deserialize(TRAINING).unwrap(), "trained.200");
    let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - *b as f64).abs() / *b as f64).fold(0.0, f64::max);
    // Measured: 3.4e-7 (the rounding of the two libraries' sums, over 200 steps).
    assert!(worst < 1e-5, "worst relative difference {worst:e}\nours {ours:?}\nNeuralForecast's {theirs:?}");
}

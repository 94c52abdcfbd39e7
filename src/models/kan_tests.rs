//! Tests of KAN: NeuralForecast's parameter names and counts, gradients, batches, options and a fit.

use super::*;
use crate::models::model::tests::{
    assert_count_matches_estimate, assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape, with,
};
use crate::models::{ExogSizes, Model};

#[test]
fn parameter_counts_and_names_follow_neuralforecast() {
    // NeuralForecast 3.3 KAN(h=12, input_size=24) at its defaults: 184,320; with one historic variable 307,200.
    let config = KanConfig::new(shape(12, 24, ExogSizes::none()));
    assert_eq!(assert_count_matches_estimate(&config), 184_320);
    let model = config.build().unwrap();
    let names: Vec<String> = model.params().iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
    assert_eq!(
        names,
        [
            "layers.0.base_weight [512, 24]", "layers.0.spline_weight [512, 24, 8]", "layers.0.spline_scaler [512, 24]",
            "layers.1.base_weight [12, 512]", "layers.1.spline_weight [12, 512, 8]", "layers.1.spline_scaler [12, 512]",
        ]
    );
    assert_eq!(assert_count_matches_estimate(&KanConfig::new(shape(12, 24, ExogSizes { futr: 0, hist: 1, stat: 0 }))), 307_200);
    let per_layer = with(KanConfig::new(shape(12, 24, ExogSizes { futr: 2, hist: 1, stat: 1 })), |c| {
        (c.n_hidden_layers, c.hidden_size) = (2, HiddenSize::PerLayer(vec![16, 8]));
    });
    assert_count_matches_estimate(&per_layer);
    assert_eq!(per_layer.build().unwrap().params().find("layers.2.base_weight").unwrap().shape, [12, 8]);
    let none = with(KanConfig::new(shape(12, 24, ExogSizes::none())), |c| c.n_hidden_layers = 0);
    assert_eq!(assert_count_matches_estimate(&none), 24 * 12 * 10);
}

#[test]
fn gradients_match_finite_differences() {
    let small = |exog, outputs_per_point| {
        with(KanConfig::new(ModelShape { outputs_per_point, ..shape(3, 5, exog) }), |c| c.hidden_size = HiddenSize::Same(4))
    };
    check_model_gradients(&small(ExogSizes::none(), 1));
    check_model_gradients(&with(small(ExogSizes { futr: 1, hist: 2, stat: 1 }, 3), |c| {
        (c.n_hidden_layers, c.hidden_size, c.layer.spline_order, c.layer.grid_size) = (2, HiddenSize::PerLayer(vec![4, 3]), 2, 4);
    }));
}

#[test]
fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
    let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
    assert_window_alone_equals_batch(&KanConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }));
}

#[test]
fn options_round_trip_and_are_validated() {
    let changed = with(KanConfig::new(shape(12, 24, ExogSizes::none())), |c| {
        c.layer = KanOptions { grid_size: 7, spline_order: 2, scale_noise: 0.5, scale_base: 2.0, scale_spline: 0.5, grid_range: [-2.0, 3.0] };
        (c.n_hidden_layers, c.hidden_size, c.exclude_insample_y) = (2, HiddenSize::PerLayer(vec![32, 16]), true);
    });
    let mut written = Map::new();
    changed.write_options(&mut written);
    let mut read = KanConfig::new(shape(12, 24, ExogSizes::none()));
    read.read_options(&ModelOptions::new("model", &written)).unwrap();
    assert_eq!(read, changed);
    let fresh = || KanConfig::new(shape(12, 24, ExogSizes::none()));
    for (options, key) in [
        (serde_json::json!({ "gridEps": 0.1 }), "gridEps"),
        (serde_json::json!({ "enableStandaloneScaleSpline": false }), "enableStandaloneScaleSpline"),
        (serde_json::json!({ "hiddenSize": [8, 8] }), "hiddenSize"),
        (serde_json::json!({ "gridRange": [1, -1] }), "gridRange"),
        (serde_json::json!({ "gridSize": 0 }), "gridSize"),
    ] {
        let err = fresh().read_options(&ModelOptions::new("model", options.as_object().unwrap())).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
    let accepted = serde_json::json!({ "gridEps": 0.02, "enableStandaloneScaleSpline": true, "hiddenSize": 64, "nHiddenLayers": 2 });
    let mut config = fresh();
    config.read_options(&ModelOptions::new("model", accepted.as_object().unwrap())).unwrap();
    assert_eq!(config.widths(), [24, 64, 64, 12]);
}

#[test]
fn adam_fits_a_sine_wave() {
    let config = with(KanConfig::new(shape(12, 24, ExogSizes::none())), |c| c.hidden_size = HiddenSize::Same(32));
    assert_fits_sine(&config, 150, 1e-2, 0.3);
}

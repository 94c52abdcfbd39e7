//! Tests of TiDE: NeuralForecast's parameter names and counts, gradients, batches, options and a fit.

use super::*;
use crate::models::model::tests::{
    assert_count_matches_estimate, assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape, with,
};
use crate::models::{ExogSizes, Model};

fn small(exog: ExogSizes, outputs_per_point: usize) -> TideConfig {
    with(TideConfig::new(ModelShape { outputs_per_point, ..shape(3, 5, exog) }), |c| {
        c.hidden_size = 6;
        c.decoder_output_dim = 3;
        c.temporal_decoder_dim = 5;
        c.temporal_width = 2;
    })
}

#[test]
fn parameter_counts_and_names_follow_neuralforecast() {
    // NeuralForecast 3.3 TiDE(h=12, input_size=24) at its defaults, and with exogenous lists (state_dict()).
    let config = TideConfig::new(shape(12, 24, ExogSizes::none()));
    assert_eq!(assert_count_matches_estimate(&config), 951_376);
    let model = config.build().unwrap();
    let names: Vec<String> = model.params().iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
    let block = |prefix: &str, i: usize, k: usize, o: usize| {
        [
            format!("{prefix}.norm.weight [{o}]"), format!("{prefix}.norm.bias [{o}]"),
            format!("{prefix}.lin1.weight [{k}, {i}]"), format!("{prefix}.lin1.bias [{k}]"),
            format!("{prefix}.lin2.weight [{o}, {k}]"), format!("{prefix}.lin2.bias [{o}]"),
            format!("{prefix}.skip.weight [{o}, {i}]"), format!("{prefix}.skip.bias [{o}]"),
        ]
    };
    let mut expected: Vec<String> = block("dense_encoder.0", 24, 512, 512).into();
    expected.extend(block("dense_decoder.0", 512, 512, 384));
    expected.extend(block("temporal_decoder", 32, 128, 1));
    expected.extend(["global_skip.weight [12, 24]".to_string(), "global_skip.bias [12]".to_string()]);
    assert_eq!(names, expected);

    let futr_only = TideConfig::new(shape(12, 24, ExogSizes { futr: 1, hist: 0, stat: 0 }));
    assert_eq!(assert_count_matches_estimate(&futr_only), 1_105_016);
    let model = futr_only.build().unwrap();
    assert_eq!(model.params().find("hist_exog_projection.lin1.weight").unwrap().shape, [512, 0]);
    assert_eq!(model.params().find("dense_encoder.0.lin1.weight").unwrap().shape, [512, 168]);
    let all = TideConfig::new(shape(12, 24, ExogSizes { futr: 1, hist: 2, stat: 1 }));
    assert_eq!(assert_count_matches_estimate(&all), 1_205_376);
    assert_eq!(all.build().unwrap().params().find("dense_encoder.0.lin1.weight").unwrap().shape, [512, 265]);
    let deeper = with(TideConfig::new(shape(12, 24, ExogSizes { futr: 0, hist: 1, stat: 2 })), |c| {
        (c.num_encoder_layers, c.num_decoder_layers, c.layernorm) = (2, 3, false);
    });
    assert_count_matches_estimate(&deeper);
    assert!(deeper.build().unwrap().params().find("dense_decoder.2.lin2.weight").is_some());
}

#[test]
fn gradients_match_finite_differences() {
    check_model_gradients(&small(ExogSizes::none(), 1));
    check_model_gradients(&small(ExogSizes { futr: 2, hist: 1, stat: 1 }, 3));
    check_model_gradients(&with(small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 2), |c| {
        (c.num_encoder_layers, c.num_decoder_layers, c.layernorm) = (2, 2, false);
    }));
}

#[test]
fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
    let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
    assert_window_alone_equals_batch(&TideConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }));
}

#[test]
fn the_unused_historic_projection_keeps_its_weights() {
    // tide.py builds hist_exog_projection for future variables too but never calls it. (Two outputs per point:
    // with one, the temporal decoder's LayerNorm(1) outputs its bias whatever its input, as in torch.)
    let config = small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 2);
    let model = config.build().unwrap();
    let mut cache = TideCache::default();
    let inputs = crate::models::model::tests::RandomBatch::new(&config.shape, 4, 1);
    let out_len = model.forward(&inputs.view(Some(1)), &mut cache).unwrap().len();
    let mut grads = model.params().zeros_like();
    model.backward(&mut cache, &vec![1.0; out_len], &mut grads).unwrap();
    for (name, grad) in grads.iter().filter(|(n, _)| n.starts_with("hist_exog_projection")) {
        assert!(grad.data.iter().all(|&g| g == 0.0), "{name}");
    }
    assert!(grads.find("futr_exog_projection.lin2.weight").unwrap().data.iter().any(|&g| g != 0.0));
}

#[test]
fn options_round_trip_and_are_validated() {
    let changed = with(TideConfig::new(shape(12, 24, ExogSizes::none())), |c| {
        (c.hidden_size, c.decoder_output_dim, c.temporal_decoder_dim, c.dropout) = (64, 8, 16, 0.1);
        (c.layernorm, c.num_encoder_layers, c.num_decoder_layers, c.temporal_width, c.exclude_insample_y) = (false, 2, 3, 3, true);
    });
    let mut written = Map::new();
    changed.write_options(&mut written);
    let mut read = TideConfig::new(shape(12, 24, ExogSizes::none()));
    read.read_options(&ModelOptions::new("model", &written)).unwrap();
    assert_eq!(read, changed);
    for (key, bad) in [("dropout", serde_json::json!(1.0)), ("numEncoderLayers", serde_json::json!(0)), ("layernorm", serde_json::json!(1))] {
        let options = Map::from_iter([(key.to_string(), bad)]);
        let err = read.read_options(&ModelOptions::new("model", &options)).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn adam_fits_a_sine_wave() {
    let config = with(TideConfig::new(shape(12, 24, ExogSizes::none())), |c| {
        (c.hidden_size, c.dropout) = (32, 0.0);
    });
    assert_fits_sine(&config, 150, 1e-2, 0.3);
}

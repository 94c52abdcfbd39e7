//! Tests of BiTCN: NeuralForecast's parameter names and counts, gradients, batches, options and a fit.

use super::*;
use crate::models::model::tests::{
    assert_count_matches_estimate, assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape, with,
};
use crate::models::{ExogSizes, Model};

fn small(exog: ExogSizes, outputs_per_point: usize) -> BitcnConfig {
    with(BitcnConfig::new(ModelShape { outputs_per_point, ..shape(3, 5, exog) }), |c| c.hidden_size = 4)
}

#[test]
fn parameter_counts_and_names_follow_neuralforecast() {
    // NeuralForecast 3.3 BiTCN(h=12, input_size=24) at its defaults (state_dict()): 5 backward cells.
    let config = BitcnConfig::new(shape(12, 24, ExogSizes::none()));
    assert_eq!(assert_count_matches_estimate(&config), 6_013);
    let model = config.build().unwrap();
    let names: Vec<String> = model.params().iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
    let mut expected = vec!["lin_hist.weight [16, 1]".to_string(), "lin_hist.bias [16]".to_string()];
    for i in 0..5 {
        expected.extend([
            format!("net_bwd.{i}.conv1.weight [16, 16, 2]"), format!("net_bwd.{i}.conv1.bias [16]"),
            format!("net_bwd.{i}.conv2.weight [32, 16, 1]"), format!("net_bwd.{i}.conv2.bias [32]"),
        ]);
    }
    expected.extend(
        ["temporal_lin1.weight [16, 24]", "temporal_lin1.bias [16]", "temporal_lin2.weight [12, 16]", "temporal_lin2.bias [12]",
            "output_lin.weight [1, 16]", "output_lin.bias [1]"]
            .map(String::from),
    );
    assert_eq!(names, expected);

    // With futr_exog_list of 2, hist of 1, stat of 1: lin_hist [16, 5], lin_futr [16, 2], ceil(log2 36) = 6
    // forward cells, output_lin [1, 48].
    let all = BitcnConfig::new(shape(12, 24, ExogSizes { futr: 2, hist: 1, stat: 1 }));
    assert_eq!(assert_count_matches_estimate(&all), 6_013 + 4 * 16 + 3 * 16 + 6 * 1_072 + 32);
    let model = all.build().unwrap();
    assert_eq!(model.params().find("lin_hist.weight").unwrap().shape, [16, 5]);
    assert_eq!(model.params().find("lin_futr.weight").unwrap().shape, [16, 2]);
    assert!(model.params().find("net_fwd.5.conv1.weight").is_some() && model.params().find("net_fwd.6.conv1.weight").is_none());
    assert_eq!(model.params().find("output_lin.weight").unwrap().shape, [1, 48]);
    // Powers of two need no extra cell: L = 16 -> 4, L = 17 -> 5.
    assert_eq!((cells_for(2), cells_for(16), cells_for(17)), (1, 4, 5));
    for input_size in [2, 3, 16, 17] {
        assert_count_matches_estimate(&BitcnConfig::new(shape(4, input_size, ExogSizes { futr: 1, hist: 0, stat: 2 })));
    }
}

#[test]
fn gradients_match_finite_differences() {
    check_model_gradients(&small(ExogSizes::none(), 1));
    check_model_gradients(&small(ExogSizes { futr: 2, hist: 1, stat: 1 }, 3));
    check_model_gradients(&with(small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 2), |c| c.dropout = 0.0));
    check_model_gradients(&with(small(ExogSizes { futr: 0, hist: 2, stat: 0 }, 1), |c| c.exclude_insample_y = true));
}

#[test]
fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
    assert_window_alone_equals_batch(&BitcnConfig::new(shape(12, 24, ExogSizes::none())));
    let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
    assert_window_alone_equals_batch(&BitcnConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }));
}

#[test]
fn the_last_future_value_reaches_every_forecast_step() {
    // The forward cells' receptive field covers all L + h steps, so the last future value moves every forecast.
    let config = small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 1);
    let model = config.build().unwrap();
    let inputs = crate::models::model::tests::RandomBatch::new(&config.shape, 1, 4);
    let mut cache = BitcnCache::default();
    let base = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    let mut changed = inputs.windows(0..1);
    *changed.futr_exog.last_mut().unwrap() += 1.0;
    let moved = model.forward(&changed.view(None), &mut cache).unwrap().to_vec();
    assert!(base.iter().zip(&moved).all(|(a, b)| a != b), "{base:?} vs {moved:?}");
}

#[test]
fn options_round_trip_and_are_validated() {
    let changed = with(BitcnConfig::new(shape(12, 24, ExogSizes::none())), |c| {
        (c.hidden_size, c.dropout, c.exclude_insample_y) = (8, 0.1, true);
    });
    let mut written = Map::new();
    changed.write_options(&mut written);
    let mut read = BitcnConfig::new(shape(12, 24, ExogSizes::none()));
    read.read_options(&ModelOptions::new("model", &written)).unwrap();
    assert_eq!(read, changed);
    for (key, bad) in [("dropout", serde_json::json!(1.0)), ("hiddenSize", serde_json::json!(0)), ("excludeInsampleY", serde_json::json!(1))] {
        let options = Map::from_iter([(key.to_string(), bad)]);
        let err = read.read_options(&ModelOptions::new("model", &options)).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
    let err = BitcnConfig::new(shape(12, 1, ExogSizes::none())).build().unwrap_err();
    assert!(err.to_string().contains("inputSize"), "{err}");
}

#[test]
fn adam_fits_a_sine_wave() {
    let config = with(BitcnConfig::new(shape(12, 24, ExogSizes::none())), |c| c.dropout = 0.0);
    assert_fits_sine(&config, 150, 1e-2, 0.3);
}

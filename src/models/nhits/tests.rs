//! Tests of NHITS: torch's parameter names and counts, options, pooling and interpolation, gradients and fits.

use serde_json::json;

use super::*;
use crate::models::Model;
use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, check_model_gradients, shape, RandomBatch};
use crate::models::ExogSizes;

pub(crate) fn baseline() -> NhitsConfig {
    NhitsConfig::new(shape(12, 24, ExogSizes::none()))
}

/// Two stacks (one and two blocks) of small layers, pooling kernels 2 and 3 over a window of 7 (short
/// last pooling windows), and knots 5 / 2 = 2 and 1.
fn small(exog: ExogSizes, outputs_per_point: usize) -> NhitsConfig {
    NhitsConfig {
        n_blocks: vec![1, 2],
        mlp_units: vec![[6, 6], [6, 5]],
        n_pool_kernel_size: vec![2, 3],
        n_freq_downsample: vec![2, 8],
        ..NhitsConfig::new(ModelShape { outputs_per_point, ..shape(5, 7, exog) })
    }
}

fn names(model: &Nhits) -> Vec<&str> {
    model.params().iter().map(|(n, _)| n).collect()
}

#[test]
fn parameter_count_and_names_follow_torch() {
    // NeuralForecast NHITS(h=12, input_size=24) defaults: sum(p.numel() for p in model.parameters()).
    let config = baseline();
    assert_eq!(assert_count_matches_estimate(&config), 2_437_725);
    let model = config.build().unwrap();
    let names = names(&model);
    assert_eq!(names.len(), 3 * 5 * 2);
    assert_eq!(&names[..4], ["blocks.0.layers.0.weight", "blocks.0.layers.0.bias", "blocks.0.layers.1.weight", "blocks.0.layers.1.bias"]);
    assert_eq!(names.last(), Some(&"blocks.2.layers.7.bias"));
    let shape_of = |name: &str| model.params().find(name).unwrap().shape.clone();
    // Pooled inputs 24 / 2 = 12 and 24 / 1; theta 24 + 12 / 4 = 27 and 24 + 12.
    assert_eq!(shape_of("blocks.0.layers.0.weight"), [512, 12]);
    assert_eq!(shape_of("blocks.0.layers.5.weight"), [512, 512]);
    assert_eq!(shape_of("blocks.0.layers.7.weight"), [27, 512]);
    assert_eq!(shape_of("blocks.1.layers.7.bias"), [30]);
    assert_eq!(shape_of("blocks.2.layers.0.weight"), [512, 24]);
    assert_eq!(shape_of("blocks.2.layers.7.weight"), [36, 512]);
    // torch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    let bound = 1.0 / 12f32.sqrt();
    assert!(model.params().find("blocks.0.layers.0.weight").unwrap().data.iter().all(|w| w.abs() <= bound));
}

#[test]
fn dropout_and_prelu_shift_the_sequential_indices() {
    let config = NhitsConfig { dropout_prob_theta: 0.1, activation: ActivationKind::Prelu, ..small(ExogSizes::none(), 1) };
    let model = config.build().unwrap();
    let block: Vec<&str> = names(&model).into_iter().filter(|n| n.starts_with("blocks.0.")).collect();
    assert_eq!(
        block,
        [
            "blocks.0.layers.0.weight",
            "blocks.0.layers.0.bias",
            "blocks.0.layers.1.weight",
            "blocks.0.layers.1.bias",
            "blocks.0.layers.2.weight",
            "blocks.0.layers.4.weight",
            "blocks.0.layers.4.bias",
            "blocks.0.layers.7.weight",
            "blocks.0.layers.7.bias",
        ]
    );
    assert_eq!(model.params().find("blocks.2.layers.2.weight").unwrap().data, [0.25]);
    assert_eq!(config.memory_estimate().0, model.params().num_parameters() as u128);
}

#[test]
fn exogenous_inputs_widen_the_first_layer_and_the_estimate_is_exact() {
    let exog = ExogSizes { futr: 2, hist: 3, stat: 1 };
    let model = small(exog, 3).build().unwrap();
    // Block 0 (kernel 2): ceil(7/2) = 4 window steps, 4 * 3 historic, ceil(12/2) * 2 future, 1 static.
    assert_eq!(model.params().find("blocks.0.layers.0.weight").unwrap().shape, [6, 4 + 12 + 12 + 1]);
    // Theta: 7 backcast values and 3 outputs x 2 knots (block 0), 3 x 1 knot (5 / 8 -> 1).
    assert_eq!(model.params().find("blocks.0.layers.5.weight").unwrap().shape, [7 + 6, 5]);
    assert_eq!(model.params().find("blocks.2.layers.5.bias").unwrap().shape, [7 + 3]);
    let configs = [
        small(exog, 3),
        NhitsConfig { activation: ActivationKind::Prelu, dropout_prob_theta: 0.3, ..small(exog, 2) },
        NhitsConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }),
        NhitsConfig { n_blocks: vec![2, 0, 1], ..baseline() },
    ];
    for config in configs {
        assert_eq!(config.memory_estimate().0, config.build().unwrap().params().num_parameters() as u128);
    }
}

/// nhits.py's forward written out plainly for ReLU, max pooling and linear interpolation, reading the
/// weights by name: the reversed residual, the pooled and concatenated inputs, the MLP, the backcast and
/// the interpolated knots.
fn reference_forward(model: &Nhits, inputs: &RandomBatch) -> Vec<f32> {
    let config = model.config();
    let ModelShape { h, input_size: l, outputs_per_point: q, exog, .. } = config.shape;
    let param = |name: String| model.params().find(&name).unwrap().data.clone();
    let linear = |prefix: String, x: &[f32]| -> Vec<f32> {
        let (w, b) = (param(format!("{prefix}.weight")), param(format!("{prefix}.bias")));
        (0..b.len()).map(|o| b[o] + x.iter().zip(&w[o * x.len()..]).map(|(x, w)| x * w).sum::<f32>()).collect()
    };
    let max_pool = |series: &[f32], k: usize| -> Vec<f32> {
        series.chunks(k).map(|w| w.iter().copied().fold(f32::NEG_INFINITY, f32::max)).collect()
    };
    // [T, C] pooled per channel along T, back to [T', C] row-major.
    let pool_channels = |values: &[f32], steps: usize, channels: usize, k: usize| -> Vec<f32> {
        let pooled: Vec<Vec<f32>> = (0..channels)
            .map(|c| max_pool(&(0..steps).map(|t| values[t * channels + c]).collect::<Vec<_>>(), k))
            .collect();
        (0..steps.div_ceil(k)).flat_map(|t| pooled.iter().map(move |p| p[t])).collect()
    };
    let mut out = Vec::new();
    for b in 0..inputs.batch {
        let y = &inputs.insample_y[b * l..(b + 1) * l];
        let hist = &inputs.hist_exog[b * l * exog.hist..(b + 1) * l * exog.hist];
        let futr = &inputs.futr_exog[b * (l + h) * exog.futr..(b + 1) * (l + h) * exog.futr];
        let stat = &inputs.stat_exog[b * exog.stat..(b + 1) * exog.stat];
        let mut residual: Vec<f32> = y.iter().rev().copied().collect();
        let mut forecast = vec![y[l - 1]; h * q];
        for (i, stack) in config.block_stacks().enumerate() {
            let k = config.n_pool_kernel_size[stack];
            let mut x = max_pool(&residual, k);
            x.extend(pool_channels(hist, l, exog.hist, k));
            x.extend(pool_channels(futr, l + h, exog.futr, k));
            x.extend_from_slice(stat);
            let mut a = linear(format!("blocks.{i}.layers.0"), &x);
            for j in 0..config.mlp_units.len() {
                a = linear(format!("blocks.{i}.layers.{}", 1 + 2 * j), &a).iter().map(|v| v.max(0.0)).collect();
            }
            let theta = linear(format!("blocks.{i}.layers.{}", 1 + 2 * config.mlp_units.len()), &a);
            residual.iter_mut().zip(&theta).for_each(|(r, b)| *r -= b);
            let n = (h / config.n_freq_downsample[stack]).max(1);
            for (k, knots) in theta[l..].chunks(n).enumerate() {
                for t in 0..h {
                    let position = ((t as f64 + 0.5) * n as f64 / h as f64 - 0.5).max(0.0);
                    let lower = (position.floor() as usize).min(n - 1);
                    let upper = (lower + 1).min(n - 1);
                    let fraction = (position - lower as f64).min(1.0);
                    forecast[t * q + k] += ((1.0 - fraction) * knots[lower] as f64 + fraction * knots[upper] as f64) as f32;
                }
            }
        }
        out.extend(forecast);
    }
    out
}

#[test]
fn forward_matches_a_plain_transcription_of_nhits_py() {
    let exog = ExogSizes { futr: 2, hist: 1, stat: 2 };
    for config in [small(exog, 2), NhitsConfig::new(shape(12, 24, ExogSizes::none()))] {
        let model = config.build().unwrap();
        let inputs = RandomBatch::new(&config.shape, 3, 17);
        let mut cache = NhitsCache::default();
        let forecast = model.forward(&inputs.view(None), &mut cache).unwrap();
        let expected = reference_forward(&model, &inputs);
        assert_eq!(forecast.len(), expected.len());
        for (a, e) in forecast.iter().zip(&expected) {
            assert!((a - e).abs() <= 1e-4 * e.abs().max(1.0), "{a} vs {e}");
        }
    }
}

// The gradient checks use smooth activations: the small layers keep pre-activations within a
// finite-difference step of 0 often enough that ReLU's kink would make the numeric side meaningless. ReLU
// itself is checked by `forward_matches_a_plain_transcription_of_nhits_py` and in `nn::activation`.

#[test]
fn gradients_match_finite_differences_with_exogenous_inputs_and_quantiles() {
    let config = NhitsConfig { activation: ActivationKind::Softplus, ..small(ExogSizes { futr: 1, hist: 2, stat: 1 }, 3) };
    check_model_gradients(&config);
}

#[test]
fn gradients_match_with_average_pooling_and_nearest_interpolation() {
    let config = NhitsConfig {
        pooling_mode: PoolMode::Avg,
        interpolation_mode: InterpolationMode::Nearest,
        activation: ActivationKind::Tanh,
        ..small(ExogSizes { futr: 2, hist: 0, stat: 0 }, 2)
    };
    check_model_gradients(&config);
}

#[test]
fn gradients_match_with_cubic_interpolation_and_dropout() {
    let config = NhitsConfig {
        interpolation_mode: InterpolationMode::Cubic,
        activation: ActivationKind::Tanh,
        dropout_prob_theta: 0.2,
        ..small(ExogSizes { futr: 0, hist: 1, stat: 1 }, 1)
    };
    check_model_gradients(&config);
}

#[test]
fn the_shared_prelu_slope_collects_the_gradient_of_every_layer() {
    use crate::nn::gradcheck::{check_param_grads, random_vec, weighted_sum};
    let config = NhitsConfig { activation: ActivationKind::Prelu, ..small(ExogSizes::none(), 1) };
    let mut model = config.build().unwrap();
    // At slope 1 PReLU is the identity, without a kink, while d loss/d slope (the sum of x * g over x <= 0
    // in every hidden layer) is not 0.
    model.params_mut().iter_mut().filter(|(name, _)| name.ends_with("layers.2.weight")).for_each(|(_, t)| t.data[0] = 1.0);
    let inputs = RandomBatch::new(&config.shape, 3, 4);
    let weights = random_vec(3 * 5, 5);
    let mut cache = NhitsCache::default();
    model.forward(&inputs.view(None), &mut cache).unwrap();
    let mut grads = model.params().zeros_like();
    model.backward(&mut cache, &weights, &mut grads).unwrap();
    assert!(grads.find("blocks.1.layers.2.weight").unwrap().data[0].abs() > 1e-3);
    let mut params = model.params().clone();
    check_param_grads(&mut params, &grads, 4, |p| {
        *model.params_mut() = p.clone();
        weighted_sum(model.forward(&inputs.view(None), &mut NhitsCache::default()).unwrap(), &weights)
    });
}

#[test]
fn adam_fits_a_sine_wave() {
    let config = NhitsConfig { mlp_units: vec![[32, 32], [32, 32]], ..baseline() };
    assert_fits_sine(&config, 150, 1e-3, 0.2);
}

#[test]
fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
    let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
    // Layers of fewer and of more inputs than nn::matmul::DOT_MIN_INPUTS, which take different kernels.
    let mlp_units = vec![[160, 160], [160, 64]];
    let config = NhitsConfig { mlp_units, ..NhitsConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }) };
    let model = config.build().unwrap();
    let all = RandomBatch::new(&config.shape, 70, 3);
    let per_window = 12 * 3;
    let mut cache = NhitsCache::default();
    let mut forecast = |range: std::ops::Range<usize>, window: usize| {
        let forecast = model.forward(&all.windows(range.clone()).view(None), &mut cache).unwrap();
        forecast[(window - range.start) * per_window..][..per_window].to_vec()
    };
    // The same bits in any batch: Linear's forward kernel does not depend on the rows (see nn::matmul).
    let alone = forecast(2..3, 2);
    assert_eq!(alone, forecast(0..70, 2));
    assert_eq!(alone, forecast(1..3, 2));
    assert_eq!(alone, forecast(2..7, 2));
}

#[test]
fn options_round_trip_and_defaults_follow_neuralforecast() {
    let config = baseline();
    assert_eq!((config.n_pool_kernel_size.as_slice(), config.n_freq_downsample.as_slice()), ([2, 2, 1].as_slice(), [4, 2, 1].as_slice()));
    assert_eq!((config.pooling_mode, config.interpolation_mode, config.activation), (PoolMode::Max, InterpolationMode::Linear, ActivationKind::Relu));
    let changed = NhitsConfig {
        n_blocks: vec![2, 1],
        mlp_units: vec![[64, 32], [32, 16]],
        n_pool_kernel_size: vec![4, 1],
        n_freq_downsample: vec![6, 1],
        pooling_mode: PoolMode::Avg,
        interpolation_mode: InterpolationMode::Cubic,
        dropout_prob_theta: 0.25,
        activation: ActivationKind::Selu,
        ..baseline()
    };
    let mut written = Map::new();
    changed.write_options(&mut written);
    assert_eq!(written["stackTypes"], json!(["identity", "identity"]));
    assert_eq!(written.keys().count(), NhitsConfig::OPTION_KEYS.len());
    let mut read = baseline();
    read.read_options(&ModelOptions::new("NHITS", &written)).unwrap();
    assert_eq!(read, changed);
}

#[test]
fn invalid_options_are_refused_with_the_field_named() {
    let read = |options: Value, outputs_per_point: usize| {
        let mut config = NhitsConfig::new(ModelShape { outputs_per_point, ..shape(12, 24, ExogSizes::none()) });
        config.read_options(&ModelOptions::new("models[0]", options.as_object().unwrap())).map(|_| config)
    };
    let message = |options: Value| match read(options, 1) {
        Err(OptionError::Range(m) | OptionError::Type(m)) => m,
        Ok(_) => panic!("accepted"),
    };
    assert!(message(json!({ "stackTypes": ["identity", "trend", "identity"] })).contains("models[0].stackTypes"));
    assert!(message(json!({ "stackTypes": ["identity", "identity"] })).contains("2 stacks but nBlocks has 3"));
    assert!(message(json!({ "mlpUnits": [[512, 512], [512]] })).contains("models[0].mlpUnits[1] must be [inputs, outputs]"));
    assert!(message(json!({ "mlpUnits": [[512, 256], [512, 512]] })).contains("mlpUnits[1] takes 512 inputs"));
    assert!(message(json!({ "nBlocks": [1, 1, 1, 1] })).contains("one entry per stack"));
    assert!(message(json!({ "nPoolKernelSize": [2, 0, 1] })).contains("models[0].nPoolKernelSize[1]"));
    assert!(message(json!({ "poolingMode": "max" })).contains("MaxPool1d, AvgPool1d"));
    assert!(message(json!({ "activation": "GELU" })).contains("models[0].activation"));
    assert!(message(json!({ "dropoutProbTheta": 1 })).contains("[0, 1)"));
    assert!(message(json!({ "nBlocks": [0, 0, 0] })).contains("at least one block"));
    assert!(matches!(read(json!({ "interpolationMode": "cubic" }), 3), Err(OptionError::Range(m)) if m.contains("cubic interpolation is not available")));
    assert!(read(json!({ "interpolationMode": "cubic" }), 1).is_ok());
}

#[test]
fn invalid_sizes_and_inputs_give_errors() {
    assert_eq!(NhitsConfig::new(shape(12, 0, ExogSizes::none())).build().unwrap_err(), NnError::ZeroSize { what: "inputSize" });
    let cubic_quantiles = NhitsConfig {
        interpolation_mode: InterpolationMode::Cubic,
        ..NhitsConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, ExogSizes::none()) })
    };
    for config in [
        cubic_quantiles,
        NhitsConfig { mlp_units: vec![], ..baseline() },
        NhitsConfig { n_freq_downsample: vec![4, 0, 1], ..baseline() },
        NhitsConfig { n_pool_kernel_size: vec![2, 2], ..baseline() },
        NhitsConfig { dropout_prob_theta: f64::NAN, ..baseline() },
    ] {
        assert!(matches!(config.build(), Err(NnError::InvalidValue { what: "NHITS configuration", .. })), "{config:?}");
        config.memory_estimate();
    }
    let model = small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 1).build().unwrap();
    let mut cache = NhitsCache::default();
    let mut grads = model.params().zeros_like();
    assert!(model.backward(&mut cache, &[0.0; 5], &mut grads).is_err());
    let err = model.forward(&WindowBatch::univariate(&[0.0; 7], 1), &mut cache).unwrap_err();
    assert_eq!(err, NnError::LengthMismatch { what: "future exogenous inputs", expected: 12, actual: 0 });
    let inputs = RandomBatch::new(&model.config().shape, 2, 1);
    model.forward(&inputs.view(None), &mut cache).unwrap();
    assert!(model.backward(&mut cache, &[0.0; 9], &mut grads).is_err());
    assert!(model.backward(&mut cache, &[0.0; 10], &mut baseline().build().unwrap().params().zeros_like()).is_err());
    model.backward(&mut cache, &[0.0; 10], &mut grads).unwrap();
    // A cache filled by a model of other blocks.
    let other = NhitsConfig { mlp_units: vec![[6, 6]], ..small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 1) }.build().unwrap();
    other.forward(&inputs.view(None), &mut cache).unwrap();
    assert!(model.backward(&mut cache, &[0.0; 10], &mut grads).is_err());
}

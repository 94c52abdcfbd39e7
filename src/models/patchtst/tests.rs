//! Tests of PatchTST: NeuralForecast's parameter names and count, options, the encoder layer's and the model's
//! gradients, BatchNorm's running statistics, and fits.

use serde_json::json;

use super::*;
use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, check_model_gradients, shape, RandomBatch};
use crate::models::{ExogSizes, Model};
use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, weighted_sum};

fn small(outputs_per_point: usize) -> PatchTstConfig {
    PatchTstConfig {
        encoder_layers: 2,
        n_heads: 2,
        hidden_size: 8,
        linear_hidden_size: 6,
        patch_len: 4,
        stride: 2,
        ..PatchTstConfig::new(ModelShape { outputs_per_point, ..shape(3, 9, ExogSizes::none()) })
    }
}

#[test]
fn parameter_count_equals_neuralforecast_at_its_defaults() {
    // NeuralForecast 3.3 PatchTST(h=12, input_size=24): 404,623 parameters (3 of them the frozen attention scales).
    let config = PatchTstConfig::new(shape(12, 24, ExogSizes::none()));
    assert_eq!(config.patch_num(), 3);
    assert_eq!(assert_count_matches_estimate(&config), 404_623);
    let model = config.build().unwrap();
    let find = |name: &str| model.params().find(name).unwrap().shape.clone();
    assert_eq!(find("model.backbone.W_pos"), [3, 128]);
    assert_eq!(find("model.backbone.W_P.weight"), [128, 16]);
    assert_eq!(find("model.backbone.encoder.layers.2.self_attn.sdp_attn.scale"), Vec::<usize>::new());
    assert_eq!(find("model.backbone.encoder.layers.1.norm_ffn.1.running_var"), [128]);
    assert_eq!(find("model.head.linear.weight"), [12, 384]);
}

#[test]
fn names_follow_the_neuralforecast_state_dict() {
    let config = PatchTstConfig { encoder_layers: 1, revin_affine: true, ..small(1) };
    let model = config.build().unwrap();
    let mut expected: Vec<String> = ["model.revin_layer.affine_weight", "model.revin_layer.affine_bias", "model.backbone.W_pos"].map(String::from).to_vec();
    let pairs = |prefix: &str, modules: &[&str]| -> Vec<String> {
        modules.iter().flat_map(|m| ["weight", "bias"].map(|w| format!("{prefix}{m}.{w}"))).collect()
    };
    let layer = "model.backbone.encoder.layers.0.";
    expected.extend(pairs("model.backbone.", &["W_P"]));
    expected.extend(pairs(layer, &["self_attn.W_Q", "self_attn.W_K", "self_attn.W_V"]));
    expected.push(format!("{layer}self_attn.sdp_attn.scale"));
    expected.extend(pairs(layer, &["self_attn.to_out.0", "norm_attn.1"]));
    expected.extend(["running_mean", "running_var", "num_batches_tracked"].map(|b| format!("{layer}norm_attn.1.{b}")));
    expected.extend(pairs(layer, &["ff.0", "ff.3", "norm_ffn.1"]));
    expected.extend(["running_mean", "running_var", "num_batches_tracked"].map(|b| format!("{layer}norm_ffn.1.{b}")));
    expected.extend(pairs("model.", &["head.linear"]));
    let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
    assert_eq!(names, expected);
    assert_eq!(model.params().find(&format!("{layer}self_attn.sdp_attn.scale")).unwrap().data, [0.5]);
}

#[test]
fn defaults_and_options_follow_neuralforecast() {
    let mut config = PatchTstConfig::new(shape(12, 24, ExogSizes::none()));
    assert_eq!((config.encoder_layers, config.n_heads, config.hidden_size, config.linear_hidden_size), (3, 16, 128, 256));
    assert_eq!((config.dropout, config.head_dropout, config.attn_dropout, config.patch_len, config.stride), (0.2, 0.0, 0.0, 16, 8));
    assert_eq!((config.revin, config.revin_affine, config.revin_subtract_last), (true, false, true));
    assert_eq!((config.res_attention, config.batch_normalization, config.learn_pos_embed, config.activation), (true, false, true, Activation::Gelu));
    let options = json!({ "encoderLayers": 2, "nHeads": 4, "hiddenSize": 16, "linearHiddenSize": 8, "dropout": 0.1, "fcDropout": 0.2,
        "headDropout": 0.05, "attnDropout": 0.1, "patchLen": 40, "stride": 4, "revin": false, "revinAffine": true,
        "revinSubtractLast": false, "activation": "relu", "resAttention": false, "batchNormalization": true, "learnPosEmbed": false });
    config.read_options(&ModelOptions::new("PatchTST", options.as_object().unwrap())).unwrap();
    assert_eq!((config.effective_patch_len(), config.patch_num()), (28, 1), "patch_len = min(patchLen, inputSize + stride)");
    let mut written = Map::new();
    config.write_options(&mut written);
    let mut reread = PatchTstConfig::new(shape(12, 24, ExogSizes::none()));
    reread.read_options(&ModelOptions::new("PatchTST", &written)).unwrap();
    assert_eq!(reread, config);
    assert_eq!(written.len(), PatchTstConfig::OPTION_KEYS.len());
}

#[test]
fn invalid_options_and_exogenous_inputs_name_what_is_wrong() {
    let read = |exog: ExogSizes, options: Value| {
        let mut config = PatchTstConfig::new(shape(12, 24, exog));
        config.read_options(&ModelOptions::new("PatchTST", options.as_object().unwrap())).unwrap_err().to_string()
    };
    let none = ExogSizes::none();
    assert!(read(none, json!({ "dropout": 1 })).contains("PatchTST.dropout"));
    assert!(read(none, json!({ "fcDropout": 0.1 })).contains("PatchTST.fcDropout"));
    assert!(read(none, json!({ "hiddenSize": 20 })).contains("PatchTST.hiddenSize"));
    assert!(read(none, json!({ "stride": 0 })).contains("PatchTST.stride"));
    assert!(read(none, json!({ "activation": "tanh" })).contains("PatchTST.activation"));
    let exog = read(ExogSizes { hist: 1, ..none }, json!({}));
    assert!(exog.contains("PatchTST takes no exogenous") && exog.contains("histExogList"), "{exog}");
}

#[test]
fn the_estimate_counts_every_parameter() {
    for config in [
        PatchTstConfig { revin_affine: true, learn_pos_embed: false, ..small(3) },
        PatchTstConfig { patch_len: 30, encoder_layers: 1, ..small(1) },
        PatchTstConfig::new(shape(7, 30, ExogSizes::none())),
    ] {
        let parameters = assert_count_matches_estimate(&config);
        let stored: usize = config.build().unwrap().params().iter().map(|(_, t)| t.len()).sum();
        assert_eq!(config.buffer_values(), (stored - parameters) as u128);
    }
}

#[test]
fn encoder_layer_gradients_match_finite_differences_with_residual_scores() {
    for pre_norm in [false, true] {
        let config = small(1);
        let (b, q, d) = (3, config.patch_num(), config.hidden_size);
        let options = LayerOptions {
            hidden: d,
            heads: 2,
            linear_hidden: 6,
            dropout: 0.2,
            attn_dropout: 0.1,
            activation: Activation::Gelu,
            res_attention: true,
            pre_norm,
        };
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut stream = 0;
        let layer = EncoderLayer::new(&mut ParamInit::new(&mut params, &mut rng).pp("layer"), options, &mut |p| {
            stream += 1;
            Dropout::new(p, stream)
        })
        .unwrap();
        let (input, prev) = (random_vec(b * q * d, 1), random_vec(b * 2 * q * q, 2));
        let (weights, score_weights) = (random_vec(b * q * d, 3), random_vec(b * 2 * q * q, 4));
        // The objective reads the output and the scores handed on, as a next layer would.
        let run = |params: &ParamStore, input: &[f32], prev: &[f32]| {
            let mut cache = EncoderLayerCache::default();
            layer.forward(params, input, b, q, Some(prev), Some(7), &mut cache).unwrap();
            weighted_sum(cache.output(&layer), &weights) + weighted_sum(cache.scores(&layer), &score_weights)
        };
        let mut cache = EncoderLayerCache::default();
        layer.forward(&params, &input, b, q, Some(&prev), Some(7), &mut cache).unwrap();
        let (mut grads, mut d_input, mut d_prev) = (params.zeros_like(), vec![0.0; input.len()], vec![0.0; prev.len()]);
        let d_scores = ScoreGradients { above: Some(&score_weights), below: Some(&mut d_prev) };
        layer.backward(&params, &input, &mut cache, &weights, &mut grads, &mut d_input, d_scores).unwrap();
        check_param_grads(&mut params.clone(), &grads, 5, |p| run(p, &input, &prev));
        check_input_grads(&input, &d_input, 12, |x| run(&params, x, &prev));
        check_input_grads(&prev, &d_prev, 12, |s| run(&params, &input, s));
    }
}

#[test]
fn gradients_match_finite_differences_at_the_defaults_with_quantiles() {
    check_model_gradients(&small(3));
}

#[test]
fn gradients_match_finite_differences_with_pre_norm_plain_attention_and_affine_revin() {
    let config = PatchTstConfig {
        batch_normalization: true,
        res_attention: false,
        revin_affine: true,
        revin_subtract_last: false,
        head_dropout: 0.1,
        attn_dropout: 0.1,
        ..small(1)
    };
    check_model_gradients(&config);
    // With attention dropout too, ReLU puts a sample within a finite difference of a kink (a 3 % miss); ReLU without it.
    check_model_gradients(&PatchTstConfig { activation: Activation::Relu, attn_dropout: 0.0, ..config });
}

#[test]
fn gradients_match_finite_differences_without_revin_or_a_learned_positional_encoding() {
    check_model_gradients(&PatchTstConfig { revin: false, learn_pos_embed: false, encoder_layers: 3, ..small(1) });
}

#[test]
fn a_window_is_forecast_alone_as_in_a_batch() {
    let model = small(2).build().unwrap();
    let shape = *model.config().shape();
    let inputs = RandomBatch::new(&shape, 5, 3);
    let (k, l, h) = (3, shape.input_size, shape.h);
    let one = WindowBatch { batch: 1, insample_y: &inputs.insample_y[k * l..(k + 1) * l], ..inputs.view(None) };
    for simd in [true, false] {
        let _path = crate::simd::scoped_simd(simd);
        let all = model.forward(&inputs.view(None), &mut PatchTstCache::default()).unwrap().to_vec();
        let single = model.forward(&one, &mut PatchTstCache::default()).unwrap().to_vec();
        assert_eq!(single, &all[k * h * 2..(k + 1) * h * 2], "simd {simd}");
    }
}

#[test]
fn training_passes_fold_batch_statistics_into_the_running_ones_that_inference_uses() {
    let mut model = small(1).build().unwrap();
    let inputs = RandomBatch::new(model.config().shape(), 4, 5);
    let mut cache = PatchTstCache::default();
    let before = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    model.update_buffers(&cache).unwrap();
    assert_eq!(model.forward(&inputs.view(None), &mut cache).unwrap(), &before[..], "an inference pass moves no statistics");
    model.forward(&inputs.view(Some(1)), &mut cache).unwrap();
    model.update_buffers(&cache).unwrap();
    let tracked = model.params().find("model.backbone.encoder.layers.1.norm_attn.1.num_batches_tracked").unwrap();
    assert_eq!(tracked.data, [1.0]);
    let mean = &model.params().find("model.backbone.encoder.layers.0.norm_ffn.1.running_mean").unwrap().data;
    assert!(mean.iter().all(|m| m.is_finite()) && mean.iter().any(|m| *m != 0.0));
    let after = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    assert_ne!(before, after, "inference normalises with the running statistics");
}

#[test]
fn adam_fits_a_sine_wave() {
    let config = PatchTstConfig { hidden_size: 16, n_heads: 4, linear_hidden_size: 32, ..PatchTstConfig::new(shape(12, 24, ExogSizes::none())) };
    assert_fits_sine(&config, 200, 3e-3, 0.5);
}


//! Tests of the VanillaTransformer: torch's parameter names and counts, options, gradients and fits.

use serde_json::json;

use super::*;
use crate::models::Model;
use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, check_model_gradients, shape, RandomBatch};
use crate::models::ExogSizes;

/// The baseline of baselines.md: h 12, input_size 24, hidden_size 64, 4 heads, 2 encoder and 1 decoder layer.
pub(crate) fn baseline() -> TransformerConfig {
    TransformerConfig { hidden_size: 64, ..TransformerConfig::new(shape(12, 24, ExogSizes::none())) }
}

fn small(exog: ExogSizes, outputs_per_point: usize) -> TransformerConfig {
    TransformerConfig {
        hidden_size: 8,
        n_head: 2,
        conv_hidden_size: 6,
        ..TransformerConfig::new(ModelShape { outputs_per_point, ..shape(3, 5, exog) })
    }
}

#[test]
fn parameter_count_equals_torch_at_the_baseline() {
    // NeuralForecast VanillaTransformer(h=12, input_size=24, hidden_size=64, n_head=4, encoder_layers=2,
    // decoder_layers=1): 80,737 parameters.
    let config = baseline();
    assert_eq!(assert_count_matches_estimate(&config), 80_737);
    let model = config.build().unwrap();
    let find = |name: &str| model.params().find(name).unwrap().shape.clone();
    assert_eq!(find("enc_embedding.value_embedding.tokenConv.weight"), [64, 1, 3]);
    assert_eq!(find("encoder.attn_layers.1.attention.key_projection.weight"), [64, 64]);
    assert_eq!(find("encoder.attn_layers.0.conv1.weight"), [32, 64, 1]);
    assert_eq!(find("decoder.layers.0.conv2.weight"), [64, 32, 1]);
    assert_eq!(find("decoder.projection.weight"), [1, 64]);
}

#[test]
fn the_estimate_counts_every_parameter() {
    let configs = [
        TransformerConfig { encoder_layers: 3, decoder_layers: 2, ..small(ExogSizes { futr: 3, ..ExogSizes::none() }, 3) },
        TransformerConfig { hidden_size: 10, n_head: 3, ..small(ExogSizes { futr: 1, ..ExogSizes::none() }, 1) },
        TransformerConfig::new(shape(7, 30, ExogSizes { futr: 2, ..ExogSizes::none() })),
    ];
    for config in configs {
        assert_eq!(config.memory_estimate().0, config.build().unwrap().params().num_parameters() as u128, "{config:?}");
    }
}

#[test]
fn names_follow_torch_registration_order() {
    let config = TransformerConfig { encoder_layers: 1, ..small(ExogSizes { futr: 2, ..ExogSizes::none() }, 1) };
    let model = config.build().unwrap();
    let attention = |prefix: &str| -> Vec<String> {
        ["query", "key", "value", "out"]
            .iter()
            .flat_map(|p| ["weight", "bias"].map(|w| format!("{prefix}.{p}_projection.{w}")))
            .collect()
    };
    let pairs = |prefix: &str, modules: &[&str]| -> Vec<String> {
        modules.iter().flat_map(|m| ["weight", "bias"].map(|w| format!("{prefix}.{m}.{w}"))).collect()
    };
    let mut expected: Vec<String> = ["enc_embedding", "dec_embedding"]
        .iter()
        .flat_map(|e| [format!("{e}.value_embedding.tokenConv.weight"), format!("{e}.temporal_embedding.embed.weight")])
        .collect();
    expected.extend(attention("encoder.attn_layers.0.attention"));
    expected.extend(pairs("encoder.attn_layers.0", &["conv1", "conv2", "norm1", "norm2"]));
    expected.extend(pairs("encoder", &["norm"]));
    expected.extend(attention("decoder.layers.0.self_attention"));
    expected.extend(attention("decoder.layers.0.cross_attention"));
    expected.extend(pairs("decoder.layers.0", &["conv1", "conv2", "norm1", "norm2", "norm3"]));
    expected.extend(pairs("decoder", &["norm", "projection"]));
    let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
    assert_eq!(names, expected);
    assert_eq!(model.params().find("enc_embedding.temporal_embedding.embed.weight").unwrap().shape, [8, 2]);
}

#[test]
fn defaults_and_options_follow_neuralforecast() {
    let mut config = TransformerConfig::new(shape(12, 24, ExogSizes::none()));
    assert_eq!((config.hidden_size, config.n_head, config.conv_hidden_size), (128, 4, 32));
    assert_eq!((config.encoder_layers, config.decoder_layers, config.dropout, config.activation), (2, 1, 0.05, Activation::Gelu));
    assert_eq!(config.label_len(), Ok(12));
    let options = json!({ "hiddenSize": 16, "nHead": 2, "convHiddenSize": 8, "encoderLayers": 3, "decoderLayers": 2,
        "dropout": 0.1, "activation": "relu", "decoderInputSizeMultiplier": 0.3 });
    config.read_options(&ModelOptions::new("VanillaTransformer", options.as_object().unwrap())).unwrap();
    assert_eq!(config.label_len(), Ok(8)); // ceil(24 * 0.3)
    let mut written = Map::new();
    config.write_options(&mut written);
    let mut reread = TransformerConfig::new(shape(12, 24, ExogSizes::none()));
    reread.read_options(&ModelOptions::new("VanillaTransformer", &written)).unwrap();
    assert_eq!(reread, config);
    assert_eq!(written.len(), TransformerConfig::OPTION_KEYS.len());
}

#[test]
fn invalid_options_name_the_field() {
    let read = |options: Value| {
        let mut config = TransformerConfig::new(shape(12, 24, ExogSizes::none()));
        config.read_options(&ModelOptions::new("VanillaTransformer", options.as_object().unwrap())).unwrap_err().to_string()
    };
    assert!(read(json!({ "dropout": 1 })).contains("VanillaTransformer.dropout"));
    assert!(read(json!({ "activation": "tanh" })).contains("VanillaTransformer.activation"));
    assert!(read(json!({ "decoderInputSizeMultiplier": 0.99 })).contains("decoderInputSizeMultiplier"));
    assert!(read(json!({ "hiddenSize": 7 })).contains("hiddenSize"));
    assert!(read(json!({ "hiddenSize": 4, "nHead": 5 })).contains("nHead"));
    assert!(read(json!({ "encoderLayers": 0 })).contains("encoderLayers"));
}

#[test]
fn invalid_sizes_and_inputs_give_errors() {
    let exog = |hist, stat| ExogSizes { futr: 0, hist, stat };
    assert!(small(exog(1, 0), 1).build().is_err());
    assert!(small(exog(0, 1), 1).build().is_err());
    for config in [
        TransformerConfig { decoder_input_size_multiplier: 1.0, ..small(ExogSizes::none(), 1) },
        TransformerConfig { decoder_input_size_multiplier: 0.0, ..small(ExogSizes::none(), 1) },
        TransformerConfig { hidden_size: 9, ..small(ExogSizes::none(), 1) },
        TransformerConfig { n_head: 9, ..small(ExogSizes::none(), 1) },
        TransformerConfig { decoder_layers: 0, ..small(ExogSizes::none(), 1) },
        TransformerConfig { conv_hidden_size: 0, ..small(ExogSizes::none(), 1) },
        TransformerConfig::new(shape(0, 5, ExogSizes::none())),
    ] {
        assert!(config.build().is_err(), "{config:?}");
    }
    let model = small(ExogSizes { futr: 1, ..ExogSizes::none() }, 1).build().unwrap();
    let mut cache = TransformerCache::default();
    let mut grads = model.params().zeros_like();
    assert!(model.backward(&mut cache, &[0.0; 6], &mut grads).is_err(), "backward before forward");
    let inputs = RandomBatch::new(model.config().shape(), 2, 1);
    let missing_exog = WindowBatch { futr_exog: &[], ..inputs.view(None) };
    assert!(model.forward(&missing_exog, &mut cache).is_err());
    model.forward(&inputs.view(None), &mut cache).unwrap();
    assert!(model.backward(&mut cache, &[0.0; 5], &mut grads).is_err());
    assert!(model.backward(&mut cache, &[0.0; 6], &mut ParamStore::new()).is_err());
}

#[test]
fn gradients_match_finite_differences_with_future_exogenous_inputs_and_quantiles() {
    let config = TransformerConfig { decoder_layers: 2, ..small(ExogSizes { futr: 2, ..ExogSizes::none() }, 3) };
    check_model_gradients(&config);
}

#[test]
fn gradients_match_finite_differences_with_relu_uneven_heads_and_more_dropout() {
    let config = TransformerConfig {
        hidden_size: 10,
        n_head: 3,
        encoder_layers: 1,
        dropout: 0.3,
        activation: Activation::Relu,
        ..small(ExogSizes::none(), 1)
    };
    check_model_gradients(&config);
}

#[test]
fn the_last_decoder_layer_computes_the_forecast_rows_as_the_full_layer_does() {
    let config = small(ExogSizes::none(), 1);
    let model = config.build().unwrap();
    let (b, t, l, h, d) = (2, model.label_len + 3, 5, 3, 8);
    let input = crate::nn::gradcheck::random_vec(b * t * d, 1);
    let encoded = crate::nn::gradcheck::random_vec(b * l * d, 2);
    let layer = &model.decoder[0];
    let (mut full, mut tail) = (DecoderLayerCache::default(), DecoderLayerCache::default());
    layer.forward(&model.params, &input, &encoded, b, (t, l, t), None, &mut full).unwrap();
    layer.forward(&model.params, &input, &encoded, b, (t, l, h), None, &mut tail).unwrap();
    let full_tail: Vec<f32> = full.output().chunks_exact(t * d).flat_map(|w| w[(t - h) * d..].to_vec()).collect();
    assert_eq!(full_tail, tail.output());
}

#[test]
fn a_window_is_forecast_alone_as_in_a_batch() {
    let model = small(ExogSizes { futr: 2, ..ExogSizes::none() }, 2).build().unwrap();
    let shape = *model.config().shape();
    let inputs = RandomBatch::new(&shape, 5, 3);
    let (k, l, h, f) = (3, shape.input_size, shape.h, shape.exog.futr);
    let one = WindowBatch {
        batch: 1,
        insample_y: &inputs.insample_y[k * l..(k + 1) * l],
        futr_exog: &inputs.futr_exog[k * (l + h) * f..(k + 1) * (l + h) * f],
        ..inputs.view(None)
    };
    for simd in [true, false] {
        let _path = crate::simd::scoped_simd(simd);
        let all = model.forward(&inputs.view(None), &mut TransformerCache::default()).unwrap().to_vec();
        let single = model.forward(&one, &mut TransformerCache::default()).unwrap().to_vec();
        // Bit for bit: every product and reduction treats a row alike whatever the batch.
        assert_eq!(single, &all[k * h * 2..(k + 1) * h * 2], "simd {simd}");
    }
}

#[test]
fn dropout_is_seeded_and_off_at_inference() {
    let model = small(ExogSizes::none(), 1).build().unwrap();
    let inputs = RandomBatch::new(model.config().shape(), 2, 8);
    let run = |seed| model.forward(&inputs.view(seed), &mut TransformerCache::default()).unwrap().to_vec();
    assert_eq!(run(Some(1)), run(Some(1)));
    assert_ne!(run(Some(1)), run(Some(2)));
    assert_eq!(run(None), run(None));
    assert_ne!(run(None), run(Some(1)));
}

#[test]
fn adam_fits_a_sine_wave() {
    let config = TransformerConfig { hidden_size: 16, conv_hidden_size: 16, ..TransformerConfig::new(shape(12, 24, ExogSizes::none())) };
    assert_fits_sine(&config, 200, 3e-3, 0.3);
}

//! Tests of [`super`]: parameter counts against NeuralForecast 3.3, gradients, the autoregressive forecast.

use super::*;
use crate::nn::loss::distribution::Distribution;
use crate::models::model::tests::{assert_count_matches_estimate, assert_window_alone_equals_batch, check_model_gradients, shape, RandomBatch};

/// DeepAR at NeuralForecast's defaults for `h` 12 and `input_size` 24 (25 recurrent inputs).
fn reference(outputs_per_point: usize) -> DeepArConfig {
    DeepArConfig::new(ModelShape { outputs_per_point, random_seed: 1, ..shape(12, 25, ExogSizes::none()) })
}

/// A small DeepAR without dropout unless `dropout`.
fn small(h: usize, input_size: usize, h_train: usize, exog: ExogSizes, outputs: usize, dropout: f64) -> DeepArConfig {
    DeepArConfig {
        lstm_hidden_size: 4,
        lstm_dropout: dropout,
        h_train,
        ..DeepArConfig::new(ModelShape { outputs_per_point: outputs, ..shape(h, input_size, exog) })
    }
}

#[test]
fn parameter_counts_equal_neuralforecast() {
    // NeuralForecast 3.3 DeepAR(h=12, input_size=24): sum(p.numel()) = 199,560 with its default
    // DistributionLoss(StudentT, level=[80, 90]), of which 199,555 trainable (3 outputs per point; the other 5 are
    // the loss's quantiles); 199,297 with MAE().
    assert_eq!(assert_count_matches_estimate(&reference(3)), 199_555);
    assert_eq!(assert_count_matches_estimate(&reference(1)), 199_297);
    // DeepAR(h=12, input_size=24, decoder_hidden_layers=2, decoder_hidden_size=32, lstm_n_layers=3,
    // lstm_hidden_size=16, futr 2, hist 1, stat 1): 7,528 with the quantiles, 7,523 trainable.
    let custom = DeepArConfig {
        decoder_hidden_layers: 2,
        decoder_hidden_size: 32,
        lstm_n_layers: 3,
        lstm_hidden_size: 16,
        ..DeepArConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 25, ExogSizes { futr: 2, hist: 1, stat: 1 }) })
    };
    assert_eq!(assert_count_matches_estimate(&custom), 7_523);
    let model = custom.build().unwrap();
    let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
    assert_eq!(names.first(), Some(&"hist_encoder.weight_ih_l0"));
    assert_eq!(model.params().find("hist_encoder.weight_ih_l0").unwrap().shape, [64, 5]);
    assert_eq!(names.last(), Some(&"decoder.layers.6.bias"));
}

#[test]
fn defaults_follow_neuralforecast() {
    let config = reference(3);
    assert_eq!((config.lstm_n_layers, config.lstm_hidden_size, config.lstm_dropout), (2, 128, 0.1));
    assert_eq!((config.decoder_hidden_layers, config.decoder_hidden_size, config.trajectory_samples, config.h_train), (0, 0, 100, 1));
    assert_eq!(DeepArConfig::TRAINING_DEFAULTS.scaler_type, "identity");
    assert_eq!(DeepArConfig::TRAINING_DEFAULTS.num_lr_decays, 3);
    assert_eq!(config.training_horizon(), Some(1));
}

#[test]
fn gradients_match_finite_differences() {
    // Teacher forcing over every step of the horizon (h_train = h), with every kind of exogenous input and
    // dropout between the LSTM layers; and the default one step.
    check_model_gradients(&small(3, 5, 3, ExogSizes { futr: 2, hist: 1, stat: 1 }, 2, 0.3));
    check_model_gradients(&small(1, 4, 1, ExogSizes::none(), 1, 0.0));
}

#[test]
fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
    assert_window_alone_equals_batch(&DeepArConfig { lstm_hidden_size: 16, ..reference(1) });
    assert_window_alone_equals_batch(&small(4, 6, 1, ExogSizes { futr: 1, hist: 2, stat: 1 }, 3, 0.1));
}

/// Each autoregressive step equals the one-step (teacher-forced) pass over the window extended by the forecasts
/// fed back so far: the carried LSTM state is the state of the longer sequence, bit for bit.
#[test]
fn each_forecast_step_equals_the_pass_over_the_extended_window() {
    // A point forecast feeds back the mean of its 3 outputs (MQLoss's quantiles); a StudentT one its mean.
    assert_steps_extend_the_window(None);
    assert_steps_extend_the_window(Some(Distribution::StudentT));
}

fn assert_steps_extend_the_window(feedback: Option<Distribution>) {
    let (h, l, outputs) = (4, 6, 3);
    let exog = ExogSizes { futr: 2, hist: 0, stat: 1 };
    let config = DeepArConfig { feedback: feedback.clone(), sampling: Some(Sampling::Mean), ..small(h, l, 1, exog, outputs, 0.0) };
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(&config.shape, 2, 7);
    let mut cache = DeepArCache::default();
    let forecast = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    for w in 0..2 {
        let mut window = inputs.insample_y[w * l..(w + 1) * l].to_vec();
        let futr = &inputs.futr_exog[w * (l + h) * exog.futr..(w + 1) * (l + h) * exog.futr];
        for tau in 0..h {
            let seq_len = l + tau;
            let batch = WindowBatch {
                batch: 1,
                insample_y: &window,
                hist_exog: &[],
                futr_exog: &futr[..(seq_len + 1) * exog.futr],
                stat_exog: &inputs.stat_exog[w..w + 1],
                train_seed: Some(1),
                sample_keys: &[],
            };
            let step = model.forward(&batch, &mut DeepArCache::default()).unwrap().to_vec();
            assert_eq!(step, &forecast[(w * h + tau) * outputs..][..outputs], "window {w} step {tau}");
            window.push(match &feedback {
                Some(distribution) => {
                    let mut params = [0.0; 3];
                    distribution.params(&step, 0.0, 1.0, &mut params);
                    distribution.mean(&params) as f32
                }
                None => step.iter().sum::<f32>() / outputs as f32,
            });
        }
    }
}

#[test]
fn a_distribution_loss_sets_the_feedback_and_the_draws_and_a_point_loss_refuses_trajectory_samples() {
    use crate::nn::loss::DistributionLoss;
    let mut config = DeepArConfig { trajectory_samples: 7, ..reference(3) };
    let mut loss = Loss::Distribution(DistributionLoss::with_levels(Distribution::StudentT, &[80.0, 90.0], 1000, false).unwrap());
    config.adopt_loss(&mut loss).unwrap();
    assert_eq!(config.feedback, Some(Distribution::StudentT));
    assert!(matches!(&loss, Loss::Distribution(d) if d.num_samples == 7));
    let err = config.adopt_loss(&mut Loss::Mae).unwrap_err();
    assert!(err.to_string().contains("trajectorySamples"), "{err}");
    let mut default = reference(1);
    default.adopt_loss(&mut Loss::Mae).unwrap();
    assert_eq!(default.feedback, None);
}

/// A DeepAR whose forecast draws `paths` paths from `distribution` (`outputs` raw values per point).
fn ancestral(distribution: Distribution, outputs: usize, paths: usize) -> DeepArConfig {
    let exog = ExogSizes { futr: 1, hist: 0, stat: 1 };
    DeepArConfig { feedback: Some(distribution), trajectory_samples: paths, ..small(5, 6, 1, exog, outputs, 0.0) }
}

/// With one path and a distribution whose draws are its mean (a Bernoulli of probability ≈ 0 or ≈ 1: the
/// decoder's weights scaled up), ancestral sampling feeds back what the mean feed-back does, step for step.
#[test]
fn one_path_of_a_degenerate_distribution_is_the_mean_feedback() {
    let config = ancestral(Distribution::Bernoulli, 1, 1);
    let mut model = config.build().unwrap();
    let inputs = RandomBatch::new(&config.shape, 8, 11);
    let keys = [5, 6, 7, 8, 9, 10, 11, 12];
    let batch = WindowBatch { sample_keys: &keys, ..inputs.view(None) };
    // Probabilities of 0 or 1 by the sign of the decoder's output less its median over the mean feed-back's steps
    // (so both outcomes occur), scaled up.
    let mean_config = DeepArConfig { sampling: Some(Sampling::Mean), ..config.clone() };
    let mut unscaled = DeepAr { config: mean_config.clone(), ..model.clone() }.forward(&batch, &mut DeepArCache::default()).unwrap().to_vec();
    unscaled.sort_by(f32::total_cmp);
    let median = unscaled[unscaled.len() / 2];
    for (name, tensor) in model.params_mut().iter_mut() {
        match name {
            "decoder.layers.0.weight" => tensor.data.iter_mut().for_each(|v| *v *= 1e6),
            "decoder.layers.0.bias" => tensor.data.iter_mut().for_each(|v| *v = (*v - median) * 1e6),
            _ => {}
        }
    }
    let mean_model = DeepAr { config: mean_config, ..model.clone() };
    assert_eq!(model.forecast_paths(), Some(1));
    assert_eq!(mean_model.forecast_paths(), None);
    let draws = model.forward(&batch, &mut DeepArCache::default()).unwrap().to_vec();
    let raw = mean_model.forward(&batch, &mut DeepArCache::default()).unwrap().to_vec();
    assert_eq!((draws.len(), raw.len()), (8 * 5, 8 * 5));
    let mut p = [0.0];
    for (draw, raw) in draws.iter().zip(&raw) {
        Distribution::Bernoulli.params(&[*raw], 0.0, 1.0, &mut p);
        assert!((*draw as f64 - p[0]).abs() < 1e-4, "draw {draw} vs mean {}", p[0]);
    }
    // Both outcomes occur, so the fed-back values steer the paths.
    assert!(draws.contains(&0.0) && draws.contains(&1.0), "{draws:?}");
}

/// Ancestral paths are seeded by the model's seed, the window's key and the step only: the same call gives the
/// same draws, a window alone (with its key) the draws it has in a batch, another key other draws; none is NaN.
#[test]
fn ancestral_paths_are_reproducible_and_independent_of_the_batch() {
    let config = ancestral(Distribution::StudentT, 3, 20);
    let model = config.build().unwrap();
    let (h, l, paths) = (5, 6, 20);
    let inputs = RandomBatch::new(&config.shape, 3, 4);
    let keys = [11, 12, 13];
    let batch = WindowBatch { sample_keys: &keys, ..inputs.view(None) };
    let mut cache = DeepArCache::default();
    let all = model.forward(&batch, &mut cache).unwrap().to_vec();
    assert_eq!(all.len(), 3 * h * paths);
    assert!(all.iter().all(|v| v.is_finite()));
    assert_eq!(model.forward(&batch, &mut cache).unwrap(), &all[..]);
    let one = WindowBatch {
        batch: 1,
        insample_y: &inputs.insample_y[l..2 * l],
        futr_exog: &inputs.futr_exog[l + h..2 * (l + h)],
        stat_exog: &inputs.stat_exog[1..2],
        sample_keys: &keys[1..2],
        ..batch
    };
    let alone = model.forward(&one, &mut DeepArCache::default()).unwrap().to_vec();
    assert_eq!(alone, all[h * paths..2 * h * paths]);
    let other = model.forward(&WindowBatch { sample_keys: &[99], ..one }, &mut DeepArCache::default()).unwrap().to_vec();
    assert_ne!(alone, other);
    // The paths spread: each step's draws differ from path to path.
    for step in all.chunks_exact(paths) {
        assert!(step.iter().any(|v| v != &step[0]));
    }
    let err = model.forward(&WindowBatch { sample_keys: &keys[..2], ..batch }, &mut cache).unwrap_err();
    assert!(err.to_string().contains("sample keys"), "{err}");
}

#[test]
fn sampling_is_validated_against_the_loss() {
    use crate::nn::loss::DistributionLoss;
    let student = |return_params| Loss::Distribution(DistributionLoss::with_levels(Distribution::StudentT, &[80.0], 1000, return_params).unwrap());
    let mut config = reference(3);
    config.adopt_loss(&mut student(false)).unwrap();
    assert_eq!(config.build().unwrap().forecast_paths(), Some(100));
    let err = config.adopt_loss(&mut student(true)).unwrap_err();
    assert!(err.to_string().contains("sampling"), "{err}");
    let mut mean = DeepArConfig { sampling: Some(Sampling::Mean), ..reference(3) };
    mean.adopt_loss(&mut student(true)).unwrap();
    assert_eq!(mean.build().unwrap().forecast_paths(), None);
    // A point loss has nothing to draw: the mean feed-back by default, 'ancestral' refused.
    let mut point = reference(1);
    point.adopt_loss(&mut Loss::Mae).unwrap();
    assert_eq!(point.build().unwrap().forecast_paths(), None);
    let err = DeepArConfig { sampling: Some(Sampling::Ancestral), ..reference(1) }.adopt_loss(&mut Loss::Mae).unwrap_err();
    assert!(err.to_string().contains("sampling"), "{err}");
}

#[test]
fn rejects_invalid_sizes_and_a_backward_without_training_pass() {
    assert!(matches!(small(0, 4, 1, ExogSizes::none(), 1, 0.0).build(), Err(NnError::ZeroSize { what: "h" })));
    assert!(matches!(small(2, 4, 0, ExogSizes::none(), 1, 0.0).build(), Err(NnError::ZeroSize { what: "hTrain" })));
    let model = small(2, 4, 1, ExogSizes::none(), 1, 0.0).build().unwrap();
    let err = model.forward(&WindowBatch::univariate(&[0.0; 7], 2), &mut DeepArCache::default()).unwrap_err();
    assert!(matches!(err, NnError::LengthMismatch { what: "input windows", expected: 8, actual: 7 }));
    let mut cache = DeepArCache::default();
    model.forward(&WindowBatch::univariate(&[0.0; 8], 2), &mut cache).unwrap();
    let mut grads = model.params().zeros_like();
    assert!(model.backward(&mut cache, &[0.0; 4], &mut grads).is_err());
}

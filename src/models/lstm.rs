//! NeuralForecast's `LSTM` model (neuralforecast/models/lstm.py): an `nn.LSTM` encoder with an MLP
//! decoder; see [`super::recurrent_forecaster`] for the shared architecture.

use super::recurrent_forecaster::{ForecasterCell, RecurrentForecaster};
use crate::nn::lstm::LstmCell;

impl ForecasterCell for LstmCell {
    /// `encoder_hidden_size: int = 128` in lstm.py.
    const DEFAULT_ENCODER_HIDDEN_SIZE: usize = 128;
}

pub type Lstm = RecurrentForecaster<LstmCell>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::recurrent_forecaster::tests::{check_model_gradients, fit_sine, reference_config, small_config};
    use crate::models::ForecasterCache;
    use crate::nn::loss::Loss;
    use crate::nn::NnError;

    #[test]
    fn parameter_count_equals_torch_at_the_reference_configuration() {
        // NeuralForecast LSTM(h=12, input_size=24, encoder_hidden_size=64, decoder_hidden_size=64):
        // sum(p.numel() for p in model.parameters()) == 54657.
        let model = Lstm::new(reference_config::<LstmCell>()).unwrap();
        assert_eq!(model.num_parameters(), 54_657);
        let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
        assert_eq!(names.first(), Some(&"hist_encoder.weight_ih_l0"));
        assert_eq!(names.last(), Some(&"mlp_decoder.layers.3.bias"));
    }

    #[test]
    fn defaults_follow_neuralforecast() {
        let config = Lstm::default_config(12);
        assert_eq!((config.input_size, config.encoder_n_layers, config.encoder_hidden_size), (36, 2, 128));
        assert_eq!((config.decoder_hidden_size, config.decoder_layers, config.loss), (128, 2, Loss::Mae));
    }

    #[test]
    fn upsamples_when_the_horizon_exceeds_the_input() {
        let model = Lstm::new(small_config(6, 4, Loss::Mae)).unwrap();
        assert_eq!(model.params().find("upsample_sequence.weight").unwrap().shape, [6, 4]);
        assert!(Lstm::new(small_config(4, 6, Loss::Mae)).unwrap().params().find("upsample_sequence.weight").is_none());
    }

    #[test]
    fn same_seed_gives_identical_weights() {
        let config = reference_config::<LstmCell>();
        assert_eq!(Lstm::new(config.clone()).unwrap().params(), Lstm::new(config.clone()).unwrap().params());
        let reseeded = Lstm::new(crate::models::RecurrentConfig { random_seed: 2, ..config.clone() }).unwrap();
        assert_ne!(Lstm::new(config).unwrap().params(), reseeded.params());
    }

    #[test]
    fn rejects_invalid_sizes_and_inputs() {
        assert_eq!(Lstm::new(small_config(0, 4, Loss::Mae)).unwrap_err(), NnError::ZeroSize { what: "h" });
        let zero_hidden = crate::models::RecurrentConfig { encoder_hidden_size: 0, ..small_config(2, 4, Loss::Mae) };
        assert!(matches!(Lstm::new(zero_hidden), Err(NnError::ZeroSize { .. })));
        let model = Lstm::new(small_config(2, 4, Loss::Mae)).unwrap();
        let err = model.forward(&[0.0; 7], 2, &mut ForecasterCache::default()).unwrap_err();
        assert!(matches!(err, NnError::LengthMismatch { what: "input windows", expected: 8, actual: 7 }));
        let mut grads = model.params().zeros_like();
        assert!(model.backward(&mut ForecasterCache::default(), &[0.0; 4], &mut grads).is_err());
    }

    #[test]
    fn outputs_one_value_per_quantile() {
        let model = Lstm::new(small_config(3, 5, Loss::multi_quantile(vec![0.1, 0.5, 0.9]).unwrap())).unwrap();
        let mut cache = ForecasterCache::default();
        let forecast = model.forward(&[0.5; 10], 2, &mut cache).unwrap();
        assert_eq!(forecast.len(), 2 * 3 * 3);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_model_gradients::<LstmCell>(small_config(3, 5, Loss::Mae));
    }

    #[test]
    fn gradients_match_finite_differences_with_upsampling_and_quantiles() {
        check_model_gradients::<LstmCell>(small_config(6, 4, Loss::multi_quantile(vec![0.2, 0.8]).unwrap()));
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = crate::models::RecurrentConfig {
            encoder_hidden_size: 16,
            decoder_hidden_size: 16,
            ..small_config(12, 24, Loss::Mae)
        };
        let (before, after) = fit_sine::<LstmCell>(config, 150, 1e-2);
        assert!(after < 0.2 * before, "MAE {before} -> {after}");
    }

    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib models::lstm -- --ignored --nocapture"]
    fn time_one_training_step_at_batch_32() {
        use crate::nn::adam::{Adam, AdamConfig, StepLr};
        use crate::nn::gradcheck::random_vec;
        let (batch, steps) = (32, 200);
        let mut model = Lstm::new(reference_config::<LstmCell>()).unwrap();
        let windows = random_vec(batch * 24, 1);
        let targets = random_vec(batch * 12, 2);
        let mut adam = Adam::new(model.params(), AdamConfig::default(), StepLr::constant()).unwrap();
        let (mut cache, mut grads, mut d_forecast) = (ForecasterCache::default(), model.params().zeros_like(), vec![0.0; batch * 12]);
        let mut step = |model: &mut Lstm| {
            let forecast = model.forward(&windows, batch, &mut cache).unwrap();
            Loss::Mae.value_and_grad(forecast, &targets, None, &mut d_forecast).unwrap();
            grads.fill_zero();
            model.backward(&mut cache, &d_forecast, &mut grads).unwrap();
            adam.step(model.params_mut(), &grads).unwrap();
        };
        (0..10).for_each(|_| step(&mut model));
        let started = std::time::Instant::now();
        (0..steps).for_each(|_| step(&mut model));
        let per_step = started.elapsed().as_secs_f64() * 1e3 / steps as f64;
        eprintln!("LSTM h=12 input_size=24 hidden=64 batch={batch}: {per_step:.3} ms per forward+backward+Adam step (1 thread)");
    }
}

//! NeuralForecast's `GRU` model (neuralforecast/models/gru.py): an `nn.GRU` encoder with an MLP
//! decoder; see [`super::recurrent_forecaster`] for the shared architecture.

use super::recurrent_forecaster::{ForecasterCell, RecurrentForecaster};
use crate::nn::gru::GruCell;

impl ForecasterCell for GruCell {
    /// `encoder_hidden_size: int = 200` in gru.py.
    const DEFAULT_ENCODER_HIDDEN_SIZE: usize = 200;
}

pub type Gru = RecurrentForecaster<GruCell>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::recurrent_forecaster::tests::{check_model_gradients, fit_sine, reference_config, small_config};
    use crate::models::RecurrentConfig;
    use crate::nn::loss::Loss;

    #[test]
    fn parameter_count_equals_torch_at_the_reference_configuration() {
        // NeuralForecast GRU(h=12, input_size=24, encoder_hidden_size=64, decoder_hidden_size=64):
        // sum(p.numel() for p in model.parameters()) == 42049.
        assert_eq!(Gru::new(reference_config::<GruCell>()).unwrap().num_parameters(), 42_049);
        assert_eq!(Gru::default_config(12).encoder_hidden_size, 200);
    }

    #[test]
    fn same_seed_gives_identical_weights() {
        let config = reference_config::<GruCell>();
        assert_eq!(Gru::new(config.clone()).unwrap().params(), Gru::new(config).unwrap().params());
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_model_gradients::<GruCell>(small_config(3, 5, Loss::Mae));
    }

    #[test]
    fn gradients_match_finite_differences_with_upsampling() {
        check_model_gradients::<GruCell>(small_config(6, 4, Loss::Mse));
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = RecurrentConfig { encoder_hidden_size: 16, decoder_hidden_size: 16, ..small_config(12, 24, Loss::Mae) };
        let (before, after) = fit_sine::<GruCell>(config, 150, 1e-2);
        assert!(after < 0.2 * before, "MAE {before} -> {after}");
    }
}

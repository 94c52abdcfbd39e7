//! NeuralForecast's `GRU` model (neuralforecast/models/gru.py): an `nn.GRU` encoder with an MLP
//! decoder; see [`super::recurrent_forecaster`] for the shared architecture.

use super::recurrent_forecaster::{ForecasterCell, RecurrentConfig, RecurrentForecaster};
use crate::nn::gru::GruCell;

impl ForecasterCell for GruCell {
    const NAME: &'static str = "GRU";
    /// `encoder_hidden_size: int = 200` in gru.py.
    const DEFAULT_ENCODER_HIDDEN_SIZE: usize = 200;
}

pub type GruConfig = RecurrentConfig<GruCell>;
pub type Gru = RecurrentForecaster<GruCell>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{assert_fits_sine, check_model_gradients, shape};
    use crate::models::recurrent_forecaster::tests::{reference_config, small_config};
    use crate::models::{ExogSizes, Model, ModelConfig, ModelShape};

    #[test]
    fn parameter_count_equals_torch_at_the_reference_configuration() {
        // NeuralForecast GRU(h=12, input_size=24, encoder_hidden_size=64, decoder_hidden_size=64):
        // sum(p.numel() for p in model.parameters()) == 42049.
        let config = reference_config::<GruCell>();
        assert_eq!(config.build().unwrap().num_parameters(), 42_049);
        assert_eq!(config.memory_estimate().0, 42_049);
        assert_eq!(GruConfig::new(shape(12, 36, ExogSizes::none())).encoder_hidden_size, 200);
    }

    #[test]
    fn same_seed_gives_identical_weights() {
        let config = reference_config::<GruCell>();
        assert_eq!(config.build().unwrap().params(), config.build().unwrap().params());
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_model_gradients(&small_config::<GruCell>(3, 5, ExogSizes::none()));
    }

    #[test]
    fn gradients_match_finite_differences_with_exogenous_inputs_upsampling_and_quantiles() {
        let config = small_config::<GruCell>(6, 4, ExogSizes { futr: 2, hist: 2, stat: 1 });
        check_model_gradients(&GruConfig { shape: ModelShape { outputs_per_point: 2, ..config.shape }, ..config });
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = GruConfig { encoder_hidden_size: 16, decoder_hidden_size: 16, ..small_config(12, 24, ExogSizes::none()) };
        assert_fits_sine(&config, 150, 1e-2, 0.2);
    }
}

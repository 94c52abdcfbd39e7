//! NeuralForecast's `GRU` model (neuralforecast/models/gru.py): an `nn.GRU` encoder with an MLP
//! decoder; see [`super::recurrent_forecaster`] for the shared architecture.

use crate::nn::gru::GruCell;

// `encoder_hidden_size: int = 200` in gru.py.
super::recurrent_forecaster::recurrent_model!(GruCell, "GRU", default_encoder_hidden_size: 200, GruConfig, Gru);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{assert_count_matches_estimate, shape};
    use crate::models::recurrent_forecaster::tests::reference_config;
    use crate::models::{ExogSizes, ModelConfig};

    #[test]
    fn parameter_count_equals_torch_at_the_reference_configuration() {
        // NeuralForecast GRU(h=12, input_size=24, encoder_hidden_size=64, decoder_hidden_size=64):
        // sum(p.numel() for p in model.parameters()) == 42049.
        assert_eq!(assert_count_matches_estimate(&reference_config::<GruCell>()), 42_049);
        assert_eq!(GruConfig::new(shape(12, 36, ExogSizes::none())).encoder_hidden_size, 200);
    }
}

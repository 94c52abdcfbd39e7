//! NeuralForecast's `LSTM` model (neuralforecast/models/lstm.py): an `nn.LSTM` encoder with an MLP
//! decoder; see [`super::recurrent_forecaster`] for the shared architecture.

use crate::nn::lstm::LstmCell;

// `encoder_hidden_size: int = 128` in lstm.py.
super::recurrent_forecaster::recurrent_model!(LstmCell, "LSTM", default_encoder_hidden_size: 128, LstmConfig, Lstm);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{shape, RandomBatch};
    use crate::models::recurrent_forecaster::tests::{reference_config, small_config};
    use crate::models::{ExogSizes, ForecasterCache, Model, ModelConfig, WindowBatch};
    use crate::nn::NnError;

    #[test]
    fn parameter_count_equals_torch_at_the_reference_configuration() {
        // NeuralForecast LSTM(h=12, input_size=24, encoder_hidden_size=64, decoder_hidden_size=64):
        // sum(p.numel() for p in model.parameters()) == 54657.
        let config = reference_config::<LstmCell>();
        let model = config.build().unwrap();
        assert_eq!(model.num_parameters(), 54_657);
        assert_eq!(config.memory_estimate().0, 54_657);
        let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
        assert_eq!(names.first(), Some(&"hist_encoder.weight_ih_l0"));
        assert_eq!(names.last(), Some(&"mlp_decoder.layers.3.bias"));
    }

    #[test]
    fn exogenous_inputs_widen_the_encoder_and_decoder_inputs() {
        // lstm.py: input_encoder = 1 + X + S + F; the decoder reads encoder_hidden_size + F.
        let exog = ExogSizes { futr: 2, hist: 3, stat: 1 };
        let config = LstmConfig { decoder_layers: 1, ..small_config::<LstmCell>(3, 5, exog) };
        let model = config.build().unwrap();
        assert_eq!(model.params().find("hist_encoder.weight_ih_l0").unwrap().shape, [16, 7]);
        assert_eq!(model.params().find("mlp_decoder.layers.0.weight").unwrap().shape, [1, 6]);
        assert_eq!(config.memory_estimate().0, model.num_parameters() as u128);
        let upsampled = small_config::<LstmCell>(6, 4, exog);
        assert_eq!(upsampled.memory_estimate().0, upsampled.build().unwrap().num_parameters() as u128);
    }

    #[test]
    fn defaults_follow_neuralforecast() {
        let config = LstmConfig::new(shape(12, 36, ExogSizes::none()));
        assert_eq!((config.encoder_n_layers, config.encoder_hidden_size), (2, 128));
        assert_eq!((config.decoder_hidden_size, config.decoder_layers), (128, 2));
        assert_eq!(LstmConfig::TRAINING_DEFAULTS.scaler_type, "robust");
    }

    #[test]
    fn upsamples_when_the_horizon_exceeds_the_input() {
        let model = small_config::<LstmCell>(6, 4, ExogSizes::none()).build().unwrap();
        assert_eq!(model.params().find("upsample_sequence.weight").unwrap().shape, [6, 4]);
        assert!(small_config::<LstmCell>(4, 6, ExogSizes::none()).build().unwrap().params().find("upsample_sequence.weight").is_none());
    }

    #[test]
    fn rejects_invalid_sizes_and_inputs() {
        assert_eq!(small_config::<LstmCell>(0, 4, ExogSizes::none()).build().unwrap_err(), NnError::ZeroSize { what: "h" });
        let zero_hidden = LstmConfig { encoder_hidden_size: 0, ..small_config(2, 4, ExogSizes::none()) };
        assert!(matches!(zero_hidden.build(), Err(NnError::ZeroSize { .. })));
        let model = small_config::<LstmCell>(2, 4, ExogSizes::none()).build().unwrap();
        let err = model.forward(&WindowBatch::univariate(&[0.0; 7], 2), &mut ForecasterCache::default()).unwrap_err();
        assert!(matches!(err, NnError::LengthMismatch { what: "input windows", expected: 8, actual: 7 }));
        let mut grads = model.params().zeros_like();
        assert!(model.backward(&mut ForecasterCache::default(), &[0.0; 4], &mut grads).is_err());
    }

    #[test]
    fn a_window_forecast_does_not_depend_on_the_rest_of_the_batch() {
        let config = small_config::<LstmCell>(3, 5, ExogSizes { futr: 1, hist: 1, stat: 1 });
        let model = config.build().unwrap();
        let five = RandomBatch::new(&config.shape, 5, 3);
        let all = model.forward(&five.view(None), &mut ForecasterCache::default()).unwrap().to_vec();
        let one = RandomBatch {
            batch: 1,
            insample_y: five.insample_y[5..10].to_vec(),
            hist_exog: five.hist_exog[5..10].to_vec(),
            futr_exog: five.futr_exog[8..16].to_vec(),
            stat_exog: five.stat_exog[1..2].to_vec(),
        };
        assert_eq!(model.forward(&one.view(None), &mut ForecasterCache::default()).unwrap(), &all[3..6]);
    }
}

//! NeuralForecast's `RNN` model (neuralforecast/models/rnn.py): an Elman `nn.RNN` encoder (tanh: rnn.py stores
//! `encoder_activation` but never passes it to `nn.RNN`) with an MLP decoder; see
//! [`super::recurrent_forecaster`] for the architecture it shares with LSTM and GRU.

use serde_json::{Map, Value};

use super::options::{ModelOptions, OptionError, OptionResult};
use super::recurrent_forecaster::{ForecasterCell, RecurrentConfig, RecurrentForecaster};
use crate::nn::rnn::ElmanCell;

impl ForecasterCell for ElmanCell {
    const NAME: &'static str = "RNN";
    /// rnn.py: `encoder_hidden_size: int = 128`.
    const DEFAULT_ENCODER_HIDDEN_SIZE: usize = 128;
    const OPTION_KEYS: &'static [&'static str] =
        &["encoderNLayers", "encoderHiddenSize", "decoderHiddenSize", "decoderLayers", "excludeInsampleY", "encoderActivation"];

    /// `encoderActivation`: rnn.py's `encoder_activation`, accepted at its default 'tanh' only, since NeuralForecast
    /// 3.3 never passes it to `nn.RNN` (another value would train a model NeuralForecast does not have).
    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        match options.string("encoderActivation")? {
            None | Some("tanh") => Ok(()),
            Some(other) => Err(OptionError::Range(format!(
                "{} is accepted as 'tanh' only, got '{other}': NeuralForecast's RNN stores encoder_activation but its nn.RNN always uses tanh",
                options.field("encoderActivation")
            ))),
        }
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("encoderActivation".into(), "tanh".into());
    }
}

pub type RnnConfig = RecurrentConfig<ElmanCell>;
pub type Rnn = RecurrentForecaster<ElmanCell>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape};
    use crate::models::recurrent_forecaster::tests::small_config;
    use crate::models::{ExogSizes, Model, ModelConfig, ModelShape};
    use serde_json::json;

    #[test]
    fn parameter_count_and_names_follow_torch_at_neuralforecast_defaults() {
        // NeuralForecast RNN(h=12, input_size=24): sum(p.numel() for p in model.parameters()) == 66433.
        let config = RnnConfig::new(shape(12, 24, ExogSizes::none()));
        assert_eq!(assert_count_matches_estimate(&config), 66_433);
        assert_eq!((config.encoder_n_layers, config.encoder_hidden_size, config.decoder_hidden_size, config.decoder_layers), (2, 128, 128, 2));
        let model = config.build().unwrap();
        let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.to_vec())).collect();
        // RNN(h=12, input_size=24).state_dict(), names and shapes.
        assert_eq!(names, [
            ("hist_encoder.weight_ih_l0", vec![128, 1]), ("hist_encoder.weight_hh_l0", vec![128, 128]),
            ("hist_encoder.bias_ih_l0", vec![128]), ("hist_encoder.bias_hh_l0", vec![128]),
            ("hist_encoder.weight_ih_l1", vec![128, 128]), ("hist_encoder.weight_hh_l1", vec![128, 128]),
            ("hist_encoder.bias_ih_l1", vec![128]), ("hist_encoder.bias_hh_l1", vec![128]),
            ("mlp_decoder.layers.0.weight", vec![128, 128]), ("mlp_decoder.layers.0.bias", vec![128]),
            ("mlp_decoder.layers.3.weight", vec![1, 128]), ("mlp_decoder.layers.3.bias", vec![1]),
        ]);
    }

    #[test]
    fn encoder_activation_is_tanh_only_as_neuralforecasts_nn_rnn() {
        let mut config = RnnConfig::new(shape(12, 24, ExogSizes::none()));
        let tanh = json!({ "encoderActivation": "tanh" });
        config.read_options(&ModelOptions::new("RNN", tanh.as_object().unwrap())).unwrap();
        let mut out = Map::new();
        config.write_options(&mut out);
        assert_eq!(out["encoderActivation"], "tanh");
        let relu = json!({ "encoderActivation": "relu" });
        let err = config.read_options(&ModelOptions::new("RNN", relu.as_object().unwrap())).unwrap_err();
        assert!(err.to_string().contains("encoderActivation is accepted as 'tanh' only"), "{err}");
    }

    #[test]
    fn gradients_match_finite_differences_with_exogenous_inputs_and_quantiles() {
        let exog = ExogSizes { futr: 2, hist: 1, stat: 1 };
        check_model_gradients(&small_config::<ElmanCell>(3, 5, ExogSizes::none()));
        let upsampled = small_config::<ElmanCell>(6, 4, exog);
        check_model_gradients(&RnnConfig { shape: ModelShape { outputs_per_point: 3, ..upsampled.shape }, ..upsampled });
    }

    #[test]
    fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
        assert_window_alone_equals_batch(&small_config::<ElmanCell>(3, 5, ExogSizes { futr: 1, hist: 1, stat: 1 }));
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = RnnConfig { encoder_hidden_size: 16, decoder_hidden_size: 16, ..small_config(12, 24, ExogSizes::none()) };
        assert_fits_sine(&config, 150, 1e-2, 0.3);
        let _: &Rnn = &config.build().unwrap();
    }
}

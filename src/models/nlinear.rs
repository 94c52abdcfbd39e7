//! NeuralForecast's `NLinear` model (neuralforecast/models/nlinear.py): the window minus its last value, one
//! linear map `L -> h × outputs_per_point` (`linear`), and the last value added back to every output.
//! NeuralForecast's NLinear takes no exogenous variables and has no architecture options.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{ModelOptions, OptionResult};
use crate::nn::error::nonzero;
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct NlinearConfig {
    pub shape: ModelShape,
}

impl NlinearConfig {
    fn out_features(&self) -> usize {
        self.shape.h * self.shape.outputs_per_point
    }
}

impl ModelConfig for NlinearConfig {
    type Network = Nlinear;

    const NAME: &'static str = "NLinear";
    const OPTION_KEYS: &'static [&'static str] = &[];
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults::LINEAR;

    fn new(shape: ModelShape) -> Self {
        NlinearConfig { shape }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, _options: &ModelOptions<'_>) -> OptionResult<()> {
        Ok(())
    }

    fn write_options(&self, _out: &mut Map<String, Value>) {}

    fn memory_estimate(&self) -> (u128, u128) {
        let [l, out] = [self.shape.input_size, self.out_features()].map(|v| v as u128);
        ((l + 1) * out, l + out)
    }

    fn build(&self) -> Result<Nlinear, NnError> {
        self.shape.exog.refuse_all(Self::NAME)?;
        nonzero("h", self.shape.h)?;
        nonzero("outputs per point", self.shape.outputs_per_point)?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let l = nonzero("inputSize", self.shape.input_size)?;
        let linear = Linear::new(&mut ParamInit::new(&mut params, &mut rng).pp("linear"), l, self.out_features())?;
        Ok(Nlinear { config: self.clone(), params, linear })
    }
}

#[derive(Debug, Clone)]
pub struct Nlinear {
    config: NlinearConfig,
    params: ParamStore,
    linear: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct NlinearCache {
    /// The windows minus their last values `[B, L]`: `linear`'s input.
    shifted: Vec<f32>,
    forecast: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(NlinearCache { shifted, forecast });

impl_model!(Nlinear, NlinearConfig, NlinearCache);

impl Nlinear {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut NlinearCache) -> Result<&'c [f32], NnError> {
        let (rows, l, out) = (batch.batch, self.config.shape.input_size, self.config.out_features());
        cache.shifted.clear();
        for window in batch.insample_y.chunks_exact(l) {
            let last = window[l - 1];
            cache.shifted.extend(window.iter().map(|&y| y - last));
        }
        cache.forecast.resize(rows * out, 0.0);
        self.linear.forward(&self.params, &cache.shifted, rows, &mut cache.forecast)?;
        for (forecast, window) in cache.forecast.chunks_exact_mut(out).zip(batch.insample_y.chunks_exact(l)) {
            forecast.iter_mut().for_each(|f| *f += window[l - 1]);
        }
        Ok(&cache.forecast)
    }

    fn backward_pass(&self, cache: &mut NlinearCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let rows = cache.shifted.len() / self.config.shape.input_size;
        self.linear.backward(&self.params, &cache.shifted, d_output, rows, grads, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape};
    use crate::models::{ExogSizes, Model};

    #[test]
    fn parameter_count_and_names_follow_torch() {
        // NeuralForecast NLinear(h=12, input_size=24): 24 * 12 + 12 = 300 parameters, state dict linear.{weight,bias}.
        let config = NlinearConfig::new(shape(12, 24, ExogSizes::none()));
        assert_eq!(assert_count_matches_estimate(&config), 300);
        let model = config.build().unwrap();
        let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.to_vec())).collect();
        assert_eq!(names, [("linear.weight", vec![12, 24]), ("linear.bias", vec![12])]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for outputs_per_point in [1, 3] {
            check_model_gradients(&NlinearConfig::new(ModelShape { outputs_per_point, ..shape(4, 7, ExogSizes::none()) }));
        }
    }

    #[test]
    fn the_last_value_is_added_back_to_every_output() {
        // Shifting a window by c shifts every forecast (all quantiles) by c.
        let config = NlinearConfig::new(ModelShape { outputs_per_point: 3, ..shape(4, 7, ExogSizes::none()) });
        let model = config.build().unwrap();
        let window: Vec<f32> = (0..7).map(|t| (t as f32 * 0.7).sin()).collect();
        let shifted: Vec<f32> = window.iter().map(|y| y + 2.0).collect();
        let mut cache = NlinearCache::default();
        let base = model.forward(&WindowBatch::univariate(&window, 1), &mut cache).unwrap().to_vec();
        let moved = model.forward(&WindowBatch::univariate(&shifted, 1), &mut cache).unwrap().to_vec();
        base.iter().zip(&moved).for_each(|(b, m)| assert!((m - b - 2.0).abs() < 1e-5, "{b} {m}"));
    }

    #[test]
    fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
        assert_window_alone_equals_batch(&NlinearConfig::new(ModelShape { outputs_per_point: 3, ..shape(4, 7, ExogSizes::none()) }));
    }

    #[test]
    fn refuses_exogenous_inputs() {
        let err = NlinearConfig::new(shape(12, 24, ExogSizes { futr: 0, hist: 2, stat: 0 })).build().unwrap_err().to_string();
        assert!(err.contains("NLinear takes no exogenous variables; remove histExogList"), "{err}");
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        assert_fits_sine(&NlinearConfig::new(shape(12, 24, ExogSizes::none())), 200, 1e-2, 0.3);
    }
}

//! NeuralForecast's `DLinear` model (neuralforecast/models/dlinear.py): the window split by a moving average
//! into trend and seasonal parts ([`crate::nn::series_decomp`]), one linear map `L -> h × outputs_per_point` on
//! each (`linear_trend`, `linear_season`), and their sum as the forecast. NeuralForecast's DLinear takes no
//! exogenous variables.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{ModelOptions, OptionError, OptionResult};
use crate::nn::error::nonzero;
use crate::nn::series_decomp::SeriesDecomp;
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct DlinearConfig {
    pub shape: ModelShape,
    /// `moving_avg_window`: steps of the trend's moving average (odd).
    pub moving_avg_window: usize,
}

impl DlinearConfig {
    fn out_features(&self) -> usize {
        self.shape.h * self.shape.outputs_per_point
    }
}

impl ModelConfig for DlinearConfig {
    type Network = Dlinear;

    const NAME: &'static str = "DLinear";
    const OPTION_KEYS: &'static [&'static str] = &["movingAvgWindow"];
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults::LINEAR;

    /// dlinear.py: `moving_avg_window=25`.
    fn new(shape: ModelShape) -> Self {
        DlinearConfig { shape, moving_avg_window: 25 }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([("movingAvgWindow", &mut self.moving_avg_window)])?;
        if self.moving_avg_window % 2 == 0 {
            // dlinear.py: "moving_avg_window should be uneven".
            let field = options.field("movingAvgWindow");
            return Err(OptionError::Range(format!("{field} must be odd, got {}", self.moving_avg_window)));
        }
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("movingAvgWindow".into(), self.moving_avg_window.into());
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let [l, out] = [self.shape.input_size, self.out_features()].map(|v| v as u128);
        (2 * (l + 1) * out, 2 * l + 2 * out)
    }

    fn build(&self) -> Result<Dlinear, NnError> {
        self.shape.exog.refuse_all(Self::NAME)?;
        nonzero("h", self.shape.h)?;
        nonzero("outputs per point", self.shape.outputs_per_point)?;
        let decomp = SeriesDecomp::new(self.moving_avg_window)?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let l = nonzero("inputSize", self.shape.input_size)?;
        let linear_trend = Linear::new(&mut init.pp("linear_trend"), l, self.out_features())?;
        let linear_season = Linear::new(&mut init.pp("linear_season"), l, self.out_features())?;
        Ok(Dlinear { config: self.clone(), params, decomp, linear_trend, linear_season })
    }
}

#[derive(Debug, Clone)]
pub struct Dlinear {
    config: DlinearConfig,
    params: ParamStore,
    decomp: SeriesDecomp,
    linear_trend: Linear,
    linear_season: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct DlinearCache {
    /// The windows' seasonal parts and trends `[B, L]`.
    seasonal: Vec<f32>,
    trend: Vec<f32>,
    /// `linear_season`'s output `[B, h × outputs]`, added into `forecast`.
    seasonal_forecast: Vec<f32>,
    forecast: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(DlinearCache { seasonal, trend, seasonal_forecast, forecast });

impl_model!(Dlinear, DlinearConfig, DlinearCache);

impl Dlinear {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut DlinearCache) -> Result<&'c [f32], NnError> {
        let (rows, l, out) = (batch.batch, self.config.shape.input_size, self.config.out_features());
        for buffer in [&mut cache.seasonal, &mut cache.trend] {
            buffer.resize(rows * l, 0.0);
        }
        for buffer in [&mut cache.seasonal_forecast, &mut cache.forecast] {
            buffer.resize(rows * out, 0.0);
        }
        self.decomp.forward(batch.insample_y, rows, l, &mut cache.seasonal, &mut cache.trend)?;
        self.linear_trend.forward(&self.params, &cache.trend, rows, &mut cache.forecast)?;
        self.linear_season.forward(&self.params, &cache.seasonal, rows, &mut cache.seasonal_forecast)?;
        cache.forecast.iter_mut().zip(&cache.seasonal_forecast).for_each(|(f, s)| *f += s);
        Ok(&cache.forecast)
    }

    fn backward_pass(&self, cache: &mut DlinearCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let rows = cache.seasonal.len() / self.config.shape.input_size;
        // The windows are data: no gradient flows back through the decomposition.
        self.linear_trend.backward(&self.params, &cache.trend, d_output, rows, grads, None)?;
        self.linear_season.backward(&self.params, &cache.seasonal, d_output, rows, grads, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape, with};
    use crate::models::{ExogSizes, Model};

    /// h = 4, L = 7, univariate, `outputs_per_point` values per step.
    fn small(outputs_per_point: usize) -> ModelShape {
        ModelShape { outputs_per_point, ..shape(4, 7, ExogSizes::none()) }
    }

    #[test]
    fn parameter_count_and_names_follow_torch() {
        // NeuralForecast DLinear(h=12, input_size=24): 2 * (24 * 12 + 12) = 600 parameters, state dict
        // linear_trend.{weight,bias}, linear_season.{weight,bias}.
        let config = DlinearConfig::new(shape(12, 24, ExogSizes::none()));
        assert_eq!(assert_count_matches_estimate(&config), 600);
        let model = config.build().unwrap();
        let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.to_vec())).collect();
        assert_eq!(
            names,
            [("linear_trend.weight", vec![12, 24]), ("linear_trend.bias", vec![12]), ("linear_season.weight", vec![12, 24]), ("linear_season.bias", vec![12])]
        );
        assert_eq!(config.moving_avg_window, 25);
        assert_eq!((DlinearConfig::TRAINING_DEFAULTS.max_steps, DlinearConfig::TRAINING_DEFAULTS.learning_rate), (5000, 1e-4));
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_model_gradients(&with(DlinearConfig::new(small(3)), |c| c.moving_avg_window = 3));
        check_model_gradients(&DlinearConfig::new(small(1)));
    }

    #[test]
    fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
        assert_window_alone_equals_batch(&DlinearConfig::new(small(3)));
    }

    #[test]
    fn refuses_exogenous_inputs_and_even_windows() {
        let exog = DlinearConfig::new(shape(12, 24, ExogSizes { futr: 1, hist: 0, stat: 2 }));
        let err = exog.build().unwrap_err().to_string();
        assert!(err.contains("DLinear") && err.contains("futrExogList, statExogList"), "{err}");
        assert!(with(DlinearConfig::new(small(1)), |c| c.moving_avg_window = 4).build().is_err());
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        assert_fits_sine(&with(DlinearConfig::new(shape(12, 24, ExogSizes::none())), |c| c.moving_avg_window = 5), 200, 1e-2, 0.3);
    }
}

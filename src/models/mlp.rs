//! NeuralForecast's `MLP` model (neuralforecast/models/mlp.py): the window and its exogenous inputs flattened
//! into one vector `[ y_{t-L..t} | X_{t-L..t} | F_{t-L..t+h} | S ]`, `num_layers` ReLU layers of `hidden_size`
//! units, and a linear output of `h × outputs_per_point` values.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionResult};
use crate::nn::relu_mlp::{ReluMlp, ReluMlpCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    pub shape: ModelShape,
    pub num_layers: usize,
    pub hidden_size: usize,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros (forecasts from the exogenous
    /// variables alone).
    pub exclude_insample_y: bool,
}

impl MlpConfig {
    /// Width of the flattened input: NeuralForecast's `input_size_first_layer`.
    fn in_features(&self) -> usize {
        let ModelShape { h, input_size: l, exog, .. } = self.shape;
        l + exog.hist * l + exog.futr * (l + h) + exog.stat
    }

    fn out_features(&self) -> usize {
        self.shape.h * self.shape.outputs_per_point
    }
}

impl ModelConfig for MlpConfig {
    type Network = MlpModel;

    const NAME: &'static str = "MLP";
    const OPTION_KEYS: &'static [&'static str] = &["numLayers", "hiddenSize", "excludeInsampleY"];
    /// mlp.py: `input_size` required, `scaler_type='identity'`, `windows_batch_size=1024`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults::WINDOWS;

    /// mlp.py: `num_layers=2`, `hidden_size=1024`, `exclude_insample_y=False`.
    fn new(shape: ModelShape) -> Self {
        MlpConfig { shape, num_layers: 2, hidden_size: 1024, exclude_insample_y: false }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([("numLayers", &mut self.num_layers), ("hiddenSize", &mut self.hidden_size)])?;
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [("numLayers", self.num_layers.into()), ("hiddenSize", self.hidden_size.into())]);
        out.insert("excludeInsampleY".into(), self.exclude_insample_y.into());
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let [input, hidden, layers, output] =
            [self.in_features(), self.hidden_size, self.num_layers, self.out_features()].map(|v| v as u128);
        let parameters = (input + 1) * hidden + (layers - 1) * (hidden + 1) * hidden + (hidden + 1) * output;
        (parameters, input + layers * hidden + output)
    }

    fn build(&self) -> Result<MlpModel, NnError> {
        crate::nn::error::nonzero("numLayers", self.num_layers)?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut layers = Vec::with_capacity(self.num_layers + 1);
        for i in 0..self.num_layers {
            let inputs = if i == 0 { self.in_features() } else { self.hidden_size };
            layers.push(Linear::new(&mut init.pp(format!("mlp.{i}")), inputs, self.hidden_size)?);
        }
        layers.push(Linear::new(&mut init.pp("out"), self.hidden_size, self.out_features())?);
        Ok(MlpModel { config: self.clone(), params, mlp: ReluMlp::from_layers(layers)? })
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

#[derive(Debug, Clone)]
pub struct MlpModel {
    config: MlpConfig,
    params: ParamStore,
    /// The hidden layers and `out`: ReLU after every layer but the last, as mlp.py's forward.
    mlp: ReluMlp,
}

#[derive(Debug, Clone, Default)]
pub struct MlpModelCache {
    /// The flattened inputs `[B, in_features]`.
    inputs: Vec<f32>,
    mlp: ReluMlpCache,
}
crate::nn::heap_bytes::heap_bytes!(MlpModelCache { inputs, mlp });

impl_model!(MlpModel, MlpConfig, MlpModelCache);

/// Concatenates each window's `[ y | hist exog | futr exog | stat exog ]` (each flattened row-major, as torch's
/// `reshape(batch_size, -1)`) into `out`.
pub(super) fn flatten_window_inputs(batch: &WindowBatch<'_>, shape: &ModelShape, out: &mut Vec<f32>) {
    let ModelShape { h, input_size: l, exog, .. } = *shape;
    out.clear();
    for b in 0..batch.batch {
        out.extend_from_slice(&batch.insample_y[b * l..(b + 1) * l]);
        out.extend_from_slice(&batch.hist_exog[b * l * exog.hist..(b + 1) * l * exog.hist]);
        out.extend_from_slice(&batch.futr_exog[b * (l + h) * exog.futr..(b + 1) * (l + h) * exog.futr]);
        out.extend_from_slice(&batch.stat_exog[b * exog.stat..(b + 1) * exog.stat]);
    }
}

impl MlpModel {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut MlpModelCache) -> Result<&'c [f32], NnError> {
        flatten_window_inputs(batch, &self.config.shape, &mut cache.inputs);
        self.mlp.forward(&self.params, &cache.inputs, batch.batch, &mut cache.mlp)
    }

    fn backward_pass(&self, cache: &mut MlpModelCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.mlp.backward(&self.params, &cache.inputs, &mut cache.mlp, d_output, grads, None)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::models::Model;
    use crate::models::model::tests::{assert_fits_sine, check_model_gradients, shape};
    use crate::models::ExogSizes;

    #[test]
    fn parameter_count_and_names_follow_torch() {
        // NeuralForecast MLP(h=12, input_size=24, num_layers=2, hidden_size=1024):
        // (24+1)*1024 + (1024+1)*1024 + (1024+1)*12 = 1,087,500 parameters.
        let config = MlpConfig::new(shape(12, 24, ExogSizes::none()));
        let model = config.build().unwrap();
        assert_eq!(model.params().num_parameters(), 1_087_500);
        assert_eq!(config.memory_estimate().0, 1_087_500);
        let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["mlp.0.weight", "mlp.0.bias", "mlp.1.weight", "mlp.1.bias", "out.weight", "out.bias"]);
    }

    #[test]
    fn exogenous_inputs_widen_the_first_layer() {
        let exog = ExogSizes { futr: 2, hist: 3, stat: 1 };
        let config = MlpConfig { num_layers: 1, hidden_size: 8, ..MlpConfig::new(shape(4, 6, exog)) };
        let model = config.build().unwrap();
        assert_eq!(model.params().find("mlp.0.weight").unwrap().shape, [8, 6 + 3 * 6 + 2 * 10 + 1]);
        assert_eq!(config.memory_estimate().0, model.params().num_parameters() as u128);
    }

    #[test]
    fn gradients_match_finite_differences_with_exogenous_inputs_and_quantiles() {
        let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
        let config = MlpConfig { num_layers: 2, hidden_size: 5, ..MlpConfig::new(ModelShape { outputs_per_point: 3, ..shape(3, 4, exog) }) };
        check_model_gradients(&config);
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = MlpConfig { num_layers: 2, hidden_size: 32, ..MlpConfig::new(shape(12, 24, ExogSizes::none())) };
        assert_fits_sine(&config, 150, 1e-2, 0.2);
    }
}

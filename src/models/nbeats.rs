//! NeuralForecast's `NBEATS` (neuralforecast/models/nbeats.py): the doubly residual stack of
//! [`super::nbeats_stack`] over the window alone, with `identity` (generic), `trend` (a polynomial or other
//! `basis` of `n_basis + 1` functions) and `seasonality` (Fourier terms from `n_harmonics`) stacks. It takes no
//! exogenous variables, and NeuralForecast raises `NotImplementedError("dropout")` for `dropout_prob_theta > 0`.

use serde_json::{Map, Value};

use super::model::{ModelConfig, ModelShape, TrainingDefaults};
use super::nbeats_basis::TrendBasisKind;
use super::nbeats_stack::{StackConfig, StackModel, StackOptions, StackSpec, StackType, STACK_TRAINING_DEFAULTS};
use super::options::{ModelOptions, OptionError, OptionResult, MAX_SIZE};
use crate::nn::NnError;

/// The stack types NBEATS accepts.
const STACK_TYPES: [StackType; 3] = [StackType::Identity, StackType::Trend, StackType::Seasonality];

#[derive(Debug, Clone, PartialEq)]
pub struct NbeatsConfig {
    pub shape: ModelShape,
    pub n_basis: usize,
    pub basis: TrendBasisKind,
    pub stacks: StackOptions,
}

impl StackConfig for NbeatsConfig {
    fn spec(&self) -> StackSpec<'_> {
        StackSpec { shape: &self.shape, options: &self.stacks, trend_basis: self.basis, n_basis: self.n_basis }
    }
}

impl ModelConfig for NbeatsConfig {
    type Network = Nbeats;

    const NAME: &'static str = "NBEATS";
    const OPTION_KEYS: &'static [&'static str] =
        &["nHarmonics", "nBasis", "basis", "stackTypes", "nBlocks", "mlpUnits", "dropoutProbTheta", "activation", "sharedWeights"];
    /// nbeats.py's, the same as nbeatsx.py's.
    const TRAINING_DEFAULTS: TrainingDefaults = STACK_TRAINING_DEFAULTS;

    /// nbeats.py: `n_basis=2`, `basis='polynomial'` and the [`StackOptions`] defaults.
    fn new(shape: ModelShape) -> Self {
        NbeatsConfig { shape, n_basis: 2, basis: TrendBasisKind::Polynomial, stacks: StackOptions::default() }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        self.n_basis = options.integer("nBasis", 0, MAX_SIZE)?.unwrap_or(self.n_basis);
        if let Some(name) = options.choice("basis", &TrendBasisKind::ALL.map(TrendBasisKind::name))? {
            self.basis = TrendBasisKind::from_name(name).unwrap_or(self.basis);
        }
        self.stacks.read(options, &STACK_TYPES)?;
        if self.stacks.dropout_prob_theta != 0.0 {
            let field = options.field("dropoutProbTheta");
            return Err(OptionError::Range(format!("{field}: NeuralForecast's NBEATS does not implement dropout (NBEATSx does)")));
        }
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("nBasis".into(), self.n_basis.into());
        out.insert("basis".into(), self.basis.name().into());
        self.stacks.write(out);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        self.spec().memory_estimate()
    }

    fn build(&self) -> Result<Nbeats, NnError> {
        let invalid = |what, reason: &str| Err(NnError::InvalidValue { what, reason: reason.into() });
        if !self.shape.exog.is_empty() {
            return invalid("exogenous inputs", "NeuralForecast's NBEATS takes no exogenous variables (NBEATSx does)");
        }
        if self.stacks.dropout_prob_theta != 0.0 {
            return invalid("dropoutProbTheta", "NeuralForecast's NBEATS does not implement dropout (NBEATSx does)");
        }
        if self.stacks.stack_types.contains(&StackType::Exogenous) {
            return invalid("stackTypes", "exogenous stacks are NBEATSx's");
        }
        StackModel::build(self)
    }
}

pub type Nbeats = StackModel<NbeatsConfig>;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, check_model_gradients, shape, with, RandomBatch};
    use crate::models::model::{Model, WindowBatch};
    use crate::models::nbeats_stack::StackCache;
    use crate::models::ExogSizes;
    use crate::nn::ParamStore;
    use crate::nn::activation::ActivationKind;
    use crate::nn::adam::{Adam, AdamConfig, StepLr};
    use crate::nn::gradcheck::random_vec;
    use serde_json::json;

    pub(crate) fn baseline() -> NbeatsConfig {
        NbeatsConfig::new(shape(12, 24, ExogSizes::none()))
    }

    fn small(stack_types: Vec<StackType>, outputs_per_point: usize) -> NbeatsConfig {
        with(NbeatsConfig::new(ModelShape { outputs_per_point, ..shape(4, 7, ExogSizes::none()) }), |c| {
            c.stacks.n_blocks = vec![1; stack_types.len()];
            c.stacks.stack_types = stack_types;
            c.stacks.mlp_units = vec![[6, 5], [5, 4]];
        })
    }

    #[test]
    fn parameter_count_and_names_follow_torch() {
        // NeuralForecast NBEATS(h=12, input_size=24), defaults: sum(p.numel() for p in model.parameters()),
        // which includes the frozen basis templates (108 for trend, 792 for seasonality).
        let config = baseline();
        assert_eq!(assert_count_matches_estimate(&config), 2_447_322);
        let model = config.build().unwrap();
        let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.clone())).collect();
        assert_eq!(names[..4], [
            ("blocks.0.layers.0.weight", vec![512, 24]),
            ("blocks.0.layers.0.bias", vec![512]),
            ("blocks.0.layers.1.weight", vec![512, 512]),
            ("blocks.0.layers.1.bias", vec![512]),
        ]);
        assert_eq!(names[8], ("blocks.0.layers.7.weight", vec![36, 512]));
        assert_eq!(names[10], ("blocks.1.layers.0.weight", vec![512, 24]));
        assert_eq!(names[18], ("blocks.1.layers.7.weight", vec![6, 512]));
        assert_eq!(names[20..22], [("blocks.1.basis.backcast_basis", vec![3, 24]), ("blocks.1.basis.forecast_basis", vec![3, 12])]);
        assert_eq!(names[30], ("blocks.2.layers.7.weight", vec![44, 512]));
        assert_eq!(names.last().unwrap(), &("blocks.2.basis.forecast_basis", vec![22, 12]));
        // torch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        let first = model.params().find("blocks.0.layers.0.weight").unwrap();
        assert!(first.data.iter().all(|v| v.abs() <= 1.0 / 24f32.sqrt()) && first.data.iter().any(|v| v.abs() > 0.19));
    }

    #[test]
    fn estimate_is_exact_for_other_configurations() {
        let quantiles = with(small(STACK_TYPES.to_vec(), 3), |c| {
            c.stacks.n_harmonics = 3;
            (c.n_basis, c.basis) = (4, TrendBasisKind::Spline);
        });
        assert_count_matches_estimate(&quantiles);
        let prelu = with(small(STACK_TYPES.to_vec(), 1), |c| {
            c.stacks.activation = ActivationKind::Prelu;
            c.stacks.n_blocks = vec![2, 1, 3];
        });
        // One shared slope per block: layers.2.weight.
        let count = assert_count_matches_estimate(&prelu);
        assert_eq!(prelu.build().unwrap().params().find("blocks.3.layers.2.weight").unwrap().data, [0.25]);
        let shared = with(prelu.clone(), |c| c.stacks.shared_weights = true);
        let shared_count = assert_count_matches_estimate(&shared);
        assert!(shared_count < count);
        // blocks 0, 2 (stack 1) and 3 (stack 2) own parameters; 1, 4 and 5 reuse them.
        let model = shared.build().unwrap();
        assert!(model.params().find("blocks.3.layers.0.weight").is_some() && model.params().find("blocks.4.layers.0.weight").is_none());
        let wide = with(small(vec![StackType::Trend, StackType::Identity], 2), |c| c.stacks.mlp_units = vec![[8, 3]]);
        assert_count_matches_estimate(&wide);
    }

    #[test]
    fn options_round_trip_and_reject_bad_values() {
        let mut config = baseline();
        let options = json!({
            "nHarmonics": 3, "nBasis": 4, "basis": "legendre", "stackTypes": ["trend", "identity"], "nBlocks": [2, 1],
            "mlpUnits": [[16, 8], [8, 8]], "dropoutProbTheta": 0.0, "activation": "SELU", "sharedWeights": true
        });
        config.read_options(&ModelOptions::new("NBEATS", options.as_object().unwrap())).unwrap();
        assert_eq!((config.n_basis, config.basis), (4, TrendBasisKind::Legendre));
        let expected = StackOptions {
            n_harmonics: 3,
            stack_types: vec![StackType::Trend, StackType::Identity],
            n_blocks: vec![2, 1],
            mlp_units: vec![[16, 8], [8, 8]],
            dropout_prob_theta: 0.0,
            activation: ActivationKind::Selu,
            shared_weights: true,
        };
        assert_eq!(config.stacks, expected);
        let mut written = Map::new();
        config.write_options(&mut written);
        assert_eq!(Value::Object(written.clone()), options);
        assert_eq!(written.keys().count(), NbeatsConfig::OPTION_KEYS.len());
        let mut reread = baseline();
        reread.read_options(&ModelOptions::new("NBEATS", &written)).unwrap();
        assert_eq!(reread, config);
        for bad in [
            json!({ "stackTypes": ["identity", "exogenous"] }),
            json!({ "mlpUnits": [[512, 512, 3]] }),
            json!({ "dropoutProbTheta": 0.1 }),
            json!({ "activation": "GELU" }),
            json!({ "basis": "fourier" }),
            json!({ "nHarmonics": 0 }),
            json!({ "nBlocks": [1, -1] }),
        ] {
            assert!(baseline().read_options(&ModelOptions::new("NBEATS", bad.as_object().unwrap())).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_configurations_are_errors() {
        let exog = NbeatsConfig::new(shape(12, 24, ExogSizes { futr: 1, hist: 0, stat: 0 }));
        assert!(matches!(exog.build(), Err(NnError::InvalidValue { what: "exogenous inputs", .. })));
        let h1 = NbeatsConfig::new(shape(1, 24, ExogSizes::none()));
        assert!(matches!(h1.build(), Err(NnError::InvalidValue { what: "h", .. })));
        assert!(with(h1, |c| (c.stacks.stack_types, c.stacks.n_blocks) = (vec![StackType::Identity], vec![1])).build().is_ok());
        let broken_chain = with(baseline(), |c| c.stacks.mlp_units = vec![[8, 8], [4, 8]]);
        assert!(matches!(broken_chain.build(), Err(NnError::InvalidValue { what: "mlpUnits", .. })));
        let cases = [
            with(baseline(), |c| c.stacks.mlp_units = vec![]),
            with(baseline(), |c| c.stacks.n_blocks = vec![1, 1]),
            with(baseline(), |c| c.stacks.n_blocks = vec![0, 0, 0]),
            with(baseline(), |c| c.stacks.dropout_prob_theta = 0.2),
            with(baseline(), |c| c.stacks.stack_types[0] = StackType::Exogenous),
            with(baseline(), |c| c.basis = TrendBasisKind::Spline),
            with(baseline(), |c| c.stacks.mlp_units = vec![[0, 4]]),
            NbeatsConfig::new(shape(12, 0, ExogSizes::none())),
            NbeatsConfig::new(ModelShape { outputs_per_point: 0, ..shape(12, 24, ExogSizes::none()) }),
        ];
        for config in cases {
            config.memory_estimate();
            assert!(config.build().is_err(), "{config:?}");
        }
        let model = small(vec![StackType::Identity], 1).build().unwrap();
        let mut cache = StackCache::default();
        let mut grads = model.params().zeros_like();
        assert!(model.backward(&mut cache, &[0.0; 4], &mut grads).is_err(), "backward before forward");
        assert!(model.forward(&WindowBatch::univariate(&[0.0; 13], 2), &mut cache).is_err());
        model.forward(&WindowBatch::univariate(&[0.0; 14], 2), &mut cache).unwrap();
        assert!(model.backward(&mut cache, &[0.0; 7], &mut grads).is_err());
        assert!(model.backward(&mut cache, &[0.0; 8], &mut ParamStore::new()).is_err());
    }

    /// With every weight of the last layers zero, each block's theta is its bias: the forecast is the window's
    /// last value plus the biases expanded through the bases, as NeuralForecast's forward adds them up.
    #[test]
    fn forecast_is_the_level_plus_the_expanded_thetas() {
        let config = small(STACK_TYPES.to_vec(), 2);
        let mut model = config.build().unwrap();
        let (h, q) = (4, 2);
        for k in 0..3 {
            let weight = model.params_mut().iter_mut().find(|(n, _)| *n == format!("blocks.{k}.layers.5.weight")).unwrap().1;
            weight.data.fill(0.0);
        }
        let window = random_vec(7, 3);
        let forecast = model.forward(&WindowBatch::univariate(&window, 1), &mut StackCache::default()).unwrap().to_vec();
        let bias = |k: usize| model.params().find(&format!("blocks.{k}.layers.5.bias")).unwrap().data.clone();
        let template = |k: usize| model.params().find(&format!("blocks.{k}.basis.forecast_basis")).unwrap().data.clone();
        for t in 0..h {
            for j in 0..q {
                let identity = bias(0)[7 + t * q + j];
                let basis = |k: usize, p: usize| (0..p).map(|i| bias(k)[p + i * q + j] * template(k)[i * h + t]).sum::<f32>();
                let expected = window[6] + identity + basis(1, 3) + basis(2, 6);
                assert!((forecast[t * q + j] - expected).abs() < 1e-5, "{t} {j}: {} vs {expected}", forecast[t * q + j]);
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_model_gradients(&small(STACK_TYPES.to_vec(), 1));
        check_model_gradients(&with(small(STACK_TYPES.to_vec(), 3), |c| c.stacks.n_blocks = vec![2, 1, 2]));
    }

    #[test]
    fn gradients_match_with_shared_weights_and_each_activation() {
        for activation in ActivationKind::BLOCK_MLP {
            let config = with(small(vec![StackType::Seasonality, StackType::Trend], 2), |c| {
                c.stacks.activation = activation;
                c.stacks.shared_weights = activation == ActivationKind::Prelu;
                c.stacks.n_blocks = vec![2, 2];
                c.basis = TrendBasisKind::Chebyshev;
            });
            check_model_gradients(&config);
        }
    }

    #[test]
    fn a_batch_of_one_equals_its_row_in_a_batch_of_five() {
        let config = small(STACK_TYPES.to_vec(), 3);
        let model = config.build().unwrap();
        let batch = RandomBatch::new(&config.shape, 5, 8);
        let all = model.forward(&batch.view(None), &mut StackCache::default()).unwrap().to_vec();
        let row = 3;
        let window = &batch.insample_y[row * 7..(row + 1) * 7];
        let one = model.forward(&WindowBatch::univariate(window, 1), &mut StackCache::default()).unwrap().to_vec();
        let expected = &all[row * 12..(row + 1) * 12];
        assert_eq!(one, expected);
    }

    #[test]
    fn training_leaves_the_basis_templates_alone() {
        let config = small(STACK_TYPES.to_vec(), 1);
        let mut model = config.build().unwrap();
        let before = model.params().clone();
        let batch = RandomBatch::new(&config.shape, 4, 2);
        let mut cache = StackCache::default();
        let mut grads = model.params().zeros_like();
        let mut adam = Adam::new(model.params(), AdamConfig::default(), StepLr::constant()).unwrap();
        for _ in 0..3 {
            model.forward(&batch.view(Some(1)), &mut cache).unwrap();
            grads.fill_zero();
            model.backward(&mut cache, &[1.0; 16], &mut grads).unwrap();
            adam.step(model.params_mut(), &grads).unwrap();
        }
        for ((name, old), (_, new)) in before.iter().zip(model.params().iter()) {
            assert_eq!(name.contains("basis"), old == new, "{name}");
        }
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = with(baseline(), |c| c.stacks.mlp_units = vec![[32, 32]; 2]);
        assert_fits_sine(&config, 150, 1e-3, 0.2);
    }
}

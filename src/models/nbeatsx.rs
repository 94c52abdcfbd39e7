//! NeuralForecast's `NBEATSx` (neuralforecast/models/nbeatsx.py): the doubly residual stack of
//! [`super::nbeats_stack`] with exogenous variables. Every block's MLP sees the residual window followed by the
//! flattened historic, future and static exogenous inputs (`[y | X_{t-L..t} | F_{t-L..t+h} | S]`); an
//! `exogenous` stack expands theta over each window's own future and static variables. The trend stack is a
//! polynomial of degree `n_polynomials`, and dropout (`dropout_prob_theta`) follows every hidden activation.
//! Categorical exogenous variables (`cat_exog_list`, embedded by NeuralForecast's base model) are not
//! supported: the engine hands every exogenous variable over as a number.

use serde_json::{Map, Value};

use super::model::{ModelConfig, ModelShape, TrainingDefaults};
use super::nbeats_basis::TrendBasisKind;
use super::nbeats_stack::{StackConfig, StackModel, StackOptions, StackSpec, StackType, STACK_TRAINING_DEFAULTS};
use super::options::{ModelOptions, OptionResult, MAX_SIZE};
use crate::nn::NnError;

#[derive(Debug, Clone, PartialEq)]
pub struct NbeatsxConfig {
    pub shape: ModelShape,
    /// Degree of the trend stack's polynomial basis.
    pub n_polynomials: usize,
    /// The window enters as zeros (forecasts from the exogenous variables alone).
    pub exclude_insample_y: bool,
    pub stacks: StackOptions,
}

impl StackConfig for NbeatsxConfig {
    fn spec(&self) -> StackSpec<'_> {
        StackSpec {
            shape: &self.shape,
            options: &self.stacks,
            trend_basis: TrendBasisKind::Polynomial,
            n_basis: self.n_polynomials,
        }
    }
}

impl ModelConfig for NbeatsxConfig {
    type Network = Nbeatsx;

    const NAME: &'static str = "NBEATSx";
    const OPTION_KEYS: &'static [&'static str] = &["nHarmonics", "nPolynomials", "stackTypes", "nBlocks", "mlpUnits",
        "dropoutProbTheta", "activation", "sharedWeights", "excludeInsampleY"];
    /// nbeatsx.py's, the same as nbeats.py's.
    const TRAINING_DEFAULTS: TrainingDefaults = STACK_TRAINING_DEFAULTS;

    /// nbeatsx.py: `n_polynomials=2`, `exclude_insample_y=False` and the [`StackOptions`] defaults.
    fn new(shape: ModelShape) -> Self {
        NbeatsxConfig { shape, n_polynomials: 2, exclude_insample_y: false, stacks: StackOptions::default() }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        self.n_polynomials = options.integer("nPolynomials", 0, MAX_SIZE)?.unwrap_or(self.n_polynomials);
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        self.stacks.read(options, &StackType::ALL)
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("nPolynomials".into(), self.n_polynomials.into());
        out.insert("excludeInsampleY".into(), self.exclude_insample_y.into());
        self.stacks.write(out);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        self.spec().memory_estimate()
    }

    fn build(&self) -> Result<Nbeatsx, NnError> {
        StackModel::build(self)
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

pub type Nbeatsx = StackModel<NbeatsxConfig>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, check_model_gradients, shape, with, RandomBatch};
    use crate::models::model::{Model, WindowBatch};
    use crate::models::nbeats_stack::StackCache;
    use crate::models::ExogSizes;
    use crate::nn::activation::ActivationKind;
    use serde_json::json;

    const EXOG: ExogSizes = ExogSizes { futr: 2, hist: 3, stat: 1 };

    /// Every stack type, small layers, `outputs_per_point` outputs.
    fn small(exog: ExogSizes, outputs_per_point: usize) -> NbeatsxConfig {
        with(NbeatsxConfig::new(ModelShape { outputs_per_point, ..shape(4, 6, exog) }), |c| {
            c.stacks.stack_types = StackType::ALL.to_vec();
            c.stacks.n_blocks = vec![1; 4];
            c.stacks.mlp_units = vec![[6, 5], [5, 4]];
        })
    }

    #[test]
    fn parameter_count_and_names_follow_torch() {
        // NBEATSx(h=12, input_size=24) without exogenous variables is NBEATS' baseline: 2,447,322 (templates
        // included, as torch's parameters() counts them).
        assert_eq!(assert_count_matches_estimate(&NbeatsxConfig::new(shape(12, 24, ExogSizes::none()))), 2_447_322);
        // With 3 historic, 2 future and 1 static variable the first layer takes 24 + 3*24 + 2*36 + 1 = 169
        // inputs; an exogenous stack adds a block with theta 2 * (2 + 1) = 6 and no templates.
        let config = with(NbeatsxConfig::new(shape(12, 24, EXOG)), |c| {
            c.stacks.stack_types.push(StackType::Exogenous);
            c.stacks.n_blocks.push(1);
        });
        let block = |n_theta: usize| 170 * 512 + 3 * 513 * 512 + 513 * n_theta;
        let expected = block(36) + block(6) + 108 + block(44) + 792 + block(6);
        assert_eq!(assert_count_matches_estimate(&config), expected);
        let model = config.build().unwrap();
        assert_eq!(model.params().find("blocks.0.layers.0.weight").unwrap().shape, [512, 169]);
        assert_eq!(model.params().find("blocks.3.layers.7.weight").unwrap().shape, [6, 512]);
        assert!(model.params().find("blocks.3.basis.backcast_basis").is_none());
        // Dropout modules take Sequential indices: Linear 1, activation 2, Dropout 3, Linear 4, ...
        let dropout = with(small(EXOG, 1), |c| c.stacks.dropout_prob_theta = 0.3);
        let names: Vec<String> = dropout.build().unwrap().params().iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names[..8], ["blocks.0.layers.0.weight", "blocks.0.layers.0.bias", "blocks.0.layers.1.weight", "blocks.0.layers.1.bias",
            "blocks.0.layers.4.weight", "blocks.0.layers.4.bias", "blocks.0.layers.7.weight", "blocks.0.layers.7.bias"]);
        assert_count_matches_estimate(&dropout);
        let prelu = with(dropout, |c| (c.stacks.activation, c.stacks.shared_weights, c.stacks.n_blocks) = (ActivationKind::Prelu, true, vec![2, 1, 2, 2]));
        assert_count_matches_estimate(&prelu);
        assert_count_matches_estimate(&with(small(ExogSizes { futr: 0, hist: 2, stat: 3 }, 3), |c| c.n_polynomials = 4));
    }

    #[test]
    fn options_round_trip_and_reject_bad_values() {
        let mut config = NbeatsxConfig::new(shape(12, 24, EXOG));
        let options = json!({
            "nHarmonics": 1, "nPolynomials": 3, "stackTypes": ["exogenous", "trend"], "nBlocks": [2, 1],
            "mlpUnits": [[16, 8]], "dropoutProbTheta": 0.25, "activation": "Tanh", "sharedWeights": false,
            "excludeInsampleY": true
        });
        config.read_options(&ModelOptions::new("NBEATSx", options.as_object().unwrap())).unwrap();
        assert_eq!((config.n_polynomials, config.exclude_insample_y, config.stacks.dropout_prob_theta), (3, true, 0.25));
        assert_eq!(config.stacks.stack_types, [StackType::Exogenous, StackType::Trend]);
        let mut written = Map::new();
        config.write_options(&mut written);
        assert_eq!(Value::Object(written.clone()), options);
        assert_eq!(written.keys().count(), NbeatsxConfig::OPTION_KEYS.len());
        for bad in [json!({ "dropoutProbTheta": 1.0 }), json!({ "stackTypes": ["fourier"] }), json!({ "excludeInsampleY": 1 })] {
            assert!(NbeatsxConfig::new(shape(12, 24, EXOG)).read_options(&ModelOptions::new("NBEATSx", bad.as_object().unwrap())).is_err());
        }
    }

    #[test]
    fn invalid_configurations_are_errors() {
        let no_basis = with(small(ExogSizes { futr: 0, hist: 2, stat: 0 }, 1), |_| {});
        assert!(matches!(no_basis.build(), Err(NnError::InvalidValue { what: "stackTypes", .. })));
        assert!(with(small(EXOG, 1), |c| c.stacks.dropout_prob_theta = 1.0).build().is_err());
        assert!(with(small(EXOG, 1), |c| c.stacks.n_blocks.truncate(3)).build().is_err());
        let model = small(EXOG, 1).build().unwrap();
        let batch = RandomBatch::new(&model.config().shape, 2, 1);
        let mut cache = StackCache::default();
        let missing = WindowBatch { futr_exog: &[], ..batch.view(None) };
        assert!(model.forward(&missing, &mut cache).is_err());
        model.forward(&batch.view(None), &mut cache).unwrap();
        assert!(model.backward(&mut cache, &[0.0; 7], &mut model.params().zeros_like()).is_err());
    }

    /// The wide first layer over exogenous inputs puts some ReLU inputs within a finite-difference step of
    /// the kink, where a central difference means nothing; Softplus keeps every path smooth (NBEATS' tests check
    /// every activation, and the layers are the same).
    fn smooth(config: NbeatsxConfig) -> NbeatsxConfig {
        with(config, |c| c.stacks.activation = ActivationKind::Softplus)
    }

    #[test]
    fn gradients_match_finite_differences_with_every_exogenous_input() {
        check_model_gradients(&smooth(small(EXOG, 1)));
        check_model_gradients(&smooth(with(small(EXOG, 3), |c| c.stacks.n_blocks = vec![1, 2, 1, 2])));
        check_model_gradients(&smooth(small(ExogSizes { futr: 0, hist: 1, stat: 2 }, 2)));
        check_model_gradients(&smooth(small(ExogSizes { futr: 3, hist: 0, stat: 0 }, 1)));
        check_model_gradients(&smooth(with(small(EXOG, 2), |c| c.exclude_insample_y = true)));
    }

    /// [`small`] with shared weights, dropout `p` and `n_blocks`.
    fn shared_with_dropout(outputs_per_point: usize, p: f64, n_blocks: Vec<usize>) -> NbeatsxConfig {
        with(small(EXOG, outputs_per_point), |c| (c.stacks.dropout_prob_theta, c.stacks.shared_weights, c.stacks.n_blocks) = (p, true, n_blocks))
    }

    #[test]
    fn gradients_match_with_dropout_and_shared_weights() {
        check_model_gradients(&smooth(shared_with_dropout(2, 0.3, vec![2, 1, 1, 2])));
    }

    #[test]
    fn dropout_depends_on_the_training_seed_only_and_is_off_at_inference() {
        let config = shared_with_dropout(1, 0.5, vec![1, 1, 1, 3]);
        let model = config.build().unwrap();
        let batch = RandomBatch::new(&config.shape, 3, 4);
        let run = |seed| model.forward(&batch.view(seed), &mut StackCache::default()).unwrap().to_vec();
        assert_eq!(run(Some(1)), run(Some(1)));
        assert_ne!(run(Some(1)), run(Some(2)));
        assert_ne!(run(Some(1)), run(None));
        assert_eq!(run(None), run(None));
    }

    #[test]
    fn exclude_insample_y_ignores_the_window() {
        let config = with(small(EXOG, 1), |c| c.exclude_insample_y = true);
        let model = config.build().unwrap();
        let mut batch = RandomBatch::new(&config.shape, 2, 6);
        let before = model.forward(&batch.view(None), &mut StackCache::default()).unwrap().to_vec();
        batch.insample_y.iter_mut().for_each(|v| *v += 3.0);
        assert_eq!(model.forward(&batch.view(None), &mut StackCache::default()).unwrap(), before);
    }

    #[test]
    fn a_batch_of_one_equals_its_row_in_a_batch_of_five() {
        let config = small(EXOG, 3);
        let model = config.build().unwrap();
        let five = RandomBatch::new(&config.shape, 5, 8);
        let all = model.forward(&five.view(None), &mut StackCache::default()).unwrap().to_vec();
        let (row, (l, h)) = (2, (6, 4));
        let one = WindowBatch {
            batch: 1,
            insample_y: &five.insample_y[row * l..(row + 1) * l],
            hist_exog: &five.hist_exog[row * l * 3..(row + 1) * l * 3],
            futr_exog: &five.futr_exog[row * (l + h) * 2..(row + 1) * (l + h) * 2],
            stat_exog: &five.stat_exog[row..row + 1],
            train_seed: None,
            sample_keys: &[],
        };
        let single = model.forward(&one, &mut StackCache::default()).unwrap().to_vec();
        assert_eq!(single, all[row * 12..(row + 1) * 12]);
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = with(NbeatsxConfig::new(shape(12, 24, ExogSizes::none())), |c| c.stacks.mlp_units = vec![[32, 32]; 2]);
        assert_fits_sine(&config, 150, 1e-3, 0.2);
    }
}

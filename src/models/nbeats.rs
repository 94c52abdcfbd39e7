//! NeuralForecast's `NBEATS` (neuralforecast/models/nbeats.py): stacks of blocks, each an MLP from the (flipped)
//! residual window to basis coefficients `theta`, expanded into a backcast and a forecast. The backcast is
//! subtracted from the block's input to form the next block's input and the forecasts are summed on top of the
//! window's last value (doubly residual stacking). Stacks are `identity` (generic), `trend` (a polynomial or other
//! `basis` of `n_basis + 1` functions) or `seasonality` (Fourier terms from `n_harmonics`).
//!
//! Each block is torch's `nn.Sequential`: `layers.0` Linear(L, mlp_units[0][0]) with no activation, then for every
//! `[a, b]` in `mlp_units` a Linear(a, b) followed by the activation (one module instance, at indices 2, 4, ...),
//! then Linear(mlp_units[-1][1], n_theta). NeuralForecast leaves torch's default initialisation in place.
//! `insample_mask` is all ones for the windows the engine builds, so `(residual - backcast) * mask` is the
//! plain difference.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{InputSizeDefault, Model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::nbeats_basis::{seasonality_size, seasonality_template, trend_template, BasisExpansion, TrendBasisKind};
use super::options::{ModelOptions, OptionError, OptionResult, MAX_SIZE};
use crate::nn::activation::{Activation, ActivationKind};
use crate::nn::error::{expect_len, nonzero};
use crate::nn::skinny;
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// A stack's basis (`stack_types` in NeuralForecast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackType {
    Identity,
    Trend,
    Seasonality,
}

impl StackType {
    pub const ALL: [StackType; 3] = [Self::Identity, Self::Trend, Self::Seasonality];

    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Trend => "trend",
            Self::Seasonality => "seasonality",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NbeatsConfig {
    pub shape: ModelShape,
    pub n_harmonics: usize,
    pub n_basis: usize,
    pub basis: TrendBasisKind,
    pub stack_types: Vec<StackType>,
    pub n_blocks: Vec<usize>,
    /// `[in, out]` of each hidden layer after `layers.0`; every block of every stack uses the same list.
    pub mlp_units: Vec<[usize; 2]>,
    /// NeuralForecast's NBEATS raises `NotImplementedError("dropout")` for anything but 0.
    pub dropout_prob_theta: f64,
    pub activation: ActivationKind,
    /// All blocks of a stack reuse its first block.
    pub shared_weights: bool,
}

impl NbeatsConfig {
    /// `n_theta` of a block of `stack` (`create_stack`).
    fn n_theta(&self, stack: StackType) -> u128 {
        let ModelShape { h, input_size, outputs_per_point, .. } = self.shape;
        match stack {
            StackType::Identity => input_size as u128 + outputs_per_point as u128 * h as u128,
            _ => (outputs_per_point as u128 + 1) * self.template_rows(stack),
        }
    }

    /// Rows of the fixed basis templates of `stack` (none for identity).
    fn template_rows(&self, stack: StackType) -> u128 {
        match stack {
            StackType::Identity => 0,
            StackType::Trend => self.n_basis as u128 + 1,
            StackType::Seasonality => seasonality_size(self.n_harmonics, self.shape.h),
        }
    }

    /// `(stack, distinct blocks with their own parameters, blocks run)` for each stack.
    fn stacks(&self) -> impl Iterator<Item = (StackType, usize, usize)> + '_ {
        self.stack_types.iter().zip(&self.n_blocks).map(|(&stack, &blocks)| {
            let distinct = if self.shared_weights { blocks.min(1) } else { blocks };
            (stack, distinct, blocks)
        })
    }

    /// Widths of the block's layers: the input, `layers.0`'s output, each hidden layer's output, `n_theta`.
    fn widths(&self, stack: StackType) -> Vec<u128> {
        let first = self.mlp_units.first().map_or(0, |u| u[0]);
        let hidden = self.mlp_units.iter().map(|u| u[1] as u128);
        [self.shape.input_size as u128, first as u128].into_iter().chain(hidden).chain([self.n_theta(stack)]).collect()
    }

    /// Parameters of one block of `stack` (with each hidden layer's `in` equal to the previous `out`, as `build`
    /// requires).
    fn block_parameters(&self, stack: StackType) -> u128 {
        let linear: u128 = self.widths(stack).windows(2).map(|pair| (pair[0] + 1) * pair[1]).sum();
        let prelu = u128::from(self.activation == ActivationKind::Prelu);
        let templates = self.template_rows(stack) * (self.shape.input_size as u128 + self.shape.h as u128);
        linear + prelu + templates
    }

    fn validate(&self) -> Result<(), NnError> {
        let invalid = |what, reason: String| Err(NnError::InvalidValue { what, reason });
        let ModelShape { h, input_size, outputs_per_point, exog, .. } = self.shape;
        nonzero("h", h)?;
        nonzero("input_size", input_size)?;
        nonzero("outputs_per_point", outputs_per_point)?;
        nonzero("n_harmonics", self.n_harmonics)?;
        if !exog.is_empty() {
            return invalid("exogenous inputs", "NeuralForecast's NBEATS takes no exogenous variables (NBEATSx does)".into());
        }
        if self.stack_types.len() != self.n_blocks.len() {
            let reason = format!("{} stack types but {} entries in n_blocks", self.stack_types.len(), self.n_blocks.len());
            return invalid("n_blocks", reason);
        }
        nonzero("total number of blocks", self.n_blocks.iter().sum())?;
        if h == 1 && self.stack_types.iter().any(|s| *s != StackType::Identity) {
            return invalid("h", "horizon h=1 is incompatible with seasonality or trend stacks".into());
        }
        nonzero("mlp_units layers", self.mlp_units.len())?;
        if let Some(k) = (1..self.mlp_units.len()).find(|&k| self.mlp_units[k][0] != self.mlp_units[k - 1][1]) {
            let reason = format!("mlp_units[{k}] takes {} inputs but mlp_units[{}] gives {}", self.mlp_units[k][0], k - 1, self.mlp_units[k - 1][1]);
            return invalid("mlp_units", reason);
        }
        if self.dropout_prob_theta != 0.0 {
            return invalid("dropout_prob_theta", "NeuralForecast's NBEATS does not implement dropout (NBEATSx does)".into());
        }
        Ok(())
    }

    /// The basis of a block of `stack`, with its fixed templates registered as `basis.backcast_basis` and
    /// `basis.forecast_basis` (torch parameters with `requires_grad=False`; the model computes with its own copy,
    /// so neither an optimizer step nor a gradient can touch them).
    fn basis(&self, init: &mut ParamInit<'_>, stack: StackType) -> Result<BasisExpansion, NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, .. } = self.shape;
        let (backcast, forecast) = match stack {
            StackType::Identity => return Ok(BasisExpansion::identity(l, h, q)),
            StackType::Trend => (trend_template(self.basis, l, self.n_basis)?, trend_template(self.basis, h, self.n_basis)?),
            StackType::Seasonality => {
                (seasonality_template(self.n_harmonics, l, h, -1.0), seasonality_template(self.n_harmonics, h, h, 1.0))
            }
        };
        let p = forecast.len() / h;
        let expansion = BasisExpansion::from_templates(&backcast, &forecast, p, h, q);
        init.with_values("backcast_basis", &[p, l], backcast)?;
        init.with_values("forecast_basis", &[p, h], forecast)?;
        Ok(expansion)
    }
}

/// Each `[a, b]` of an `mlpUnits` option.
fn unit_pairs(options: &ModelOptions<'_>, lists: Vec<Vec<usize>>) -> OptionResult<Vec<[usize; 2]>> {
    let pair = |(i, list): (usize, Vec<usize>)| match list[..] {
        [a, b] => Ok([a, b]),
        _ => Err(OptionError::Range(format!("{} must be a pair [in, out], got {} numbers", options.field(&format!("mlpUnits[{i}]")), list.len()))),
    };
    lists.into_iter().enumerate().map(pair).collect()
}

fn stack_types(options: &ModelOptions<'_>, names: Vec<String>) -> OptionResult<Vec<StackType>> {
    let parse = |(i, name): (usize, String)| {
        StackType::from_name(&name).ok_or_else(|| {
            let expected = StackType::ALL.map(StackType::name).join(", ");
            OptionError::Range(format!("{}: unknown value '{name}'; expected one of {expected}", options.field(&format!("stackTypes[{i}]"))))
        })
    };
    names.into_iter().enumerate().map(parse).collect()
}

impl ModelConfig for NbeatsConfig {
    type Network = Nbeats;

    const NAME: &'static str = "NBEATS";
    const OPTION_KEYS: &'static [&'static str] =
        &["nHarmonics", "nBasis", "basis", "stackTypes", "nBlocks", "mlpUnits", "dropoutProbTheta", "activation", "sharedWeights"];
    /// nbeats.py: `input_size` required, `scaler_type='identity'`, `windows_batch_size=1024`, `num_lr_decays=3`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults {
        input_size: InputSizeDefault::Required,
        scaler_type: "identity",
        learning_rate: 1e-3,
        max_steps: 1000,
        batch_size: 1024,
        num_lr_decays: 3,
    };

    /// nbeats.py: `n_harmonics=2`, `n_basis=2`, `basis='polynomial'`, `stack_types=['identity', 'trend',
    /// 'seasonality']`, `n_blocks=[1, 1, 1]`, `mlp_units=3 * [[512, 512]]`, `dropout_prob_theta=0.0`,
    /// `activation='ReLU'`, `shared_weights=False`.
    fn new(shape: ModelShape) -> Self {
        NbeatsConfig {
            shape,
            n_harmonics: 2,
            n_basis: 2,
            basis: TrendBasisKind::Polynomial,
            stack_types: StackType::ALL.to_vec(),
            n_blocks: vec![1; 3],
            mlp_units: vec![[512, 512]; 3],
            dropout_prob_theta: 0.0,
            activation: ActivationKind::Relu,
            shared_weights: false,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        self.n_harmonics = options.size("nHarmonics")?.unwrap_or(self.n_harmonics);
        self.n_basis = options.integer("nBasis", 0, MAX_SIZE)?.unwrap_or(self.n_basis);
        if let Some(name) = options.choice("basis", &TrendBasisKind::ALL.map(TrendBasisKind::name))? {
            self.basis = TrendBasisKind::from_name(name).unwrap_or(self.basis);
        }
        if let Some(names) = options.strings("stackTypes")? {
            self.stack_types = stack_types(options, names)?;
        }
        self.n_blocks = options.integers("nBlocks", 0, MAX_SIZE)?.unwrap_or_else(|| self.n_blocks.clone());
        if let Some(lists) = options.integer_lists("mlpUnits", 1, MAX_SIZE)? {
            self.mlp_units = unit_pairs(options, lists)?;
        }
        if let Some(p) = options.number_in("dropoutProbTheta", 0.0, 1.0)? {
            if p != 0.0 {
                let field = options.field("dropoutProbTheta");
                return Err(OptionError::Range(format!("{field}: NeuralForecast's NBEATS does not implement dropout (NBEATSx does), got {p}")));
            }
            self.dropout_prob_theta = p;
        }
        if let Some(name) = options.choice("activation", &ActivationKind::ALL.map(ActivationKind::name))? {
            self.activation = ActivationKind::from_name(name).unwrap_or(self.activation);
        }
        self.shared_weights = options.boolean("sharedWeights")?.unwrap_or(self.shared_weights);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("nHarmonics".into(), self.n_harmonics.into());
        out.insert("nBasis".into(), self.n_basis.into());
        out.insert("basis".into(), self.basis.name().into());
        out.insert("stackTypes".into(), self.stack_types.iter().map(|s| s.name()).collect::<Vec<_>>().into());
        out.insert("nBlocks".into(), self.n_blocks.clone().into());
        out.insert("mlpUnits".into(), self.mlp_units.iter().map(|u| u.to_vec()).collect::<Vec<_>>().into());
        out.insert("dropoutProbTheta".into(), self.dropout_prob_theta.into());
        out.insert("activation".into(), self.activation.name().into());
        out.insert("sharedWeights".into(), self.shared_weights.into());
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let parameters = self.stacks().map(|(stack, distinct, _)| distinct as u128 * self.block_parameters(stack)).sum();
        let ModelShape { h, input_size, outputs_per_point, .. } = self.shape;
        let forecast = h as u128 * outputs_per_point as u128;
        let prelu_inputs = u128::from(self.activation == ActivationKind::Prelu);
        let per_block = |stack| {
            let widths = self.widths(stack);
            // The residual input, every layer's output and d theta (PReLU also keeps the hidden layers' inputs).
            let hidden: u128 = widths[2..widths.len() - 1].iter().sum();
            widths.iter().sum::<u128>() + widths[widths.len() - 1] + prelu_inputs * hidden
        };
        let blocks: u128 = self.stacks().map(|(stack, _, run)| run as u128 * per_block(stack)).sum();
        let widest = self.stack_types.iter().flat_map(|&s| self.widths(s)).max().unwrap_or(0);
        // Backward scratch: two layer gradients, two residual gradients.
        (parameters, blocks + forecast + 2 * widest + 2 * input_size as u128)
    }

    fn build(&self) -> Result<Nbeats, NnError> {
        self.validate()?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut blocks: Vec<NbeatsBlock> = Vec::with_capacity(self.n_blocks.iter().sum());
        for (stack, distinct, run) in self.stacks() {
            let n_theta = usize::try_from(self.n_theta(stack))
                .map_err(|_| NnError::InvalidValue { what: "n_theta", reason: "too many basis coefficients".into() })?;
            for block_id in 0..run {
                if let Some(previous) = blocks.last().filter(|_| block_id >= distinct) {
                    blocks.push(previous.clone());
                    continue;
                }
                let mut block_init = init.pp(format!("blocks.{}", blocks.len()));
                let mlp = BlockMlp::new(&mut block_init.pp("layers"), self.shape.input_size, &self.mlp_units, n_theta, self.activation)?;
                let basis = self.basis(&mut block_init.pp("basis"), stack)?;
                blocks.push(NbeatsBlock { mlp, basis });
            }
        }
        Ok(Nbeats { config: self.clone(), params, blocks })
    }
}

/// A block's `layers`: torch's `nn.Sequential` of Linear layers with one activation module.
#[derive(Debug, Clone)]
pub(crate) struct BlockMlp {
    /// `layers.0` (no activation), the hidden layers `layers.1, 3, ..` (each followed by the activation), and
    /// the output layer giving theta.
    linears: Vec<Linear>,
    activation: Activation,
}

/// What [`BlockMlp::backward`] needs from [`BlockMlp::forward`].
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockMlpCache {
    rows: usize,
    /// The output of every layer but the last, after its activation where it has one: `[B, width]`.
    hidden: Vec<Vec<f32>>,
    /// The hidden layers' outputs before the activation, kept only for PReLU.
    pre_activation: Vec<Vec<f32>>,
    theta: Vec<f32>,
    /// d loss / d theta, written by the caller before [`BlockMlp::backward`].
    d_theta: Vec<f32>,
}

/// Gradient buffers shared by the blocks of one backward pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct MlpScratch {
    d_current: Vec<f32>,
    d_below: Vec<f32>,
}

impl BlockMlp {
    /// Creates `<prefix>.{0, 1, 2 (PReLU only), 3, .., 2 n + 1}` in torch's registration order.
    pub(crate) fn new(
        init: &mut ParamInit<'_>,
        in_features: usize,
        mlp_units: &[[usize; 2]],
        n_theta: usize,
        activation: ActivationKind,
    ) -> Result<Self, NnError> {
        let (&[a, b], later) = mlp_units.split_first().ok_or(NnError::ZeroSize { what: "mlp_units layers" })?;
        let mut linears = vec![Linear::new(&mut init.pp("0"), in_features, a)?, Linear::new(&mut init.pp("1"), a, b)?];
        let activation = Activation::new(&mut init.pp("2"), activation)?;
        for (k, &[a, b]) in later.iter().enumerate() {
            linears.push(Linear::new(&mut init.pp(format!("{}", 3 + 2 * k)), a, b)?);
        }
        let last_width = later.last().map_or(b, |u| u[1]);
        linears.push(Linear::new(&mut init.pp(format!("{}", 1 + 2 * mlp_units.len())), last_width, n_theta)?);
        Ok(BlockMlp { linears, activation })
    }

    fn n_theta(&self) -> usize {
        self.linears[self.linears.len() - 1].out_features()
    }

    /// theta `[rows, n_theta]` of `input[rows, in]`, kept in the cache with every intermediate output.
    pub(crate) fn forward(&self, params: &ParamStore, input: &[f32], rows: usize, cache: &mut BlockMlpCache) -> Result<(), NnError> {
        cache.rows = rows;
        let hidden_count = self.linears.len() - 1;
        cache.hidden.resize_with(hidden_count, Vec::new);
        cache.pre_activation.resize_with(if self.activation.needs_input() { hidden_count } else { 0 }, Vec::new);
        for (i, linear) in self.linears[..hidden_count].iter().enumerate() {
            let (done, rest) = cache.hidden.split_at_mut(i);
            let layer_input = done.last().map_or(input, Vec::as_slice);
            let output = &mut rest[0];
            output.resize(rows * linear.out_features(), 0.0);
            skinny::linear_forward(linear, params, layer_input, rows, output)?;
            // `layers.0` feeds `layers.1` directly.
            if i > 0 {
                if let Some(pre) = cache.pre_activation.get_mut(i) {
                    pre.clear();
                    pre.extend_from_slice(output);
                }
                self.activation.forward_in_place(params, output);
            }
        }
        cache.theta.resize(rows * self.n_theta(), 0.0);
        skinny::linear_forward(&self.linears[hidden_count], params, &cache.hidden[hidden_count - 1], rows, &mut cache.theta)
    }

    /// Accumulates the parameter gradients of d loss / d theta (`cache.d_theta`) into `grads`, and writes d loss / d input into
    /// `d_input` when given (the first block's input is data, whose gradient nobody needs).
    pub(crate) fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &BlockMlpCache,
        scratch: &mut MlpScratch,
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let MlpScratch { d_current, d_below } = scratch;
        let rows = cache.rows;
        let hidden_count = self.linears.len() - 1;
        let last_input = &cache.hidden[hidden_count - 1];
        d_current.resize(last_input.len(), 0.0);
        skinny::linear_backward(&self.linears[hidden_count], params, last_input, &cache.d_theta, rows, grads, Some(d_current))?;
        for i in (1..hidden_count).rev() {
            let pre = cache.pre_activation.get(i).map_or(&[][..], Vec::as_slice);
            self.activation.backward_in_place(params, d_current, &cache.hidden[i], pre, grads)?;
            d_below.resize(cache.hidden[i - 1].len(), 0.0);
            skinny::linear_backward(&self.linears[i], params, &cache.hidden[i - 1], d_current, rows, grads, Some(d_below))?;
            std::mem::swap(d_current, d_below);
        }
        skinny::linear_backward(&self.linears[0], params, input, d_current, rows, grads, d_input)
    }
}

#[derive(Debug, Clone)]
struct NbeatsBlock {
    mlp: BlockMlp,
    basis: BasisExpansion,
}

#[derive(Debug, Clone)]
pub struct Nbeats {
    config: NbeatsConfig,
    params: ParamStore,
    /// In forward order; with `shared_weights` the later blocks of a stack are clones of its first.
    blocks: Vec<NbeatsBlock>,
}

#[derive(Debug, Clone, Default)]
pub struct NbeatsCache {
    /// Windows of the last forward pass; 0 before the first.
    batch: usize,
    /// Each block's input `[blocks, B, L]`: the window reversed in time, minus the earlier blocks' backcasts.
    residuals: Vec<f32>,
    blocks: Vec<BlockMlpCache>,
    forecast: Vec<f32>,
    /// d loss / d input of the block being differentiated and of the one after it.
    d_residual: Vec<f32>,
    d_next_residual: Vec<f32>,
    mlp_scratch: MlpScratch,
}

impl Nbeats {
    pub fn config(&self) -> &NbeatsConfig {
        &self.config
    }
}

impl Model for Nbeats {
    type Cache = NbeatsCache;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn params_mut(&mut self) -> &mut ParamStore {
        &mut self.params
    }

    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut NbeatsCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, exog, .. } = self.config.shape;
        batch.check(l, h, exog)?;
        let rows = batch.batch;
        cache.batch = 0;
        let window_len = rows * l;
        cache.residuals.resize(self.blocks.len() * window_len, 0.0);
        cache.forecast.resize(rows * h * q, 0.0);
        let windows = batch.insample_y.chunks_exact(l);
        for ((window, residual), forecast) in windows.zip(cache.residuals.chunks_exact_mut(l)).zip(cache.forecast.chunks_exact_mut(h * q)) {
            residual.iter_mut().zip(window.iter().rev()).for_each(|(r, y)| *r = *y);
            // The level: the naive forecast from the window's last value.
            forecast.fill(window[l - 1]);
        }
        cache.blocks.resize_with(self.blocks.len(), Default::default);
        for (k, (block, block_cache)) in self.blocks.iter().zip(&mut cache.blocks).enumerate() {
            let (done, later) = cache.residuals.split_at_mut((k + 1) * window_len);
            let input = &done[k * window_len..];
            block.mlp.forward(&self.params, input, rows, block_cache)?;
            let mut next_residual = later.get_mut(..window_len);
            if let Some(next) = next_residual.as_deref_mut() {
                next.copy_from_slice(input);
            }
            block.basis.forward(&block_cache.theta, rows, next_residual, &mut cache.forecast);
        }
        cache.batch = rows;
        Ok(&cache.forecast)
    }

    fn backward(&self, cache: &mut NbeatsCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.params.check_same_layout(grads)?;
        let rows = nonzero("windows of the forward pass (backward needs a forward pass first)", cache.batch)?;
        let ModelShape { h, input_size: l, outputs_per_point: q, .. } = self.config.shape;
        expect_len("forecast gradient", rows * h * q, d_output.len())?;
        let NbeatsCache { residuals, blocks, d_residual, d_next_residual, mlp_scratch, .. } = cache;
        let window_len = rows * l;
        d_residual.resize(window_len, 0.0);
        d_next_residual.resize(window_len, 0.0);
        let last = self.blocks.len() - 1;
        for (k, (block, block_cache)) in self.blocks.iter().zip(blocks.iter_mut()).enumerate().rev() {
            block_cache.d_theta.resize(rows * block.basis.n_theta(), 0.0);
            let d_next = (k < last).then_some(&d_next_residual[..]);
            block.basis.backward(d_output, d_next, rows, &mut block_cache.d_theta);
            let input = &residuals[k * window_len..(k + 1) * window_len];
            let d_input = (k > 0).then_some(&mut d_residual[..]);
            block.mlp.backward(&self.params, input, block_cache, mlp_scratch, grads, d_input)?;
            if k > 0 {
                // The block's input reaches the next block directly as well as through its backcast.
                if k < last {
                    d_residual.iter_mut().zip(d_next_residual.iter()).for_each(|(d, n)| *d += n);
                }
                std::mem::swap(d_residual, d_next_residual);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::{check_model_gradients, fit_sine, shape, RandomBatch};
    use crate::models::ExogSizes;
    use crate::nn::adam::{Adam, AdamConfig, StepLr};
    use crate::nn::gradcheck::random_vec;
    use serde_json::json;

    fn baseline() -> NbeatsConfig {
        NbeatsConfig::new(shape(12, 24, ExogSizes::none()))
    }

    fn small(stack_types: Vec<StackType>, outputs_per_point: usize) -> NbeatsConfig {
        let n_blocks = vec![1; stack_types.len()];
        NbeatsConfig {
            stack_types,
            n_blocks,
            mlp_units: vec![[6, 5], [5, 4]],
            ..NbeatsConfig::new(ModelShape { outputs_per_point, ..shape(4, 7, ExogSizes::none()) })
        }
    }

    fn assert_count_matches_estimate(config: &NbeatsConfig) -> usize {
        let count = config.build().unwrap().params().num_parameters();
        assert_eq!(config.memory_estimate().0, count as u128, "{config:?}");
        count
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
        let quantiles = NbeatsConfig { n_harmonics: 3, n_basis: 4, basis: TrendBasisKind::Spline, ..small(StackType::ALL.to_vec(), 3) };
        assert_count_matches_estimate(&quantiles);
        let prelu = NbeatsConfig { activation: ActivationKind::Prelu, n_blocks: vec![2, 1, 3], ..small(StackType::ALL.to_vec(), 1) };
        // One shared slope per block: layers.2.weight.
        let count = assert_count_matches_estimate(&prelu);
        assert_eq!(prelu.build().unwrap().params().find("blocks.3.layers.2.weight").unwrap().data, [0.25]);
        let shared = NbeatsConfig { shared_weights: true, ..prelu.clone() };
        let shared_count = assert_count_matches_estimate(&shared);
        assert!(shared_count < count);
        // blocks 0, 2 (stack 1) and 3 (stack 2) own parameters; 1, 4 and 5 reuse them.
        let model = shared.build().unwrap();
        assert!(model.params().find("blocks.3.layers.0.weight").is_some() && model.params().find("blocks.4.layers.0.weight").is_none());
        let wide = NbeatsConfig { mlp_units: vec![[8, 3]], ..small(vec![StackType::Trend, StackType::Identity], 2) };
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
        assert_eq!((config.n_harmonics, config.n_basis, config.basis), (3, 4, TrendBasisKind::Legendre));
        assert_eq!((config.stack_types.clone(), config.n_blocks.clone()), (vec![StackType::Trend, StackType::Identity], vec![2, 1]));
        assert_eq!((config.mlp_units.clone(), config.activation, config.shared_weights), (vec![[16, 8], [8, 8]], ActivationKind::Selu, true));
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
        assert!(NbeatsConfig { stack_types: vec![StackType::Identity], n_blocks: vec![1], ..h1 }.build().is_ok());
        let broken_chain = NbeatsConfig { mlp_units: vec![[8, 8], [4, 8]], ..baseline() };
        assert!(matches!(broken_chain.build(), Err(NnError::InvalidValue { what: "mlp_units", .. })));
        let cases = [
            NbeatsConfig { mlp_units: vec![], ..baseline() },
            NbeatsConfig { n_blocks: vec![1, 1], ..baseline() },
            NbeatsConfig { n_blocks: vec![0, 0, 0], ..baseline() },
            NbeatsConfig { dropout_prob_theta: 0.2, ..baseline() },
            NbeatsConfig { basis: TrendBasisKind::Spline, ..baseline() },
            NbeatsConfig { mlp_units: vec![[0, 4]], ..baseline() },
            NbeatsConfig::new(shape(12, 0, ExogSizes::none())),
            NbeatsConfig::new(ModelShape { outputs_per_point: 0, ..shape(12, 24, ExogSizes::none()) }),
        ];
        for config in cases {
            config.memory_estimate();
            assert!(config.build().is_err(), "{config:?}");
        }
        let model = small(vec![StackType::Identity], 1).build().unwrap();
        let mut cache = NbeatsCache::default();
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
        let config = small(StackType::ALL.to_vec(), 2);
        let mut model = config.build().unwrap();
        let (h, q) = (4, 2);
        for k in 0..3 {
            let weight = model.params.iter_mut().find(|(n, _)| *n == format!("blocks.{k}.layers.5.weight")).unwrap().1;
            weight.data.fill(0.0);
        }
        let window = random_vec(7, 3);
        let forecast = model.forward(&WindowBatch::univariate(&window, 1), &mut NbeatsCache::default()).unwrap().to_vec();
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
        check_model_gradients(&small(StackType::ALL.to_vec(), 1));
        check_model_gradients(&NbeatsConfig { n_blocks: vec![2, 1, 2], ..small(StackType::ALL.to_vec(), 3) });
    }

    #[test]
    fn gradients_match_with_shared_weights_and_each_activation() {
        for activation in ActivationKind::ALL {
            let config = NbeatsConfig {
                activation,
                shared_weights: activation == ActivationKind::Prelu,
                n_blocks: vec![2, 2],
                basis: TrendBasisKind::Chebyshev,
                ..small(vec![StackType::Seasonality, StackType::Trend], 2)
            };
            check_model_gradients(&config);
        }
    }

    #[test]
    fn a_batch_of_one_equals_its_row_in_a_batch_of_five() {
        let config = small(StackType::ALL.to_vec(), 3);
        let model = config.build().unwrap();
        let batch = RandomBatch::new(&config.shape, 5, 8);
        let all = model.forward(&batch.view(None), &mut NbeatsCache::default()).unwrap().to_vec();
        let row = 3;
        let window = &batch.insample_y[row * 7..(row + 1) * 7];
        let one = model.forward(&WindowBatch::univariate(window, 1), &mut NbeatsCache::default()).unwrap().to_vec();
        let expected = &all[row * 12..(row + 1) * 12];
        assert_eq!(one, expected);
    }

    #[test]
    fn training_leaves_the_basis_templates_alone() {
        let config = small(StackType::ALL.to_vec(), 1);
        let mut model = config.build().unwrap();
        let before = model.params().clone();
        let batch = RandomBatch::new(&config.shape, 4, 2);
        let mut cache = NbeatsCache::default();
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
        let config = NbeatsConfig { mlp_units: vec![[32, 32]; 2], ..NbeatsConfig::new(shape(12, 24, ExogSizes::none())) };
        let (before, after) = fit_sine(&config, 150, 1e-3);
        assert!(after < 0.2 * before, "MAE {before} -> {after}");
    }

    /// Median and minimum over `reps` runs of `run`'s thread CPU time, in microseconds: unlike wall time it
    /// leaves out the time other processes hold the core.
    fn time_us(reps: usize, mut run: impl FnMut()) -> (f64, f64) {
        use crate::nn::timing::thread_cpu_seconds;
        (0..3).for_each(|_| run());
        let mut samples: Vec<f64> = (0..reps)
            .map(|_| {
                let started = thread_cpu_seconds();
                run();
                (thread_cpu_seconds() - started) * 1e6
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        (samples[reps / 2], samples[0])
    }

    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib models::nbeats -- --ignored --nocapture"]
    fn time_forward_backward_at_the_baseline_configuration() {
        let config = baseline();
        let model = config.build().unwrap();
        let mut grads = model.params().zeros_like();
        let mut cache = NbeatsCache::default();
        for batch in [8, 32] {
            let inputs = RandomBatch::new(&config.shape, batch, 1);
            let d_output = random_vec(batch * 12, 2);
            let (median, min) = time_us(50, || {
                model.forward(&inputs.view(Some(1)), &mut cache).unwrap();
                model.backward(&mut cache, &d_output, &mut grads).unwrap();
            });
            let (forward, _) = time_us(50, || {
                model.forward(&inputs.view(Some(1)), &mut cache).unwrap();
            });
            eprintln!(
                "NBEATS baseline, {batch} windows: forward+backward median {:.3} ms (min {:.3}; forward alone {:.3}), 1 thread",
                median / 1e3,
                min / 1e3,
                forward / 1e3
            );
        }
        let window = random_vec(24, 3);
        let (median, min) = time_us(200, || {
            model.forward(&WindowBatch::univariate(&window, 1), &mut cache).unwrap();
        });
        eprintln!("NBEATS baseline, 1 window: forward median {median:.1} us (min {min:.1}) on 1 thread");
    }
}

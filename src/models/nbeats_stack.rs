//! The doubly residual stack of NeuralForecast's NBEATS and NBEATSx (neuralforecast/models/nbeats.py,
//! nbeatsx.py): blocks, each an MLP from its input to basis coefficients `theta`, expanded into a backcast and a
//! forecast. A block's input is the residual window (reversed in time, minus the earlier blocks' backcasts),
//! followed in NBEATSx by the flattened exogenous inputs `[hist | futr | stat]`; the forecasts are summed on top
//! of the window's last value.
//!
//! Each block's `layers` is torch's `nn.Sequential`: `layers.0` Linear(in, mlp_units[0][0]) with no activation,
//! then for every `[a, b]` in `mlp_units` a Linear(a, b), the activation (one module instance) and, in NBEATSx
//! with `dropout_prob_theta > 0`, a Dropout; then Linear(mlp_units[-1][1], n_theta). NeuralForecast leaves
//! torch's default initialisation in place. `insample_mask` is all ones for the windows the engine builds, so
//! `(residual - backcast) * mask` is the plain difference.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ExogSizes, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::nbeats_basis::{seasonality_size, seasonality_template, trend_template, BasisExpansion, ExogenousBasis, TrendBasisKind};
use super::options::{ModelOptions, OptionError, OptionResult};
use crate::nn::activation::{Activation, ActivationKind};
use crate::nn::dropout::Dropout;
use crate::nn::error::{expect_len, nonzero};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// A stack's basis (`stack_types` in NeuralForecast; `exogenous` is NBEATSx's only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackType {
    Identity,
    Trend,
    Seasonality,
    Exogenous,
}

impl StackType {
    pub const ALL: [StackType; 4] = [Self::Identity, Self::Trend, Self::Seasonality, Self::Exogenous];

    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Trend => "trend",
            Self::Seasonality => "seasonality",
            Self::Exogenous => "exogenous",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// The architecture options NBEATS and NBEATSx share, with NeuralForecast's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct StackOptions {
    pub n_harmonics: usize,
    pub stack_types: Vec<StackType>,
    pub n_blocks: Vec<usize>,
    /// `[in, out]` of each hidden layer after `layers.0`; every block of every stack uses the same list.
    pub mlp_units: Vec<[usize; 2]>,
    pub dropout_prob_theta: f64,
    pub activation: ActivationKind,
    /// All blocks of a stack reuse its first block.
    pub shared_weights: bool,
}

impl Default for StackOptions {
    /// `n_harmonics=2`, `stack_types=['identity', 'trend', 'seasonality']`, `n_blocks=[1, 1, 1]`,
    /// `mlp_units=3 * [[512, 512]]`, `dropout_prob_theta=0.0`, `activation='ReLU'`, `shared_weights=False`.
    fn default() -> Self {
        StackOptions {
            n_harmonics: 2,
            stack_types: vec![StackType::Identity, StackType::Trend, StackType::Seasonality],
            n_blocks: vec![1; 3],
            mlp_units: vec![[512, 512]; 3],
            dropout_prob_theta: 0.0,
            activation: ActivationKind::Relu,
            shared_weights: false,
        }
    }
}

impl StackOptions {
    pub const OPTION_KEYS: [&'static str; 7] =
        ["nHarmonics", "stackTypes", "nBlocks", "mlpUnits", "dropoutProbTheta", "activation", "sharedWeights"];

    /// Reads the shared options present in `options`; `stacks` are the stack types the model accepts.
    pub(crate) fn read(&mut self, options: &ModelOptions<'_>, stacks: &[StackType]) -> OptionResult<()> {
        self.n_harmonics = options.size("nHarmonics")?.unwrap_or(self.n_harmonics);
        if let Some(names) = options.strings("stackTypes")? {
            self.stack_types = names.iter().enumerate().map(|(i, name)| stack_type(options, i, name, stacks)).collect::<OptionResult<_>>()?;
        }
        self.n_blocks = options.integers("nBlocks", 0, super::options::MAX_SIZE)?.unwrap_or_else(|| self.n_blocks.clone());
        if let Some(lists) = options.integer_lists("mlpUnits", 1, super::options::MAX_SIZE)? {
            self.mlp_units = lists.into_iter().enumerate().map(|(i, list)| unit_pair(options, i, &list)).collect::<OptionResult<_>>()?;
        }
        if let Some(p) = options.number("dropoutProbTheta")? {
            if !(0.0..1.0).contains(&p) {
                return Err(OptionError::Range(format!("{} must be in [0, 1), got {p}", options.field("dropoutProbTheta"))));
            }
            self.dropout_prob_theta = p;
        }
        if let Some(name) = options.choice("activation", &ActivationKind::BLOCK_MLP.map(ActivationKind::name))? {
            self.activation = ActivationKind::from_name(name).unwrap_or(self.activation);
        }
        self.shared_weights = options.boolean("sharedWeights")?.unwrap_or(self.shared_weights);
        Ok(())
    }

    pub(crate) fn write(&self, out: &mut Map<String, Value>) {
        out.insert("nHarmonics".into(), self.n_harmonics.into());
        out.insert("stackTypes".into(), self.stack_types.iter().map(|s| s.name()).collect::<Vec<_>>().into());
        out.insert("nBlocks".into(), self.n_blocks.clone().into());
        out.insert("mlpUnits".into(), self.mlp_units.iter().map(|u| u.to_vec()).collect::<Vec<_>>().into());
        out.insert("dropoutProbTheta".into(), self.dropout_prob_theta.into());
        out.insert("activation".into(), self.activation.name().into());
        out.insert("sharedWeights".into(), self.shared_weights.into());
    }
}

fn stack_type(options: &ModelOptions<'_>, i: usize, name: &str, accepted: &[StackType]) -> OptionResult<StackType> {
    StackType::from_name(name).filter(|s| accepted.contains(s)).ok_or_else(|| {
        let expected: Vec<&str> = accepted.iter().map(|s| s.name()).collect();
        OptionError::Range(format!("{}: unknown value '{name}'; expected one of {}", options.field(&format!("stackTypes[{i}]")), expected.join(", ")))
    })
}

fn unit_pair(options: &ModelOptions<'_>, i: usize, list: &[usize]) -> OptionResult<[usize; 2]> {
    match *list {
        [a, b] => Ok([a, b]),
        _ => Err(OptionError::Range(format!("{} must be a pair [in, out], got {} numbers", options.field(&format!("mlpUnits[{i}]")), list.len()))),
    }
}

/// Everything that fixes a stack's layout: the problem, the shared options and the trend basis (NBEATS'
/// `basis` and `n_basis`; NBEATSx' polynomial of degree `n_polynomials`).
#[derive(Debug, Clone, Copy)]
pub struct StackSpec<'a> {
    pub shape: &'a ModelShape,
    pub options: &'a StackOptions,
    pub trend_basis: TrendBasisKind,
    pub n_basis: usize,
}

impl StackSpec<'_> {
    /// Width of a block's input: the window and the flattened exogenous inputs.
    fn in_features(&self) -> u128 {
        let ModelShape { h, input_size: l, exog, .. } = *self.shape;
        let [h, l] = [h, l].map(|v| v as u128);
        l + exog.hist as u128 * l + exog.futr as u128 * (l + h) + exog.stat as u128
    }

    /// `n_theta` of a block of `stack` (`create_stack`).
    fn n_theta(&self, stack: StackType) -> u128 {
        let ModelShape { h, input_size, outputs_per_point, exog, .. } = *self.shape;
        match stack {
            StackType::Identity => input_size as u128 + outputs_per_point as u128 * h as u128,
            StackType::Exogenous => 2 * (exog.futr as u128 + exog.stat as u128),
            _ => (outputs_per_point as u128 + 1) * self.template_rows(stack),
        }
    }

    /// Rows of the fixed basis templates of `stack` (none for identity and exogenous).
    fn template_rows(&self, stack: StackType) -> u128 {
        match stack {
            StackType::Identity | StackType::Exogenous => 0,
            StackType::Trend => self.n_basis as u128 + 1,
            StackType::Seasonality => seasonality_size(self.options.n_harmonics, self.shape.h),
        }
    }

    /// `(stack, distinct blocks with their own parameters, blocks run)` for each stack.
    fn stacks(&self) -> impl Iterator<Item = (StackType, usize, usize)> + '_ {
        self.options.stack_types.iter().zip(&self.options.n_blocks).map(|(&stack, &blocks)| {
            let distinct = if self.options.shared_weights { blocks.min(1) } else { blocks };
            (stack, distinct, blocks)
        })
    }

    /// Widths of a block's layers: the input, `layers.0`'s output, each hidden layer's output, `n_theta`.
    fn widths(&self, stack: StackType) -> Vec<u128> {
        let units = &self.options.mlp_units;
        let first = units.first().map_or(0, |u| u[0] as u128);
        let hidden = units.iter().map(|u| u[1] as u128);
        [self.in_features(), first].into_iter().chain(hidden).chain([self.n_theta(stack)]).collect()
    }

    /// Parameters of one block of `stack` (with each hidden layer's `in` equal to the previous `out`, as
    /// `validate` requires).
    fn block_parameters(&self, stack: StackType) -> u128 {
        let linear: u128 = self.widths(stack).windows(2).map(|pair| (pair[0] + 1) * pair[1]).sum();
        let prelu = u128::from(self.options.activation == ActivationKind::Prelu);
        let templates = self.template_rows(stack) * (self.shape.input_size as u128 + self.shape.h as u128);
        linear + prelu + templates
    }

    /// The exact parameter count and an upper bound of the f32 values one window keeps.
    pub fn memory_estimate(&self) -> (u128, u128) {
        let parameters = self.stacks().map(|(stack, distinct, _)| distinct as u128 * self.block_parameters(stack)).sum();
        let ModelShape { h, input_size, outputs_per_point, exog, .. } = *self.shape;
        let l = input_size as u128;
        let copies = 1 + u128::from(self.options.activation == ActivationKind::Prelu) + u128::from(self.options.dropout_prob_theta > 0.0);
        let per_block = |stack| {
            let widths = self.widths(stack);
            // The residual and the block input, every layer's output (hidden ones once more for PReLU's inputs and
            // for dropout's masks and outputs), theta and d theta.
            let hidden: u128 = widths[2..widths.len() - 1].iter().sum();
            l + widths[0] + widths[1] + copies * hidden + 2 * widths[widths.len() - 1]
        };
        let blocks: u128 = self.stacks().map(|(stack, _, run)| run as u128 * per_block(stack)).sum();
        let widest = self.options.stack_types.iter().flat_map(|&s| self.widths(s)).max().unwrap_or(0);
        let exogenous_basis = (l + h as u128) * (exog.futr as u128 + exog.stat as u128);
        // The forecast, the exogenous features and basis, and the backward scratch (two layer gradients, two
        // residual gradients, the input gradient).
        let forecast = h as u128 * outputs_per_point as u128;
        (parameters, blocks + forecast + self.in_features() + exogenous_basis + 3 * widest + 2 * l)
    }

    /// The checks NeuralForecast's constructors (or their first forward pass) make.
    pub fn validate(&self) -> Result<(), NnError> {
        let invalid = |what, reason: String| Err(NnError::InvalidValue { what, reason });
        let ModelShape { h, input_size, outputs_per_point, exog, .. } = *self.shape;
        let options = self.options;
        nonzero("h", h)?;
        nonzero("inputSize", input_size)?;
        nonzero("outputs_per_point", outputs_per_point)?;
        nonzero("nHarmonics", options.n_harmonics)?;
        if options.stack_types.len() != options.n_blocks.len() {
            let reason = format!("{} stack types but {} entries in nBlocks", options.stack_types.len(), options.n_blocks.len());
            return invalid("nBlocks", reason);
        }
        nonzero("total number of blocks", options.n_blocks.iter().sum())?;
        if h == 1 && options.stack_types.iter().any(|s| matches!(s, StackType::Trend | StackType::Seasonality)) {
            return invalid("h", "horizon h=1 is incompatible with seasonality or trend stacks".into());
        }
        if options.stack_types.contains(&StackType::Exogenous) && exog.futr + exog.stat == 0 {
            return invalid("stackTypes", "an exogenous stack needs future or static exogenous variables".into());
        }
        nonzero("mlpUnits layers", options.mlp_units.len())?;
        let units = &options.mlp_units;
        if let Some(k) = (1..units.len()).find(|&k| units[k][0] != units[k - 1][1]) {
            let reason = format!("mlpUnits[{k}] takes {} inputs but mlpUnits[{}] gives {}", units[k][0], k - 1, units[k - 1][1]);
            return invalid("mlpUnits", reason);
        }
        if !(0.0..1.0).contains(&options.dropout_prob_theta) {
            return invalid("dropoutProbTheta", format!("must be in [0, 1), got {}", options.dropout_prob_theta));
        }
        Ok(())
    }

    /// The basis of a block of `stack`, with its fixed templates registered as `basis.backcast_basis` and
    /// `basis.forecast_basis` (torch parameters with `requires_grad=False`; the model computes with its own copy,
    /// so neither an optimizer step nor a gradient can touch them).
    fn basis(&self, init: &mut ParamInit<'_>, stack: StackType) -> Result<BlockBasis, NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, exog, .. } = *self.shape;
        let (backcast, forecast) = match stack {
            StackType::Identity => return Ok(BlockBasis::Fixed(BasisExpansion::identity(l, h, q))),
            StackType::Exogenous => return Ok(BlockBasis::Exogenous(ExogenousBasis::new(exog.futr + exog.stat, l, h, q))),
            StackType::Trend => (trend_template(self.trend_basis, l, self.n_basis)?, trend_template(self.trend_basis, h, self.n_basis)?),
            StackType::Seasonality => {
                let harmonics = self.options.n_harmonics;
                (seasonality_template(harmonics, l, h, -1.0), seasonality_template(harmonics, h, h, 1.0))
            }
        };
        let p = forecast.len() / h;
        let expansion = BasisExpansion::from_templates(&backcast, &forecast, p, h, q);
        init.with_values("backcast_basis", &[p, l], backcast)?;
        init.with_values("forecast_basis", &[p, h], forecast)?;
        Ok(BlockBasis::Fixed(expansion))
    }

    /// The parameters (seeded by the shape's `random_seed`) and the stack, after [`StackSpec::validate`].
    pub fn build(&self) -> Result<(ParamStore, Stack), NnError> {
        self.validate()?;
        let too_large = |what| NnError::InvalidValue { what, reason: "exceeds the address space".into() };
        let in_features = usize::try_from(self.in_features()).map_err(|_| too_large("block input width"))?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut blocks: Vec<NbeatsBlock> = Vec::with_capacity(self.options.n_blocks.iter().sum());
        for (stack, distinct, run) in self.stacks() {
            let n_theta = usize::try_from(self.n_theta(stack)).map_err(|_| too_large("n_theta"))?;
            for block_id in 0..run {
                let slot = blocks.len();
                if let Some(previous) = blocks.last().filter(|_| block_id >= distinct) {
                    // torch draws a fresh dropout mask at every call of the shared module.
                    let block = NbeatsBlock { mlp: previous.mlp.with_dropout_streams(slot)?, basis: previous.basis.clone() };
                    blocks.push(block);
                    continue;
                }
                let mut block_init = init.pp(format!("blocks.{slot}"));
                let mlp = BlockMlp::new(&mut block_init.pp("layers"), in_features, self.options, n_theta, slot)?;
                let basis = self.basis(&mut block_init.pp("basis"), stack)?;
                blocks.push(NbeatsBlock { mlp, basis });
            }
        }
        let ModelShape { h, input_size, outputs_per_point, exog, .. } = *self.shape;
        let stack = Stack { blocks, h, input_size, outputs: outputs_per_point, exog };
        Ok((params, stack))
    }
}

/// A block's `layers`: torch's `nn.Sequential` of Linear layers with one activation module and, with
/// dropout, a Dropout after every activation.
#[derive(Debug, Clone)]
struct BlockMlp {
    /// `layers.0` (no activation), the hidden layers (each followed by the activation), and the output layer
    /// giving theta.
    linears: Vec<Linear>,
    activation: Activation,
    /// One per hidden layer, or none when `dropout_prob_theta` is 0 (torch then builds no Dropout modules).
    dropouts: Vec<Dropout>,
}

/// What [`BlockMlp::backward`] needs from [`BlockMlp::forward`].
#[derive(Debug, Clone, Default)]
struct BlockMlpCache {
    rows: usize,
    /// The output of every layer but the last, after its activation where it has one: `[B, width]`.
    hidden: Vec<Vec<f32>>,
    /// The hidden layers' outputs before the activation, kept only for PReLU.
    pre_activation: Vec<Vec<f32>>,
    /// The hidden layers' outputs after dropout and the scaled masks, while training with dropout.
    dropped: Vec<Vec<f32>>,
    masks: Vec<Vec<f32>>,
    theta: Vec<f32>,
    /// d loss / d theta, written by the caller before [`BlockMlp::backward`].
    d_theta: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(BlockMlpCache { rows, hidden, pre_activation, dropped, masks, theta, d_theta });

impl BlockMlpCache {
    /// What layer `i + 1` took as input: layer `i`'s output, after dropout if there was one.
    fn layer_output(&self, i: usize) -> &[f32] {
        match self.masks.get(i) {
            Some(mask) if !mask.is_empty() => &self.dropped[i],
            _ => &self.hidden[i],
        }
    }
}

/// Gradient buffers shared by the blocks of one backward pass.
#[derive(Debug, Clone, Default)]
struct MlpScratch {
    d_current: Vec<f32>,
    d_below: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(MlpScratch { d_current, d_below });

impl BlockMlp {
    /// Creates `<prefix>.{0, 1, 2, ..}` in torch's registration order: Linear at 0, then per hidden layer a
    /// Linear, the activation (PReLU's slope at index 2, its first place) and a Dropout when there is dropout.
    fn new(init: &mut ParamInit<'_>, in_features: usize, options: &StackOptions, n_theta: usize, slot: usize) -> Result<Self, NnError> {
        let units = &options.mlp_units;
        let (&[a, b], later) = units.split_first().ok_or(NnError::ZeroSize { what: "mlpUnits layers" })?;
        let stride = if options.dropout_prob_theta > 0.0 { 3 } else { 2 };
        let mut linears = vec![Linear::new(&mut init.pp("0"), in_features, a)?, Linear::new(&mut init.pp("1"), a, b)?];
        let activation = Activation::new(&mut init.pp("2"), options.activation)?;
        for (k, &[a, b]) in later.iter().enumerate() {
            linears.push(Linear::new(&mut init.pp(format!("{}", 1 + stride * (k + 1))), a, b)?);
        }
        let last_width = later.last().map_or(b, |u| u[1]);
        linears.push(Linear::new(&mut init.pp(format!("{}", 1 + stride * units.len())), last_width, n_theta)?);
        let mut mlp = BlockMlp { linears, activation, dropouts: Vec::new() };
        if options.dropout_prob_theta > 0.0 {
            mlp.dropouts = vec![Dropout::new(options.dropout_prob_theta as f32, 0)?; units.len()];
        }
        mlp.with_dropout_streams(slot)
    }

    /// The same layers with dropout streams of block `slot`, distinct from every other block's.
    fn with_dropout_streams(&self, slot: usize) -> Result<Self, NnError> {
        let count = self.dropouts.len();
        let dropouts = self.dropouts.iter().enumerate().map(|(u, d)| Dropout::new(d.p(), (slot * count + u) as u64)).collect::<Result<_, _>>()?;
        Ok(BlockMlp { dropouts, ..self.clone() })
    }

    fn n_theta(&self) -> usize {
        self.linears[self.linears.len() - 1].out_features()
    }

    /// theta `[rows, n_theta]` of `input[rows, in]`, kept in the cache with every intermediate output.
    fn forward(&self, params: &ParamStore, input: &[f32], rows: usize, train_seed: Option<u64>, cache: &mut BlockMlpCache) -> Result<(), NnError> {
        cache.rows = rows;
        let hidden_count = self.linears.len() - 1;
        cache.hidden.resize_with(hidden_count, Vec::new);
        cache.pre_activation.resize_with(if self.activation.needs_input() { hidden_count } else { 0 }, Vec::new);
        cache.dropped.resize_with(hidden_count, Vec::new);
        cache.masks.resize_with(hidden_count, Vec::new);
        for (i, linear) in self.linears[..hidden_count].iter().enumerate() {
            let mut output = std::mem::take(&mut cache.hidden[i]);
            output.resize(rows * linear.out_features(), 0.0);
            let layer_input = if i == 0 { input } else { cache.layer_output(i - 1) };
            linear.forward(params, layer_input, rows, &mut output)?;
            // `layers.0` feeds `layers.1` directly.
            if i > 0 {
                if let Some(pre) = cache.pre_activation.get_mut(i) {
                    pre.clear();
                    pre.extend_from_slice(&output);
                }
                self.activation.forward_in_place(params, &mut output);
                cache.masks[i].clear();
                if let (Some(dropout), Some(_)) = (self.dropouts.get(i - 1), train_seed) {
                    let dropped = &mut cache.dropped[i];
                    dropped.clear();
                    dropped.extend_from_slice(&output);
                    dropout.forward_in_place(dropped, train_seed, &mut cache.masks[i]);
                }
            }
            cache.hidden[i] = output;
        }
        let mut theta = std::mem::take(&mut cache.theta);
        theta.resize(rows * self.n_theta(), 0.0);
        let result = self.linears[hidden_count].forward(params, cache.layer_output(hidden_count - 1), rows, &mut theta);
        cache.theta = theta;
        result
    }

    /// Accumulates the parameter gradients of d loss / d theta (`cache.d_theta`) into `grads`, and writes
    /// d loss / d input into `d_input` when given (the first block's input is data, whose gradient nobody needs).
    fn backward(
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
        let last_input = cache.layer_output(hidden_count - 1);
        d_current.resize(last_input.len(), 0.0);
        self.linears[hidden_count].backward(params, last_input, &cache.d_theta, rows, grads, Some(d_current))?;
        for i in (1..hidden_count).rev() {
            if let Some(dropout) = self.dropouts.get(i - 1) {
                dropout.backward_in_place(d_current, &cache.masks[i])?;
            }
            let pre = cache.pre_activation.get(i).map_or(&[][..], Vec::as_slice);
            self.activation.backward_in_place(params, d_current, &cache.hidden[i], pre, grads)?;
            let below = cache.layer_output(i - 1);
            d_below.resize(below.len(), 0.0);
            self.linears[i].backward(params, below, d_current, rows, grads, Some(d_below))?;
            std::mem::swap(d_current, d_below);
        }
        self.linears[0].backward(params, input, d_current, rows, grads, d_input)
    }
}

/// How a block turns theta into its backcast and forecast.
#[derive(Debug, Clone)]
enum BlockBasis {
    /// Identity, trend and seasonality: fixed linear maps.
    Fixed(BasisExpansion),
    /// NBEATSx' exogenous basis: each window's own future and static exogenous values.
    Exogenous(ExogenousBasis),
}

impl BlockBasis {
    fn n_theta(&self) -> usize {
        match self {
            BlockBasis::Fixed(expansion) => expansion.n_theta(),
            BlockBasis::Exogenous(basis) => basis.n_theta(),
        }
    }
}

#[derive(Debug, Clone)]
struct NbeatsBlock {
    mlp: BlockMlp,
    basis: BlockBasis,
}

/// The blocks of a model in forward order; with `shared_weights` the later blocks of a stack reuse the
/// parameters of its first.
#[derive(Debug, Clone)]
pub struct Stack {
    blocks: Vec<NbeatsBlock>,
    h: usize,
    input_size: usize,
    outputs: usize,
    exog: ExogSizes,
}

/// Activations and scratch of a [`Stack`]'s passes, reused across calls.
#[derive(Debug, Clone, Default)]
pub struct StackCache {
    /// Windows of the last forward pass; 0 before the first.
    batch: usize,
    /// Each block's residual `[blocks, B, L]`: the window reversed in time, minus the earlier blocks' backcasts.
    residuals: Vec<f32>,
    /// With exogenous inputs, each block's whole input `[blocks, B, in]`: its residual, then `exog_features`.
    inputs: Vec<f32>,
    /// Each window's flattened `[hist | futr | stat]` exogenous inputs.
    exog_features: Vec<f32>,
    /// Each window's exogenous basis `[B, L + h, futr + stat]`, when a block has one.
    exog_basis: Vec<f32>,
    blocks: Vec<BlockMlpCache>,
    forecast: Vec<f32>,
    /// d loss / d residual of the block being differentiated and of the one after it, and d loss / d input.
    d_residual: Vec<f32>,
    d_next_residual: Vec<f32>,
    d_input: Vec<f32>,
    mlp_scratch: MlpScratch,
}
crate::nn::heap_bytes::heap_bytes!(StackCache { batch, residuals, inputs, exog_features, exog_basis, blocks, forecast, d_residual, d_next_residual, d_input, mlp_scratch });

impl Stack {
    fn exog_width(&self) -> usize {
        let ExogSizes { futr, hist, stat } = self.exog;
        hist * self.input_size + futr * (self.input_size + self.h) + stat
    }

    /// Writes the residual of the first block (the window reversed), the
    /// level every forecast starts from (the window's last value), and the exogenous features and basis.
    fn start(&self, batch: &WindowBatch<'_>, cache: &mut StackCache) {
        let (l, h, q, rows) = (self.input_size, self.h, self.outputs, batch.batch);
        let windows = batch.insample_y.chunks_exact(l);
        for ((window, residual), forecast) in windows.zip(cache.residuals.chunks_exact_mut(l)).zip(cache.forecast.chunks_exact_mut(h * q)) {
            residual.iter_mut().zip(window.iter().rev()).for_each(|(r, y)| *r = *y);
            forecast.fill(window[l - 1]);
        }
        let ExogSizes { futr, hist, stat } = self.exog;
        cache.exog_features.clear();
        cache.exog_basis.clear();
        let needs_basis = self.blocks.iter().any(|b| matches!(b.basis, BlockBasis::Exogenous(_)));
        for b in 0..rows {
            let futr_rows = &batch.futr_exog[b * (l + h) * futr..(b + 1) * (l + h) * futr];
            let stat_row = &batch.stat_exog[b * stat..(b + 1) * stat];
            cache.exog_features.extend_from_slice(&batch.hist_exog[b * l * hist..(b + 1) * l * hist]);
            cache.exog_features.extend_from_slice(futr_rows);
            cache.exog_features.extend_from_slice(stat_row);
            if needs_basis {
                // NBEATSx' `cat(futr_exog, stat_exog expanded over time)`.
                for t in 0..l + h {
                    cache.exog_basis.extend_from_slice(&futr_rows[t * futr..(t + 1) * futr]);
                    cache.exog_basis.extend_from_slice(stat_row);
                }
            }
        }
    }

    /// Forecasts `[B, h, outputs]` of `batch` (checked against the stack's shape).
    pub fn forward<'c>(&self, params: &ParamStore, batch: &WindowBatch<'_>, cache: &'c mut StackCache) -> Result<&'c [f32], NnError> {
        let (l, h, q) = (self.input_size, self.h, self.outputs);
        let rows = batch.batch;
        cache.batch = 0;
        let (window_len, exog_width) = (rows * l, self.exog_width());
        let input_len = rows * (l + exog_width);
        cache.residuals.resize(self.blocks.len() * window_len, 0.0);
        cache.inputs.resize(if exog_width > 0 { self.blocks.len() * input_len } else { 0 }, 0.0);
        cache.forecast.resize(rows * h * q, 0.0);
        self.start(batch, cache);
        cache.blocks.resize_with(self.blocks.len(), Default::default);
        for (k, (block, block_cache)) in self.blocks.iter().zip(&mut cache.blocks).enumerate() {
            let (done, later) = cache.residuals.split_at_mut((k + 1) * window_len);
            let residual = &done[k * window_len..];
            let input = if exog_width == 0 {
                residual
            } else {
                let input = &mut cache.inputs[k * input_len..(k + 1) * input_len];
                let rows_out = input.chunks_exact_mut(l + exog_width);
                for ((row, r), e) in rows_out.zip(residual.chunks_exact(l)).zip(cache.exog_features.chunks_exact(exog_width)) {
                    row[..l].copy_from_slice(r);
                    row[l..].copy_from_slice(e);
                }
                &*input
            };
            block.mlp.forward(params, input, rows, batch.train_seed, block_cache)?;
            let mut next_residual = later.get_mut(..window_len);
            if let Some(next) = next_residual.as_deref_mut() {
                next.copy_from_slice(residual);
            }
            match &block.basis {
                BlockBasis::Fixed(expansion) => expansion.forward(&block_cache.theta, rows, next_residual, &mut cache.forecast),
                BlockBasis::Exogenous(basis) => basis.forward(&block_cache.theta, rows, &cache.exog_basis, next_residual, &mut cache.forecast),
            }
        }
        cache.batch = rows;
        Ok(&cache.forecast)
    }

    /// Backpropagates `d_output` through the pass saved in `cache`, accumulating into `grads` (shaped like
    /// `params`).
    pub fn backward(&self, params: &ParamStore, cache: &mut StackCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let rows = nonzero("windows of the forward pass (backward needs a forward pass first)", cache.batch)?;
        let (l, h, q) = (self.input_size, self.h, self.outputs);
        expect_len("forecast gradient", rows * h * q, d_output.len())?;
        let StackCache { residuals, inputs, exog_basis, blocks, d_residual, d_next_residual, d_input, mlp_scratch, .. } = cache;
        let (window_len, width) = (rows * l, l + self.exog_width());
        d_residual.resize(window_len, 0.0);
        d_next_residual.resize(window_len, 0.0);
        d_input.resize(if width > l { rows * width } else { 0 }, 0.0);
        let last = self.blocks.len() - 1;
        for (k, (block, block_cache)) in self.blocks.iter().zip(blocks.iter_mut()).enumerate().rev() {
            block_cache.d_theta.resize(rows * block.basis.n_theta(), 0.0);
            let d_next = (k < last).then_some(&d_next_residual[..]);
            match &block.basis {
                BlockBasis::Fixed(expansion) => expansion.backward(d_output, d_next, rows, &mut block_cache.d_theta),
                BlockBasis::Exogenous(basis) => basis.backward(d_output, d_next, rows, exog_basis, &mut block_cache.d_theta),
            }
            let input = if width > l { &inputs[k * rows * width..(k + 1) * rows * width] } else { &residuals[k * window_len..(k + 1) * window_len] };
            if k == 0 {
                block.mlp.backward(params, input, block_cache, mlp_scratch, grads, None)?;
                continue;
            }
            if width > l {
                // Only the residual columns lead back to earlier blocks.
                block.mlp.backward(params, input, block_cache, mlp_scratch, grads, Some(d_input))?;
                d_residual.chunks_exact_mut(l).zip(d_input.chunks_exact(width)).for_each(|(d, full)| d.copy_from_slice(&full[..l]));
            } else {
                block.mlp.backward(params, input, block_cache, mlp_scratch, grads, Some(d_residual))?;
            }
            // The block's input reaches the next block directly as well as through its backcast.
            if k < last {
                d_residual.iter_mut().zip(d_next_residual.iter()).for_each(|(d, n)| *d += n);
            }
            std::mem::swap(d_residual, d_next_residual);
        }
        Ok(())
    }
}

/// NBEATS' and NBEATSx' training defaults (nbeats.py, nbeatsx.py): `input_size` required,
/// `scaler_type='identity'`, `windows_batch_size=1024`, `num_lr_decays=3`.
pub const STACK_TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults { num_lr_decays: 3, ..TrainingDefaults::WINDOWS };

/// A configuration that lays out a [`Stack`]: NBEATS' or NBEATSx'.
pub trait StackConfig: ModelConfig {
    fn spec(&self) -> StackSpec<'_>;
}

/// An NBEATS or NBEATSx network, by its configuration `C`: the doubly residual [`Stack`] and its parameters.
#[derive(Debug, Clone)]
pub struct StackModel<C> {
    config: C,
    params: ParamStore,
    stack: Stack,
}

impl<C: StackConfig> StackModel<C> {
    /// The network `config` lays out, with freshly initialised weights.
    pub fn build(config: &C) -> Result<Self, NnError> {
        let (params, stack) = config.spec().build()?;
        Ok(StackModel { config: config.clone(), params, stack })
    }

    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut StackCache) -> Result<&'c [f32], NnError> {
        self.stack.forward(&self.params, batch, cache)
    }

    fn backward_pass(&self, cache: &mut StackCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.stack.backward(&self.params, cache, d_output, grads)
    }
}

impl_model!(StackModel<C>, C, StackCache, C: StackConfig);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model::tests::shape;

    #[test]
    fn blocks_sharing_weights_draw_their_own_dropout_masks() {
        let shape = shape(4, 6, ExogSizes::none());
        let options = StackOptions { dropout_prob_theta: 0.2, shared_weights: true, n_blocks: vec![3, 1, 2], mlp_units: vec![[5, 5]; 2], ..StackOptions::default() };
        let spec = StackSpec { shape: &shape, options: &options, trend_basis: TrendBasisKind::Polynomial, n_basis: 2 };
        let (params, stack) = spec.build().unwrap();
        // Three stacks, one set of parameters each.
        assert_eq!(params.iter().filter(|(n, _)| n.ends_with("layers.0.weight")).count(), 3);
        let dropouts: Vec<Dropout> = stack.blocks.iter().flat_map(|b| b.mlp.dropouts.clone()).collect();
        assert_eq!(dropouts.len(), 6 * 2);
        for (i, a) in dropouts.iter().enumerate() {
            assert!(dropouts[i + 1..].iter().all(|b| a != b), "dropout {i} shares its stream");
        }
    }
}

//! NeuralForecast's `NHITS` model (neuralforecast/models/nhits.py): a chain of blocks, grouped in stacks, each
//! of which pools its input at its stack's rate (`n_pool_kernel_size`), maps the pooled window and exogenous
//! inputs through an MLP to `L` backcast values and `outputs × max(h / f, 1)` forecast knots
//! (`n_freq_downsample`), and interpolates the knots to the horizon. The chain is doubly residual: each block
//! sees the window minus the backcasts of the blocks before it, and the forecast is the window's last value
//! plus every block's interpolated knots.
//!
//! Kept from nhits.py, where they are easy to miss:
//! - the residual runs over the window reversed in time (`insample_y.flip`), so pooling windows start at the
//!   newest value, while the exogenous inputs are pooled in their own order: `[B, L, C]` along `L`, flattened
//!   time-major into the MLP input `[ y | hist | futr | stat ]`;
//! - the MLP is one `nn.Sequential`: `Linear(in, u[0][0])` with no activation, then for every `[a, b]` of
//!   `mlp_units` `Linear(a, b)`, the activation and (when `dropout_prob_theta > 0`) `Dropout`, then
//!   `Linear(u[-1][1], n_theta)`; parameter names follow its indices (`blocks.{i}.layers.{j}.weight`);
//! - a block's activations are one shared module, so PReLU has a single slope per block, registered (and
//!   counted) once, at its first index;
//! - 'cubic' interpolation is not available with several outputs per point (nhits.py raises);
//! - NHITS has no `init_weights` in this NeuralForecast version: every Linear keeps torch's default init.
//!
//! The window mask (`insample_mask`, which multiplies the residual after every block) is all ones here: the
//! engine's windows are complete.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{ModelOptions, OptionError, OptionResult, MAX_SIZE};
use crate::nn::activation::{Activation, ActivationKind};
use crate::nn::dropout::Dropout;
use crate::nn::error::{expect_len, nonzero};
use crate::nn::interpolate::{Interpolate1d, InterpolationMode};
use crate::nn::pooling::{Pool1d, PoolMode};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct NhitsConfig {
    pub shape: ModelShape,
    /// Blocks in each stack (`n_blocks`); its length is the number of stacks (`stack_types`, all 'identity').
    pub n_blocks: Vec<usize>,
    /// The hidden layers `[in, out]` of every block's MLP (`mlp_units`, shared by all stacks).
    pub mlp_units: Vec<[usize; 2]>,
    /// Pooling kernel (and stride) of each stack.
    pub n_pool_kernel_size: Vec<usize>,
    /// Each stack's knots are `max(h / f, 1)` per output.
    pub n_freq_downsample: Vec<usize>,
    pub pooling_mode: PoolMode,
    pub interpolation_mode: InterpolationMode,
    pub dropout_prob_theta: f64,
    pub activation: ActivationKind,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros (forecasts from the exogenous
    /// variables alone).
    pub exclude_insample_y: bool,
}

/// The sizes of a block of one stack.
#[derive(Debug, Clone, Copy)]
struct BlockDims {
    kernel: usize,
    /// Pooled window and historic exogenous steps: `ceil(L / k)`.
    pooled_len: usize,
    /// Pooled future exogenous steps: `ceil((L + h) / k)`.
    pooled_futr_len: usize,
    in_features: usize,
    knots: usize,
    /// `L + outputs × knots`: the backcast and the knots.
    n_theta: usize,
}

impl NhitsConfig {
    /// Sizes of the blocks of `stack` (kernel and downsampling factor taken as at least 1, so that an invalid
    /// configuration, which [`NhitsConfig::validate`] refuses, cannot divide by zero here).
    fn block_dims(&self, stack: usize) -> BlockDims {
        let ModelShape { h, input_size: l, outputs_per_point: q, exog, .. } = self.shape;
        let kernel = self.n_pool_kernel_size.get(stack).copied().unwrap_or(1).max(1);
        let factor = self.n_freq_downsample.get(stack).copied().unwrap_or(1).max(1);
        let (pooled_len, pooled_futr_len) = (l.div_ceil(kernel), (l + h).div_ceil(kernel));
        let knots = (h / factor).max(1);
        BlockDims {
            kernel,
            pooled_len,
            pooled_futr_len,
            in_features: pooled_len * (1 + exog.hist) + pooled_futr_len * exog.futr + exog.stat,
            knots,
            n_theta: l + q * knots,
        }
    }

    /// The stack of every block, in order.
    fn block_stacks(&self) -> impl Iterator<Item = usize> + '_ {
        self.n_blocks.iter().enumerate().flat_map(|(stack, &count)| std::iter::repeat_n(stack, count))
    }

    /// Torch's index step between the hidden Linear layers of a block's `nn.Sequential`.
    fn sequential_stride(&self) -> usize {
        if self.dropout_prob_theta > 0.0 {
            3
        } else {
            2
        }
    }

    /// What nhits.py asserts or fails on at construction (or its first forward), as a message.
    fn validate(&self) -> Result<(), String> {
        let stacks = self.n_blocks.len();
        if stacks == 0 || self.n_blocks.iter().sum::<usize>() == 0 {
            return Err("there must be at least one block (nBlocks)".into());
        }
        if self.n_pool_kernel_size.len() != stacks || self.n_freq_downsample.len() != stacks {
            return Err(format!(
                "nBlocks, nPoolKernelSize and nFreqDownsample need one entry per stack; got {}, {} and {}",
                stacks,
                self.n_pool_kernel_size.len(),
                self.n_freq_downsample.len()
            ));
        }
        if self.n_pool_kernel_size.contains(&0) || self.n_freq_downsample.contains(&0) {
            return Err("pooling kernel sizes and downsampling factors must be at least 1".into());
        }
        if self.mlp_units.is_empty() || self.mlp_units.iter().flatten().any(|&u| u == 0) {
            return Err("mlpUnits needs at least one layer, of sizes at least 1".into());
        }
        if let Some(j) = (1..self.mlp_units.len()).find(|&j| self.mlp_units[j][0] != self.mlp_units[j - 1][1]) {
            return Err(format!(
                "mlpUnits[{j}] takes {} inputs but mlpUnits[{}] gives {}",
                self.mlp_units[j][0],
                j - 1,
                self.mlp_units[j - 1][1]
            ));
        }
        if !(0.0..1.0).contains(&self.dropout_prob_theta) {
            return Err(format!("dropoutProbTheta must be in [0, 1), got {}", self.dropout_prob_theta));
        }
        if self.interpolation_mode == InterpolationMode::Cubic && self.shape.outputs_per_point > 1 {
            return Err("cubic interpolation is not available with multiple outputs per point (multi-quantile losses)".into());
        }
        Ok(())
    }
}

/// Reads `[[a, b], ...]` into pairs, naming the first entry that is not a pair.
fn read_mlp_units(options: &ModelOptions<'_>) -> OptionResult<Option<Vec<[usize; 2]>>> {
    let Some(lists) = options.integer_lists("mlpUnits", 1, MAX_SIZE)? else { return Ok(None) };
    let pairs = lists.iter().enumerate().map(|(i, list)| {
        <[usize; 2]>::try_from(list.as_slice()).map_err(|_| {
            OptionError::Range(format!("{} must be [inputs, outputs], got {} values", options.field(&format!("mlpUnits[{i}]")), list.len()))
        })
    });
    pairs.collect::<OptionResult<Vec<_>>>().map(Some)
}

impl ModelConfig for NhitsConfig {
    type Network = Nhits;

    const NAME: &'static str = "NHITS";
    const OPTION_KEYS: &'static [&'static str] = &[
        "stackTypes", "nBlocks", "mlpUnits", "nPoolKernelSize", "nFreqDownsample",
        "poolingMode", "interpolationMode", "dropoutProbTheta", "activation", "excludeInsampleY",
    ];
    /// nhits.py: `input_size` required, `scaler_type='identity'`, `learning_rate=1e-3`, `max_steps=1000`,
    /// `windows_batch_size=1024`, `num_lr_decays=3`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults { num_lr_decays: 3, ..TrainingDefaults::WINDOWS };

    /// nhits.py: three 'identity' stacks of one block, `mlp_units=3 * [[512, 512]]`,
    /// `n_pool_kernel_size=[2, 2, 1]`, `n_freq_downsample=[4, 2, 1]`, 'MaxPool1d', 'linear', no dropout, ReLU,
    /// `exclude_insample_y=False`.
    fn new(shape: ModelShape) -> Self {
        NhitsConfig {
            shape,
            n_blocks: vec![1, 1, 1],
            mlp_units: vec![[512, 512]; 3],
            n_pool_kernel_size: vec![2, 2, 1],
            n_freq_downsample: vec![4, 2, 1],
            pooling_mode: PoolMode::Max,
            interpolation_mode: InterpolationMode::Linear,
            dropout_prob_theta: 0.0,
            activation: ActivationKind::Relu,
            exclude_insample_y: false,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        let stack_types = options.strings("stackTypes")?;
        if let Some(other) = stack_types.iter().flatten().find(|t| *t != "identity") {
            return Err(OptionError::Range(format!(
                "{}: NHITS stacks are all 'identity', got '{other}'",
                options.field("stackTypes")
            )));
        }
        if let Some(blocks) = options.integers("nBlocks", 0, MAX_SIZE)? {
            self.n_blocks = blocks;
        }
        if let Some(units) = read_mlp_units(options)? {
            self.mlp_units = units;
        }
        if let Some(kernels) = options.integers("nPoolKernelSize", 1, MAX_SIZE)? {
            self.n_pool_kernel_size = kernels;
        }
        if let Some(factors) = options.integers("nFreqDownsample", 1, MAX_SIZE)? {
            self.n_freq_downsample = factors;
        }
        if let Some(mode) = options.choice("poolingMode", &PoolMode::NAMES)? {
            self.pooling_mode = PoolMode::from_name(mode).unwrap_or(self.pooling_mode);
        }
        if let Some(mode) = options.choice("interpolationMode", &InterpolationMode::NAMES)? {
            self.interpolation_mode = InterpolationMode::from_name(mode).unwrap_or(self.interpolation_mode);
        }
        self.dropout_prob_theta = options.number_in("dropoutProbTheta", 0.0, 1.0)?.unwrap_or(self.dropout_prob_theta);
        if let Some(name) = options.choice("activation", &ActivationKind::BLOCK_MLP.map(ActivationKind::name))? {
            self.activation = ActivationKind::from_name(name).unwrap_or(self.activation);
        }
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        if let Some(types) = stack_types.filter(|t| t.len() != self.n_blocks.len()) {
            return Err(OptionError::Range(format!(
                "{} has {} stacks but nBlocks has {} entries",
                options.field("stackTypes"),
                types.len(),
                self.n_blocks.len()
            )));
        }
        self.validate().map_err(|reason| OptionError::Range(format!("{}: {reason}", options.path())))
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("stackTypes".into(), vec!["identity"; self.n_blocks.len()].into());
        out.insert("nBlocks".into(), self.n_blocks.clone().into());
        out.insert("mlpUnits".into(), self.mlp_units.iter().map(|pair| pair.to_vec()).collect::<Vec<_>>().into());
        out.insert("nPoolKernelSize".into(), self.n_pool_kernel_size.clone().into());
        out.insert("nFreqDownsample".into(), self.n_freq_downsample.clone().into());
        out.insert("poolingMode".into(), self.pooling_mode.name().into());
        out.insert("interpolationMode".into(), self.interpolation_mode.name().into());
        out.insert("dropoutProbTheta".into(), self.dropout_prob_theta.into());
        out.insert("activation".into(), self.activation.name().into());
        out.insert("excludeInsampleY".into(), self.exclude_insample_y.into());
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size: l, outputs_per_point: q, .. } = self.shape;
        let [h, l, q] = [h, l, q].map(|v| v as u128);
        let prelu = u128::from(self.activation == ActivationKind::Prelu);
        // Values kept per hidden layer: its output, PReLU's input, the dropout mask and the dropped output.
        let per_hidden = 1 + prelu + 2 * u128::from(self.dropout_prob_theta > 0.0);
        let hidden: u128 = self.mlp_units.iter().map(|&[a, b]| (a as u128 + 1) * b as u128).sum();
        let hidden_width: u128 = self.mlp_units.iter().map(|&[_, b]| b as u128).sum();
        let first = self.mlp_units.first().map_or(0, |u| u[0] as u128);
        let last = self.mlp_units.last().map_or(0, |u| u[1] as u128);
        let widest = self.mlp_units.iter().flatten().map(|&u| u as u128).max().unwrap_or(0);
        let (mut parameters, mut activations, mut scratch) = (0u128, l + h * q, 0u128);
        for stack in self.block_stacks() {
            let dims = self.block_dims(stack);
            let [input, pooled, n_theta] = [dims.in_features, dims.pooled_len, dims.n_theta].map(|v| v as u128);
            parameters += (input + 1) * first + hidden + (last + 1) * n_theta + prelu;
            // The MLP input, the max-pooling indices (two f32 each), and every layer's output.
            activations += input + 2 * pooled + first + per_hidden * hidden_width + n_theta;
            // The backward pass's gradients of the widest layer, the residual and the permuted forecast.
            scratch = scratch.max(input + 2 * widest.max(input).max(n_theta) + pooled + 2 * l + 2 * h * q + h);
        }
        (parameters, activations + scratch)
    }

    fn build(&self) -> Result<Nhits, NnError> {
        let ModelShape { h, input_size, outputs_per_point, .. } = self.shape;
        nonzero("h", h)?;
        nonzero("inputSize", input_size)?;
        nonzero("outputs_per_point", outputs_per_point)?;
        self.validate().map_err(|reason| NnError::InvalidValue { what: "NHITS configuration", reason })?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let blocks = self
            .block_stacks()
            .enumerate()
            .map(|(index, stack)| Block::new(self, &mut init.pp(format!("blocks.{index}.layers")), stack, index))
            .collect::<Result<_, _>>()?;
        Ok(Nhits { config: self.clone(), params, blocks })
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

/// One NHITS block: pooling, the MLP and the identity basis.
#[derive(Debug, Clone)]
struct Block {
    dims: BlockDims,
    pool: Pool1d,
    /// The input layer (no activation), the hidden layers (activation and dropout after each), the output.
    layers: Vec<Linear>,
    /// The activation module shared by the hidden layers (with PReLU's single slope).
    activation: Activation,
    /// One per hidden layer when `dropout_prob_theta > 0`.
    dropouts: Vec<Dropout>,
    basis: Interpolate1d,
}

impl Block {
    fn new(config: &NhitsConfig, init: &mut ParamInit<'_>, stack: usize, index: usize) -> Result<Self, NnError> {
        let dims = config.block_dims(stack);
        let stride = config.sequential_stride();
        let units = &config.mlp_units;
        let mut layers = vec![Linear::new(&mut init.pp("0"), dims.in_features, units[0][0])?];
        let mut activation = None;
        for (j, &[inputs, outputs]) in units.iter().enumerate() {
            let at = 1 + j * stride;
            layers.push(Linear::new(&mut init.pp(at.to_string()), inputs, outputs)?);
            if j == 0 {
                // Registered at its first index, after the first hidden Linear.
                activation = Some(Activation::new(&mut init.pp((at + 1).to_string()), config.activation)?);
            }
        }
        let activation = activation.ok_or(NnError::ZeroSize { what: "mlpUnits layers" })?;
        let last = units[units.len() - 1][1];
        layers.push(Linear::new(&mut init.pp((1 + units.len() * stride).to_string()), last, dims.n_theta)?);
        let dropouts = if config.dropout_prob_theta > 0.0 {
            let stream = |j: usize| (index * units.len() + j) as u64;
            (0..units.len()).map(|j| Dropout::new(config.dropout_prob_theta as f32, stream(j))).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(Block {
            dims,
            pool: Pool1d::new(config.pooling_mode, dims.kernel)?,
            layers,
            activation,
            dropouts,
            basis: Interpolate1d::new(config.interpolation_mode, dims.knots, config.shape.h)?,
        })
    }

    /// Whether layer `i` is a hidden layer, followed by the activation (and dropout).
    fn is_hidden(&self, i: usize) -> bool {
        i > 0 && i + 1 < self.layers.len()
    }

    fn dropout(&self, i: usize) -> Option<&Dropout> {
        self.dropouts.get(i.wrapping_sub(1)).filter(|_| self.is_hidden(i))
    }
}

/// Per-block activations kept for the backward pass, indexed by layer.
#[derive(Debug, Clone, Default)]
struct BlockCache {
    /// The MLP input `[B, in_features]`.
    input: Vec<f32>,
    /// Max pooling's indices into the residual.
    argmax: Vec<usize>,
    /// Each layer's output, after the activation for the hidden ones; the last is `theta`.
    outputs: Vec<Vec<f32>>,
    /// PReLU only: the hidden layers' outputs before the activation.
    pre_activations: Vec<Vec<f32>>,
    /// While training with dropout: the masks and the dropped outputs that feed the next layer.
    masks: Vec<Vec<f32>>,
    dropped: Vec<Vec<f32>>,
}
crate::nn::heap_bytes::heap_bytes!(BlockCache { input, argmax, outputs, pre_activations, masks, dropped });

impl BlockCache {
    /// The input of layer `i`: the MLP input, or the previous layer's output (dropped, if dropout ran).
    fn layer_input(&self, i: usize) -> &[f32] {
        match i.checked_sub(1) {
            None => &self.input,
            Some(below) if !self.masks[below].is_empty() => &self.dropped[below],
            Some(below) => &self.outputs[below],
        }
    }

    fn resize(&mut self, layers: usize) {
        for buffers in [&mut self.outputs, &mut self.pre_activations, &mut self.masks, &mut self.dropped] {
            buffers.resize_with(layers, Vec::new);
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NhitsCache {
    batch: usize,
    /// The running residual `[B, L]`, reversed in time as nhits.py's.
    residual: Vec<f32>,
    /// `[B, h, outputs]`.
    forecast: Vec<f32>,
    blocks: Vec<BlockCache>,
    scratch: Scratch,
}
crate::nn::heap_bytes::heap_bytes!(NhitsCache { batch, residual, forecast, blocks, scratch });

/// Buffers that live only within one pass.
#[derive(Debug, Clone, Default)]
struct Scratch {
    pooled: Vec<f32>,
    pooled_hist: Vec<f32>,
    pooled_futr: Vec<f32>,
    /// One interpolated row `[h]`.
    knots_out: Vec<f32>,
    /// d loss/d forecast permuted to `[B, outputs, h]`, the layout of the interpolated knots.
    d_forecast: Vec<f32>,
    /// d loss/d residual after the block being backpropagated.
    d_residual: Vec<f32>,
    d_upper: Vec<f32>,
    d_lower: Vec<f32>,
    d_pooled: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(Scratch { pooled, pooled_hist, pooled_futr, knots_out, d_forecast, d_residual, d_upper, d_lower, d_pooled });

#[derive(Debug, Clone)]
pub struct Nhits {
    config: NhitsConfig,
    params: ParamStore,
    blocks: Vec<Block>,
}

/// Writes, row by row, the concatenation of `parts` (each `(values, width)`, `rows` rows of `width`) into `out`.
fn concat_rows(out: &mut Vec<f32>, rows: usize, parts: &[(&[f32], usize)]) {
    out.clear();
    for r in 0..rows {
        for &(values, width) in parts {
            out.extend_from_slice(&values[r * width..(r + 1) * width]);
        }
    }
}

impl Nhits {
    /// Pools the residual and the exogenous inputs and concatenates them into the block's MLP input.
    fn block_input(&self, block: &Block, batch: &WindowBatch<'_>, residual: &[f32], cache: &mut BlockCache, scratch: &mut Scratch) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let (rows, dims) = (batch.batch, block.dims);
        let Scratch { pooled, pooled_hist, pooled_futr, .. } = scratch;
        pooled.resize(rows * dims.pooled_len, 0.0);
        block.pool.forward(residual, rows, l, 1, pooled, Some(&mut cache.argmax))?;
        pooled_hist.resize(rows * dims.pooled_len * exog.hist, 0.0);
        block.pool.forward(batch.hist_exog, rows, l, exog.hist, pooled_hist, None)?;
        pooled_futr.resize(rows * dims.pooled_futr_len * exog.futr, 0.0);
        block.pool.forward(batch.futr_exog, rows, l + h, exog.futr, pooled_futr, None)?;
        let parts = [
            (pooled.as_slice(), dims.pooled_len),
            (pooled_hist.as_slice(), dims.pooled_len * exog.hist),
            (pooled_futr.as_slice(), dims.pooled_futr_len * exog.futr),
            (batch.stat_exog, exog.stat),
        ];
        concat_rows(&mut cache.input, rows, &parts);
        Ok(())
    }

    /// The block's MLP over `cache.input`, each layer's output kept in `cache.outputs`.
    fn block_mlp(&self, block: &Block, rows: usize, train_seed: Option<u64>, cache: &mut BlockCache) -> Result<(), NnError> {
        let activation = &block.activation;
        cache.resize(block.layers.len());
        for (i, layer) in block.layers.iter().enumerate() {
            let mut output = std::mem::take(&mut cache.outputs[i]);
            output.resize(rows * layer.out_features(), 0.0);
            layer.forward(&self.params, cache.layer_input(i), rows, &mut output)?;
            if block.is_hidden(i) {
                if activation.needs_input() {
                    cache.pre_activations[i].clone_from(&output);
                }
                activation.forward_in_place(&self.params, &mut output);
                cache.masks[i].clear();
                if let (Some(dropout), Some(_)) = (block.dropout(i), train_seed) {
                    cache.dropped[i].clone_from(&output);
                    dropout.forward_in_place(&mut cache.dropped[i], train_seed, &mut cache.masks[i]);
                }
            }
            cache.outputs[i] = output;
        }
        Ok(())
    }

    /// Subtracts the backcast from the residual and adds the interpolated knots to the forecast.
    fn apply_basis(&self, block: &Block, theta: &[f32], residual: &mut [f32], forecast: &mut [f32], knots_out: &mut Vec<f32>) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, .. } = self.config.shape;
        let BlockDims { knots, n_theta, .. } = block.dims;
        knots_out.resize(h, 0.0);
        let rows = theta.chunks_exact(n_theta).zip(residual.chunks_exact_mut(l)).zip(forecast.chunks_exact_mut(h * q));
        for ((theta, residual), forecast) in rows {
            residual.iter_mut().zip(&theta[..l]).for_each(|(r, b)| *r -= b);
            for (k, row_knots) in theta[l..].chunks_exact(knots).enumerate() {
                block.basis.forward_row(row_knots, knots_out)?;
                knots_out.iter().enumerate().for_each(|(t, v)| forecast[t * q + k] += v);
            }
        }
        Ok(())
    }

    /// Backpropagates one block: `d_forecast` and `d_residual` (the gradient of the residual it leaves) in,
    /// parameter gradients accumulated, and the gradient of the residual it received added to `d_residual`
    /// when `input_gradient` (every block but the first, whose input is the window itself).
    fn block_backward(&self, block: &Block, rows: usize, cache: &BlockCache, scratch: &mut Scratch, grads: &mut ParamStore, input_gradient: bool) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, .. } = self.config.shape;
        let BlockDims { knots, n_theta, pooled_len, in_features, .. } = block.dims;
        expect_len("cached layers of a block", block.layers.len(), cache.outputs.len())?;
        let Scratch { d_forecast, d_residual, d_upper, d_lower, d_pooled, .. } = scratch;
        d_upper.resize(rows * n_theta, 0.0);
        let d_rows = d_upper.chunks_exact_mut(n_theta).zip(d_residual.chunks_exact(l)).zip(d_forecast.chunks_exact(q * h));
        for ((d_theta, d_residual), d_forecast) in d_rows {
            let (d_backcast, d_knots) = d_theta.split_at_mut(l);
            d_backcast.iter_mut().zip(d_residual).for_each(|(d, r)| *d = -r);
            for (d_knots, d_out) in d_knots.chunks_exact_mut(knots).zip(d_forecast.chunks_exact(h)) {
                block.basis.backward_row(d_out, d_knots)?;
            }
        }
        for (i, layer) in block.layers.iter().enumerate().rev() {
            if block.is_hidden(i) {
                if let Some(dropout) = block.dropout(i) {
                    dropout.backward_in_place(d_upper, &cache.masks[i])?;
                }
                block.activation.backward_in_place(&self.params, d_upper, &cache.outputs[i], &cache.pre_activations[i], grads)?;
            }
            let d_input = if i > 0 || input_gradient {
                d_lower.resize(rows * layer.in_features(), 0.0);
                Some(d_lower.as_mut_slice())
            } else {
                None
            };
            layer.backward(&self.params, cache.layer_input(i), d_upper, rows, grads, d_input)?;
            std::mem::swap(d_upper, d_lower);
        }
        if input_gradient {
            // d_upper now holds d loss/d MLP input; its first pooled_len columns come from the residual.
            d_pooled.clear();
            for row in d_upper.chunks_exact(in_features) {
                d_pooled.extend_from_slice(&row[..pooled_len]);
            }
            block.pool.backward(d_pooled, rows, l, 1, &cache.argmax, d_residual)?;
        }
        Ok(())
    }
}

impl_model!(Nhits, NhitsConfig, NhitsCache);

impl Nhits {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut NhitsCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, .. } = self.config.shape;
        let rows = batch.batch;
        cache.batch = 0;
        let NhitsCache { residual, forecast, blocks, scratch, .. } = cache;
        residual.clear();
        forecast.clear();
        for window in batch.insample_y.chunks_exact(l) {
            residual.extend(window.iter().rev());
            // The level: every output starts at the window's last value (nhits.py's Naive1).
            forecast.extend(std::iter::repeat_n(window[l - 1], h * q));
        }
        blocks.resize_with(self.blocks.len(), BlockCache::default);
        for (block, block_cache) in self.blocks.iter().zip(blocks.iter_mut()) {
            self.block_input(block, batch, residual, block_cache, scratch)?;
            self.block_mlp(block, rows, batch.train_seed, block_cache)?;
            let theta = &block_cache.outputs[block.layers.len() - 1];
            self.apply_basis(block, theta, residual, forecast, &mut scratch.knots_out)?;
        }
        cache.batch = rows;
        Ok(&cache.forecast)
    }

    fn backward_pass(&self, cache: &mut NhitsCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, .. } = self.config.shape;
        let rows = nonzero("batch of the forward pass before backward", cache.batch)?;
        expect_len("forecast gradient", rows * h * q, d_output.len())?;
        let NhitsCache { blocks, scratch, .. } = cache;
        expect_len("cached blocks", self.blocks.len(), blocks.len())?;
        // [B, h, outputs] -> [B, outputs, h].
        scratch.d_forecast.clear();
        for d_row in d_output.chunks_exact(h * q) {
            scratch.d_forecast.extend((0..q).flat_map(|k| (0..h).map(move |t| d_row[t * q + k])));
        }
        scratch.d_residual.clear();
        scratch.d_residual.resize(rows * l, 0.0);
        for (index, (block, block_cache)) in self.blocks.iter().zip(blocks.iter()).enumerate().rev() {
            self.block_backward(block, rows, block_cache, scratch, grads, index > 0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;

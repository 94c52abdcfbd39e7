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

use super::model::{InputSizeDefault, Model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
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
        "stackTypes",
        "nBlocks",
        "mlpUnits",
        "nPoolKernelSize",
        "nFreqDownsample",
        "poolingMode",
        "interpolationMode",
        "dropoutProbTheta",
        "activation",
    ];
    /// nhits.py: `input_size` required, `scaler_type='identity'`, `learning_rate=1e-3`, `max_steps=1000`,
    /// `windows_batch_size=1024`, `num_lr_decays=3`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults {
        input_size: InputSizeDefault::Required,
        scaler_type: "identity",
        learning_rate: 1e-3,
        max_steps: 1000,
        batch_size: 1024,
        num_lr_decays: 3,
    };

    /// nhits.py: three 'identity' stacks of one block, `mlp_units=3 * [[512, 512]]`,
    /// `n_pool_kernel_size=[2, 2, 1]`, `n_freq_downsample=[4, 2, 1]`, 'MaxPool1d', 'linear', no dropout, ReLU.
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
    pub fn config(&self) -> &NhitsConfig {
        &self.config
    }

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

impl Model for Nhits {
    type Cache = NhitsCache;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn params_mut(&mut self) -> &mut ParamStore {
        &mut self.params
    }

    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut NhitsCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: q, exog, .. } = self.config.shape;
        batch.check(l, h, exog)?;
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

    fn backward(&self, cache: &mut NhitsCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.params.check_same_layout(grads)?;
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
mod tests {
    use serde_json::json;

    use super::*;
    use crate::models::model::tests::{check_model_gradients, fit_sine, shape, RandomBatch};
    use crate::models::ExogSizes;

    fn baseline() -> NhitsConfig {
        NhitsConfig::new(shape(12, 24, ExogSizes::none()))
    }

    /// Two stacks (one and two blocks) of small layers, pooling kernels 2 and 3 over a window of 7 (short
    /// last pooling windows), and knots 5 / 2 = 2 and 1.
    fn small(exog: ExogSizes, outputs_per_point: usize) -> NhitsConfig {
        NhitsConfig {
            n_blocks: vec![1, 2],
            mlp_units: vec![[6, 6], [6, 5]],
            n_pool_kernel_size: vec![2, 3],
            n_freq_downsample: vec![2, 8],
            ..NhitsConfig::new(ModelShape { outputs_per_point, ..shape(5, 7, exog) })
        }
    }

    fn names(model: &Nhits) -> Vec<&str> {
        model.params().iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn parameter_count_and_names_follow_torch() {
        // NeuralForecast NHITS(h=12, input_size=24) defaults: sum(p.numel() for p in model.parameters()).
        let config = baseline();
        let model = config.build().unwrap();
        assert_eq!(model.params().num_parameters(), 2_437_725);
        assert_eq!(config.memory_estimate().0, 2_437_725);
        let names = names(&model);
        assert_eq!(names.len(), 3 * 5 * 2);
        assert_eq!(&names[..4], ["blocks.0.layers.0.weight", "blocks.0.layers.0.bias", "blocks.0.layers.1.weight", "blocks.0.layers.1.bias"]);
        assert_eq!(names.last(), Some(&"blocks.2.layers.7.bias"));
        let shape_of = |name: &str| model.params().find(name).unwrap().shape.clone();
        // Pooled inputs 24 / 2 = 12 and 24 / 1; theta 24 + 12 / 4 = 27 and 24 + 12.
        assert_eq!(shape_of("blocks.0.layers.0.weight"), [512, 12]);
        assert_eq!(shape_of("blocks.0.layers.5.weight"), [512, 512]);
        assert_eq!(shape_of("blocks.0.layers.7.weight"), [27, 512]);
        assert_eq!(shape_of("blocks.1.layers.7.bias"), [30]);
        assert_eq!(shape_of("blocks.2.layers.0.weight"), [512, 24]);
        assert_eq!(shape_of("blocks.2.layers.7.weight"), [36, 512]);
        // torch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        let bound = 1.0 / 12f32.sqrt();
        assert!(model.params().find("blocks.0.layers.0.weight").unwrap().data.iter().all(|w| w.abs() <= bound));
    }

    #[test]
    fn dropout_and_prelu_shift_the_sequential_indices() {
        let config = NhitsConfig { dropout_prob_theta: 0.1, activation: ActivationKind::Prelu, ..small(ExogSizes::none(), 1) };
        let model = config.build().unwrap();
        let block: Vec<&str> = names(&model).into_iter().filter(|n| n.starts_with("blocks.0.")).collect();
        assert_eq!(
            block,
            [
                "blocks.0.layers.0.weight",
                "blocks.0.layers.0.bias",
                "blocks.0.layers.1.weight",
                "blocks.0.layers.1.bias",
                "blocks.0.layers.2.weight",
                "blocks.0.layers.4.weight",
                "blocks.0.layers.4.bias",
                "blocks.0.layers.7.weight",
                "blocks.0.layers.7.bias",
            ]
        );
        assert_eq!(model.params().find("blocks.2.layers.2.weight").unwrap().data, [0.25]);
        assert_eq!(config.memory_estimate().0, model.params().num_parameters() as u128);
    }

    #[test]
    fn exogenous_inputs_widen_the_first_layer_and_the_estimate_is_exact() {
        let exog = ExogSizes { futr: 2, hist: 3, stat: 1 };
        let model = small(exog, 3).build().unwrap();
        // Block 0 (kernel 2): ceil(7/2) = 4 window steps, 4 * 3 historic, ceil(12/2) * 2 future, 1 static.
        assert_eq!(model.params().find("blocks.0.layers.0.weight").unwrap().shape, [6, 4 + 12 + 12 + 1]);
        // Theta: 7 backcast values and 3 outputs x 2 knots (block 0), 3 x 1 knot (5 / 8 -> 1).
        assert_eq!(model.params().find("blocks.0.layers.5.weight").unwrap().shape, [7 + 6, 5]);
        assert_eq!(model.params().find("blocks.2.layers.5.bias").unwrap().shape, [7 + 3]);
        let configs = [
            small(exog, 3),
            NhitsConfig { activation: ActivationKind::Prelu, dropout_prob_theta: 0.3, ..small(exog, 2) },
            NhitsConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }),
            NhitsConfig { n_blocks: vec![2, 0, 1], ..baseline() },
        ];
        for config in configs {
            assert_eq!(config.memory_estimate().0, config.build().unwrap().params().num_parameters() as u128);
        }
    }

    /// nhits.py's forward written out plainly for ReLU, max pooling and linear interpolation, reading the
    /// weights by name: the reversed residual, the pooled and concatenated inputs, the MLP, the backcast and
    /// the interpolated knots.
    fn reference_forward(model: &Nhits, inputs: &RandomBatch) -> Vec<f32> {
        let config = model.config();
        let ModelShape { h, input_size: l, outputs_per_point: q, exog, .. } = config.shape;
        let param = |name: String| model.params().find(&name).unwrap().data.clone();
        let linear = |prefix: String, x: &[f32]| -> Vec<f32> {
            let (w, b) = (param(format!("{prefix}.weight")), param(format!("{prefix}.bias")));
            (0..b.len()).map(|o| b[o] + x.iter().zip(&w[o * x.len()..]).map(|(x, w)| x * w).sum::<f32>()).collect()
        };
        let max_pool = |series: &[f32], k: usize| -> Vec<f32> {
            series.chunks(k).map(|w| w.iter().copied().fold(f32::NEG_INFINITY, f32::max)).collect()
        };
        // [T, C] pooled per channel along T, back to [T', C] row-major.
        let pool_channels = |values: &[f32], steps: usize, channels: usize, k: usize| -> Vec<f32> {
            let pooled: Vec<Vec<f32>> = (0..channels)
                .map(|c| max_pool(&(0..steps).map(|t| values[t * channels + c]).collect::<Vec<_>>(), k))
                .collect();
            (0..steps.div_ceil(k)).flat_map(|t| pooled.iter().map(move |p| p[t])).collect()
        };
        let mut out = Vec::new();
        for b in 0..inputs.batch {
            let y = &inputs.insample_y[b * l..(b + 1) * l];
            let hist = &inputs.hist_exog[b * l * exog.hist..(b + 1) * l * exog.hist];
            let futr = &inputs.futr_exog[b * (l + h) * exog.futr..(b + 1) * (l + h) * exog.futr];
            let stat = &inputs.stat_exog[b * exog.stat..(b + 1) * exog.stat];
            let mut residual: Vec<f32> = y.iter().rev().copied().collect();
            let mut forecast = vec![y[l - 1]; h * q];
            for (i, stack) in config.block_stacks().enumerate() {
                let k = config.n_pool_kernel_size[stack];
                let mut x = max_pool(&residual, k);
                x.extend(pool_channels(hist, l, exog.hist, k));
                x.extend(pool_channels(futr, l + h, exog.futr, k));
                x.extend_from_slice(stat);
                let mut a = linear(format!("blocks.{i}.layers.0"), &x);
                for j in 0..config.mlp_units.len() {
                    a = linear(format!("blocks.{i}.layers.{}", 1 + 2 * j), &a).iter().map(|v| v.max(0.0)).collect();
                }
                let theta = linear(format!("blocks.{i}.layers.{}", 1 + 2 * config.mlp_units.len()), &a);
                residual.iter_mut().zip(&theta).for_each(|(r, b)| *r -= b);
                let n = (h / config.n_freq_downsample[stack]).max(1);
                for (k, knots) in theta[l..].chunks(n).enumerate() {
                    for t in 0..h {
                        let position = ((t as f64 + 0.5) * n as f64 / h as f64 - 0.5).max(0.0);
                        let lower = (position.floor() as usize).min(n - 1);
                        let upper = (lower + 1).min(n - 1);
                        let fraction = (position - lower as f64).min(1.0);
                        forecast[t * q + k] += ((1.0 - fraction) * knots[lower] as f64 + fraction * knots[upper] as f64) as f32;
                    }
                }
            }
            out.extend(forecast);
        }
        out
    }

    #[test]
    fn forward_matches_a_plain_transcription_of_nhits_py() {
        let exog = ExogSizes { futr: 2, hist: 1, stat: 2 };
        for config in [small(exog, 2), NhitsConfig::new(shape(12, 24, ExogSizes::none()))] {
            let model = config.build().unwrap();
            let inputs = RandomBatch::new(&config.shape, 3, 17);
            let mut cache = NhitsCache::default();
            let forecast = model.forward(&inputs.view(None), &mut cache).unwrap();
            let expected = reference_forward(&model, &inputs);
            assert_eq!(forecast.len(), expected.len());
            for (a, e) in forecast.iter().zip(&expected) {
                assert!((a - e).abs() <= 1e-4 * e.abs().max(1.0), "{a} vs {e}");
            }
        }
    }

    // The gradient checks use smooth activations: the small layers keep pre-activations within a
    // finite-difference step of 0 often enough that ReLU's kink would make the numeric side meaningless. ReLU
    // itself is checked by `forward_matches_a_plain_transcription_of_nhits_py` and in `nn::activation`.

    #[test]
    fn gradients_match_finite_differences_with_exogenous_inputs_and_quantiles() {
        let config = NhitsConfig { activation: ActivationKind::Softplus, ..small(ExogSizes { futr: 1, hist: 2, stat: 1 }, 3) };
        check_model_gradients(&config);
    }

    #[test]
    fn gradients_match_with_average_pooling_and_nearest_interpolation() {
        let config = NhitsConfig {
            pooling_mode: PoolMode::Avg,
            interpolation_mode: InterpolationMode::Nearest,
            activation: ActivationKind::Tanh,
            ..small(ExogSizes { futr: 2, hist: 0, stat: 0 }, 2)
        };
        check_model_gradients(&config);
    }

    #[test]
    fn gradients_match_with_cubic_interpolation_and_dropout() {
        let config = NhitsConfig {
            interpolation_mode: InterpolationMode::Cubic,
            activation: ActivationKind::Tanh,
            dropout_prob_theta: 0.2,
            ..small(ExogSizes { futr: 0, hist: 1, stat: 1 }, 1)
        };
        check_model_gradients(&config);
    }

    #[test]
    fn the_shared_prelu_slope_collects_the_gradient_of_every_layer() {
        use crate::nn::gradcheck::{check_param_grads, random_vec, weighted_sum};
        let config = NhitsConfig { activation: ActivationKind::Prelu, ..small(ExogSizes::none(), 1) };
        let mut model = config.build().unwrap();
        // At slope 1 PReLU is the identity, without a kink, while d loss/d slope (the sum of x * g over x <= 0
        // in every hidden layer) is not 0.
        model.params_mut().iter_mut().filter(|(name, _)| name.ends_with("layers.2.weight")).for_each(|(_, t)| t.data[0] = 1.0);
        let inputs = RandomBatch::new(&config.shape, 3, 4);
        let weights = random_vec(3 * 5, 5);
        let mut cache = NhitsCache::default();
        model.forward(&inputs.view(None), &mut cache).unwrap();
        let mut grads = model.params().zeros_like();
        model.backward(&mut cache, &weights, &mut grads).unwrap();
        assert!(grads.find("blocks.1.layers.2.weight").unwrap().data[0].abs() > 1e-3);
        let mut params = model.params().clone();
        check_param_grads(&mut params, &grads, 4, |p| {
            *model.params_mut() = p.clone();
            weighted_sum(model.forward(&inputs.view(None), &mut NhitsCache::default()).unwrap(), &weights)
        });
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = NhitsConfig { mlp_units: vec![[32, 32], [32, 32]], ..baseline() };
        let (before, after) = fit_sine(&config, 150, 1e-3);
        assert!(after < 0.2 * before, "MAE {before} -> {after}");
    }

    /// Windows `range` of `batch` as a batch of their own.
    fn sub_batch(batch: &RandomBatch, range: std::ops::Range<usize>) -> RandomBatch {
        let part = |values: &[f32]| values[values.len() / batch.batch * range.start..values.len() / batch.batch * range.end].to_vec();
        RandomBatch {
            batch: range.len(),
            insample_y: part(&batch.insample_y),
            hist_exog: part(&batch.hist_exog),
            futr_exog: part(&batch.futr_exog),
            stat_exog: part(&batch.stat_exog),
        }
    }

    #[test]
    fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
        let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
        // Layers of fewer and of more inputs than nn::matmul::DOT_MIN_INPUTS, which take different kernels.
        let mlp_units = vec![[160, 160], [160, 64]];
        let config = NhitsConfig { mlp_units, ..NhitsConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }) };
        let model = config.build().unwrap();
        let all = RandomBatch::new(&config.shape, 70, 3);
        let per_window = 12 * 3;
        let mut cache = NhitsCache::default();
        let mut forecast = |range: std::ops::Range<usize>, window: usize| {
            let forecast = model.forward(&sub_batch(&all, range.clone()).view(None), &mut cache).unwrap();
            forecast[(window - range.start) * per_window..][..per_window].to_vec()
        };
        // The same bits in any batch: Linear's forward kernel does not depend on the rows (see nn::matmul).
        let alone = forecast(2..3, 2);
        assert_eq!(alone, forecast(0..70, 2));
        assert_eq!(alone, forecast(1..3, 2));
        assert_eq!(alone, forecast(2..7, 2));
    }

    #[test]
    fn options_round_trip_and_defaults_follow_neuralforecast() {
        let config = baseline();
        assert_eq!((config.n_pool_kernel_size.as_slice(), config.n_freq_downsample.as_slice()), ([2, 2, 1].as_slice(), [4, 2, 1].as_slice()));
        assert_eq!((config.pooling_mode, config.interpolation_mode, config.activation), (PoolMode::Max, InterpolationMode::Linear, ActivationKind::Relu));
        let changed = NhitsConfig {
            n_blocks: vec![2, 1],
            mlp_units: vec![[64, 32], [32, 16]],
            n_pool_kernel_size: vec![4, 1],
            n_freq_downsample: vec![6, 1],
            pooling_mode: PoolMode::Avg,
            interpolation_mode: InterpolationMode::Cubic,
            dropout_prob_theta: 0.25,
            activation: ActivationKind::Selu,
            ..baseline()
        };
        let mut written = Map::new();
        changed.write_options(&mut written);
        assert_eq!(written["stackTypes"], json!(["identity", "identity"]));
        assert_eq!(written.keys().count(), NhitsConfig::OPTION_KEYS.len());
        let mut read = baseline();
        read.read_options(&ModelOptions::new("NHITS", &written)).unwrap();
        assert_eq!(read, changed);
    }

    #[test]
    fn invalid_options_are_refused_with_the_field_named() {
        let read = |options: Value, outputs_per_point: usize| {
            let mut config = NhitsConfig::new(ModelShape { outputs_per_point, ..shape(12, 24, ExogSizes::none()) });
            config.read_options(&ModelOptions::new("models[0]", options.as_object().unwrap())).map(|_| config)
        };
        let message = |options: Value| match read(options, 1) {
            Err(OptionError::Range(m) | OptionError::Type(m)) => m,
            Ok(_) => panic!("accepted"),
        };
        assert!(message(json!({ "stackTypes": ["identity", "trend", "identity"] })).contains("models[0].stackTypes"));
        assert!(message(json!({ "stackTypes": ["identity", "identity"] })).contains("2 stacks but nBlocks has 3"));
        assert!(message(json!({ "mlpUnits": [[512, 512], [512]] })).contains("models[0].mlpUnits[1] must be [inputs, outputs]"));
        assert!(message(json!({ "mlpUnits": [[512, 256], [512, 512]] })).contains("mlpUnits[1] takes 512 inputs"));
        assert!(message(json!({ "nBlocks": [1, 1, 1, 1] })).contains("one entry per stack"));
        assert!(message(json!({ "nPoolKernelSize": [2, 0, 1] })).contains("models[0].nPoolKernelSize[1]"));
        assert!(message(json!({ "poolingMode": "max" })).contains("MaxPool1d, AvgPool1d"));
        assert!(message(json!({ "activation": "GELU" })).contains("models[0].activation"));
        assert!(message(json!({ "dropoutProbTheta": 1 })).contains("[0, 1)"));
        assert!(message(json!({ "nBlocks": [0, 0, 0] })).contains("at least one block"));
        assert!(matches!(read(json!({ "interpolationMode": "cubic" }), 3), Err(OptionError::Range(m)) if m.contains("cubic interpolation is not available")));
        assert!(read(json!({ "interpolationMode": "cubic" }), 1).is_ok());
    }

    #[test]
    fn invalid_sizes_and_inputs_give_errors() {
        assert_eq!(NhitsConfig::new(shape(12, 0, ExogSizes::none())).build().unwrap_err(), NnError::ZeroSize { what: "inputSize" });
        let cubic_quantiles = NhitsConfig {
            interpolation_mode: InterpolationMode::Cubic,
            ..NhitsConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, ExogSizes::none()) })
        };
        for config in [
            cubic_quantiles,
            NhitsConfig { mlp_units: vec![], ..baseline() },
            NhitsConfig { n_freq_downsample: vec![4, 0, 1], ..baseline() },
            NhitsConfig { n_pool_kernel_size: vec![2, 2], ..baseline() },
            NhitsConfig { dropout_prob_theta: f64::NAN, ..baseline() },
        ] {
            assert!(matches!(config.build(), Err(NnError::InvalidValue { what: "NHITS configuration", .. })), "{config:?}");
            config.memory_estimate();
        }
        let model = small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 1).build().unwrap();
        let mut cache = NhitsCache::default();
        let mut grads = model.params().zeros_like();
        assert!(model.backward(&mut cache, &[0.0; 5], &mut grads).is_err());
        let err = model.forward(&WindowBatch::univariate(&[0.0; 7], 1), &mut cache).unwrap_err();
        assert_eq!(err, NnError::LengthMismatch { what: "future exogenous inputs", expected: 12, actual: 0 });
        let inputs = RandomBatch::new(&model.config().shape, 2, 1);
        model.forward(&inputs.view(None), &mut cache).unwrap();
        assert!(model.backward(&mut cache, &[0.0; 9], &mut grads).is_err());
        assert!(model.backward(&mut cache, &[0.0; 10], &mut baseline().build().unwrap().params().zeros_like()).is_err());
        model.backward(&mut cache, &[0.0; 10], &mut grads).unwrap();
        // A cache filled by a model of other blocks.
        let other = NhitsConfig { mlp_units: vec![[6, 6]], ..small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 1) }.build().unwrap();
        other.forward(&inputs.view(None), &mut cache).unwrap();
        assert!(model.backward(&mut cache, &[0.0; 10], &mut grads).is_err());
    }

    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib models::nhits -- --ignored --nocapture"]
    fn timing_at_the_baseline() {
        crate::models::timing::time_all(&baseline());
    }
}

//! NeuralForecast's `BiTCN` (neuralforecast/models/bitcn.py), the Bidirectional Temporal Convolutional Network:
//! - `lin_hist` maps each past step's `[y | hist | stat | futr]` to `hidden_size` channels, and `net_bwd`, a stack
//!   of causal [`TcnCell`]s with dilations 1, 2, 4, … (`ceil(log2 L)` cells, kernel 2: the receptive field covers
//!   the window), encodes them;
//! - with future variables, `lin_futr` and `net_fwd` (anticausal cells over all `L + h` steps) encode those too;
//!   their first `L` steps join the backward encoding as channels, their last `h` steps the temporal output;
//! - `temporal_lin1` (GELU, dropout) and `temporal_lin2` map each channel's `L` steps to `h`, and `output_lin`
//!   each horizon step's channels to its outputs.
//!
//! Activations are time-major (`[T, B, C]`, see [`crate::nn::conv1d`]); the temporal layers run on rows
//! `[B·C, L]` through [`Linear::forward`], whose bits do not depend on the rows, so a window's forecast is the
//! same alone or in a batch.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionResult};
use super::tcn::gather_encoder_input;
use crate::nn::conv1d::Padding;
use crate::nn::dropout::Dropout;
use crate::nn::error::{expect_len, nonzero};
use crate::nn::gelu::{gelu_backward_in_place, gelu_forward};
use crate::nn::recurrent::swap_leading_axes;
use crate::nn::tcn_cell::{TcnCell, TcnCellCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// bitcn.py fixes the kernel size ("not really necessary as parameter").
const KERNEL_SIZE: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct BitcnConfig {
    pub shape: ModelShape,
    pub hidden_size: usize,
    pub dropout: f64,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros.
    pub exclude_insample_y: bool,
}

/// Cells a stack needs for its receptive field to cover `steps` steps: bitcn.py's
/// `ceil(log2((steps - 1) / (kernel_size - 1) + 1))`, with kernel 2 the smallest `n` with `2^n >= steps`.
fn cells_for(steps: usize) -> usize {
    steps.next_power_of_two().trailing_zeros() as usize
}

impl BitcnConfig {
    fn cells_bwd(&self) -> usize {
        cells_for(self.shape.input_size)
    }

    fn cells_fwd(&self) -> usize {
        if self.shape.exog.futr > 0 { cells_for(self.shape.input_size + self.shape.h) } else { 0 }
    }

    /// Channels of the temporal layers: the backward encoding, and the forward one's first `L` steps.
    fn temporal_channels(&self) -> usize {
        self.hidden_size * if self.shape.exog.futr > 0 { 2 } else { 1 }
    }

    /// Channels `output_lin` reads: bitcn.py's `output_lin_dim_multiplier * hidden_size`.
    fn output_in_features(&self) -> usize {
        self.hidden_size * if self.shape.exog.futr > 0 { 3 } else { 1 }
    }

    fn check(&self) -> Result<(), NnError> {
        nonzero("h", self.shape.h)?;
        if self.shape.input_size < 2 {
            // bitcn.py then builds no backward cell and fails in its forward pass.
            return Err(NnError::InvalidValue {
                what: "inputSize",
                reason: format!("BiTCN needs an input window of at least 2 steps, got {}", self.shape.input_size),
            });
        }
        Ok(())
    }
}

impl ModelConfig for BitcnConfig {
    type Network = Bitcn;

    const NAME: &'static str = "BiTCN";
    const OPTION_KEYS: &'static [&'static str] = &["hiddenSize", "dropout", "excludeInsampleY"];
    /// bitcn.py: `input_size` required, `scaler_type='identity'`, `windows_batch_size=1024`,
    /// `inference_windows_batch_size=1024`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { inference_windows_batch_size: Some(1024), ..TrainingDefaults::WINDOWS };

    /// bitcn.py: `hidden_size=16`, `dropout=0.5` (its docstring says 0.1; the signature rules).
    fn new(shape: ModelShape) -> Self {
        BitcnConfig { shape, hidden_size: 16, dropout: 0.5, exclude_insample_y: false }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([("hiddenSize", &mut self.hidden_size)])?;
        self.dropout = options.dropout_probability("dropout")?.unwrap_or(self.dropout);
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("hiddenSize", self.hidden_size.into()), ("dropout", self.dropout.into()),
            ("excludeInsampleY", self.exclude_insample_y.into()),
        ]);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size: l, outputs_per_point: outputs, exog, .. } = self.shape;
        let [h, l, outputs, hidden, hist, futr, stat] =
            [h, l, outputs, self.hidden_size, exog.hist, exog.futr, exog.stat].map(|v| v as u128);
        let [cells_bwd, cells_fwd, channels, output_in] =
            [self.cells_bwd(), self.cells_fwd(), self.temporal_channels(), self.output_in_features()].map(|v| v as u128);
        // A cell: conv1 [H, H, 2] + H, conv2 [2H, H, 1] + 2H.
        let cell = 4 * hidden * hidden + 3 * hidden;
        let mut parameters = (1 + hist + stat + futr + 1) * hidden + cells_bwd * cell;
        if futr > 0 {
            parameters += (futr + 1) * hidden + cells_fwd * cell;
        }
        parameters += (l + 1) * hidden + (hidden + 1) * h + (output_in + 1) * outputs;
        // Per window and step, a stack keeps its input, projection and mask, every state, its output, six values
        // per cell channel (conv1's output, GELU's, the mask, conv2's two halves, a gradient) and two gradients.
        let stack = |steps: u128, inputs: u128, cells: u128| steps * (inputs + hidden * (2 + (cells + 1) + 1 + 6 * cells + 2));
        let mut activations = stack(l, 1 + hist + stat + futr, cells_bwd);
        if futr > 0 {
            activations += stack(l + h, futr, cells_fwd);
        }
        // The temporal layers' inputs, rows, activations and gradients, and the output layer's.
        activations += 4 * l * channels + 3 * channels * hidden + 4 * channels * h + 2 * h * output_in + 4 * h * outputs;
        (parameters, activations)
    }

    fn build(&self) -> Result<Bitcn, NnError> {
        self.check()?;
        let ModelShape { h, input_size: l, outputs_per_point, exog, random_seed } = self.shape;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let hidden = self.hidden_size;
        let mut stream = 0;
        let mut dropout = || {
            stream += 1;
            Dropout::new(self.dropout as f32, stream)
        };
        let net_bwd = TcnStack::new(&mut init, ("lin_hist", "net_bwd"), 1 + exog.hist + exog.stat + exog.futr, hidden, self.cells_bwd(),
            Padding::Causal, &mut dropout)?;
        let net_fwd = match exog.futr {
            0 => None,
            futr => Some(TcnStack::new(&mut init, ("lin_futr", "net_fwd"), futr, hidden, self.cells_fwd(), Padding::Anticausal, &mut dropout)?),
        };
        let drop_temporal = dropout()?;
        let temporal_lin1 = Linear::new(&mut init.pp("temporal_lin1"), l, hidden)?;
        let temporal_lin2 = Linear::new(&mut init.pp("temporal_lin2"), hidden, h)?;
        let output_lin = Linear::new(&mut init.pp("output_lin"), self.output_in_features(), outputs_per_point)?;
        Ok(Bitcn { config: self.clone(), params, net_bwd, net_fwd, drop_temporal, temporal_lin1, temporal_lin2, output_lin })
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

/// bitcn.py's `lin_hist`/`drop_hist`/`net_bwd` or `lin_futr`/`drop_futr`/`net_fwd`: a Linear per step, dropout,
/// then the cells, whose summed outputs are the encoding (`_, x = net((x, 0))`).
#[derive(Debug, Clone)]
struct TcnStack {
    projection: Linear,
    dropout: Dropout,
    cells: Vec<TcnCell>,
}

/// One stack's pass, time-major, and its backward scratch.
#[derive(Debug, Clone, Default)]
pub struct TcnStackCache {
    steps: usize,
    /// `[T, B, inputs]`, filled by the model.
    input: Vec<f32>,
    mask: Vec<f32>,
    /// The projection after dropout, then each cell's next state: `cells + 1` of `[T, B, H]`.
    states: Vec<Vec<f32>>,
    /// The sum of the cells' outputs, `[T, B, H]`.
    output: Vec<f32>,
    cells: Vec<TcnCellCache>,
    d_state: Vec<f32>,
    d_below: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TcnStackCache { steps, input, mask, states, output, cells, d_state, d_below });

impl TcnStack {
    /// `<names.0>` the projection, `<names.1>.{i}` the cells with dilations `2^i`.
    fn new(
        init: &mut ParamInit<'_>,
        names: (&str, &str),
        inputs: usize,
        hidden: usize,
        cells: usize,
        padding: Padding,
        dropout: &mut impl FnMut() -> Result<Dropout, NnError>,
    ) -> Result<Self, NnError> {
        let projection = Linear::new(&mut init.pp(names.0), inputs, hidden)?;
        let projection_dropout = dropout()?;
        let cells = (0..cells)
            .map(|i| TcnCell::new(&mut init.pp(format!("{}.{i}", names.1)), hidden, hidden, KERNEL_SIZE, 1 << i, padding, dropout()?))
            .collect::<Result<_, _>>()?;
        Ok(TcnStack { projection, dropout: projection_dropout, cells })
    }

    /// Encodes `cache.input` (`steps` steps of `sequences` windows) into `cache.output`.
    fn forward(&self, params: &ParamStore, steps: usize, sequences: usize, train_seed: Option<u64>, cache: &mut TcnStackCache) -> Result<(), NnError> {
        let len = steps * sequences * self.projection.out_features();
        cache.steps = steps;
        cache.states.resize_with(self.cells.len() + 1, Vec::new);
        cache.cells.resize_with(self.cells.len(), TcnCellCache::default);
        cache.states.iter_mut().for_each(|s| s.resize(len, 0.0));
        self.projection.forward(params, &cache.input, steps * sequences, &mut cache.states[0])?;
        self.dropout.forward_in_place(&mut cache.states[0], train_seed, &mut cache.mask);
        cache.output.clear();
        cache.output.resize(len, 0.0);
        for (i, cell) in self.cells.iter().enumerate() {
            let (done, rest) = cache.states.split_at_mut(i + 1);
            cell.forward(params, &done[i], steps, sequences, train_seed, &mut rest[0], &mut cache.output, &mut cache.cells[i])?;
        }
        Ok(())
    }

    /// Backpropagates `d_output` (d loss/d `cache.output`) into `grads`.
    fn backward(&self, params: &ParamStore, d_output: &[f32], sequences: usize, grads: &mut ParamStore, cache: &mut TcnStackCache) -> Result<(), NnError> {
        let TcnStackCache { steps, input, mask, states, cells, d_state, d_below, .. } = cache;
        let steps = *steps;
        expect_len("BiTCN encoder output gradient", steps * sequences * self.projection.out_features(), d_output.len())?;
        d_state.resize(d_output.len(), 0.0);
        d_below.resize(d_output.len(), 0.0);
        for (i, cell) in self.cells.iter().enumerate().rev() {
            // The last cell's next state is unused (bitcn.py keeps only the outputs).
            let d_next = (i + 1 < self.cells.len()).then_some(d_state.as_slice());
            cell.backward(params, &states[i], steps, sequences, d_next, d_output, grads, d_below, &mut cells[i])?;
            std::mem::swap(d_state, d_below);
        }
        self.dropout.backward_in_place(d_state, mask)?;
        self.projection.backward(params, input, d_state, steps * sequences, grads, None)
    }
}

#[derive(Debug, Clone)]
pub struct Bitcn {
    config: BitcnConfig,
    params: ParamStore,
    net_bwd: TcnStack,
    /// With future exogenous variables only.
    net_fwd: Option<TcnStack>,
    drop_temporal: Dropout,
    temporal_lin1: Linear,
    temporal_lin2: Linear,
    output_lin: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct BitcnCache {
    batch: usize,
    bwd: TcnStackCache,
    fwd: TcnStackCache,
    /// With future variables, `[L, B, 2H]`: each step's backward encoding, then its forward one.
    temporal_input: Vec<f32>,
    /// The temporal input as rows `[B·C, L]`.
    temporal_rows: Vec<f32>,
    /// `temporal_lin1`'s output `[B·C, H]`, then after GELU and dropout.
    pre_activation: Vec<f32>,
    activation: Vec<f32>,
    mask: Vec<f32>,
    /// `temporal_lin2`'s output `[B·C, h]`, then time-major `[h, B, C]`.
    horizon_rows: Vec<f32>,
    horizon: Vec<f32>,
    /// With future variables, `[h, B, 3H]`: each horizon step's temporal output, then its forward encoding.
    output_input: Vec<f32>,
    /// `[h, B, outputs]`, then `[B, h, outputs]`.
    output: Vec<f32>,
    forecast: Vec<f32>,
    d_output: Vec<f32>,
    d_output_input: Vec<f32>,
    d_horizon: Vec<f32>,
    d_activation: Vec<f32>,
    d_temporal_rows: Vec<f32>,
    d_temporal_input: Vec<f32>,
    /// With future variables, the gradients of the two encodings.
    d_bwd: Vec<f32>,
    d_fwd: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(BitcnCache {
    batch, bwd, fwd, temporal_input, temporal_rows, pre_activation, activation, mask, horizon_rows, horizon, output_input, output,
    forecast, d_output, d_output_input, d_horizon, d_activation, d_temporal_rows, d_temporal_input, d_bwd, d_fwd
});

impl_model!(Bitcn, BitcnConfig, BitcnCache);

/// Rows `[a | b]` of `a` `[rows, wa]` and `b` `[rows, wb]` into `out`.
fn concat_rows(a: &[f32], wa: usize, b: &[f32], wb: usize, rows: usize, out: &mut Vec<f32>) {
    out.clear();
    for r in 0..rows {
        out.extend_from_slice(&a[r * wa..(r + 1) * wa]);
        out.extend_from_slice(&b[r * wb..(r + 1) * wb]);
    }
}

/// Splits rows `[a | b]` of `joined` into `a` `[rows, wa]` and the first `rows` rows of `b` `[.., wb]`.
fn split_rows(joined: &[f32], wa: usize, wb: usize, a: &mut [f32], b: &mut [f32]) {
    for (r, row) in joined.chunks_exact(wa + wb).enumerate() {
        a[r * wa..(r + 1) * wa].copy_from_slice(&row[..wa]);
        b[r * wb..(r + 1) * wb].copy_from_slice(&row[wa..]);
    }
}

impl Bitcn {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut BitcnCache) -> Result<&'c [f32], NnError> {
        let shape = &self.config.shape;
        let ModelShape { h, input_size: l, outputs_per_point: outputs, exog, .. } = *shape;
        let (b, hidden, seed, params) = (batch.batch, self.config.hidden_size, batch.train_seed, &self.params);
        let channels = self.config.temporal_channels();
        cache.batch = b;
        gather_encoder_input(batch, shape, &mut cache.bwd.input);
        self.net_bwd.forward(params, l, b, seed, &mut cache.bwd)?;
        let temporal_input = match &self.net_fwd {
            Some(net_fwd) => {
                swap_leading_axes(batch.futr_exog, b, l + h, exog.futr, &mut cache.fwd.input);
                net_fwd.forward(params, l + h, b, seed, &mut cache.fwd)?;
                concat_rows(&cache.bwd.output, hidden, &cache.fwd.output, hidden, l * b, &mut cache.temporal_input);
                &cache.temporal_input
            }
            None => &cache.bwd.output,
        };
        swap_leading_axes(temporal_input, l, b * channels, 1, &mut cache.temporal_rows);
        cache.pre_activation.resize(b * channels * hidden, 0.0);
        self.temporal_lin1.forward(params, &cache.temporal_rows, b * channels, &mut cache.pre_activation)?;
        cache.activation.resize(cache.pre_activation.len(), 0.0);
        gelu_forward(&cache.pre_activation, &mut cache.activation);
        self.drop_temporal.forward_in_place(&mut cache.activation, seed, &mut cache.mask);
        cache.horizon_rows.resize(b * channels * h, 0.0);
        self.temporal_lin2.forward(params, &cache.activation, b * channels, &mut cache.horizon_rows)?;
        swap_leading_axes(&cache.horizon_rows, b * channels, h, 1, &mut cache.horizon);
        let output_input = if self.net_fwd.is_some() {
            let future = &cache.fwd.output[l * b * hidden..];
            concat_rows(&cache.horizon, channels, future, hidden, h * b, &mut cache.output_input);
            &cache.output_input
        } else {
            &cache.horizon
        };
        cache.output.resize(h * b * outputs, 0.0);
        self.output_lin.forward(params, output_input, h * b, &mut cache.output)?;
        swap_leading_axes(&cache.output, h, b, outputs, &mut cache.forecast);
        Ok(&cache.forecast)
    }

    fn backward_pass(&self, cache: &mut BitcnCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: outputs, .. } = self.config.shape;
        let (hidden, channels, params) = (self.config.hidden_size, self.config.temporal_channels(), &self.params);
        let b = nonzero("batch size of the cached forward pass", cache.batch)?;
        expect_len("BiTCN forecast gradient", b * h * outputs, d_output.len())?;
        let c = cache;
        swap_leading_axes(d_output, b, h, outputs, &mut c.d_output);
        let output_input = if self.net_fwd.is_some() { &c.output_input } else { &c.horizon };
        c.d_output_input.resize(output_input.len(), 0.0);
        self.output_lin.backward(params, output_input, &c.d_output, h * b, grads, Some(&mut c.d_output_input))?;
        let d_horizon = if self.net_fwd.is_some() {
            c.d_horizon.resize(h * b * channels, 0.0);
            c.d_fwd.clear();
            c.d_fwd.resize((l + h) * b * hidden, 0.0);
            split_rows(&c.d_output_input, channels, hidden, &mut c.d_horizon, &mut c.d_fwd[l * b * hidden..]);
            &c.d_horizon
        } else {
            &c.d_output_input
        };
        // [h, B·C] -> [B·C, h], into the buffer the forward pass's rows came from.
        swap_leading_axes(d_horizon, h, b * channels, 1, &mut c.horizon_rows);
        c.d_activation.resize(c.activation.len(), 0.0);
        self.temporal_lin2.backward(params, &c.activation, &c.horizon_rows, b * channels, grads, Some(&mut c.d_activation))?;
        self.drop_temporal.backward_in_place(&mut c.d_activation, &c.mask)?;
        gelu_backward_in_place(&mut c.d_activation, &c.pre_activation);
        c.d_temporal_rows.resize(c.temporal_rows.len(), 0.0);
        self.temporal_lin1.backward(params, &c.temporal_rows, &c.d_activation, b * channels, grads, Some(&mut c.d_temporal_rows))?;
        swap_leading_axes(&c.d_temporal_rows, b * channels, l, 1, &mut c.d_temporal_input);
        match &self.net_fwd {
            Some(net_fwd) => {
                c.d_bwd.resize(l * b * hidden, 0.0);
                split_rows(&c.d_temporal_input, hidden, hidden, &mut c.d_bwd, &mut c.d_fwd[..l * b * hidden]);
                net_fwd.backward(params, &c.d_fwd, b, grads, &mut c.fwd)?;
                self.net_bwd.backward(params, &c.d_bwd, b, grads, &mut c.bwd)
            }
            None => self.net_bwd.backward(params, &c.d_temporal_input, b, grads, &mut c.bwd),
        }
    }
}

#[cfg(test)]
#[path = "bitcn_tests.rs"]
mod tests;

//! The sequence-layer plumbing shared by LSTM, GRU and the Elman RNN: a stack of batch-first recurrent layers with
//! torch's parameter layout (`weight_ih_l{k}` `[G*H, in]`, `weight_hh_l{k}` `[G*H, H]`, `bias_ih_l{k}`,
//! `bias_hh_l{k}` `[G*H]`, all from U(-1/sqrt(H), 1/sqrt(H))) and zero initial states, as
//! `nn.LSTM(..., batch_first=True)` / `nn.GRU` called with no initial state; [`Recurrent::forward_from`] starts
//! from given states instead (TFT's static contexts, its decoder from its encoder's last state) and
//! [`Recurrent::backward_through_state`] returns their gradients.
//!
//! A [`RecurrentCell`] supplies only the per-step gate equations. The input projections of all
//! timesteps are one GEMM per layer, and so are the weight gradients; only `h_{t-1} W_hh^T` and its
//! gradient are per-step. Internally everything is time-major (`[T, B, ..]`) so that a step's rows
//! are contiguous; the public input and output are batch-first (`[B, T, ..]`).
//!
//! Two additions serve autoregressive models (DeepAR): torch's `dropout` between layers while training
//! ([`Recurrent::with_dropout`]), and [`Recurrent::step`], which continues a pass one step at a time from the
//! states it ended in ([`StepState`]), as torch's `lstm(x, state)` does.

use super::dropout::Dropout;
use super::error::{expect_len, nonzero, NnError};
use super::matmul::PackedB;
use crate::simd::thread_isa;
use super::matmul::{add_column_sums, fill_rows_with, gemm, Mat, MatMut};
use super::params::{ParamId, ParamInit, ParamStore};

/// One timestep of a recurrent cell, for all `B` batch rows at once. Gate blocks are laid out per row
/// as torch does: `[gate 0 | gate 1 | ...]`, each `hidden` wide.
pub trait RecurrentCell {
    /// Number of gate blocks (LSTM 4: i, f, g, o; GRU 3: r, z, n).
    const GATES: usize;

    /// One time step forward (see [`ForwardStep`]); [`dispatch_steps`] writes it and `backward_step`.
    fn forward_step(&self, step: ForwardStep<'_>);

    fn backward_step(&self, step: BackwardStep<'_>);

    /// Whether every gate sees `x W_ih^T + b_ih + h W_hh^T + b_hh` only as one sum, as in the LSTM, so
    /// that d(x-projection) and d(h-projection) are equal. Forward then passes the whole sum in `gates`
    /// and an empty `h_proj`; backward writes only `d_x_proj`, leaves `d_h_proj` untouched, and the
    /// layer uses `d_x_proj` for both; such a cell has no part of dL/dh_{t-1} outside `h_proj` and
    /// leaves `dh_prev` untouched.
    const SHARES_PROJECTION_GRADIENT: bool = false;
}

/// The `forward_step` and `backward_step` of a [`RecurrentCell`] impl, dispatching on [`crate::simd::thread_isa`]:
/// to the cell module's `avx2::forward_step` and `avx2::backward_step` (unsafe, with avx2 and fma enabled) at
/// AVX2 or above, to its `forward_step_scalar` and `backward_step_scalar` otherwise.
macro_rules! dispatch_steps {
    () => {
        fn forward_step(&self, step: $crate::nn::recurrent::ForwardStep<'_>) {
            match $crate::simd::thread_isa() {
                // SAFETY: `thread_isa` returns Avx2 or above only after avx2 and fma were detected.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx2 | $crate::simd::Isa::Avx512 => unsafe { avx2::forward_step(step) },
                _ => forward_step_scalar(step),
            }
        }

        fn backward_step(&self, step: $crate::nn::recurrent::BackwardStep<'_>) {
            match $crate::simd::thread_isa() {
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx2 | $crate::simd::Isa::Avx512 => unsafe { avx2::backward_step(step) },
                _ => backward_step_scalar(step),
            }
        }
    };
}
pub(crate) use dispatch_steps;

/// Buffers of one forward step; every `[B, ..]` slice holds this step's rows only.
pub struct ForwardStep<'a> {
    pub hidden: usize,
    /// In: `x_t W_ih^T + b_ih` `[B, G*H]`. Out: the gate activations, which backward reads.
    pub gates: &'a mut [f32],
    /// `h_{t-1} W_hh^T + b_hh` `[B, G*H]`. Empty for cells with
    /// [`RecurrentCell::SHARES_PROJECTION_GRADIENT`]: `gates` then already holds the whole pre-activation.
    pub h_proj: &'a [f32],
    pub h_prev: &'a [f32],
    /// Cell-specific state `[B, H]` of the previous step (zeros at t = 0) and of this step:
    /// the LSTM's cell state c, the GRU's `W_hn h_{t-1} + b_hn`.
    pub aux_prev: &'a [f32],
    pub aux: &'a mut [f32],
    /// Out: `h_t` `[B, H]`.
    pub h: &'a mut [f32],
}

/// Buffers of one backward step.
pub struct BackwardStep<'a> {
    pub hidden: usize,
    /// The activated gates, aux states and previous hidden state saved by forward.
    pub gates: &'a [f32],
    pub aux: &'a [f32],
    pub aux_prev: &'a [f32],
    pub h_prev: &'a [f32],
    /// dL/dh_t, from the layer output and from step t+1.
    pub dh: &'a [f32],
    /// In: dL/d aux_t from step t+1. Out: dL/d aux_{t-1}.
    pub d_aux: &'a mut [f32],
    /// Out: dL/d(x_t W_ih^T + b_ih) and dL/d(h_{t-1} W_hh^T + b_hh), `[B, G*H]`.
    pub d_x_proj: &'a mut [f32],
    pub d_h_proj: &'a mut [f32],
    /// Out: the part of dL/dh_{t-1} that does not pass through `h_proj` (the GRU's `z * dh`).
    pub dh_prev: &'a mut [f32],
}

#[derive(Debug, Clone)]
struct RecurrentLayer {
    weight_ih: ParamId,
    weight_hh: ParamId,
    bias_ih: ParamId,
    bias_hh: ParamId,
    input_size: usize,
}

/// A multi-layer, batch-first recurrent network built from cell `C`.
#[derive(Debug, Clone)]
pub struct Recurrent<C> {
    layers: Vec<RecurrentLayer>,
    hidden_size: usize,
    cell: C,
    /// torch's `dropout`: applied to each layer's output but the last while training (None: 0).
    dropout: Option<f32>,
}

/// Batch size and sequence length of a pass.
#[derive(Debug, Clone, Copy, Default)]
struct Extent {
    batch: usize,
    seq_len: usize,
}
crate::nn::heap_bytes::heap_bytes!(Extent { batch, seq_len });

/// Per-layer state saved by forward, time-major.
#[derive(Debug, Clone, Default)]
struct LayerCache {
    /// Activated gates `[T, B, G*H]`.
    gates: Vec<f32>,
    aux: Vec<f32>,
    /// Hidden states `[T, B, H]`: this layer's output and the next layer's input.
    hidden: Vec<f32>,
    /// The layer's input after the dropout between layers, and its scaled mask (both empty when off).
    dropped_input: Vec<f32>,
    dropout_mask: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(LayerCache { gates, aux, hidden, dropped_input, dropout_mask });

/// What [`Recurrent::backward`] needs from [`Recurrent::forward`], plus scratch buffers; one per thread.
#[derive(Debug, Clone, Default)]
pub struct RecurrentCache {
    extent: Extent,
    /// Layer-0 input, time-major `[T, B, in]`.
    input: Vec<f32>,
    layers: Vec<LayerCache>,
    /// Top layer's hidden states, batch-first `[B, T, H]`.
    output: Vec<f32>,
    /// The initial states `[layers, B, H]` of [`Recurrent::forward_from`]; empty: zeros.
    initial_h: Vec<f32>,
    initial_aux: Vec<f32>,
    scratch: Scratch,
}
crate::nn::heap_bytes::heap_bytes!(RecurrentCache { extent, input, layers, output, initial_h, initial_aux, scratch });

/// The hidden and cell-specific (`aux`: the LSTM's c) states of every layer, `[layers, B, H]` each.
#[derive(Debug, Clone, Copy)]
pub struct RecurrentState<'a> {
    pub h: &'a [f32],
    pub aux: &'a [f32],
}

/// Where [`Recurrent::backward_through_state`] writes the initial states' gradients, `[layers, B, H]` each.
pub struct RecurrentStateGrad<'a> {
    pub h: &'a mut [f32],
    pub aux: &'a mut [f32],
}

#[derive(Debug, Clone, Default)]
struct Scratch {
    zeros: Vec<f32>,
    /// The weights of the layer being run as the right operands of its products: forward `W_ih^T`
    /// `[in, G*H]` and `W_hh^T` `[H, G*H]`, backward `W_ih` and `W_hh`.
    weight_ih: PackedB,
    weight_hh: PackedB,
    /// `b_ih + b_hh`, for cells with [`RecurrentCell::SHARES_PROJECTION_GRADIENT`].
    bias: Vec<f32>,
    h_proj: Vec<f32>,
    d_x_proj: Vec<f32>,
    d_h_proj: Vec<f32>,
    /// dL/d(this layer's output), time-major.
    d_hidden: Vec<f32>,
    /// dL/d(this layer's input), time-major.
    d_below: Vec<f32>,
    dh: Vec<f32>,
    dh_carry: Vec<f32>,
    d_aux: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(Scratch { zeros, weight_ih, weight_hh, bias, h_proj, d_x_proj, d_h_proj, d_hidden, d_below, dh, dh_carry, d_aux });

impl<C: RecurrentCell> Recurrent<C> {
    /// Creates `<prefix>.{weight_ih,weight_hh,bias_ih,bias_hh}_l{k}` for k in 0..num_layers, stepping with `cell`.
    pub fn new(init: &mut ParamInit<'_>, cell: C, input_size: usize, hidden_size: usize, num_layers: usize) -> Result<Self, NnError> {
        nonzero("recurrent input_size", input_size)?;
        nonzero("recurrent hidden_size", hidden_size)?;
        nonzero("recurrent num_layers", num_layers)?;
        let gate_width = C::GATES * hidden_size;
        let bound = 1.0 / (hidden_size as f32).sqrt();
        let layers = (0..num_layers)
            .map(|k| {
                let layer_input = if k == 0 { input_size } else { hidden_size };
                Ok(RecurrentLayer {
                    weight_ih: init.uniform(
                        &format!("weight_ih_l{k}"),
                        &[gate_width, layer_input],
                        bound,
                    )?,
                    weight_hh: init.uniform(
                        &format!("weight_hh_l{k}"),
                        &[gate_width, hidden_size],
                        bound,
                    )?,
                    bias_ih: init.uniform(&format!("bias_ih_l{k}"), &[gate_width], bound)?,
                    bias_hh: init.uniform(&format!("bias_hh_l{k}"), &[gate_width], bound)?,
                    input_size: layer_input,
                })
            })
            .collect::<Result<_, NnError>>()?;
        Ok(Recurrent {
            layers,
            hidden_size,
            cell,
            dropout: None,
        })
    }

    /// The network with torch's `dropout=p` between layers (training passes only); `p` in `[0, 1)`.
    pub fn with_dropout(self, p: f32) -> Result<Self, NnError> {
        Dropout::new(p, 0)?;
        Ok(Recurrent { dropout: (p > 0.0).then_some(p), ..self })
    }

    pub fn input_size(&self) -> usize {
        self.layers[0].input_size
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    /// Runs `input` `[B, T, in]` through every layer and returns the top layer's hidden states `[B, T, H]`.
    pub fn forward<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        batch: usize,
        seq_len: usize,
        cache: &'c mut RecurrentCache,
    ) -> Result<&'c [f32], NnError> {
        self.forward_with(params, input, batch, seq_len, None, None, cache)
    }

    /// [`Recurrent::forward`], with the dropout between layers drawn from `train_seed` when given (layer `k`'s
    /// input from stream `k`).
    pub fn forward_training<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        batch: usize,
        seq_len: usize,
        train_seed: Option<u64>,
        cache: &'c mut RecurrentCache,
    ) -> Result<&'c [f32], NnError> {
        self.forward_with(params, input, batch, seq_len, None, train_seed, cache)
    }

    /// [`Recurrent::forward`] from the states `initial` (zeros if None), as torch's `lstm(x, (h0, c0))`.
    pub fn forward_from<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        batch: usize,
        seq_len: usize,
        initial: Option<RecurrentState<'_>>,
        cache: &'c mut RecurrentCache,
    ) -> Result<&'c [f32], NnError> {
        self.forward_with(params, input, batch, seq_len, initial, None, cache)
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_with<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        batch: usize,
        seq_len: usize,
        initial: Option<RecurrentState<'_>>,
        train_seed: Option<u64>,
        cache: &'c mut RecurrentCache,
    ) -> Result<&'c [f32], NnError> {
        nonzero("batch size", batch)?;
        nonzero("sequence length", seq_len)?;
        expect_len(
            "recurrent input",
            batch * seq_len * self.input_size(),
            input.len(),
        )?;
        cache.extent = Extent { batch, seq_len };
        cache
            .layers
            .resize_with(self.layers.len(), LayerCache::default);
        cache.scratch.zeros.clear();
        cache.scratch.zeros.resize(batch * self.hidden_size, 0.0);
        let state_len = self.layers.len() * batch * self.hidden_size;
        cache.initial_h.clear();
        cache.initial_aux.clear();
        if let Some(RecurrentState { h, aux }) = initial {
            expect_len("recurrent initial hidden state", state_len, h.len())?;
            expect_len("recurrent initial cell state", state_len, aux.len())?;
            cache.initial_h.extend_from_slice(h);
            cache.initial_aux.extend_from_slice(aux);
        }
        swap_leading_axes(input, batch, seq_len, self.input_size(), &mut cache.input);
        let block = batch * self.hidden_size;
        for (k, layer) in self.layers.iter().enumerate() {
            let (below, rest) = cache.layers.split_at_mut(k);
            let saved = &mut rest[0];
            saved.dropped_input.clear();
            saved.dropout_mask.clear();
            if let (Some(p), Some(seed), Some(below)) = (self.dropout, train_seed, below.last()) {
                saved.dropped_input.extend_from_slice(&below.hidden);
                Dropout::new(p, k as u64)?.forward_in_place(&mut saved.dropped_input, Some(seed), &mut saved.dropout_mask);
            }
            // The dropped copy leaves the cache while the layer runs (the layer writes its own buffers).
            let dropped = std::mem::take(&mut saved.dropped_input);
            let layer_input = match below.last() {
                None => cache.input.as_slice(),
                Some(_) if !saved.dropout_mask.is_empty() => dropped.as_slice(),
                Some(l) => l.hidden.as_slice(),
            };
            let initial = (!cache.initial_h.is_empty())
                .then(|| RecurrentState { h: &cache.initial_h[k * block..(k + 1) * block], aux: &cache.initial_aux[k * block..(k + 1) * block] });
            self.forward_layer(params, layer, layer_input, initial, saved, cache.extent, &mut cache.scratch);
            saved.dropped_input = dropped;
        }
        let top = &cache.layers[self.layers.len() - 1].hidden;
        swap_leading_axes(top, seq_len, batch, self.hidden_size, &mut cache.output);
        Ok(&cache.output)
    }

    /// Layer `k`'s last hidden and aux states `[B, H]` of the pass in `cache`.
    pub fn final_state<'c>(&self, cache: &'c RecurrentCache, k: usize) -> RecurrentState<'c> {
        let saved = &cache.layers[k];
        let block = cache.extent.batch * self.hidden_size;
        RecurrentState { h: &saved.hidden[saved.hidden.len() - block..], aux: &saved.aux[saved.aux.len() - block..] }
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_layer(
        &self,
        params: &ParamStore,
        layer: &RecurrentLayer,
        input: &[f32],
        initial: Option<RecurrentState<'_>>,
        saved: &mut LayerCache,
        Extent { batch, seq_len }: Extent,
        scratch: &mut Scratch,
    ) {
        let hidden = self.hidden_size;
        let gate_width = C::GATES * hidden;
        let rows = seq_len * batch;
        saved.gates.resize(rows * gate_width, 0.0);
        saved.aux.resize(rows * hidden, 0.0);
        saved.hidden.resize(rows * hidden, 0.0);
        let isa = thread_isa();
        let (bias_ih, bias_hh) = (
            &params.get(layer.bias_ih).data,
            &params.get(layer.bias_hh).data,
        );
        // A cell that sees both projections only through their sum gets them summed in `gates`
        // directly: both biases up front, then x W_ih^T for all steps, then h W_hh^T step by step.
        let fused = C::SHARES_PROJECTION_GRADIENT;
        if fused {
            scratch.bias.clear();
            scratch
                .bias
                .extend(bias_ih.iter().zip(bias_hh).map(|(a, b)| a + b));
        }
        // bias + x W_ih^T through a packed transposed copy of W_ih (`[in, G*H]`, cheap next to the
        // product); the kernel starts every row from the bias instead of a separate fill pass.
        scratch.weight_ih.pack_transposed(
            isa,
            &params.get(layer.weight_ih).data,
            gate_width,
            layer.input_size,
        );
        let bias = if fused { &scratch.bias[..] } else { &bias_ih[..] };
        scratch
            .weight_ih
            .matmul_bias(isa, input, rows, &mut saved.gates, bias);
        let weight_hh = &params.get(layer.weight_hh).data;
        // Every batch size multiplies by one transposed copy (made once per layer and pass) in the same kernel,
        // so a window's forecast has the same bits alone as in any batch (dot products with the rows of W_hh
        // were faster for one window on AVX2, but rounded differently).
        scratch
            .weight_hh
            .pack_transposed(isa, weight_hh, gate_width, hidden);
        scratch
            .h_proj
            .resize(if fused { 0 } else { batch * gate_width }, 0.0);
        let step_gates = batch * gate_width;
        let (h0, aux0) = initial.map_or((&scratch.zeros[..], &scratch.zeros[..]), |s| (s.h, s.aux));
        for t in 0..seq_len {
            let (h_prev, h) =
                previous_and_current(&mut saved.hidden, t, batch * hidden, h0);
            let (aux_prev, aux) =
                previous_and_current(&mut saved.aux, t, batch * hidden, aux0);
            let gates = &mut saved.gates[t * step_gates..(t + 1) * step_gates];
            // A zero initial state adds nothing at step 0: only the bias.
            let from_state = t > 0 || initial.is_some();
            if !fused && !from_state {
                fill_rows_with(&mut scratch.h_proj, bias_hh);
            }
            if from_state && !fused {
                // h_proj = b_hh + h W_hh^T in one pass.
                scratch
                    .weight_hh
                    .matmul_bias(isa, h_prev, batch, &mut scratch.h_proj, bias_hh);
            } else if from_state {
                // The fused cell adds h W_hh^T straight onto its gates.
                scratch.weight_hh.matmul(isa, h_prev, batch, gates, true);
            }
            self.cell.forward_step(ForwardStep {
                hidden,
                gates,
                h_proj: &scratch.h_proj,
                h_prev,
                aux_prev,
                aux,
                h,
            });
        }
    }

    /// Backpropagates `d_output` `[B, T, H]` (dL/d of the forward output) through the pass saved in
    /// `cache`: accumulates parameter gradients into `grads` and writes dL/d input `[B, T, in]` into
    /// `d_input` if given.
    pub fn backward(
        &self,
        params: &ParamStore,
        cache: &mut RecurrentCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        self.backward_through_state(params, cache, d_output, None, grads, d_input, None)
    }

    /// [`Recurrent::backward`] with `d_final`, the gradients of every layer's last states (as
    /// [`Recurrent::final_state`] gives them; zeros if None), and writing the initial states' gradients into
    /// `d_initial` if given (zeros for a pass from zero states).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_through_state(
        &self,
        params: &ParamStore,
        cache: &mut RecurrentCache,
        d_output: &[f32],
        d_final: Option<RecurrentState<'_>>,
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
        mut d_initial: Option<RecurrentStateGrad<'_>>,
    ) -> Result<(), NnError> {
        let Extent { batch, seq_len } = cache.extent;
        let hidden = self.hidden_size;
        if cache.layers.len() != self.layers.len() || batch == 0 {
            return Err(NnError::InvalidValue {
                what: "recurrent cache",
                reason: "backward called before forward".into(),
            });
        }
        expect_len(
            "recurrent output gradient",
            batch * seq_len * hidden,
            d_output.len(),
        )?;
        if let Some(d_input) = &d_input {
            expect_len(
                "recurrent input gradient",
                batch * seq_len * self.input_size(),
                d_input.len(),
            )?;
        }
        let state_len = self.layers.len() * batch * hidden;
        if let Some(d_final) = &d_final {
            expect_len("recurrent final hidden state gradient", state_len, d_final.h.len())?;
            expect_len("recurrent final cell state gradient", state_len, d_final.aux.len())?;
        }
        if let Some(d_initial) = &d_initial {
            expect_len("recurrent initial hidden state gradient", state_len, d_initial.h.len())?;
            expect_len("recurrent initial cell state gradient", state_len, d_initial.aux.len())?;
        }
        let RecurrentCache {
            extent,
            input,
            layers: saved,
            initial_h,
            initial_aux,
            scratch,
            ..
        } = cache;
        let block = batch * hidden;
        swap_leading_axes(d_output, batch, seq_len, hidden, &mut scratch.d_hidden);
        for (k, layer) in self.layers.iter().enumerate().rev() {
            let layer_input = if k == 0 {
                input.as_slice()
            } else if !saved[k].dropout_mask.is_empty() {
                saved[k].dropped_input.as_slice()
            } else {
                saved[k - 1].hidden.as_slice()
            };
            let needs_d_input = k > 0 || d_input.is_some();
            let layer_block = k * block..(k + 1) * block;
            let initial = (!initial_h.is_empty())
                .then(|| RecurrentState { h: &initial_h[layer_block.clone()], aux: &initial_aux[layer_block.clone()] });
            let d_final = d_final.map(|d| RecurrentState { h: &d.h[layer_block.clone()], aux: &d.aux[layer_block.clone()] });
            self.backward_layer(
                params,
                layer,
                layer_input,
                initial,
                d_final,
                &saved[k],
                *extent,
                scratch,
                grads,
                needs_d_input,
            );
            if k > 0 {
                Dropout::new(self.dropout.unwrap_or(0.0), k as u64)?.backward_in_place(&mut scratch.d_below, &saved[k].dropout_mask)?;
            }
            if let Some(d_initial) = d_initial.as_mut() {
                if initial_h.is_empty() {
                    d_initial.h[layer_block.clone()].fill(0.0);
                    d_initial.aux[layer_block].fill(0.0);
                } else {
                    d_initial.h[layer_block.clone()].copy_from_slice(&scratch.dh_carry);
                    d_initial.aux[layer_block].copy_from_slice(&scratch.d_aux);
                }
            }
            std::mem::swap(&mut scratch.d_hidden, &mut scratch.d_below);
        }
        if let Some(d_input) = d_input {
            swap_leading_axes_into(
                &scratch.d_hidden,
                seq_len,
                batch,
                self.input_size(),
                d_input,
            );
        }
        Ok(())
    }

    /// Backpropagates `scratch.d_hidden` through one layer; leaves dL/d input in `scratch.d_below`.
    #[allow(clippy::too_many_arguments)]
    fn backward_layer(
        &self,
        params: &ParamStore,
        layer: &RecurrentLayer,
        input: &[f32],
        initial: Option<RecurrentState<'_>>,
        d_final: Option<RecurrentState<'_>>,
        saved: &LayerCache,
        Extent { batch, seq_len }: Extent,
        scratch: &mut Scratch,
        grads: &mut ParamStore,
        needs_d_input: bool,
    ) {
        let hidden = self.hidden_size;
        let gate_width = C::GATES * hidden;
        let rows = seq_len * batch;
        let (step_gates, step_hidden) = (batch * gate_width, batch * hidden);
        let Scratch {
            zeros,
            d_x_proj,
            d_h_proj,
            d_hidden,
            d_below,
            dh,
            dh_carry,
            d_aux,
            weight_ih: packed_ih,
            weight_hh: packed_hh,
            ..
        } = scratch;
        d_x_proj.resize(rows * gate_width, 0.0);
        dh.resize(step_hidden, 0.0);
        for buffer in [&mut *dh_carry, &mut *d_aux] {
            buffer.clear();
            buffer.resize(step_hidden, 0.0);
        }
        if let Some(d_final) = d_final {
            dh_carry.copy_from_slice(d_final.h);
            d_aux.copy_from_slice(d_final.aux);
        }
        let (h0, aux0) = initial.map_or((&zeros[..], &zeros[..]), |s| (s.h, s.aux));
        let isa = thread_isa();
        packed_hh.pack(&params.get(layer.weight_hh).data, gate_width, hidden);
        if C::SHARES_PROJECTION_GRADIENT {
            d_h_proj.clear();
        } else {
            d_h_proj.resize(rows * gate_width, 0.0);
        }
        for t in (0..seq_len).rev() {
            let now = t * step_hidden..(t + 1) * step_hidden;
            let gates_now = t * step_gates..(t + 1) * step_gates;
            let (h_prev, aux_prev) = if t == 0 {
                (h0, aux0)
            } else {
                let previous = (t - 1) * step_hidden..now.start;
                (&saved.hidden[previous.clone()], &saved.aux[previous])
            };
            dh.iter_mut()
                .zip(&d_hidden[now.clone()])
                .zip(dh_carry.iter())
                .for_each(|((d, a), b)| *d = a + b);
            self.cell.backward_step(BackwardStep {
                hidden,
                gates: &saved.gates[gates_now.clone()],
                aux: &saved.aux[now],
                aux_prev,
                h_prev,
                dh,
                d_aux,
                d_x_proj: &mut d_x_proj[gates_now.clone()],
                d_h_proj: if C::SHARES_PROJECTION_GRADIENT {
                    &mut []
                } else {
                    &mut d_h_proj[gates_now.clone()]
                },
                dh_prev: dh_carry,
            });
            if t > 0 || initial.is_some() {
                let d_h_proj_now = if C::SHARES_PROJECTION_GRADIENT {
                    &d_x_proj[gates_now]
                } else {
                    &d_h_proj[gates_now]
                };
                if C::SHARES_PROJECTION_GRADIENT {
                    // Such a cell has no dh_{t-1} term outside h_proj and leaves dh_carry as it was.
                    packed_hh.matmul(isa, d_h_proj_now, batch, dh_carry, false);
                } else {
                    packed_hh.matmul(isa, d_h_proj_now, batch, dh_carry, true);
                }
            }
        }
        // The weight gradients go through the packing GEMM: its packed panels avoid the cache-set
        // conflicts of the 1 KiB row stride of the gate buffers, which a direct kernel suffers.
        gemm(
            Mat::transposed(d_x_proj, rows, gate_width),
            Mat::rows(input, rows, layer.input_size),
            1.0,
            MatMut::rows(
                &mut grads.get_mut(layer.weight_ih).data,
                gate_width,
                layer.input_size,
            ),
        );
        add_column_sums(d_x_proj, &mut grads.get_mut(layer.bias_ih).data);
        let d_h_proj_all: &[f32] = if C::SHARES_PROJECTION_GRADIENT {
            d_x_proj
        } else {
            d_h_proj
        };
        // h_{-1} = 0, so step 0 adds nothing to dW_hh: pair steps 1.. with hidden states 0..T-1.
        let later_rows = rows - batch;
        gemm(
            Mat::transposed(&d_h_proj_all[step_gates..], later_rows, gate_width),
            Mat::rows(&saved.hidden[..later_rows * hidden], later_rows, hidden),
            1.0,
            MatMut::rows(&mut grads.get_mut(layer.weight_hh).data, gate_width, hidden),
        );
        if let Some(initial) = initial {
            gemm(
                Mat::transposed(&d_h_proj_all[..step_gates], batch, gate_width),
                Mat::rows(initial.h, batch, hidden),
                1.0,
                MatMut::rows(&mut grads.get_mut(layer.weight_hh).data, gate_width, hidden),
            );
        }
        add_column_sums(d_h_proj_all, &mut grads.get_mut(layer.bias_hh).data);
        if needs_d_input {
            d_below.resize(rows * layer.input_size, 0.0);
            packed_ih.pack(
                &params.get(layer.weight_ih).data,
                gate_width,
                layer.input_size,
            );
            packed_ih.matmul(isa, d_x_proj, rows, d_below, false);
        }
    }
}

/// The states a pass ended in (each layer's `h` and cell-specific `aux`, `[B, H]`) and what continuing it one step
/// at a time needs ([`Recurrent::step`]); one per thread, reused call after call.
#[derive(Debug, Clone, Default)]
pub struct StepState {
    batch: usize,
    hidden: Vec<Vec<f32>>,
    aux: Vec<Vec<f32>>,
    next_hidden: Vec<f32>,
    next_aux: Vec<f32>,
    gates: Vec<f32>,
    h_proj: Vec<f32>,
    /// Per layer: `W_ih^T`, `W_hh^T` packed, and the bias the input product starts from (both biases for a
    /// cell with [`RecurrentCell::SHARES_PROJECTION_GRADIENT`]).
    packed_ih: Vec<PackedB>,
    packed_hh: Vec<PackedB>,
    biases: Vec<Vec<f32>>,
}
crate::nn::heap_bytes::heap_bytes!(StepState { batch, hidden, aux, next_hidden, next_aux, gates, h_proj, packed_ih, packed_hh, biases });

impl<C: RecurrentCell> Recurrent<C> {
    /// Sets `state` to the last step of the forward pass in `cache`, each batch row repeated `repeat` times (row
    /// `b · repeat + r`), to continue with [`Recurrent::step`].
    pub fn resume(&self, params: &ParamStore, cache: &RecurrentCache, repeat: usize, state: &mut StepState) -> Result<(), NnError> {
        let Extent { batch, seq_len } = cache.extent;
        let hidden = self.hidden_size;
        if cache.layers.len() != self.layers.len() || batch == 0 {
            return Err(NnError::InvalidValue { what: "recurrent cache", reason: "resume called before forward".into() });
        }
        nonzero("repeat", repeat)?;
        state.batch = batch * repeat;
        let last = (seq_len - 1) * batch * hidden;
        let repeated = |from: &[f32], to: &mut Vec<f32>| {
            to.clear();
            for row in from[last..last + batch * hidden].chunks_exact(hidden) {
                (0..repeat).for_each(|_| to.extend_from_slice(row));
            }
        };
        state.hidden.resize_with(self.layers.len(), Vec::new);
        state.aux.resize_with(self.layers.len(), Vec::new);
        state.packed_ih.resize_with(self.layers.len(), Default::default);
        state.packed_hh.resize_with(self.layers.len(), Default::default);
        state.biases.resize_with(self.layers.len(), Vec::new);
        let isa = thread_isa();
        for (k, (layer, saved)) in self.layers.iter().zip(&cache.layers).enumerate() {
            repeated(&saved.hidden, &mut state.hidden[k]);
            repeated(&saved.aux, &mut state.aux[k]);
            let gate_width = C::GATES * hidden;
            let (ih, hh, bias) = (&mut state.packed_ih[k], &mut state.packed_hh[k], &mut state.biases[k]);
            ih.pack_transposed(isa, &params.get(layer.weight_ih).data, gate_width, layer.input_size);
            hh.pack_transposed(isa, &params.get(layer.weight_hh).data, gate_width, hidden);
            let (bias_ih, bias_hh) = (&params.get(layer.bias_ih).data, &params.get(layer.bias_hh).data);
            bias.clear();
            if C::SHARES_PROJECTION_GRADIENT {
                bias.extend(bias_ih.iter().zip(bias_hh).map(|(a, b)| a + b));
            } else {
                bias.extend_from_slice(bias_ih);
            }
        }
        Ok(())
    }

    /// One more step of every row of `state` on `input` `[B, in]` (no dropout: inference), the same arithmetic
    /// as a step of [`Recurrent::forward`]; returns the top layer's new hidden state `[B, H]`.
    pub fn step<'s>(&self, params: &ParamStore, input: &[f32], state: &'s mut StepState) -> Result<&'s [f32], NnError> {
        let (batch, hidden) = (state.batch, self.hidden_size);
        if state.hidden.len() != self.layers.len() || batch == 0 {
            return Err(NnError::InvalidValue { what: "recurrent state", reason: "step called before resume".into() });
        }
        expect_len("recurrent step input", batch * self.input_size(), input.len())?;
        let isa = thread_isa();
        let gate_width = C::GATES * hidden;
        for (k, layer) in self.layers.iter().enumerate() {
            let (below, rest) = state.hidden.split_at_mut(k);
            let x = below.last().map_or(input, |h| h.as_slice());
            let (ih, hh, bias) = (&state.packed_ih[k], &state.packed_hh[k], &state.biases[k]);
            state.gates.resize(batch * gate_width, 0.0);
            ih.matmul_bias(isa, x, batch, &mut state.gates, bias);
            if C::SHARES_PROJECTION_GRADIENT {
                state.h_proj.clear();
                hh.matmul(isa, &rest[0], batch, &mut state.gates, true);
            } else {
                state.h_proj.resize(batch * gate_width, 0.0);
                hh.matmul_bias(isa, &rest[0], batch, &mut state.h_proj, &params.get(layer.bias_hh).data);
            }
            state.next_hidden.resize(batch * hidden, 0.0);
            state.next_aux.resize(batch * hidden, 0.0);
            self.cell.forward_step(ForwardStep {
                hidden,
                gates: &mut state.gates,
                h_proj: &state.h_proj,
                h_prev: &rest[0],
                aux_prev: &state.aux[k],
                aux: &mut state.next_aux,
                h: &mut state.next_hidden,
            });
            std::mem::swap(&mut rest[0], &mut state.next_hidden);
            std::mem::swap(&mut state.aux[k], &mut state.next_aux);
        }
        Ok(&state.hidden[self.layers.len() - 1])
    }
}

/// The row blocks t-1 (read) and t (written) of a time-major buffer with `block` elements per step;
/// block t-1 is `initial` at t = 0 (the initial state).
fn previous_and_current<'a>(
    buffer: &'a mut [f32],
    t: usize,
    block: usize,
    zeros: &'a [f32],
) -> (&'a [f32], &'a mut [f32]) {
    let (before, from_t) = buffer.split_at_mut(t * block);
    let previous = if t == 0 {
        &zeros[..block]
    } else {
        &before[(t - 1) * block..]
    };
    (previous, &mut from_t[..block])
}

/// `[a, b, width]` -> `[b, a, width]` into `out`: converts between batch-first and time-major.
pub(crate) fn swap_leading_axes(input: &[f32], a: usize, b: usize, width: usize, out: &mut Vec<f32>) {
    out.resize(a * b * width, 0.0);
    swap_leading_axes_into(input, a, b, width, out);
}

fn swap_leading_axes_into(input: &[f32], a: usize, b: usize, width: usize, out: &mut [f32]) {
    for i in 0..a {
        for j in 0..b {
            let src = (i * b + j) * width;
            let dst = (j * a + i) * width;
            out[dst..dst + width].copy_from_slice(&input[src..src + width]);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    pub fn recurrent<C: RecurrentCell>(
        cell: C,
        input_size: usize,
        hidden: usize,
        layers: usize,
        seed: u64,
    ) -> (Recurrent<C>, ParamStore) {
        seeded_layer(seed, "hist_encoder", |init| Recurrent::new(init, cell, input_size, hidden, layers))
    }

    /// Finite-difference check of dL/d input and of a sample of every parameter, 2 layers, 4 steps.
    pub fn check_gradients<C: RecurrentCell>(cell: C) {
        let (batch, seq_len, input_size, hidden) = (3, 4, 2, 5);
        let (net, mut params) = recurrent(cell, input_size, hidden, 2, 21);
        let input = random_vec(batch * seq_len * input_size, 22);
        let weights = random_vec(batch * seq_len * hidden, 23);
        let objective = |params: &ParamStore, input: &[f32]| {
            let mut cache = RecurrentCache::default();
            weighted_sum(
                net.forward(params, input, batch, seq_len, &mut cache)
                    .unwrap(),
                &weights,
            )
        };
        let mut cache = RecurrentCache::default();
        net.forward(&params, &input, batch, seq_len, &mut cache)
            .unwrap();
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; input.len()];
        net.backward(
            &params,
            &mut cache,
            &weights,
            &mut grads,
            Some(&mut d_input),
        )
        .unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params, &grads, 10, |p| objective(p, &input));
    }

    /// Steps continued from a pass over the first steps give the same bits as one pass over all of them (every
    /// row repeated by `resume`).
    pub fn check_steps_continue_the_pass<C: RecurrentCell>(cell: C) {
        let (batch, seq_len, input_size, hidden, first) = (3, 6, 2, 5, 4);
        let (net, params) = recurrent(cell, input_size, hidden, 2, 31);
        let input = random_vec(batch * seq_len * input_size, 32);
        let mut cache = RecurrentCache::default();
        let whole = net.forward(&params, &input, batch, seq_len, &mut cache).unwrap().to_vec();
        let head: Vec<f32> = input.chunks_exact(seq_len * input_size).flat_map(|w| w[..first * input_size].to_vec()).collect();
        net.forward(&params, &head, batch, first, &mut cache).unwrap();
        let mut state = StepState::default();
        net.resume(&params, &cache, 2, &mut state).unwrap();
        for t in first..seq_len {
            let row: Vec<f32> = input.chunks_exact(seq_len * input_size).flat_map(|w| {
                let x = &w[t * input_size..(t + 1) * input_size];
                [x, x].concat()
            }).collect();
            let out = net.step(&params, &row, &mut state).unwrap();
            for b in 0..batch {
                let expected = &whole[(b * seq_len + t) * hidden..][..hidden];
                assert_eq!(&out[2 * b * hidden..][..hidden], expected);
                assert_eq!(&out[(2 * b + 1) * hidden..][..hidden], expected);
            }
        }
    }

    /// Gradients with dropout between the layers (a fixed training seed keeps the masks).
    pub fn check_gradients_with_dropout<C: RecurrentCell>(cell: C) {
        let (batch, seq_len, input_size, hidden) = (2, 3, 2, 4);
        let (net, mut params) = recurrent(cell, input_size, hidden, 3, 25);
        let net = net.with_dropout(0.3).unwrap();
        let input = random_vec(batch * seq_len * input_size, 26);
        let weights = random_vec(batch * seq_len * hidden, 27);
        let objective = |params: &ParamStore| {
            let mut cache = RecurrentCache::default();
            weighted_sum(net.forward_training(params, &input, batch, seq_len, Some(7), &mut cache).unwrap(), &weights)
        };
        let mut cache = RecurrentCache::default();
        let dropped = net.forward_training(&params, &input, batch, seq_len, Some(7), &mut cache).unwrap().to_vec();
        assert_ne!(dropped, net.forward(&params, &input, batch, seq_len, &mut RecurrentCache::default()).unwrap());
        let mut grads = params.zeros_like();
        net.backward(&params, &mut cache, &weights, &mut grads, None).unwrap();
        check_param_grads(&mut params, &grads, 10, objective);
    }

    /// Finite-difference check of a pass from given states, with an objective on the output and on every
    /// layer's last states: d input, d initial states and parameters, 2 layers.
    fn check_gradients_through_state<C: RecurrentCell>(cell: C) {
        let (batch, seq_len, input_size, hidden, layers) = (2, 3, 2, 4, 2);
        let (net, mut params) = recurrent(cell, input_size, hidden, layers, 31);
        let input = random_vec(batch * seq_len * input_size, 32);
        let state_len = layers * batch * hidden;
        let (h0, aux0) = (random_vec(state_len, 33), random_vec(state_len, 34));
        let weights = random_vec(batch * seq_len * hidden, 35);
        let (w_h, w_aux) = (random_vec(state_len, 36), random_vec(state_len, 37));
        let objective = |params: &ParamStore, input: &[f32], h0: &[f32], aux0: &[f32]| {
            let mut cache = RecurrentCache::default();
            let initial = RecurrentState { h: h0, aux: aux0 };
            let mut total = weighted_sum(net.forward_from(params, input, batch, seq_len, Some(initial), &mut cache).unwrap(), &weights);
            for k in 0..layers {
                let last = net.final_state(&cache, k);
                let at = k * batch * hidden..(k + 1) * batch * hidden;
                total += weighted_sum(last.h, &w_h[at.clone()]) + weighted_sum(last.aux, &w_aux[at]);
            }
            total
        };
        let mut cache = RecurrentCache::default();
        net.forward_from(&params, &input, batch, seq_len, Some(RecurrentState { h: &h0, aux: &aux0 }), &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let (mut d_input, mut d_h0, mut d_aux0) = (vec![0.0; input.len()], vec![0.0; state_len], vec![0.0; state_len]);
        let d_final = Some(RecurrentState { h: &w_h, aux: &w_aux });
        let d_initial = Some(RecurrentStateGrad { h: &mut d_h0, aux: &mut d_aux0 });
        net.backward_through_state(&params, &mut cache, &weights, d_final, &mut grads, Some(&mut d_input), d_initial).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x, &h0, &aux0));
        check_input_grads(&h0, &d_h0, usize::MAX, |h| objective(&params, &input, h, &aux0));
        if C::SHARES_PROJECTION_GRADIENT {
            // The LSTM's aux is its cell state, an input of the step; the GRU's is computed from h alone.
            check_input_grads(&aux0, &d_aux0, usize::MAX, |a| objective(&params, &input, &h0, a));
        }
        check_param_grads(&mut params, &grads, 10, |p| objective(p, &input, &h0, &aux0));
    }

    #[test]
    fn gradients_through_initial_and_final_states() {
        check_gradients_through_state(crate::nn::lstm::LstmCell);
    }

    #[test]
    fn swapping_leading_axes_twice_is_identity() {
        let input: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let (mut once, mut twice) = (Vec::new(), Vec::new());
        swap_leading_axes(&input, 2, 3, 4, &mut once);
        assert_eq!(&once[4..8], &input[12..16]);
        swap_leading_axes(&once, 3, 2, 4, &mut twice);
        assert_eq!(twice, input);
    }
}

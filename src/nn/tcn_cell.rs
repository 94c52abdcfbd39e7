//! BiTCN's `TCNCell` (neuralforecast/models/bitcn.py): a dilated convolution `conv1` (kernel `k`, causal for the
//! backward-looking network, anticausal for the forward-looking one), GELU, dropout, then a pointwise `conv2` to
//! twice the input channels, split in two: the first half is added to the cell's input (the state passed to the
//! next cell), the second half to the running output that the whole stack returns,
//! `(h, out) -> (h + conv2(..)[:C], out + conv2(..)[C:])`.
//!
//! Sequences are time-major `[T, N, C]` as in [`super::conv1d`]. torch's `CustomConv1d` initialises its
//! weight and bias from U(-1/sqrt(in·k), 1/sqrt(in·k)), torch's `Conv1d` default, so `conv1` is a [`Conv1d`] and
//! `conv2` (kernel 1) a [`Linear::pointwise_conv1d`].

use super::conv1d::{Conv1d, Conv1dSpec, Padding};
use super::dropout::Dropout;
use super::error::{expect_len, NnError};
use super::gelu::{gelu_backward_in_place, gelu_forward};
use super::linear::Linear;
use super::params::{ParamInit, ParamStore};

#[derive(Debug, Clone)]
pub struct TcnCell {
    conv1: Conv1d,
    conv2: Linear,
    dropout: Dropout,
    /// The cell's input (and state) channels, `C`.
    channels: usize,
}

/// What one cell's forward pass keeps for its backward pass, and the backward pass's scratch.
#[derive(Debug, Clone, Default)]
pub struct TcnCellCache {
    /// `conv1`'s output `[T, N, hidden]`, GELU's input.
    pre_activation: Vec<f32>,
    /// GELU's output after dropout, `conv2`'s input.
    activation: Vec<f32>,
    mask: Vec<f32>,
    /// `conv2`'s output `[T, N, 2C]`, then its gradient.
    split: Vec<f32>,
    d_activation: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TcnCellCache { pre_activation, activation, mask, split, d_activation });

impl TcnCell {
    /// `<prefix>.conv1` (`[hidden, C, k]`, dilation `dilation`, `padding` Causal or Anticausal) and
    /// `<prefix>.conv2` (`[2C, hidden, 1]`), as bitcn.py's `TCNCell(C, hidden, k, .., dilation, mode, ..)`.
    pub fn new(
        init: &mut ParamInit<'_>,
        channels: usize,
        hidden: usize,
        kernel_size: usize,
        dilation: usize,
        padding: Padding,
        dropout: Dropout,
    ) -> Result<Self, NnError> {
        if !matches!(padding, Padding::Causal | Padding::Anticausal) {
            return Err(NnError::InvalidValue { what: "TCNCell padding", reason: format!("must keep the length (causal or anticausal), got {padding:?}") });
        }
        let spec = Conv1dSpec { in_channels: channels, out_channels: hidden, kernel_size, dilation, padding, bias: true };
        let conv1 = Conv1d::new(&mut init.pp("conv1"), spec)?;
        let doubled = channels.checked_mul(2).ok_or(NnError::InvalidValue { what: "TCNCell channels", reason: "overflow".into() })?;
        let conv2 = Linear::pointwise_conv1d(&mut init.pp("conv2"), hidden, doubled)?;
        Ok(TcnCell { conv1, conv2, dropout, channels })
    }

    /// From `state` `[T, N, C]`, writes the next state into `next_state` and adds the cell's output to `output`
    /// (both `[T, N, C]`). `train_seed` turns dropout on.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        params: &ParamStore,
        state: &[f32],
        steps: usize,
        sequences: usize,
        train_seed: Option<u64>,
        next_state: &mut [f32],
        output: &mut [f32],
        cache: &mut TcnCellCache,
    ) -> Result<(), NnError> {
        let (c, rows) = (self.channels, steps * sequences);
        expect_len("TCNCell next state", state.len(), next_state.len())?;
        expect_len("TCNCell output", state.len(), output.len())?;
        cache.pre_activation.resize(rows * self.conv2.in_features(), 0.0);
        self.conv1.forward(params, state, steps, sequences, &mut cache.pre_activation)?;
        cache.activation.resize(cache.pre_activation.len(), 0.0);
        gelu_forward(&cache.pre_activation, &mut cache.activation);
        self.dropout.forward_in_place(&mut cache.activation, train_seed, &mut cache.mask);
        cache.split.resize(rows * 2 * c, 0.0);
        self.conv2.forward(params, &cache.activation, rows, &mut cache.split)?;
        for (row, halves) in cache.split.chunks_exact(2 * c).enumerate() {
            let (to_state, to_output) = halves.split_at(c);
            let range = row * c..(row + 1) * c;
            next_state[range.clone()].iter_mut().zip(&state[range.clone()]).zip(to_state).for_each(|((n, s), d)| *n = s + d);
            output[range].iter_mut().zip(to_output).for_each(|(o, d)| *o += d);
        }
        Ok(())
    }

    /// The backward pass of the [`TcnCell::forward`] whose input was `state` and whose cache is `cache`:
    /// accumulates the weights' gradients into `grads` and writes d loss/d state into `d_state`, from the
    /// gradients of the next state (`None`: unused, zero) and of the stack's output.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &ParamStore,
        state: &[f32],
        steps: usize,
        sequences: usize,
        d_next_state: Option<&[f32]>,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_state: &mut [f32],
        cache: &mut TcnCellCache,
    ) -> Result<(), NnError> {
        let (c, rows) = (self.channels, steps * sequences);
        expect_len("TCNCell output gradient", state.len(), d_output.len())?;
        expect_len("TCNCell state gradient", state.len(), d_state.len())?;
        if let Some(d_next) = d_next_state {
            expect_len("TCNCell next state gradient", state.len(), d_next.len())?;
        }
        expect_len("TCNCell cached pass", rows * 2 * c, cache.split.len())?;
        for (row, halves) in cache.split.chunks_exact_mut(2 * c).enumerate() {
            let (to_state, to_output) = halves.split_at_mut(c);
            match d_next_state {
                Some(d_next) => to_state.copy_from_slice(&d_next[row * c..(row + 1) * c]),
                None => to_state.fill(0.0),
            }
            to_output.copy_from_slice(&d_output[row * c..(row + 1) * c]);
        }
        cache.d_activation.resize(cache.activation.len(), 0.0);
        self.conv2.backward(params, &cache.activation, &cache.split, rows, grads, Some(&mut cache.d_activation))?;
        self.dropout.backward_in_place(&mut cache.d_activation, &cache.mask)?;
        gelu_backward_in_place(&mut cache.d_activation, &cache.pre_activation);
        self.conv1.backward(params, state, &cache.d_activation, steps, sequences, grads, Some(d_state))?;
        if let Some(d_next) = d_next_state {
            d_state.iter_mut().zip(d_next).for_each(|(d, n)| *d += n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn cell(padding: Padding, dropout: f32) -> (TcnCell, ParamStore) {
        seeded_layer(3, "cell", |init| TcnCell::new(init, 3, 4, 2, 2, padding, Dropout::new(dropout, 1)?))
    }

    #[test]
    fn names_and_shapes_follow_bitcn() {
        let (_, params) = cell(Padding::Causal, 0.5);
        let names: Vec<_> = params.iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
        assert_eq!(names, ["cell.conv1.weight [4, 3, 2]", "cell.conv1.bias [4]", "cell.conv2.weight [6, 4, 1]", "cell.conv2.bias [6]"]);
        let mut params = ParamStore::new();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let refused = TcnCell::new(&mut ParamInit::new(&mut params, &mut rng), 3, 4, 2, 1, Padding::None, Dropout::new(0.0, 1).unwrap());
        assert!(matches!(refused, Err(NnError::InvalidValue { what: "TCNCell padding", .. })));
    }

    /// The cell written out for one sequence in torch's `[C, T]` layout: `(h + a, out + b)`, `[a; b] =
    /// conv2(gelu(conv1(h)))` without dropout.
    #[test]
    fn matches_the_cell_written_out() {
        for padding in [Padding::Causal, Padding::Anticausal] {
            let (layer, params) = cell(padding, 0.0);
            let (steps, n) = (5, 2);
            let state = random_vec(steps * n * 3, 1);
            let before = random_vec(steps * n * 3, 2);
            let (mut next, mut output) = (vec![0.0; state.len()], before.clone());
            layer.forward(&params, &state, steps, n, None, &mut next, &mut output, &mut TcnCellCache::default()).unwrap();
            let p = |name: &str| params.find(name).unwrap().data.clone();
            let (w1, b1, w2, b2) = (p("cell.conv1.weight"), p("cell.conv1.bias"), p("cell.conv2.weight"), p("cell.conv2.bias"));
            for s in 0..n {
                for t in 0..steps {
                    let hidden: Vec<f32> = (0..4)
                        .map(|o| {
                            let mut sum = b1[o];
                            for c in 0..3 {
                                for j in 0..2 {
                                    // Dilation 2: the causal cell reads t - 2 and t, the anticausal one t and t + 2.
                                    let src = if padding == Padding::Causal { t as isize + 2 * j as isize - 2 } else { (t + 2 * j) as isize };
                                    if (0..steps as isize).contains(&src) {
                                        sum += w1[(o * 3 + c) * 2 + j] * state[(src as usize * n + s) * 3 + c];
                                    }
                                }
                            }
                            crate::nn::gelu::gelu(sum)
                        })
                        .collect();
                    for o in 0..6 {
                        let value = b2[o] + (0..4).map(|i| w2[o * 4 + i] * hidden[i]).sum::<f32>();
                        let (row, c) = ((t * n + s) * 3, o % 3);
                        let (got, base) = if o < 3 { (next[row + c], state[row + c]) } else { (output[row + c], before[row + c]) };
                        assert!((got - (base + value)).abs() < 1e-5, "{padding:?} s {s} t {t} o {o}: {got} vs {}", base + value);
                    }
                }
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (padding, d_next_given) in [(Padding::Causal, true), (Padding::Anticausal, true), (Padding::Causal, false)] {
            let (layer, mut params) = cell(padding, 0.3);
            let (steps, n) = (4, 2);
            let state = random_vec(steps * n * 3, 5);
            let (w_next, w_out) = (random_vec(state.len(), 6), random_vec(state.len(), 7));
            let objective = |params: &ParamStore, state: &[f32]| {
                let (mut next, mut output) = (vec![0.0; state.len()], vec![0.0; state.len()]);
                layer.forward(params, state, steps, n, Some(11), &mut next, &mut output, &mut TcnCellCache::default()).unwrap();
                weighted_sum(&output, &w_out) + if d_next_given { weighted_sum(&next, &w_next) } else { 0.0 }
            };
            let mut cache = TcnCellCache::default();
            let (mut next, mut output) = (vec![0.0; state.len()], vec![0.0; state.len()]);
            layer.forward(&params, &state, steps, n, Some(11), &mut next, &mut output, &mut cache).unwrap();
            let mut grads = params.zeros_like();
            let mut d_state = vec![f32::NAN; state.len()];
            let d_next = d_next_given.then_some(w_next.as_slice());
            layer.backward(&params, &state, steps, n, d_next, &w_out, &mut grads, &mut d_state, &mut cache).unwrap();
            check_input_grads(&state, &d_state, usize::MAX, |x| objective(&params, x));
            check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &state));
        }
    }
}

//! torch.nn.LSTM's cell, gates i, f, g, o:
//! i = σ(W_ii x + b_ii + W_hi h + b_hi), f = σ(..), g = tanh(..), o = σ(..),
//! c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').

use super::activation::{sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output};
use super::recurrent::{BackwardStep, ForwardStep, Recurrent, RecurrentCell};

/// The LSTM's step: its `aux` is the cell state c.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LstmCell;

/// Multi-layer batch-first LSTM with torch's parameter names and layout.
pub type Lstm = Recurrent<LstmCell>;

impl RecurrentCell for LstmCell {
    const GATES: usize = 4;

    crate::nn::recurrent::dispatch_steps!();

    const SHARES_PROJECTION_GRADIENT: bool = true;
}

/// `h_proj` may be empty: `gates` then holds the whole pre-activation (see
/// [`RecurrentCell::SHARES_PROJECTION_GRADIENT`]).
fn forward_step_scalar(step: ForwardStep<'_>) {
    let hidden = step.hidden;
    let with_h_proj = !step.h_proj.is_empty();
    for (b, gates) in step.gates.chunks_exact_mut(4 * hidden).enumerate() {
        let h_proj = if with_h_proj { &step.h_proj[b * 4 * hidden..(b + 1) * 4 * hidden] } else { &[][..] };
        for j in 0..hidden {
            let pre = |gate: usize| gates[gate * hidden + j] + if with_h_proj { h_proj[gate * hidden + j] } else { 0.0 };
            let (i, f, g, o) = (sigmoid(pre(0)), sigmoid(pre(1)), tanh(pre(2)), sigmoid(pre(3)));
            gates[j] = i;
            gates[hidden + j] = f;
            gates[2 * hidden + j] = g;
            gates[3 * hidden + j] = o;
            let at = b * hidden + j;
            let c = f * step.aux_prev[at] + i * g;
            step.aux[at] = c;
            step.h[at] = o * tanh(c);
        }
    }
}

/// x and h enter every LSTM gate through the same sum, so both projections get the same gradient:
/// only `d_x_proj` is written (see [`RecurrentCell::SHARES_PROJECTION_GRADIENT`]).
fn backward_step_scalar(step: BackwardStep<'_>) {
    let hidden = step.hidden;
    let rows = step.gates.chunks_exact(4 * hidden).zip(step.d_x_proj.chunks_exact_mut(4 * hidden));
    for (b, (gates, d_pre)) in rows.enumerate() {
        for j in 0..hidden {
            let at = b * hidden + j;
            let (i, f, g, o) = (gates[j], gates[hidden + j], gates[2 * hidden + j], gates[3 * hidden + j]);
            let tanh_c = tanh(step.aux[at]);
            let dh = step.dh[at];
            let dc = step.d_aux[at] + dh * o * tanh_grad_from_output(tanh_c);
            d_pre[j] = dc * g * sigmoid_grad_from_output(i);
            d_pre[hidden + j] = dc * step.aux_prev[at] * sigmoid_grad_from_output(f);
            d_pre[2 * hidden + j] = dc * i * tanh_grad_from_output(g);
            d_pre[3 * hidden + j] = dh * tanh_c * sigmoid_grad_from_output(o);
            step.d_aux[at] = dc * f;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use crate::simd::f32s::{sigmoid, tanh, F32s, Lanes as LanesOf, Lanes256 as Lanes};
    use super::{BackwardStep, ForwardStep};

    crate::simd::f32s::widest!(pub unsafe fn forward_step(step: ForwardStep<'_>) = forward_step_lanes);

    /// Caller: the width's instructions enabled.
    #[inline(always)]
    unsafe fn forward_step_lanes<V: F32s>(step: ForwardStep<'_>) {
        let hidden = step.hidden;
        let rows = step.h.len() / hidden;
        let with_h_proj = !step.h_proj.is_empty();
        assert!(step.gates.len() >= rows * 4 * hidden && (!with_h_proj || step.h_proj.len() >= rows * 4 * hidden));
        assert!(step.aux_prev.len() >= rows * hidden && step.aux.len() >= rows * hidden);
        // Two passes: the four gate activations and c first (four independent chains per vector), then
        // h = o tanh(c), whose chain depends on c. Done in one loop, each vector's serial exp-div-exp-div
        // chain is longer than the out-of-order window can overlap with the next vector's.
        for b in 0..rows {
            let gates = step.gates.as_mut_ptr().add(b * 4 * hidden);
            let h_proj = if with_h_proj { step.h_proj.as_ptr().add(b * 4 * hidden) } else { std::ptr::null() };
            let at = b * hidden;
            for j in (0..hidden).step_by(V::LANES) {
                let l = LanesOf::<V>::new(hidden, j);
                let pre = |gate: usize| {
                    let x = l.load(gates.add(gate * hidden + j));
                    if with_h_proj {
                        x.add(l.load(h_proj.add(gate * hidden + j)))
                    } else {
                        x
                    }
                };
                let (i, f, g, o) = (sigmoid(pre(0)), sigmoid(pre(1)), tanh(pre(2)), sigmoid(pre(3)));
                l.store(gates.add(j), i);
                l.store(gates.add(hidden + j), f);
                l.store(gates.add(2 * hidden + j), g);
                l.store(gates.add(3 * hidden + j), o);
                let c = f.mul_add(l.load(step.aux_prev.as_ptr().add(at + j)), i.mul(g));
                l.store(step.aux.as_mut_ptr().add(at + j), c);
            }
        }
        for b in 0..rows {
            let o_gate = step.gates.as_ptr().add(b * 4 * hidden + 3 * hidden);
            let at = b * hidden;
            for j in (0..hidden).step_by(V::LANES) {
                let l = LanesOf::<V>::new(hidden, j);
                let c = l.load(step.aux.as_ptr().add(at + j));
                l.store(step.h.as_mut_ptr().add(at + j), l.load(o_gate.add(j)).mul(tanh(c)));
            }
        }
    }

    /// Caller: avx2 and fma available.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn backward_step(step: BackwardStep<'_>) {
        let hidden = step.hidden;
        let rows = step.dh.len() / hidden;
        assert!(step.gates.len() >= rows * 4 * hidden && step.d_x_proj.len() >= rows * 4 * hidden);
        assert!(step.aux.len() >= rows * hidden && step.aux_prev.len() >= rows * hidden && step.d_aux.len() >= rows * hidden);
        let one = _mm256_set1_ps(1.0);
        // First pass: tanh(c) of every element, parked in the o-gate slot of d_x_proj (which the second
        // pass overwrites), so that the long tanh chains of different vectors overlap.
        for b in 0..rows {
            let parked = step.d_x_proj.as_mut_ptr().add(b * 4 * hidden + 3 * hidden);
            let at = b * hidden;
            for j in (0..hidden).step_by(8) {
                let l = Lanes::new(hidden, j);
                l.store(parked.add(j), tanh(l.load(step.aux.as_ptr().add(at + j))));
            }
        }
        for b in 0..rows {
            let gates = step.gates.as_ptr().add(b * 4 * hidden);
            let d_pre = step.d_x_proj.as_mut_ptr().add(b * 4 * hidden);
            let at = b * hidden;
            for j in (0..hidden).step_by(8) {
                let l = Lanes::new(hidden, j);
                let (i, f) = (l.load(gates.add(j)), l.load(gates.add(hidden + j)));
                let (g, o) = (l.load(gates.add(2 * hidden + j)), l.load(gates.add(3 * hidden + j)));
                let tanh_c = l.load(d_pre.add(3 * hidden + j));
                let dh = l.load(step.dh.as_ptr().add(at + j));
                let c_prev = l.load(step.aux_prev.as_ptr().add(at + j));
                let d_aux = step.d_aux.as_mut_ptr().add(at + j);
                // y (1 - y) and 1 - y^2, the activations' derivatives from their outputs.
                let sig_grad = |y: __m256| _mm256_mul_ps(y, _mm256_sub_ps(one, y));
                let tanh_grad = |y: __m256| _mm256_fnmadd_ps(y, y, one);
                let dc = _mm256_fmadd_ps(_mm256_mul_ps(dh, o), tanh_grad(tanh_c), l.load(d_aux));
                l.store(d_pre.add(j), _mm256_mul_ps(_mm256_mul_ps(dc, g), sig_grad(i)));
                l.store(d_pre.add(hidden + j), _mm256_mul_ps(_mm256_mul_ps(dc, c_prev), sig_grad(f)));
                l.store(d_pre.add(2 * hidden + j), _mm256_mul_ps(_mm256_mul_ps(dc, i), tanh_grad(g)));
                l.store(d_pre.add(3 * hidden + j), _mm256_mul_ps(_mm256_mul_ps(dh, tanh_c), sig_grad(o)));
                l.store(d_aux, _mm256_mul_ps(dc, f));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_vec;
    use crate::nn::recurrent::tests::{check_gradients, recurrent};
    use crate::nn::recurrent::RecurrentCache;
    use crate::nn::ParamStore;

    #[test]
    fn parameter_names_and_count_follow_torch() {
        let (_, params) = recurrent(LstmCell, 1, 64, 2, 0);
        let names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        assert_eq!(&names[..4], ["hist_encoder.weight_ih_l0", "hist_encoder.weight_hh_l0", "hist_encoder.bias_ih_l0", "hist_encoder.bias_hh_l0"]);
        assert_eq!(params.find("hist_encoder.weight_ih_l1").unwrap().shape, [256, 64]);
        // torch: sum(p.numel() for p in nn.LSTM(1, 64, 2).parameters()) == 50432
        assert_eq!(params.num_parameters(), 50_432);
        let bound = 1.0 / 8.0;
        assert!(params.iter().all(|(_, t)| t.data.iter().all(|v| v.abs() <= bound)));
    }

    /// A one-layer LSTM computed element by element from torch's documented equations.
    fn reference_lstm(params: &ParamStore, input: &[f32], batch: usize, seq_len: usize, n_in: usize, hidden: usize) -> Vec<f32> {
        let p = |name: &str| &params.find(&format!("hist_encoder.{name}_l0")).unwrap().data;
        let (w_ih, w_hh, b_ih, b_hh) = (p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"));
        let mut out = vec![0.0; batch * seq_len * hidden];
        for b in 0..batch {
            let (mut h, mut c) = (vec![0.0f32; hidden], vec![0.0f32; hidden]);
            for t in 0..seq_len {
                let x = &input[(b * seq_len + t) * n_in..][..n_in];
                let pre = |row: usize| {
                    b_ih[row] + b_hh[row]
                        + (0..n_in).map(|k| w_ih[row * n_in + k] * x[k]).sum::<f32>()
                        + (0..hidden).map(|k| w_hh[row * hidden + k] * h[k]).sum::<f32>()
                };
                let gates: Vec<[f32; 4]> = (0..hidden)
                    .map(|j| [sigmoid(pre(j)), sigmoid(pre(hidden + j)), pre(2 * hidden + j).tanh(), sigmoid(pre(3 * hidden + j))])
                    .collect();
                for (j, [i, f, g, o]) in gates.into_iter().enumerate() {
                    c[j] = f * c[j] + i * g;
                    h[j] = o * c[j].tanh();
                }
                out[(b * seq_len + t) * hidden..][..hidden].copy_from_slice(&h);
            }
        }
        out
    }

    #[test]
    fn forward_matches_torch_equations() {
        let (batch, seq_len, n_in, hidden) = (2, 5, 3, 4);
        let (net, params) = recurrent(LstmCell, n_in, hidden, 1, 5);
        let input = random_vec(batch * seq_len * n_in, 6);
        let mut cache = RecurrentCache::default();
        let out = net.forward(&params, &input, batch, seq_len, &mut cache).unwrap();
        let expected = reference_lstm(&params, &input, batch, seq_len, n_in, hidden);
        out.iter().zip(&expected).for_each(|(a, b)| assert!((a - b).abs() < 1e-5, "{a} vs {b}"));
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_gradients(LstmCell);
        crate::nn::recurrent::tests::check_gradients_with_dropout(LstmCell);
    }

    #[test]
    fn steps_continue_a_pass_bit_for_bit() {
        crate::nn::recurrent::tests::check_steps_continue_the_pass(LstmCell);
    }
}

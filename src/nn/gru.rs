//! torch.nn.GRU's cell, gates r, z, n:
//! r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 - z) ⊙ n + z ⊙ h.

use super::activation::{sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output};
use super::recurrent::{BackwardStep, ForwardStep, Recurrent, RecurrentCell};

/// The GRU's step: its `aux` is `W_hn h + b_hn`, which the gradient of r needs; the GRU carries no state
/// besides h, so backward leaves `aux_prev` and `d_aux` unused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GruCell;

/// Multi-layer batch-first GRU with torch's parameter names and layout.
pub type Gru = Recurrent<GruCell>;

impl RecurrentCell for GruCell {
    const GATES: usize = 3;

    crate::nn::recurrent::dispatch_steps!();
}

fn forward_step_scalar(step: ForwardStep<'_>) {
    let hidden = step.hidden;
    let rows = step.gates.chunks_exact_mut(3 * hidden).zip(step.h_proj.chunks_exact(3 * hidden));
    for (b, (gates, h_proj)) in rows.enumerate() {
        for j in 0..hidden {
            let at = b * hidden + j;
            let r = sigmoid(gates[j] + h_proj[j]);
            let z = sigmoid(gates[hidden + j] + h_proj[hidden + j]);
            let h_proj_n = h_proj[2 * hidden + j];
            let n = tanh(gates[2 * hidden + j] + r * h_proj_n);
            gates[j] = r;
            gates[hidden + j] = z;
            gates[2 * hidden + j] = n;
            step.aux[at] = h_proj_n;
            step.h[at] = (1.0 - z) * n + z * step.h_prev[at];
        }
    }
}

fn backward_step_scalar(step: BackwardStep<'_>) {
    let hidden = step.hidden;
    let rows = step
        .gates
        .chunks_exact(3 * hidden)
        .zip(step.d_x_proj.chunks_exact_mut(3 * hidden))
        .zip(step.d_h_proj.chunks_exact_mut(3 * hidden));
    for (b, ((gates, d_x), d_h)) in rows.enumerate() {
        for j in 0..hidden {
            let at = b * hidden + j;
            let (r, z, n) = (gates[j], gates[hidden + j], gates[2 * hidden + j]);
            let dh = step.dh[at];
            let d_pre_n = dh * (1.0 - z) * tanh_grad_from_output(n);
            let d_pre_r = d_pre_n * step.aux[at] * sigmoid_grad_from_output(r);
            let d_pre_z = dh * (step.h_prev[at] - n) * sigmoid_grad_from_output(z);
            d_x[j] = d_pre_r;
            d_x[hidden + j] = d_pre_z;
            d_x[2 * hidden + j] = d_pre_n;
            d_h[j] = d_pre_r;
            d_h[hidden + j] = d_pre_z;
            d_h[2 * hidden + j] = d_pre_n * r;
            step.dh_prev[at] = dh * z;
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
        assert!(step.gates.len() >= rows * 3 * hidden && step.h_proj.len() >= rows * 3 * hidden);
        assert!(step.h_prev.len() >= rows * hidden && step.aux.len() >= rows * hidden);
        let one = V::splat(1.0);
        // Two passes, so that the chains of different vectors overlap: r and z (and n's pre-activation,
        // parked in n's slot), then n = tanh(..) and h.
        for b in 0..rows {
            let gates = step.gates.as_mut_ptr().add(b * 3 * hidden);
            let h_proj = step.h_proj.as_ptr().add(b * 3 * hidden);
            let at = b * hidden;
            for j in (0..hidden).step_by(V::LANES) {
                let l = LanesOf::<V>::new(hidden, j);
                let r = sigmoid(l.load(gates.add(j)).add(l.load(h_proj.add(j))));
                let z = sigmoid(l.load(gates.add(hidden + j)).add(l.load(h_proj.add(hidden + j))));
                let h_proj_n = l.load(h_proj.add(2 * hidden + j));
                l.store(gates.add(j), r);
                l.store(gates.add(hidden + j), z);
                l.store(gates.add(2 * hidden + j), r.mul_add(h_proj_n, l.load(gates.add(2 * hidden + j))));
                l.store(step.aux.as_mut_ptr().add(at + j), h_proj_n);
            }
        }
        for b in 0..rows {
            let gates = step.gates.as_mut_ptr().add(b * 3 * hidden);
            let at = b * hidden;
            for j in (0..hidden).step_by(V::LANES) {
                let l = LanesOf::<V>::new(hidden, j);
                let z = l.load(gates.add(hidden + j));
                let n = tanh(l.load(gates.add(2 * hidden + j)));
                l.store(gates.add(2 * hidden + j), n);
                let h_prev = l.load(step.h_prev.as_ptr().add(at + j));
                l.store(step.h.as_mut_ptr().add(at + j), one.sub(z).mul_add(n, z.mul(h_prev)));
            }
        }
    }

    /// Caller: avx2 and fma available.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn backward_step(step: BackwardStep<'_>) {
        let hidden = step.hidden;
        let rows = step.dh.len() / hidden;
        assert!(step.gates.len() >= rows * 3 * hidden && step.d_x_proj.len() >= rows * 3 * hidden && step.d_h_proj.len() >= rows * 3 * hidden);
        assert!(step.aux.len() >= rows * hidden && step.h_prev.len() >= rows * hidden && step.dh_prev.len() >= rows * hidden);
        let one = _mm256_set1_ps(1.0);
        let sig_grad = |y: __m256| _mm256_mul_ps(y, _mm256_sub_ps(one, y));
        for b in 0..rows {
            let gates = step.gates.as_ptr().add(b * 3 * hidden);
            let d_x = step.d_x_proj.as_mut_ptr().add(b * 3 * hidden);
            let d_h = step.d_h_proj.as_mut_ptr().add(b * 3 * hidden);
            let at = b * hidden;
            for j in (0..hidden).step_by(8) {
                let l = Lanes::new(hidden, j);
                let (r, z, n) = (l.load(gates.add(j)), l.load(gates.add(hidden + j)), l.load(gates.add(2 * hidden + j)));
                let dh = l.load(step.dh.as_ptr().add(at + j));
                let d_pre_n = _mm256_mul_ps(_mm256_mul_ps(dh, _mm256_sub_ps(one, z)), _mm256_fnmadd_ps(n, n, one));
                let d_pre_r = _mm256_mul_ps(_mm256_mul_ps(d_pre_n, l.load(step.aux.as_ptr().add(at + j))), sig_grad(r));
                let h_prev = l.load(step.h_prev.as_ptr().add(at + j));
                let d_pre_z = _mm256_mul_ps(_mm256_mul_ps(dh, _mm256_sub_ps(h_prev, n)), sig_grad(z));
                l.store(d_x.add(j), d_pre_r);
                l.store(d_x.add(hidden + j), d_pre_z);
                l.store(d_x.add(2 * hidden + j), d_pre_n);
                l.store(d_h.add(j), d_pre_r);
                l.store(d_h.add(hidden + j), d_pre_z);
                l.store(d_h.add(2 * hidden + j), _mm256_mul_ps(d_pre_n, r));
                l.store(step.dh_prev.as_mut_ptr().add(at + j), _mm256_mul_ps(dh, z));
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
    fn parameter_count_follows_torch() {
        let (_, params) = recurrent(GruCell, 1, 64, 2, 0);
        assert_eq!(params.find("hist_encoder.weight_hh_l1").unwrap().shape, [192, 64]);
        // torch: sum(p.numel() for p in nn.GRU(1, 64, 2).parameters()) == 37824
        assert_eq!(params.num_parameters(), 37_824);
    }

    /// A one-layer GRU computed element by element from torch's documented equations.
    fn reference_gru(params: &ParamStore, input: &[f32], batch: usize, seq_len: usize, n_in: usize, hidden: usize) -> Vec<f32> {
        let p = |name: &str| &params.find(&format!("hist_encoder.{name}_l0")).unwrap().data;
        let (w_ih, w_hh, b_ih, b_hh) = (p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"));
        let mut out = vec![0.0; batch * seq_len * hidden];
        for b in 0..batch {
            let mut h = vec![0.0f32; hidden];
            for t in 0..seq_len {
                let x = &input[(b * seq_len + t) * n_in..][..n_in];
                let from_x = |row: usize| b_ih[row] + (0..n_in).map(|k| w_ih[row * n_in + k] * x[k]).sum::<f32>();
                let from_h = |row: usize| b_hh[row] + (0..hidden).map(|k| w_hh[row * hidden + k] * h[k]).sum::<f32>();
                let next: Vec<f32> = (0..hidden)
                    .map(|j| {
                        let r = sigmoid(from_x(j) + from_h(j));
                        let z = sigmoid(from_x(hidden + j) + from_h(hidden + j));
                        let n = (from_x(2 * hidden + j) + r * from_h(2 * hidden + j)).tanh();
                        (1.0 - z) * n + z * h[j]
                    })
                    .collect();
                h = next;
                out[(b * seq_len + t) * hidden..][..hidden].copy_from_slice(&h);
            }
        }
        out
    }

    #[test]
    fn forward_matches_torch_equations() {
        let (batch, seq_len, n_in, hidden) = (2, 5, 3, 4);
        let (net, params) = recurrent(GruCell, n_in, hidden, 1, 5);
        let input = random_vec(batch * seq_len * n_in, 6);
        let mut cache = RecurrentCache::default();
        let out = net.forward(&params, &input, batch, seq_len, &mut cache).unwrap();
        let expected = reference_gru(&params, &input, batch, seq_len, n_in, hidden);
        out.iter().zip(&expected).for_each(|(a, b)| assert!((a - b).abs() < 1e-5, "{a} vs {b}"));
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_gradients(GruCell);
        crate::nn::recurrent::tests::check_gradients_with_dropout(GruCell);
    }

    #[test]
    fn steps_continue_a_pass_bit_for_bit() {
        crate::nn::recurrent::tests::check_steps_continue_the_pass(GruCell);
    }
}

//! tft.py's `InterpretableMultiHeadAttention`: `qkv_linears` (`Linear(hidden, (2 n_head + 1) d_head)`, no bias)
//! gives each head its own queries and keys but one value projection shared by all heads; per head
//! `softmax(d_head^-0.5 Q K^T)` with the causal mask (step `i` attends to steps `<= i`, as tft.py's `-inf`
//! upper triangle), dropout on the probabilities (`attn_dropout`), the weighted values averaged over the heads
//! and mapped back by `out_proj` (`Linear(d_head, hidden)`, no bias), then dropout (`out_dropout`).
//! The probabilities `[B, n_head, T, T]` are TFT's attention weights.

use super::attention::{softmax_backward_in_place, softmax_in_place};
use super::dropout::Dropout;
use super::error::{expect_len, nonzero, NnError};
use super::matmul::matmul_nt_acc;
use super::params::{ParamInit, ParamStore};
use super::Linear;
use crate::simd::thread_isa;

#[derive(Debug, Clone)]
pub struct InterpretableAttention {
    qkv: Linear,
    out_proj: Linear,
    heads: usize,
    d_head: usize,
    attn_dropout: Dropout,
    out_dropout: Dropout,
}

#[derive(Debug, Clone, Default)]
pub struct InterpretableAttentionCache {
    batch: usize,
    steps: usize,
    /// `[B T, (2 n_head + 1) d_head]`: every head's queries, then every head's keys, then the values.
    qkv: Vec<f32>,
    /// Softmax probabilities `[B, n_head, T, T]` before dropout (zero above the diagonal), and after it.
    probs: Vec<f32>,
    dropped: Vec<f32>,
    attn_mask: Vec<f32>,
    /// The head-averaged weighted values `[B T, d_head]`.
    mean_values: Vec<f32>,
    output: Vec<f32>,
    out_mask: Vec<f32>,
    d_output: Vec<f32>,
    d_mean: Vec<f32>,
    d_qkv: Vec<f32>,
    d_row: Vec<f32>,
    /// One window's keys of one head, or its values, `[T, d_head]`.
    head: Vec<f32>,
    /// One window's `d mean_i . v_j` `[T, T]` (below the diagonal), the same for every head.
    d_mean_values: Vec<f32>,
    /// One query's gradient `[d_head]`, summed over the keys it attends to.
    d_q: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(InterpretableAttentionCache {
    batch, steps, qkv, probs, dropped, attn_mask, mean_values, output, out_mask, d_output, d_mean, d_qkv, d_row, head,
    d_mean_values, d_q
});

/// The `d_head` values from column `at` of the first `steps` rows of `qkv` (rows `width` apart: one window's
/// keys of one head, or its values), gathered `[steps, d_head]` into `out` for [`matmul_nt_acc`]'s right operand.
fn gather_head(qkv: &[f32], steps: usize, width: usize, at: usize, d_head: usize, out: &mut Vec<f32>) {
    out.clear();
    qkv.chunks_exact(width).take(steps).for_each(|row| out.extend_from_slice(&row[at..at + d_head]));
}

impl InterpretableAttention {
    /// Creates `<prefix>.qkv_linears.weight` and `<prefix>.out_proj.weight`; `hidden` must divide by `heads`.
    pub fn new(init: &mut ParamInit<'_>, hidden: usize, heads: usize, attn_dropout: Dropout, out_dropout: Dropout) -> Result<Self, NnError> {
        nonzero("n_head", heads)?;
        if hidden % heads != 0 {
            return Err(NnError::InvalidValue { what: "n_head", reason: format!("hidden size {hidden} is not a multiple of n_head {heads}") });
        }
        let d_head = hidden / heads;
        let qkv = Linear::without_bias(&mut init.pp("qkv_linears"), hidden, (2 * heads + 1) * d_head)?;
        let out_proj = Linear::without_bias(&mut init.pp("out_proj"), d_head, hidden)?;
        Ok(InterpretableAttention { qkv, out_proj, heads, d_head, attn_dropout, out_dropout })
    }

    /// The attention probabilities `[B, n_head, T, T]` of the pass in `cache` (before dropout).
    pub fn probabilities<'c>(&self, cache: &'c InterpretableAttentionCache) -> &'c [f32] {
        &cache.probs
    }

    fn scale(&self) -> f32 {
        (self.d_head as f32).powf(-0.5)
    }

    /// `[B T, hidden]` from `input` `[B T, hidden]` (`batch` sequences of `steps`).
    pub fn forward<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        batch: usize,
        steps: usize,
        train_seed: Option<u64>,
        cache: &'c mut InterpretableAttentionCache,
    ) -> Result<&'c [f32], NnError> {
        let (heads, dh, rows) = (self.heads, self.d_head, batch * steps);
        let width = (2 * heads + 1) * dh;
        expect_len("attention input", rows * self.qkv.in_features(), input.len())?;
        (cache.batch, cache.steps) = (batch, steps);
        cache.qkv.resize(rows * width, 0.0);
        self.qkv.forward(params, input, rows, &mut cache.qkv)?;
        cache.probs.clear();
        cache.probs.resize(batch * heads * steps * steps, 0.0);
        let (qkv, isa) = (&cache.qkv, thread_isa());
        for b in 0..batch {
            let window = &qkv[b * steps * width..(b + 1) * steps * width];
            for n in 0..heads {
                gather_head(window, steps, width, (heads + n) * dh, dh, &mut cache.head);
                for i in 0..steps {
                    // Query i's scores against keys 0..=i, each a dot product summed in an order fixed by d_head.
                    let p = &mut cache.probs[((b * heads + n) * steps + i) * steps..][..i + 1];
                    matmul_nt_acc(isa, &window[i * width + n * dh..][..dh], 1, dh, &cache.head, i + 1, p);
                    softmax_in_place(p, self.scale());
                }
            }
        }
        cache.dropped.clear();
        cache.dropped.extend_from_slice(&cache.probs);
        self.attn_dropout.forward_in_place(&mut cache.dropped, train_seed, &mut cache.attn_mask);
        cache.mean_values.clear();
        cache.mean_values.resize(rows * dh, 0.0);
        let inv_heads = 1.0 / heads as f32;
        for b in 0..batch {
            for i in 0..steps {
                let mean = &mut cache.mean_values[(b * steps + i) * dh..][..dh];
                for n in 0..heads {
                    let p = &cache.dropped[((b * heads + n) * steps + i) * steps..][..i + 1];
                    for (j, &p) in p.iter().enumerate() {
                        let v = &qkv[(b * steps + j) * width + 2 * heads * dh..][..dh];
                        mean.iter_mut().zip(v).for_each(|(m, v)| *m += inv_heads * p * v);
                    }
                }
            }
        }
        cache.output.resize(rows * self.out_proj.out_features(), 0.0);
        self.out_proj.forward(params, &cache.mean_values, rows, &mut cache.output)?;
        self.out_dropout.forward_in_place(&mut cache.output, train_seed, &mut cache.out_mask);
        Ok(&cache.output)
    }

    /// Backpropagates `d_output` `[B T, hidden]`: accumulates into `grads`, writes d input if given.
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &mut InterpretableAttentionCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let (heads, dh, batch, steps) = (self.heads, self.d_head, cache.batch, cache.steps);
        let (rows, width) = (batch * steps, (2 * heads + 1) * dh);
        expect_len("attention output gradient", cache.output.len(), d_output.len())?;
        cache.d_output.clear();
        cache.d_output.extend_from_slice(d_output);
        self.out_dropout.backward_in_place(&mut cache.d_output, &cache.out_mask)?;
        cache.d_mean.resize(rows * dh, 0.0);
        self.out_proj.backward(params, &cache.mean_values, &cache.d_output, rows, grads, Some(&mut cache.d_mean))?;
        cache.d_qkv.clear();
        cache.d_qkv.resize(rows * width, 0.0);
        let inv_heads = 1.0 / heads as f32;
        let (qkv, d_qkv, isa) = (&cache.qkv, &mut cache.d_qkv, thread_isa());
        for b in 0..batch {
            // d mean_i . v_j for j <= i, which every head's d p_ij scales.
            gather_head(&qkv[b * steps * width..], steps, width, 2 * heads * dh, dh, &mut cache.head);
            cache.d_mean_values.clear();
            cache.d_mean_values.resize(steps * steps, 0.0);
            for i in 0..steps {
                let d_mean = &cache.d_mean[(b * steps + i) * dh..][..dh];
                matmul_nt_acc(isa, d_mean, 1, dh, &cache.head, i + 1, &mut cache.d_mean_values[i * steps..]);
            }
            for n in 0..heads {
                for i in 0..steps {
                    let at = ((b * heads + n) * steps + i) * steps;
                    let d_mean = &cache.d_mean[(b * steps + i) * dh..][..dh];
                    // d p_ij = (d mean_i / n_head) . v_j; d v_j += p_ij d mean_i / n_head.
                    cache.d_row.clear();
                    cache.d_row.extend(cache.d_mean_values[i * steps..][..i + 1].iter().map(|d| inv_heads * d));
                    for j in 0..=i {
                        let v_at = (b * steps + j) * width + 2 * heads * dh;
                        let p = inv_heads * cache.dropped[at + j];
                        d_qkv[v_at..v_at + dh].iter_mut().zip(d_mean).for_each(|(d, m)| *d += p * m);
                    }
                    if !cache.attn_mask.is_empty() {
                        cache.d_row.iter_mut().zip(&cache.attn_mask[at..]).for_each(|(d, m)| *d *= m);
                    }
                    softmax_backward_in_place(&mut cache.d_row, &cache.probs[at..at + i + 1], self.scale());
                    // d q_i = sum_j d s_ij k_j (q_i's gradient comes from this row alone), d k_j += d s_ij q_i.
                    let q_at = (b * steps + i) * width + n * dh;
                    let q = &qkv[q_at..q_at + dh];
                    cache.d_q.clear();
                    cache.d_q.resize(dh, 0.0);
                    for (j, &d_s) in cache.d_row.iter().enumerate() {
                        let k_at = (b * steps + j) * width + (heads + n) * dh;
                        cache.d_q.iter_mut().zip(&qkv[k_at..k_at + dh]).for_each(|(d, k)| *d += d_s * k);
                        d_qkv[k_at..k_at + dh].iter_mut().zip(q).for_each(|(d, q)| *d += d_s * q);
                    }
                    d_qkv[q_at..q_at + dh].iter_mut().zip(&cache.d_q).for_each(|(d, g)| *d += g);
                }
            }
        }
        self.qkv.backward(params, input, &cache.d_qkv, rows, grads, d_input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn attention(hidden: usize, heads: usize, p: f32) -> (InterpretableAttention, ParamStore) {
        seeded_layer(3, "attention", |init| InterpretableAttention::new(init, hidden, heads, Dropout::new(p, 1)?, Dropout::new(p, 2)?))
    }

    fn check(p: f32) {
        let (batch, steps, hidden, heads) = (2, 5, 6, 3);
        let (net, mut params) = attention(hidden, heads, p);
        let seed = (p > 0.0).then_some(4);
        let input: Vec<f32> = random_vec(batch * steps * hidden, 5).iter().map(|v| 2.0 * v).collect();
        let weights = random_vec(batch * steps * hidden, 6);
        let objective = |params: &ParamStore, x: &[f32]| {
            weighted_sum(net.forward(params, x, batch, steps, seed, &mut InterpretableAttentionCache::default()).unwrap(), &weights)
        };
        let mut cache = InterpretableAttentionCache::default();
        net.forward(&params, &input, batch, steps, seed, &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; input.len()];
        net.backward(&params, &input, &mut cache, &weights, &mut grads, Some(&mut d_input)).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params, &grads, 30, |p| objective(p, &input));
    }

    #[test]
    fn gradients_match_finite_differences() {
        check(0.0);
        check(0.3);
    }

    #[test]
    fn probabilities_are_causal_rows_summing_to_one() {
        let (net, params) = attention(8, 2, 0.0);
        let (batch, steps) = (2, 4);
        let input = random_vec(batch * steps * 8, 1);
        let mut cache = InterpretableAttentionCache::default();
        net.forward(&params, &input, batch, steps, None, &mut cache).unwrap();
        for (r, row) in net.probabilities(&cache).chunks_exact(steps).enumerate() {
            let i = r % steps;
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(row[i + 1..].iter().all(|&p| p == 0.0) && row[..=i].iter().all(|&p| p > 0.0));
        }
        // Step 0 sees itself alone: its output does not change when later steps do.
        let mut later = input.clone();
        later[8..32].iter_mut().for_each(|v| *v += 1.0);
        let first = net.forward(&params, &input, batch, steps, None, &mut cache).unwrap()[..8].to_vec();
        assert_eq!(net.forward(&params, &later, batch, steps, None, &mut cache).unwrap()[..8], first[..]);
        let names: Vec<String> = params.iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
        assert_eq!(names, ["attention.qkv_linears.weight [20, 8]", "attention.out_proj.weight [8, 4]"]);
        let mut store = ParamStore::new();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let uneven = InterpretableAttention::new(&mut ParamInit::new(&mut store, &mut rng), 8, 3, Dropout::new(0.0, 1).unwrap(), Dropout::new(0.0, 2).unwrap());
        assert!(uneven.unwrap_err().to_string().contains("not a multiple of n_head 3"));
    }
}

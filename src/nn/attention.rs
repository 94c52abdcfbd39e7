//! NeuralForecast's `AttentionLayer` around `FullAttention` (common/_modules.py) as its default path runs it
//! (`output_attention=False`: `F.scaled_dot_product_attention` without a mask): queries, keys and values
//! projected by `query_projection`, `key_projection`, `value_projection` (`nn.Linear(hidden, H E)`,
//! `E = hidden // H`), per head `softmax(Q K^T / sqrt(E))` with dropout on the attention weights while
//! training, the weighted values of all heads concatenated and mapped back by `out_projection`.
//!
//! Keys and values always come from the same sequence (itself, or the encoder output for cross-attention), as in
//! every NeuralForecast use. All batches are `[B, L, hidden]` row-major. The projections are one product over all
//! rows; their outputs are then laid out head by head (`[B, H, L, E]`), so that the per-head products, a few
//! hundred values each, run through the register-tiled kernels of [`super::matmul`] on contiguous blocks instead of
//! paying a packing GEMM's set-up (and allocation) per head.
//!
//! PatchTST's `_MultiheadAttention` (models/patchtst.py) is the same computation under other names (`W_Q`, `W_K`,
//! `W_V`, `to_out.0`, and `sdp_attn.scale`, a frozen `head_dim^-0.5`), with an option NF calls `res_attention`
//! (RealFormer's residual attention): the pre-softmax scores `scale Q K^T + prev` go to the next layer, which adds
//! them to its own ([`MultiHeadAttention::forward_with_scores`]).

use super::dropout::Dropout;
use super::error::{expect_len, nonzero, NnError};
use super::matmul::{matmul, matmul_nt_acc, transpose};
use crate::simd::{thread_isa, Isa};
use super::params::{ParamId, ParamInit, ParamStore, TensorKind};
use super::Linear;

/// What one attention pass reads: `queries` `[B, Lq, hidden]` attending over `keys_values` `[B, Lk, hidden]`.
#[derive(Debug, Clone, Copy)]
pub struct AttentionInputs<'a> {
    pub queries: &'a [f32],
    pub keys_values: &'a [f32],
    pub batch: usize,
    pub q_len: usize,
    pub kv_len: usize,
}

#[derive(Debug, Clone)]
pub struct MultiHeadAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
    dropout: Dropout,
    /// PatchTST's `sdp_attn.scale`, when the layer has it.
    scale: Option<ParamId>,
    /// Residual attention: the scores are kept, handed to the next layer, and the previous layer's added.
    residual: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AttentionCache {
    batch: usize,
    q_len: usize,
    kv_len: usize,
    /// A projection's output rows `[B L, H E]`, before they are laid out by head.
    projected: Vec<f32>,
    /// Projected queries `[B, H, Lq, E]`, keys and values `[B, H, Lk, E]`.
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Softmax weights `[B, H, Lq, Lk]`.
    probs: Vec<f32>,
    /// Residual attention: the scores before the softmax, `[B, H, Lq, Lk]`.
    scores: Vec<f32>,
    /// The dropout mask of `probs` (empty when dropout is off) and the weights after it.
    dropout_mask: Vec<f32>,
    dropped: Vec<f32>,
    /// Head outputs `[B, H, Lq, E]`, and concatenated `[B Lq, H E]`: the input of `out_projection`.
    context_heads: Vec<f32>,
    context: Vec<f32>,
    d_rows: Vec<f32>,
    d_context: Vec<f32>,
    d_probs: Vec<f32>,
    d_q: Vec<f32>,
    d_k: Vec<f32>,
    d_v: Vec<f32>,
    d_from_values: Vec<f32>,
    /// One head's transposed weights or score gradients `[Lk, Lq]`.
    transposed: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(AttentionCache { batch, q_len, kv_len, projected, q, k, v, probs, scores, dropout_mask, dropped, context_heads, context, d_rows, d_context, d_probs, d_q, d_k, d_v, d_from_values, transposed });

/// Converts between projection rows `[B L, H E]` and head blocks `[B, H, L, E]`.
#[derive(Debug, Clone, Copy)]
struct HeadLayout {
    len: usize,
    heads: usize,
    head_dim: usize,
}

impl HeadLayout {
    /// `heads[b, h, i, :] = rows[b L + i, h E..(h + 1) E]`.
    fn split(&self, rows: &[f32], out: &mut Vec<f32>) {
        let (len, e) = (self.len, self.head_dim);
        out.resize(rows.len(), 0.0);
        for (window_rows, window_heads) in rows.chunks_exact(len * self.heads * e).zip(out.chunks_exact_mut(len * self.heads * e)) {
            for (h, block) in window_heads.chunks_exact_mut(len * e).enumerate() {
                for (row, dst) in window_rows.chunks_exact(self.heads * e).zip(block.chunks_exact_mut(e)) {
                    dst.copy_from_slice(&row[h * e..(h + 1) * e]);
                }
            }
        }
    }

    /// The inverse of [`HeadLayout::split`].
    fn merge(&self, heads: &[f32], out: &mut Vec<f32>) {
        let (len, e) = (self.len, self.head_dim);
        out.resize(heads.len(), 0.0);
        for (window_heads, window_rows) in heads.chunks_exact(len * self.heads * e).zip(out.chunks_exact_mut(len * self.heads * e)) {
            for (h, block) in window_heads.chunks_exact(len * e).enumerate() {
                for (src, row) in block.chunks_exact(e).zip(window_rows.chunks_exact_mut(self.heads * e)) {
                    row[h * e..(h + 1) * e].copy_from_slice(src);
                }
            }
        }
    }
}

impl MultiHeadAttention {
    /// Creates `<prefix>.{query,key,value,out}_projection.{weight,bias}` in torch's order.
    pub fn new(init: &mut ParamInit<'_>, hidden: usize, heads: usize, dropout: Dropout) -> Result<Self, NnError> {
        let head_dim = Self::head_dim(hidden, heads)?;
        let width = heads * head_dim;
        let query = Linear::new(&mut init.pp("query_projection"), hidden, width)?;
        let key = Linear::new(&mut init.pp("key_projection"), hidden, width)?;
        let value = Linear::new(&mut init.pp("value_projection"), hidden, width)?;
        let out = Linear::new(&mut init.pp("out_projection"), width, hidden)?;
        Ok(MultiHeadAttention { query, key, value, out, heads, head_dim, dropout, scale: None, residual: false })
    }

    /// PatchTST's `_MultiheadAttention`: `<prefix>.W_Q`, `W_K`, `W_V`, `sdp_attn.scale` (frozen) and `to_out.0` in
    /// torch's order; `residual` is its `res_attention`. `hidden` must be a multiple of `heads`, as NF asserts.
    pub fn patchtst(init: &mut ParamInit<'_>, hidden: usize, heads: usize, dropout: Dropout, residual: bool) -> Result<Self, NnError> {
        let head_dim = Self::head_dim(hidden, heads)?;
        if hidden % heads != 0 {
            return Err(NnError::InvalidValue { what: "attention heads", reason: format!("hidden_size {hidden} is not a multiple of n_heads {heads}") });
        }
        let query = Linear::new(&mut init.pp("W_Q"), hidden, hidden)?;
        let key = Linear::new(&mut init.pp("W_K"), hidden, hidden)?;
        let value = Linear::new(&mut init.pp("W_V"), hidden, hidden)?;
        let scale = init.untrained("sdp_attn.scale", TensorKind::Frozen, &[], vec![(head_dim as f64).powf(-0.5) as f32])?;
        let out = Linear::new(&mut init.pp("to_out.0"), hidden, hidden)?;
        Ok(MultiHeadAttention { query, key, value, out, heads, head_dim, dropout, scale: Some(scale), residual })
    }

    fn head_dim(hidden: usize, heads: usize) -> Result<usize, NnError> {
        nonzero("attention heads", heads)?;
        match hidden / heads {
            0 => Err(NnError::InvalidValue { what: "attention heads", reason: format!("{heads} heads exceed hidden_size {hidden}") }),
            head_dim => Ok(head_dim),
        }
    }

    /// The scores a residual-attention pass keeps for the next layer, `[B, H, Lq, Lk]` (empty otherwise).
    pub fn scores<'c>(&self, cache: &'c AttentionCache) -> &'c [f32] {
        &cache.scores
    }

    /// The factor of `Q K^T`: the stored `scale` where the layer has one, else `1 / sqrt(head_dim)`.
    fn scale_value(&self, params: &ParamStore) -> f32 {
        self.scale.map_or(1.0 / (self.head_dim as f32).sqrt(), |id| params.get(id).data[0])
    }

    fn hidden(&self) -> usize {
        self.query.in_features()
    }

    fn width(&self) -> usize {
        self.heads * self.head_dim
    }

    fn layout(&self, len: usize) -> HeadLayout {
        HeadLayout { len, heads: self.heads, head_dim: self.head_dim }
    }

    /// `output[B Lq, hidden]`: the attention of `queries` `[B, Lq, hidden]` over `keys_values` `[B, Lk, hidden]`.
    pub fn forward(&self, params: &ParamStore, inputs: AttentionInputs<'_>, train_seed: Option<u64>, output: &mut [f32], cache: &mut AttentionCache) -> Result<(), NnError> {
        self.forward_with_scores(params, inputs, None, train_seed, output, cache)
    }

    /// [`MultiHeadAttention::forward`] with residual attention's `prev`: the previous layer's scores (`None` in the
    /// first layer), added to this layer's before the softmax.
    pub fn forward_with_scores(
        &self,
        params: &ParamStore,
        inputs: AttentionInputs<'_>,
        prev: Option<&[f32]>,
        train_seed: Option<u64>,
        output: &mut [f32],
        cache: &mut AttentionCache,
    ) -> Result<(), NnError> {
        let AttentionInputs { queries, keys_values, batch, q_len, kv_len } = inputs;
        nonzero("attention query length", q_len)?;
        nonzero("attention key length", kv_len)?;
        expect_len("attention queries", batch * q_len * self.hidden(), queries.len())?;
        expect_len("attention keys", batch * kv_len * self.hidden(), keys_values.len())?;
        expect_len("attention output", batch * q_len * self.hidden(), output.len())?;
        (cache.batch, cache.q_len, cache.kv_len) = (batch, q_len, kv_len);
        let (width, e) = (self.width(), self.head_dim);
        for (projection, input, len, heads) in [
            (&self.query, queries, q_len, &mut cache.q),
            (&self.key, keys_values, kv_len, &mut cache.k),
            (&self.value, keys_values, kv_len, &mut cache.v),
        ] {
            cache.projected.resize(batch * len * width, 0.0);
            projection.forward(params, input, batch * len, &mut cache.projected)?;
            self.layout(len).split(&cache.projected, heads);
        }

        let isa = thread_isa();
        let scores_len = q_len * kv_len;
        cache.probs.resize(batch * self.heads * scores_len, 0.0);
        cache.probs.fill(0.0);
        let blocks = cache.q.chunks_exact(q_len * e).zip(cache.k.chunks_exact(kv_len * e));
        for (scores, (q, k)) in cache.probs.chunks_exact_mut(scores_len).zip(blocks) {
            matmul_nt_acc(isa, q, q_len, e, k, kv_len, scores);
        }
        if self.residual {
            let scale = self.scale_value(params);
            cache.probs.iter_mut().for_each(|s| *s *= scale);
            if let Some(prev) = prev {
                expect_len("previous attention scores", cache.probs.len(), prev.len())?;
                cache.probs.iter_mut().zip(prev).for_each(|(s, p)| *s += p);
            }
            cache.scores.clone_from(&cache.probs);
            softmax_rows(&mut cache.probs, kv_len, 1.0);
        } else {
            softmax_rows(&mut cache.probs, kv_len, self.scale_value(params));
        }
        cache.dropout_mask.clear();
        if train_seed.is_some() && self.dropout.p() > 0.0 {
            cache.dropped.clear();
            cache.dropped.extend_from_slice(&cache.probs);
            self.dropout.forward_in_place(&mut cache.dropped, train_seed, &mut cache.dropout_mask);
        }
        let weights = if cache.dropout_mask.is_empty() { &cache.probs } else { &cache.dropped };

        cache.context_heads.resize(cache.q.len(), 0.0);
        let blocks = weights.chunks_exact(scores_len).zip(cache.v.chunks_exact(kv_len * e));
        for (context, (w, v)) in cache.context_heads.chunks_exact_mut(q_len * e).zip(blocks) {
            matmul(isa, w, q_len, kv_len, v, e, context);
        }
        self.layout(q_len).merge(&cache.context_heads, &mut cache.context);
        self.out.forward(params, &cache.context, batch * q_len, output)
    }

    /// Accumulates the parameter gradients of the pass in `cache` and writes the gradients of its two inputs.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &ParamStore,
        queries: &[f32],
        keys_values: &[f32],
        cache: &mut AttentionCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_queries: &mut [f32],
        d_keys_values: &mut [f32],
    ) -> Result<(), NnError> {
        let gradients = InputGradients { queries: d_queries, keys_values: d_keys_values, scores: ScoreGradients::default() };
        self.backward_with_scores(params, queries, keys_values, cache, d_output, grads, gradients)
    }

    /// [`MultiHeadAttention::backward`] of a residual-attention pass: `gradients.scores` carries the gradient of the
    /// scores this layer handed on (`above`, from the next layer) and receives that of `prev` (`below`).
    #[allow(clippy::too_many_arguments)]
    pub fn backward_with_scores(
        &self,
        params: &ParamStore,
        queries: &[f32],
        keys_values: &[f32],
        cache: &mut AttentionCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        gradients: InputGradients<'_>,
    ) -> Result<(), NnError> {
        let InputGradients { queries: d_queries, keys_values: d_keys_values, scores: d_scores } = gradients;
        let (batch, q_len, kv_len, width, e) = (cache.batch, cache.q_len, cache.kv_len, self.width(), self.head_dim);
        nonzero("attention batch (run forward first)", batch)?;
        expect_len("attention output gradient", batch * q_len * self.hidden(), d_output.len())?;
        cache.d_rows.resize(batch * q_len * width, 0.0);
        self.out.backward(params, &cache.context, d_output, batch * q_len, grads, Some(&mut cache.d_rows))?;
        self.layout(q_len).split(&cache.d_rows, &mut cache.d_context);

        let isa = thread_isa();
        let scores_len = q_len * kv_len;
        let weights = if cache.dropout_mask.is_empty() { &cache.probs } else { &cache.dropped };
        cache.d_probs.resize(cache.probs.len(), 0.0);
        cache.d_probs.fill(0.0);
        cache.d_v.resize(cache.v.len(), 0.0);
        let blocks = cache.d_context.chunks_exact(q_len * e).zip(cache.v.chunks_exact(kv_len * e)).zip(weights.chunks_exact(scores_len));
        for ((d_w, d_v), ((d_context, v), w)) in cache.d_probs.chunks_exact_mut(scores_len).zip(cache.d_v.chunks_exact_mut(kv_len * e)).zip(blocks) {
            // d weights = d context V^T; d V = weights^T d context.
            matmul_nt_acc(isa, d_context, q_len, e, v, kv_len, d_w);
            transpose(isa, w, q_len, kv_len, &mut cache.transposed);
            matmul(isa, &cache.transposed, kv_len, q_len, d_context, e, d_v);
        }
        self.dropout.backward_in_place(&mut cache.d_probs, &cache.dropout_mask)?;
        let scale = self.scale_value(params);
        let softmax_scale = if self.residual { 1.0 } else { scale };
        for (d_row, p_row) in cache.d_probs.chunks_exact_mut(kv_len).zip(cache.probs.chunks_exact(kv_len)) {
            softmax_backward_in_place(d_row, p_row, softmax_scale);
        }
        if self.residual {
            // d_probs now holds d scores; the scores also reached the next layer, and `prev` entered them as is.
            if let Some(above) = d_scores.above {
                expect_len("attention score gradient", cache.d_probs.len(), above.len())?;
                cache.d_probs.iter_mut().zip(above).for_each(|(d, a)| *d += a);
            }
            if let Some(below) = d_scores.below {
                expect_len("previous attention score gradient", cache.d_probs.len(), below.len())?;
                below.copy_from_slice(&cache.d_probs);
            }
            cache.d_probs.iter_mut().for_each(|d| *d *= scale);
        }

        cache.d_q.resize(cache.q.len(), 0.0);
        cache.d_k.resize(cache.k.len(), 0.0);
        let blocks = cache.d_probs.chunks_exact(scores_len).zip(cache.q.chunks_exact(q_len * e)).zip(cache.k.chunks_exact(kv_len * e));
        for ((d_q, d_k), ((d_scores, q), k)) in cache.d_q.chunks_exact_mut(q_len * e).zip(cache.d_k.chunks_exact_mut(kv_len * e)).zip(blocks) {
            // d Q = d scores K; d K = d scores^T Q.
            matmul(isa, d_scores, q_len, kv_len, k, e, d_q);
            transpose(isa, d_scores, q_len, kv_len, &mut cache.transposed);
            matmul(isa, &cache.transposed, kv_len, q_len, q, e, d_k);
        }
        for (projection, input, len, d_heads, d_input) in [
            (&self.query, queries, q_len, &cache.d_q, d_queries),
            (&self.key, keys_values, kv_len, &cache.d_k, d_keys_values),
        ] {
            self.layout(len).merge(d_heads, &mut cache.d_rows);
            projection.backward(params, input, &cache.d_rows, batch * len, grads, Some(d_input))?;
        }
        self.layout(kv_len).merge(&cache.d_v, &mut cache.d_rows);
        cache.d_from_values.resize(d_keys_values.len(), 0.0);
        self.value.backward(params, keys_values, &cache.d_rows, batch * kv_len, grads, Some(&mut cache.d_from_values))?;
        d_keys_values.iter_mut().zip(&cache.d_from_values).for_each(|(d, v)| *d += v);
        Ok(())
    }
}

/// Where [`MultiHeadAttention::backward_with_scores`] writes the gradients of its inputs.
pub struct InputGradients<'a> {
    pub queries: &'a mut [f32],
    pub keys_values: &'a mut [f32],
    pub scores: ScoreGradients<'a>,
}

/// Residual attention's score gradients: of the scores handed to the next layer (`above`, none in the last
/// layer), and of the previous layer's (`below`, none in the first).
#[derive(Default)]
pub struct ScoreGradients<'a> {
    pub above: Option<&'a [f32]>,
    pub below: Option<&'a mut [f32]>,
}

/// `row = softmax(scale * row)` for every `len`-long row of `data`, shifted by the row maximum so that no
/// exponent overflows; the AVX2 path runs 8 lanes at a time with `simd::f32s`' vector exp.
fn softmax_rows(data: &mut [f32], len: usize, scale: f32) {
    match thread_isa() {
        // SAFETY: `thread_isa` returns Avx2 or above only after avx2 and fma were detected.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { avx2::softmax_rows(data, len, scale) },
        _ => data.chunks_exact_mut(len).for_each(|row| softmax_in_place(row, scale)),
    }
}

pub(crate) fn softmax_in_place(row: &mut [f32], scale: f32) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (scale * (*v - max)).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// d scores from d probabilities (in place): `scale * p * (dp - sum(dp * p))`, the sum in 8 partial sums.
pub(crate) fn softmax_backward_in_place(d_row: &mut [f32], p_row: &[f32], scale: f32) {
    let mut partial = [0.0f32; 8];
    let (d_chunks, p_chunks) = (d_row.chunks_exact(8), p_row.chunks_exact(8));
    let tail: f32 = d_chunks.remainder().iter().zip(p_chunks.remainder()).map(|(d, p)| d * p).sum();
    for (d, p) in d_chunks.zip(p_chunks) {
        partial.iter_mut().zip(d.iter().zip(p)).for_each(|(s, (d, p))| *s += d * p);
    }
    let dot = partial.iter().sum::<f32>() + tail;
    d_row.iter_mut().zip(p_row).for_each(|(d, p)| *d = scale * p * (*d - dot));
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use crate::simd::f32s::{exp, tail_mask};

    #[inline(always)]
    unsafe fn max_lane(v: __m256) -> f32 {
        let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
    }

    #[inline(always)]
    unsafe fn sum_lanes(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn softmax_rows(data: &mut [f32], len: usize, scale: f32) {
        let full = len / 8 * 8;
        let mask = tail_mask(len - full);
        let lanes = _mm256_castsi256_ps(mask);
        let neg_inf = _mm256_set1_ps(f32::NEG_INFINITY);
        for row in data.chunks_exact_mut(len) {
            let p = row.as_mut_ptr();
            let mut max = neg_inf;
            for j in (0..full).step_by(8) {
                max = _mm256_max_ps(max, _mm256_loadu_ps(p.add(j)));
            }
            if full < len {
                max = _mm256_max_ps(max, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(p.add(full), mask), lanes));
            }
            let (scale, shift) = (_mm256_set1_ps(scale), _mm256_set1_ps(max_lane(max)));
            let mut sum = _mm256_setzero_ps();
            for j in (0..full).step_by(8) {
                let e = exp(_mm256_mul_ps(scale, _mm256_sub_ps(_mm256_loadu_ps(p.add(j)), shift)));
                _mm256_storeu_ps(p.add(j), e);
                sum = _mm256_add_ps(sum, e);
            }
            if full < len {
                let e = exp(_mm256_mul_ps(scale, _mm256_sub_ps(_mm256_maskload_ps(p.add(full), mask), shift)));
                let e = _mm256_and_ps(e, lanes);
                _mm256_maskstore_ps(p.add(full), mask, e);
                sum = _mm256_add_ps(sum, e);
            }
            let inv = _mm256_set1_ps(1.0 / sum_lanes(sum));
            for j in (0..full).step_by(8) {
                _mm256_storeu_ps(p.add(j), _mm256_mul_ps(_mm256_loadu_ps(p.add(j)), inv));
            }
            if full < len {
                _mm256_maskstore_ps(p.add(full), mask, _mm256_mul_ps(_mm256_maskload_ps(p.add(full), mask), inv));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn attention(hidden: usize, heads: usize, p: f32) -> (MultiHeadAttention, ParamStore) {
        seeded_layer(5, "attention", |init| MultiHeadAttention::new(init, hidden, heads, Dropout::new(p, 3).unwrap()))
    }

    #[test]
    fn names_and_shapes_follow_torch() {
        let (_, params) = attention(10, 3, 0.0);
        let shapes: Vec<_> = params.iter().map(|(n, t)| (n, t.shape.clone())).collect();
        assert_eq!(shapes[0], ("attention.query_projection.weight", vec![9, 10]));
        assert_eq!(shapes[5], ("attention.value_projection.bias", vec![9]));
        assert_eq!(shapes[6], ("attention.out_projection.weight", vec![10, 9]));
        assert_eq!(shapes.len(), 8);
    }

    #[test]
    fn one_head_of_identity_projections_averages_values_by_similarity() {
        let (layer, mut params) = attention(2, 1, 0.0);
        for (name, t) in params.iter_mut() {
            t.data = if name.ends_with("weight") { vec![1.0, 0.0, 0.0, 1.0] } else { vec![0.0; 2] };
        }
        let (queries, keys) = ([1.0, 0.0], [1.0, 0.0, 0.0, 1.0]);
        let mut out = [0.0; 2];
        layer.forward(&params, AttentionInputs { queries: &queries, keys_values: &keys, batch: 1, q_len: 1, kv_len: 2 }, None, &mut out, &mut AttentionCache::default()).unwrap();
        // scores (1, 0) / sqrt(2) -> weights (e^a, 1) / (e^a + 1), a = 1/sqrt(2); output = weights.
        let a = (0.5f32).sqrt().exp();
        assert!((out[0] - a / (a + 1.0)).abs() < 1e-6 && (out[1] - 1.0 / (a + 1.0)).abs() < 1e-6, "{out:?}");
    }

    fn check_gradients(p: f32, train_seed: Option<u64>) {
        let (hidden, heads, batch, q_len, kv_len) = (6, 2, 2, 3, 4);
        let (layer, mut params) = attention(hidden, heads, p);
        let queries = random_vec(batch * q_len * hidden, 1);
        let keys_values = random_vec(batch * kv_len * hidden, 2);
        let weights = random_vec(batch * q_len * hidden, 3);
        let objective = |params: &ParamStore, queries: &[f32], keys_values: &[f32]| {
            let mut out = vec![0.0; batch * q_len * hidden];
            layer.forward(params, AttentionInputs { queries, keys_values, batch, q_len, kv_len }, train_seed, &mut out, &mut AttentionCache::default()).unwrap();
            weighted_sum(&out, &weights)
        };
        let mut cache = AttentionCache::default();
        let mut out = vec![0.0; batch * q_len * hidden];
        layer.forward(&params, AttentionInputs { queries: &queries, keys_values: &keys_values, batch, q_len, kv_len }, train_seed, &mut out, &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let (mut d_q, mut d_kv) = (vec![0.0; queries.len()], vec![0.0; keys_values.len()]);
        layer.backward(&params, &queries, &keys_values, &mut cache, &weights, &mut grads, &mut d_q, &mut d_kv).unwrap();
        check_input_grads(&queries, &d_q, usize::MAX, |x| objective(&params, x, &keys_values));
        check_input_grads(&keys_values, &d_kv, usize::MAX, |x| objective(&params, &queries, x));
        check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &queries, &keys_values));
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_gradients(0.0, None);
    }

    #[test]
    fn gradients_match_finite_differences_with_attention_dropout() {
        check_gradients(0.4, Some(11));
    }

    #[test]
    fn gradients_match_finite_differences_on_the_scalar_kernels() {
        let _scalar = crate::simd::scoped_simd(false);
        check_gradients(0.4, Some(12));
    }

    #[test]
    fn the_vector_softmax_matches_the_scalar_one() {
        for len in [1, 5, 8, 24, 29] {
            let mut scalar = random_vec(3 * len, len as u64);
            scalar.iter_mut().step_by(3).for_each(|v| *v *= 30.0);
            let mut vector = scalar.clone();
            {
                let _scalar = crate::simd::scoped_simd(false);
                softmax_rows(&mut scalar, len, 0.7);
            }
            softmax_rows(&mut vector, len, 0.7);
            assert!(scalar.iter().zip(&vector).all(|(a, b)| (a - b).abs() < 1e-6), "{len}: {scalar:?} vs {vector:?}");
            let row_sums: Vec<f32> = vector.chunks_exact(len).map(|r| r.iter().sum()).collect();
            assert!(row_sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
        }
    }

    #[test]
    fn rejects_bad_sizes_and_a_backward_without_forward() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut init = ParamInit::new(&mut params, &mut rng);
        assert!(MultiHeadAttention::new(&mut init, 3, 4, Dropout::new(0.0, 0).unwrap()).is_err());
        let (layer, params) = attention(4, 2, 0.0);
        let mut cache = AttentionCache::default();
        assert!(layer.forward(&params, AttentionInputs { queries: &[0.0; 8], keys_values: &[0.0; 7], batch: 1, q_len: 2, kv_len: 2 }, None, &mut [0.0; 8], &mut cache).is_err());
        let mut grads = params.zeros_like();
        assert!(layer.backward(&params, &[0.0; 8], &[0.0; 8], &mut cache, &[0.0; 8], &mut grads, &mut [0.0; 8], &mut [0.0; 8]).is_err());
    }
}

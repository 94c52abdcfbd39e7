//! NeuralForecast's `AttentionLayer` around `FullAttention` (common/_modules.py) as its default path runs it
//! (`output_attention=False`: `F.scaled_dot_product_attention` without a mask): queries, keys and values
//! projected by `query_projection`, `key_projection`, `value_projection` (`nn.Linear(hidden, H E)`,
//! `E = hidden // H`), per head `softmax(Q K^T / sqrt(E))` with dropout on the attention weights while
//! training, the weighted values of all heads concatenated and mapped back by `out_projection`.
//!
//! Keys and values always come from the same sequence (itself, or the encoder output for cross-attention), as in
//! every NeuralForecast use. All batches are `[B, L, hidden]` row-major; one head's `[L, E]` block is a strided
//! view of the projected rows, so the per-head products read and write them in place.

use super::dropout::Dropout;
use super::error::{expect_len, nonzero, NnError};
use super::gemm::{gemm, Mat, MatMut};
use super::params::{ParamInit, ParamStore};
use super::Linear;

#[derive(Debug, Clone)]
pub struct MultiHeadAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
    dropout: Dropout,
}

#[derive(Debug, Clone, Default)]
pub struct AttentionCache {
    batch: usize,
    q_len: usize,
    kv_len: usize,
    /// Projected queries `[B Lq, H E]`, keys and values `[B Lk, H E]`.
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Softmax weights `[B, H, Lq, Lk]`.
    probs: Vec<f32>,
    /// The dropout mask of `probs` (empty when dropout is off) and the weights after it.
    dropout_mask: Vec<f32>,
    dropped: Vec<f32>,
    /// Concatenated head outputs `[B Lq, H E]`: the input of `out_projection`.
    context: Vec<f32>,
    d_context: Vec<f32>,
    d_probs: Vec<f32>,
    d_q: Vec<f32>,
    d_k: Vec<f32>,
    d_v: Vec<f32>,
    d_from_values: Vec<f32>,
}

/// One head's `[rows, E]` block of `[B rows, H E]` data: window `b`, head `h`.
struct HeadBlocks {
    rows: usize,
    head_dim: usize,
    width: usize,
}

impl HeadBlocks {
    fn offset(&self, b: usize, h: usize) -> usize {
        b * self.rows * self.width + h * self.head_dim
    }

    fn view<'a>(&self, data: &'a [f32], b: usize, h: usize) -> Mat<'a> {
        Mat::strided(&data[self.offset(b, h)..], self.rows, self.head_dim, self.width, 1)
    }

    fn view_transposed<'a>(&self, data: &'a [f32], b: usize, h: usize) -> Mat<'a> {
        Mat::strided(&data[self.offset(b, h)..], self.head_dim, self.rows, 1, self.width)
    }

    fn view_mut<'a>(&self, data: &'a mut [f32], b: usize, h: usize) -> MatMut<'a> {
        MatMut::strided(&mut data[self.offset(b, h)..], self.rows, self.head_dim, self.width)
    }
}

impl MultiHeadAttention {
    /// Creates `<prefix>.{query,key,value,out}_projection.{weight,bias}` in torch's order.
    pub fn new(init: &mut ParamInit<'_>, hidden: usize, heads: usize, dropout: Dropout) -> Result<Self, NnError> {
        nonzero("attention heads", heads)?;
        let head_dim = hidden / heads;
        if head_dim == 0 {
            return Err(NnError::InvalidValue { what: "attention heads", reason: format!("{heads} heads exceed hidden_size {hidden}") });
        }
        let width = heads * head_dim;
        let query = Linear::new(&mut init.pp("query_projection"), hidden, width)?;
        let key = Linear::new(&mut init.pp("key_projection"), hidden, width)?;
        let value = Linear::new(&mut init.pp("value_projection"), hidden, width)?;
        let out = Linear::new(&mut init.pp("out_projection"), width, hidden)?;
        Ok(MultiHeadAttention { query, key, value, out, heads, head_dim, dropout })
    }

    fn hidden(&self) -> usize {
        self.query.in_features()
    }

    fn width(&self) -> usize {
        self.heads * self.head_dim
    }

    fn blocks(&self, rows: usize) -> HeadBlocks {
        HeadBlocks { rows, head_dim: self.head_dim, width: self.width() }
    }

    /// `output[B Lq, hidden]`: the attention of `queries` `[B, Lq, hidden]` over `keys_values` `[B, Lk, hidden]`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        params: &ParamStore,
        queries: &[f32],
        keys_values: &[f32],
        batch: usize,
        q_len: usize,
        kv_len: usize,
        train_seed: Option<u64>,
        output: &mut [f32],
        cache: &mut AttentionCache,
    ) -> Result<(), NnError> {
        nonzero("attention query length", q_len)?;
        nonzero("attention key length", kv_len)?;
        expect_len("attention queries", batch * q_len * self.hidden(), queries.len())?;
        expect_len("attention keys", batch * kv_len * self.hidden(), keys_values.len())?;
        expect_len("attention output", batch * q_len * self.hidden(), output.len())?;
        (cache.batch, cache.q_len, cache.kv_len) = (batch, q_len, kv_len);
        let width = self.width();
        cache.q.resize(batch * q_len * width, 0.0);
        cache.k.resize(batch * kv_len * width, 0.0);
        cache.v.resize(batch * kv_len * width, 0.0);
        self.query.forward(params, queries, batch * q_len, &mut cache.q)?;
        self.key.forward(params, keys_values, batch * kv_len, &mut cache.k)?;
        self.value.forward(params, keys_values, batch * kv_len, &mut cache.v)?;

        let (q_blocks, kv_blocks) = (self.blocks(q_len), self.blocks(kv_len));
        let scores_len = q_len * kv_len;
        cache.probs.resize(batch * self.heads * scores_len, 0.0);
        for (bh, scores) in cache.probs.chunks_exact_mut(scores_len).enumerate() {
            let (b, h) = (bh / self.heads, bh % self.heads);
            gemm(q_blocks.view(&cache.q, b, h), kv_blocks.view_transposed(&cache.k, b, h), 0.0, MatMut::rows(scores, q_len, kv_len));
        }
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        cache.probs.chunks_exact_mut(kv_len).for_each(|row| softmax_in_place(row, scale));
        cache.dropout_mask.clear();
        if train_seed.is_some() && self.dropout.p() > 0.0 {
            cache.dropped.clear();
            cache.dropped.extend_from_slice(&cache.probs);
            self.dropout.forward_in_place(&mut cache.dropped, train_seed, &mut cache.dropout_mask);
        }
        let weights = if cache.dropout_mask.is_empty() { &cache.probs } else { &cache.dropped };

        cache.context.resize(batch * q_len * width, 0.0);
        for (bh, w) in weights.chunks_exact(scores_len).enumerate() {
            let (b, h) = (bh / self.heads, bh % self.heads);
            gemm(Mat::rows(w, q_len, kv_len), kv_blocks.view(&cache.v, b, h), 0.0, q_blocks.view_mut(&mut cache.context, b, h));
        }
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
        let (batch, q_len, kv_len, width) = (cache.batch, cache.q_len, cache.kv_len, self.width());
        nonzero("attention batch (run forward first)", batch)?;
        expect_len("attention output gradient", batch * q_len * self.hidden(), d_output.len())?;
        cache.d_context.resize(batch * q_len * width, 0.0);
        self.out.backward(params, &cache.context, d_output, batch * q_len, grads, Some(&mut cache.d_context))?;

        let (q_blocks, kv_blocks) = (self.blocks(q_len), self.blocks(kv_len));
        let scores_len = q_len * kv_len;
        let weights = if cache.dropout_mask.is_empty() { &cache.probs } else { &cache.dropped };
        cache.d_probs.resize(cache.probs.len(), 0.0);
        cache.d_v.resize(batch * kv_len * width, 0.0);
        for (bh, (d_w, w)) in cache.d_probs.chunks_exact_mut(scores_len).zip(weights.chunks_exact(scores_len)).enumerate() {
            let (b, h) = (bh / self.heads, bh % self.heads);
            // d weights = d context V^T; d V = weights^T d context.
            gemm(q_blocks.view(&cache.d_context, b, h), kv_blocks.view_transposed(&cache.v, b, h), 0.0, MatMut::rows(d_w, q_len, kv_len));
            gemm(Mat::transposed(w, q_len, kv_len), q_blocks.view(&cache.d_context, b, h), 0.0, kv_blocks.view_mut(&mut cache.d_v, b, h));
        }
        self.dropout.backward_in_place(&mut cache.d_probs, &cache.dropout_mask)?;
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        for (d_row, p_row) in cache.d_probs.chunks_exact_mut(kv_len).zip(cache.probs.chunks_exact(kv_len)) {
            softmax_backward_in_place(d_row, p_row, scale);
        }

        cache.d_q.resize(batch * q_len * width, 0.0);
        cache.d_k.resize(batch * kv_len * width, 0.0);
        for (bh, d_scores) in cache.d_probs.chunks_exact(scores_len).enumerate() {
            let (b, h) = (bh / self.heads, bh % self.heads);
            // d Q = d scores K; d K = d scores^T Q.
            gemm(Mat::rows(d_scores, q_len, kv_len), kv_blocks.view(&cache.k, b, h), 0.0, q_blocks.view_mut(&mut cache.d_q, b, h));
            gemm(Mat::transposed(d_scores, q_len, kv_len), q_blocks.view(&cache.q, b, h), 0.0, kv_blocks.view_mut(&mut cache.d_k, b, h));
        }
        self.query.backward(params, queries, &cache.d_q, batch * q_len, grads, Some(d_queries))?;
        self.key.backward(params, keys_values, &cache.d_k, batch * kv_len, grads, Some(d_keys_values))?;
        cache.d_from_values.resize(d_keys_values.len(), 0.0);
        self.value.backward(params, keys_values, &cache.d_v, batch * kv_len, grads, Some(&mut cache.d_from_values))?;
        d_keys_values.iter_mut().zip(&cache.d_from_values).for_each(|(d, v)| *d += v);
        Ok(())
    }
}

/// `row = softmax(scale * row)`, shifted by the maximum so that no exponent overflows.
fn softmax_in_place(row: &mut [f32], scale: f32) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (scale * (*v - max)).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// d scores from d probabilities (in place): `scale * p * (dp - sum(dp * p))`.
fn softmax_backward_in_place(d_row: &mut [f32], p_row: &[f32], scale: f32) {
    let dot: f32 = d_row.iter().zip(p_row).map(|(d, p)| d * p).sum();
    d_row.iter_mut().zip(p_row).for_each(|(d, p)| *d = scale * p * (*d - dot));
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, weighted_sum};

    fn attention(hidden: usize, heads: usize, p: f32) -> (MultiHeadAttention, ParamStore) {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let layer = MultiHeadAttention::new(&mut ParamInit::new(&mut params, &mut rng).pp("attention"), hidden, heads, Dropout::new(p, 3).unwrap()).unwrap();
        (layer, params)
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
        layer.forward(&params, &queries, &keys, 1, 1, 2, None, &mut out, &mut AttentionCache::default()).unwrap();
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
            layer.forward(params, queries, keys_values, batch, q_len, kv_len, train_seed, &mut out, &mut AttentionCache::default()).unwrap();
            weighted_sum(&out, &weights)
        };
        let mut cache = AttentionCache::default();
        let mut out = vec![0.0; batch * q_len * hidden];
        layer.forward(&params, &queries, &keys_values, batch, q_len, kv_len, train_seed, &mut out, &mut cache).unwrap();
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
    fn rejects_bad_sizes_and_a_backward_without_forward() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut init = ParamInit::new(&mut params, &mut rng);
        assert!(MultiHeadAttention::new(&mut init, 3, 4, Dropout::new(0.0, 0).unwrap()).is_err());
        let (layer, params) = attention(4, 2, 0.0);
        let mut cache = AttentionCache::default();
        assert!(layer.forward(&params, &[0.0; 8], &[0.0; 7], 1, 2, 2, None, &mut [0.0; 8], &mut cache).is_err());
        let mut grads = params.zeros_like();
        assert!(layer.backward(&params, &[0.0; 8], &[0.0; 8], &mut cache, &[0.0; 8], &mut grads, &mut [0.0; 8], &mut [0.0; 8]).is_err());
    }
}

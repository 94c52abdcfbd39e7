//! The layers of the VanillaTransformer (common/_modules.py): `TransEncoderLayer` and `TransDecoderLayer`, built
//! from an attention block (attention, dropout, residual, LayerNorm) and a feed-forward block (two kernel-1
//! convolutions with dropout, residual and LayerNorm), and their constructors in torch's registration order.

use super::Activation;
use crate::nn::attention::{AttentionCache, AttentionInputs, MultiHeadAttention};
use crate::nn::dropout::Dropout;
use crate::nn::layer_norm::{LayerNorm, LayerNormCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// The sizes every layer of an encoder or decoder stack shares (VanillaTransformer's and iTransformer's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerSizes {
    pub hidden_size: usize,
    pub n_head: usize,
    pub conv_hidden_size: usize,
    pub activation: Activation,
}

impl LayerSizes {
    /// Width of the attention projections: `n_head * (hidden_size // n_head)`.
    pub(crate) fn attention_width(&self) -> usize {
        self.n_head * (self.hidden_size / self.n_head.max(1))
    }

    /// Parameters of one `TransEncoderLayer`: attention projections, the two convolutions and two LayerNorms.
    pub(crate) fn encoder_layer_parameters(&self) -> u128 {
        let [d, c] = [self.hidden_size, self.conv_hidden_size].map(|v| v as u128);
        self.attention_parameters() + (2 * c * d + c + d) + 2 * (2 * d)
    }

    pub(crate) fn attention_parameters(&self) -> u128 {
        let [d, w] = [self.hidden_size, self.attention_width()].map(|v| v as u128);
        4 * d * w + 3 * w + d
    }

    /// Values an attention block's cache keeps for `q` queries over `k` keys (see the cache structs).
    pub(crate) fn attention_block_values(&self, q: u128, k: u128) -> u128 {
        let [d, w, heads] = [self.hidden_size, self.attention_width(), self.n_head].map(|v| v as u128);
        5 * q * w + 4 * k * w + 2 * (q + k) * w + k * d + 4 * heads * q * k + q * k + 7 * q * d + q
    }

    /// Values a feed-forward block's cache keeps for `rows` rows.
    pub(crate) fn feed_forward_block_values(&self, rows: u128) -> u128 {
        let [d, c] = [self.hidden_size, self.conv_hidden_size].map(|v| v as u128);
        4 * rows * c + 7 * rows * d + rows
    }

    /// Values an encoder layer's cache keeps for a window of `len` steps (or tokens).
    pub(crate) fn encoder_layer_values(&self, len: u128) -> u128 {
        self.attention_block_values(len, len) + self.feed_forward_block_values(len) + 2 * len * self.hidden_size as u128
    }
}

/// Hands out a distinct dropout stream to every place NF applies dropout.
pub(crate) struct DropoutStreams {
    p: f32,
    next: u64,
}

impl DropoutStreams {
    /// Streams of dropout with probability `p`.
    pub(crate) fn new(p: f32) -> Self {
        DropoutStreams { p, next: 0 }
    }

    pub(crate) fn next(&mut self) -> Result<Dropout, NnError> {
        self.next += 1;
        Dropout::new(self.p, self.next)
    }
}

/// `norm(x + dropout(attention(x, keys_values)))`: the attention half of NF's `TransEncoderLayer` and each
/// attention third of its `TransDecoderLayer`.
#[derive(Debug, Clone)]
struct AttentionBlock {
    attention: MultiHeadAttention,
    dropout: Dropout,
    norm: LayerNorm,
}

#[derive(Debug, Clone, Default)]
struct AttentionBlockCache {
    attention: AttentionCache,
    attended: Vec<f32>,
    dropout_mask: Vec<f32>,
    sum: Vec<f32>,
    norm: LayerNormCache,
    output: Vec<f32>,
    d_sum: Vec<f32>,
    d_attended: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(AttentionBlockCache { attention, attended, dropout_mask, sum, norm, output, d_sum, d_attended });

impl AttentionBlock {
    fn forward(&self, params: &ParamStore, inputs: AttentionInputs<'_>, train_seed: Option<u64>, cache: &mut AttentionBlockCache) -> Result<(), NnError> {
        let (queries, rows) = (inputs.queries, inputs.batch * inputs.q_len);
        let len = queries.len();
        cache.attended.resize(len, 0.0);
        self.attention.forward(params, inputs, train_seed, &mut cache.attended, &mut cache.attention)?;
        self.dropout.forward_in_place(&mut cache.attended, train_seed, &mut cache.dropout_mask);
        add_into(queries, &cache.attended, &mut cache.sum);
        cache.output.resize(len, 0.0);
        self.norm.forward(params, &cache.sum, rows, &mut cache.output, &mut cache.norm)
    }

    /// Writes the gradient of the queries (residual included) and of the keys and values.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        params: &ParamStore,
        queries: &[f32],
        keys_values: &[f32],
        cache: &mut AttentionBlockCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_queries: &mut [f32],
        d_keys_values: &mut [f32],
    ) -> Result<(), NnError> {
        cache.d_sum.resize(d_output.len(), 0.0);
        self.norm.backward(params, &cache.norm, d_output, grads, &mut cache.d_sum)?;
        cache.d_attended.clear();
        cache.d_attended.extend_from_slice(&cache.d_sum);
        self.dropout.backward_in_place(&mut cache.d_attended, &cache.dropout_mask)?;
        self.attention.backward(params, queries, keys_values, &mut cache.attention, &cache.d_attended, grads, d_queries, d_keys_values)?;
        d_queries.iter_mut().zip(&cache.d_sum).for_each(|(d, s)| *d += s);
        Ok(())
    }
}

/// `norm(x + dropout(conv2(dropout(activation(conv1(x))))))`: the feed-forward part of both layer kinds, with
/// `conv1`/`conv2` torch's kernel-1 `Conv1d`s over the channels of each step.
#[derive(Debug, Clone)]
struct FeedForwardBlock {
    conv1: Linear,
    conv2: Linear,
    activation: Activation,
    dropout_hidden: Dropout,
    dropout_out: Dropout,
    norm: LayerNorm,
}

#[derive(Debug, Clone, Default)]
struct FeedForwardCache {
    /// `conv1(x)` `[rows, conv_hidden]`, then the activated and dropped-out values `conv2` reads.
    pre_activation: Vec<f32>,
    hidden: Vec<f32>,
    hidden_mask: Vec<f32>,
    transformed: Vec<f32>,
    out_mask: Vec<f32>,
    sum: Vec<f32>,
    norm: LayerNormCache,
    output: Vec<f32>,
    d_sum: Vec<f32>,
    d_transformed: Vec<f32>,
    d_hidden: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(FeedForwardCache { pre_activation, hidden, hidden_mask, transformed, out_mask, sum, norm, output, d_sum, d_transformed, d_hidden });

impl FeedForwardBlock {
    fn forward(&self, params: &ParamStore, input: &[f32], rows: usize, train_seed: Option<u64>, cache: &mut FeedForwardCache) -> Result<(), NnError> {
        let c = self.conv1.out_features();
        cache.pre_activation.resize(rows * c, 0.0);
        self.conv1.forward(params, input, rows, &mut cache.pre_activation)?;
        cache.hidden.resize(rows * c, 0.0);
        self.activation.forward(&cache.pre_activation, &mut cache.hidden);
        self.dropout_hidden.forward_in_place(&mut cache.hidden, train_seed, &mut cache.hidden_mask);
        cache.transformed.resize(input.len(), 0.0);
        self.conv2.forward(params, &cache.hidden, rows, &mut cache.transformed)?;
        self.dropout_out.forward_in_place(&mut cache.transformed, train_seed, &mut cache.out_mask);
        add_into(input, &cache.transformed, &mut cache.sum);
        cache.output.resize(input.len(), 0.0);
        self.norm.forward(params, &cache.sum, rows, &mut cache.output, &mut cache.norm)
    }

    /// Writes the gradient of the block's input (residual included) into `d_input`.
    fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &mut FeedForwardCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: &mut [f32],
    ) -> Result<(), NnError> {
        let rows = input.len() / self.conv1.in_features();
        cache.d_sum.resize(d_output.len(), 0.0);
        self.norm.backward(params, &cache.norm, d_output, grads, &mut cache.d_sum)?;
        cache.d_transformed.clear();
        cache.d_transformed.extend_from_slice(&cache.d_sum);
        self.dropout_out.backward_in_place(&mut cache.d_transformed, &cache.out_mask)?;
        cache.d_hidden.resize(cache.hidden.len(), 0.0);
        self.conv2.backward(params, &cache.hidden, &cache.d_transformed, rows, grads, Some(&mut cache.d_hidden))?;
        self.dropout_hidden.backward_in_place(&mut cache.d_hidden, &cache.hidden_mask)?;
        self.activation.backward_in_place(&mut cache.d_hidden, &cache.pre_activation);
        self.conv1.backward(params, input, &cache.d_hidden, rows, grads, Some(d_input))?;
        d_input.iter_mut().zip(&cache.d_sum).for_each(|(d, s)| *d += s);
        Ok(())
    }
}

/// `out = a + b`, resizing `out`.
fn add_into(a: &[f32], b: &[f32], out: &mut Vec<f32>) {
    out.clear();
    out.extend(a.iter().zip(b).map(|(x, y)| x + y));
}

/// NF's `TransEncoderLayer`.
#[derive(Debug, Clone)]
pub(crate) struct EncoderLayer {
    attention: AttentionBlock,
    feed_forward: FeedForwardBlock,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct EncoderLayerCache {
    attention: AttentionBlockCache,
    feed_forward: FeedForwardCache,
    d_keys_values: Vec<f32>,
    d_attended: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(EncoderLayerCache { attention, feed_forward, d_keys_values, d_attended });

impl EncoderLayerCache {
    pub(crate) fn output(&self) -> &[f32] {
        &self.feed_forward.output
    }
}

impl EncoderLayer {
    /// `TransEncoderLayer` under `prefix`, its parameters and dropout streams in torch's order.
    pub(crate) fn new(init: &mut ParamInit<'_>, prefix: &str, sizes: &LayerSizes, streams: &mut DropoutStreams) -> Result<Self, NnError> {
        let attention = attention(init, &format!("{prefix}.attention"), sizes, streams)?;
        let convs = convolutions(init, prefix, sizes)?;
        let norm1 = norm(init, format!("{prefix}.norm1"), sizes)?;
        let norm2 = norm(init, format!("{prefix}.norm2"), sizes)?;
        Ok(EncoderLayer {
            attention: AttentionBlock { attention, dropout: streams.next()?, norm: norm1 },
            feed_forward: feed_forward(convs, norm2, sizes, streams)?,
        })
    }

    pub(crate) fn forward(&self, params: &ParamStore, input: &[f32], batch: usize, len: usize, train_seed: Option<u64>, cache: &mut EncoderLayerCache) -> Result<(), NnError> {
        let inputs = AttentionInputs { queries: input, keys_values: input, batch, q_len: len, kv_len: len };
        self.attention.forward(params, inputs, train_seed, &mut cache.attention)?;
        self.feed_forward.forward(params, &cache.attention.output, batch * len, train_seed, &mut cache.feed_forward)
    }

    pub(crate) fn backward(&self, params: &ParamStore, input: &[f32], cache: &mut EncoderLayerCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
        cache.d_attended.resize(input.len(), 0.0);
        self.feed_forward.backward(params, &cache.attention.output, &mut cache.feed_forward, d_output, grads, &mut cache.d_attended)?;
        cache.d_keys_values.resize(input.len(), 0.0);
        self.attention.backward(params, input, input, &mut cache.attention, &cache.d_attended, grads, d_input, &mut cache.d_keys_values)?;
        d_input.iter_mut().zip(&cache.d_keys_values).for_each(|(d, k)| *d += k);
        Ok(())
    }
}

/// NF's `TransDecoderLayer`, computed for the last `rows_out` of its `len` input steps.
#[derive(Debug, Clone)]
pub(super) struct DecoderLayer {
    self_attention: AttentionBlock,
    cross_attention: AttentionBlock,
    feed_forward: FeedForwardBlock,
}

#[derive(Debug, Clone, Default)]
pub(super) struct DecoderLayerCache {
    len: usize,
    rows_out: usize,
    /// The last `rows_out` input rows of each window (empty when that is all of them).
    tail: Vec<f32>,
    self_attention: AttentionBlockCache,
    cross_attention: AttentionBlockCache,
    feed_forward: FeedForwardCache,
    d_self: Vec<f32>,
    d_cross: Vec<f32>,
    d_queries: Vec<f32>,
    d_encoded: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(DecoderLayerCache { len, rows_out, tail, self_attention, cross_attention, feed_forward, d_self, d_cross, d_queries, d_encoded });

impl DecoderLayerCache {
    pub(super) fn output(&self) -> &[f32] {
        &self.feed_forward.output
    }
}

/// Copies the last `rows_out` of each window's `len` rows of `width` values.
fn gather_tail(input: &[f32], len: usize, rows_out: usize, width: usize, out: &mut Vec<f32>) {
    out.clear();
    for window in input.chunks_exact(len * width) {
        out.extend_from_slice(&window[(len - rows_out) * width..]);
    }
}

impl DecoderLayer {
    /// `TransDecoderLayer` under `prefix`, its parameters and dropout streams in torch's order.
    pub(super) fn new(init: &mut ParamInit<'_>, prefix: &str, sizes: &LayerSizes, streams: &mut DropoutStreams) -> Result<Self, NnError> {
        let self_attention = attention(init, &format!("{prefix}.self_attention"), sizes, streams)?;
        let cross_attention = attention(init, &format!("{prefix}.cross_attention"), sizes, streams)?;
        let convs = convolutions(init, prefix, sizes)?;
        let [norm1, norm2, norm3] = [1, 2, 3].map(|k| norm(init, format!("{prefix}.norm{k}"), sizes));
        Ok(DecoderLayer {
            self_attention: AttentionBlock { attention: self_attention, dropout: streams.next()?, norm: norm1? },
            cross_attention: AttentionBlock { attention: cross_attention, dropout: streams.next()?, norm: norm2? },
            feed_forward: feed_forward(convs, norm3?, sizes, streams)?,
        })
    }

    /// `input` `[B, len, hidden]`, `encoded` `[B, enc_len, hidden]`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward(
        &self,
        params: &ParamStore,
        input: &[f32],
        encoded: &[f32],
        batch: usize,
        (len, enc_len, rows_out): (usize, usize, usize),
        train_seed: Option<u64>,
        cache: &mut DecoderLayerCache,
    ) -> Result<(), NnError> {
        let width = self.cross_attention.norm.features();
        (cache.len, cache.rows_out) = (len, rows_out);
        if rows_out < len {
            gather_tail(input, len, rows_out, width, &mut cache.tail);
        }
        let queries = if rows_out < len { &cache.tail[..] } else { input };
        let inputs = AttentionInputs { queries, keys_values: input, batch, q_len: rows_out, kv_len: len };
        self.self_attention.forward(params, inputs, train_seed, &mut cache.self_attention)?;
        let attended = &cache.self_attention.output;
        let inputs = AttentionInputs { queries: attended, keys_values: encoded, batch, q_len: rows_out, kv_len: enc_len };
        self.cross_attention.forward(params, inputs, train_seed, &mut cache.cross_attention)?;
        self.feed_forward.forward(params, &cache.cross_attention.output, batch * rows_out, train_seed, &mut cache.feed_forward)
    }

    /// Writes the gradient of `input` into `d_input` and adds that of `encoded` to `d_encoded`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        encoded: &[f32],
        cache: &mut DecoderLayerCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: &mut [f32],
        d_encoded: &mut [f32],
    ) -> Result<(), NnError> {
        let (len, rows_out, width) = (cache.len, cache.rows_out, self.cross_attention.norm.features());
        let rows_len = d_output.len();
        cache.d_cross.resize(rows_len, 0.0);
        self.feed_forward.backward(params, &cache.cross_attention.output, &mut cache.feed_forward, d_output, grads, &mut cache.d_cross)?;
        cache.d_self.resize(rows_len, 0.0);
        cache.d_encoded.resize(encoded.len(), 0.0);
        let attended = &cache.self_attention.output;
        self.cross_attention.backward(params, attended, encoded, &mut cache.cross_attention, &cache.d_cross, grads, &mut cache.d_self, &mut cache.d_encoded)?;
        d_encoded.iter_mut().zip(&cache.d_encoded).for_each(|(d, e)| *d += e);
        let queries = if rows_out < len { &cache.tail[..] } else { input };
        cache.d_queries.resize(rows_len, 0.0);
        self.self_attention.backward(params, queries, input, &mut cache.self_attention, &cache.d_self, grads, &mut cache.d_queries, d_input)?;
        for (window, d_tail) in d_input.chunks_exact_mut(len * width).zip(cache.d_queries.chunks_exact(rows_out * width)) {
            window[(len - rows_out) * width..].iter_mut().zip(d_tail).for_each(|(d, q)| *d += q);
        }
        Ok(())
    }
}

/// Creates one attention layer under `prefix` in torch's order.
fn attention(init: &mut ParamInit<'_>, prefix: &str, sizes: &LayerSizes, streams: &mut DropoutStreams) -> Result<MultiHeadAttention, NnError> {
    MultiHeadAttention::new(&mut init.pp(prefix), sizes.hidden_size, sizes.n_head, streams.next()?)
}

/// Creates `conv1` and `conv2` under `prefix`.
fn convolutions(init: &mut ParamInit<'_>, prefix: &str, sizes: &LayerSizes) -> Result<(Linear, Linear), NnError> {
    let (d, c) = (sizes.hidden_size, sizes.conv_hidden_size);
    Ok((Linear::pointwise_conv1d(&mut init.pp(format!("{prefix}.conv1")), d, c)?, Linear::pointwise_conv1d(&mut init.pp(format!("{prefix}.conv2")), c, d)?))
}

pub(crate) fn norm(init: &mut ParamInit<'_>, name: String, sizes: &LayerSizes) -> Result<LayerNorm, NnError> {
    LayerNorm::new(&mut init.pp(name), sizes.hidden_size)
}

fn feed_forward(convs: (Linear, Linear), norm: LayerNorm, sizes: &LayerSizes, streams: &mut DropoutStreams) -> Result<FeedForwardBlock, NnError> {
    let (conv1, conv2) = convs;
    Ok(FeedForwardBlock { conv1, conv2, activation: sizes.activation, dropout_hidden: streams.next()?, dropout_out: streams.next()?, norm })
}


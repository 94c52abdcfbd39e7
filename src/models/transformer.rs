//! NeuralForecast's `VanillaTransformer` (neuralforecast/models/vanillatransformer.py, layers in
//! common/_modules.py): an encoder-decoder Transformer over one window.
//!
//! - `enc_embedding` embeds the `L` past values (token convolution + sinusoids + future exogenous rows `0..L`);
//!   `encoder_layers` `TransEncoderLayer`s (self-attention, then a kernel-1 convolution feed-forward, each with
//!   dropout, a residual and a LayerNorm) and `encoder.norm` give the encoder output.
//! - The decoder input is the last `label_len = ceil(L * decoder_input_size_multiplier)` values followed by `h`
//!   zeros, embedded by `dec_embedding` with the last `label_len + h` future exogenous rows; `decoder_layers`
//!   `TransDecoderLayer`s (self-attention, cross-attention over the encoder output, feed-forward), `decoder.norm`
//!   and `decoder.projection` (`outputs_per_point` values per step) follow, and the last `h` steps are the
//!   forecast.
//!
//! NF's decoder self-attention has `mask_flag=True`, but its default path (`output_attention=False`) calls
//! `scaled_dot_product_attention` with `attn_mask=None`, so no causal mask is applied; this is reproduced.
//! Only the last `h` rows of the last decoder layer reach the forecast, and after its self-attention every
//! operation is row-wise, so that layer computes queries and everything after them for those rows alone: the
//! same forecast at a fraction of the work. The model takes future exogenous inputs only, as NF's
//! (`EXOGENOUS_HIST = EXOGENOUS_STAT = False`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{InputSizeDefault, Model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{ModelOptions, OptionError, OptionResult};
use crate::nn::activations::{relu_backward_in_place, relu_in_place};
use crate::nn::attention::{AttentionCache, MultiHeadAttention};
use crate::nn::dropout::Dropout;
use crate::nn::embedding::{DataEmbedding, DataEmbeddingCache, WindowRows};
use crate::nn::error::{expect_len, nonzero};
use crate::nn::gelu::{gelu_backward_in_place, gelu_forward};
use crate::nn::layer_norm::{LayerNorm, LayerNormCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// The feed-forward activation: vanillatransformer.py accepts exactly these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    /// `F.gelu`: the exact erf form.
    Gelu,
}

impl Activation {
    const NAMES: [&'static str; 2] = ["relu", "gelu"];

    fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransformerConfig {
    pub shape: ModelShape,
    pub hidden_size: usize,
    pub n_head: usize,
    pub conv_hidden_size: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub dropout: f64,
    pub activation: Activation,
    pub decoder_input_size_multiplier: f64,
}

impl TransformerConfig {
    /// `label_len = ceil(input_size * decoder_input_size_multiplier)`, which NF requires in `1..input_size`.
    pub fn label_len(&self) -> Result<usize, NnError> {
        let label_len = (self.shape.input_size as f64 * self.decoder_input_size_multiplier).ceil();
        if !(label_len >= 1.0 && label_len < self.shape.input_size as f64) {
            return Err(NnError::InvalidValue {
                what: "decoder_input_size_multiplier",
                reason: format!(
                    "{} gives {label_len} decoder input steps for inputSize {}; it must give between 1 and inputSize - 1",
                    self.decoder_input_size_multiplier, self.shape.input_size
                ),
            });
        }
        Ok(label_len as usize)
    }

    /// Width of the attention projections: `n_head * (hidden_size // n_head)`.
    fn attention_width(&self) -> usize {
        self.n_head * (self.hidden_size / self.n_head.max(1))
    }

    fn decoder_len(&self) -> usize {
        self.label_len().unwrap_or(0) + self.shape.h
    }
}

impl ModelConfig for TransformerConfig {
    type Network = VanillaTransformer;

    const NAME: &'static str = "VanillaTransformer";
    const OPTION_KEYS: &'static [&'static str] = &[
        "hiddenSize",
        "nHead",
        "convHiddenSize",
        "encoderLayers",
        "decoderLayers",
        "dropout",
        "activation",
        "decoderInputSizeMultiplier",
    ];
    /// vanillatransformer.py: `input_size` required, `scaler_type='identity'`, `learning_rate=1e-4`,
    /// `max_steps=5000`, `windows_batch_size=1024`, `num_lr_decays=-1`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults {
        input_size: InputSizeDefault::Required,
        scaler_type: "identity",
        learning_rate: 1e-4,
        max_steps: 5000,
        batch_size: 1024,
        num_lr_decays: 0,
    };

    /// vanillatransformer.py: `hidden_size=128`, `n_head=4`, `conv_hidden_size=32`, `encoder_layers=2`,
    /// `decoder_layers=1`, `dropout=0.05`, `activation='gelu'`, `decoder_input_size_multiplier=0.5`.
    fn new(shape: ModelShape) -> Self {
        TransformerConfig {
            shape,
            hidden_size: 128,
            n_head: 4,
            conv_hidden_size: 32,
            encoder_layers: 2,
            decoder_layers: 1,
            dropout: 0.05,
            activation: Activation::Gelu,
            decoder_input_size_multiplier: 0.5,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        self.hidden_size = options.size("hiddenSize")?.unwrap_or(self.hidden_size);
        self.n_head = options.size("nHead")?.unwrap_or(self.n_head);
        self.conv_hidden_size = options.size("convHiddenSize")?.unwrap_or(self.conv_hidden_size);
        self.encoder_layers = options.size("encoderLayers")?.unwrap_or(self.encoder_layers);
        self.decoder_layers = options.size("decoderLayers")?.unwrap_or(self.decoder_layers);
        if let Some(p) = options.number_in("dropout", 0.0, 1.0)? {
            if p >= 1.0 {
                return Err(OptionError::Range(format!("{} must be below 1, got {p}", options.field("dropout"))));
            }
            self.dropout = p;
        }
        if let Some(name) = options.choice("activation", &Activation::NAMES)? {
            self.activation = if name == "relu" { Activation::Relu } else { Activation::Gelu };
        }
        if let Some(m) = options.number_in("decoderInputSizeMultiplier", 0.0, 1.0)? {
            self.decoder_input_size_multiplier = m;
        }
        if self.hidden_size % 2 == 1 {
            return Err(OptionError::Range(format!("{} must be even, got {}", options.field("hiddenSize"), self.hidden_size)));
        }
        if self.n_head > self.hidden_size {
            return Err(OptionError::Range(format!("{} must be at most hiddenSize ({}), got {}", options.field("nHead"), self.hidden_size, self.n_head)));
        }
        self.label_len().map_err(|e| OptionError::Range(format!("{}: {e}", options.field("decoderInputSizeMultiplier"))))?;
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("hiddenSize".into(), self.hidden_size.into());
        out.insert("nHead".into(), self.n_head.into());
        out.insert("convHiddenSize".into(), self.conv_hidden_size.into());
        out.insert("encoderLayers".into(), self.encoder_layers.into());
        out.insert("decoderLayers".into(), self.decoder_layers.into());
        out.insert("dropout".into(), self.dropout.into());
        out.insert("activation".into(), self.activation.name().into());
        out.insert("decoderInputSizeMultiplier".into(), self.decoder_input_size_multiplier.into());
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size, outputs_per_point, exog, .. } = self.shape;
        let [d, w, c, heads, futr, out] =
            [self.hidden_size, self.attention_width(), self.conv_hidden_size, self.n_head, exog.futr, outputs_per_point].map(|v| v as u128);
        let [l, t, h, enc, dec] = [input_size, self.decoder_len(), h, self.encoder_layers, self.decoder_layers].map(|v| v as u128);
        let attention_params = 4 * d * w + 3 * w + d;
        let feed_forward_params = 2 * c * d + c + d;
        let norm_params = 2 * d;
        let embedding_params = 3 * d + futr * d;
        let parameters = 2 * embedding_params
            + enc * (attention_params + feed_forward_params + 2 * norm_params)
            + norm_params
            + dec * (2 * attention_params + feed_forward_params + 3 * norm_params)
            + norm_params
            + d * out
            + out;
        // Every buffer the caches keep per window, backward scratch included, counting each decoder layer at
        // full length (see the cache structs).
        let attention = |q: u128, k: u128| 5 * q * w + 4 * k * w + 2 * (q + k) * w + k * d + 4 * heads * q * k + q * k;
        let attention_block = |q: u128, k: u128| attention(q, k) + 7 * q * d + q;
        let feed_forward_block = |rows: u128| 4 * rows * c + 7 * rows * d + rows;
        let embedding_rows = |rows: u128| rows * (3 + futr + 3 * d);
        let encoder_layer = attention_block(l, l) + feed_forward_block(l) + 2 * l * d;
        let decoder_layer = attention_block(t, t) + attention_block(t, l) + feed_forward_block(t) + 4 * t * d + l * d;
        let norms_and_heads = (2 * l * d + l) + (3 * h * d + h) + h * out;
        let gradients_down = l * d + 2 * t.max(l) * d;
        let activations = t + embedding_rows(l) + embedding_rows(t) + enc * encoder_layer + dec * decoder_layer + norms_and_heads + gradients_down;
        (parameters, activations)
    }

    fn build(&self) -> Result<VanillaTransformer, NnError> {
        VanillaTransformer::new(self.clone())
    }
}

/// Hands out a distinct dropout stream to every place NF applies dropout.
struct DropoutStreams {
    p: f32,
    next: u64,
}

impl DropoutStreams {
    fn next(&mut self) -> Result<Dropout, NnError> {
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

impl AttentionBlock {
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        params: &ParamStore,
        queries: &[f32],
        keys_values: &[f32],
        batch: usize,
        q_len: usize,
        kv_len: usize,
        train_seed: Option<u64>,
        cache: &mut AttentionBlockCache,
    ) -> Result<(), NnError> {
        let rows = batch * q_len;
        let len = queries.len();
        cache.attended.resize(len, 0.0);
        self.attention.forward(params, queries, keys_values, batch, q_len, kv_len, train_seed, &mut cache.attended, &mut cache.attention)?;
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

impl FeedForwardBlock {
    fn forward(&self, params: &ParamStore, input: &[f32], rows: usize, train_seed: Option<u64>, cache: &mut FeedForwardCache) -> Result<(), NnError> {
        let c = self.conv1.out_features();
        cache.pre_activation.resize(rows * c, 0.0);
        self.conv1.forward(params, input, rows, &mut cache.pre_activation)?;
        cache.hidden.resize(rows * c, 0.0);
        match self.activation {
            Activation::Gelu => gelu_forward(&cache.pre_activation, &mut cache.hidden),
            Activation::Relu => {
                cache.hidden.copy_from_slice(&cache.pre_activation);
                relu_in_place(&mut cache.hidden);
            }
        }
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
        match self.activation {
            Activation::Gelu => gelu_backward_in_place(&mut cache.d_hidden, &cache.pre_activation),
            Activation::Relu => relu_backward_in_place(&mut cache.d_hidden, &cache.pre_activation),
        }
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
struct EncoderLayer {
    attention: AttentionBlock,
    feed_forward: FeedForwardBlock,
}

#[derive(Debug, Clone, Default)]
struct EncoderLayerCache {
    attention: AttentionBlockCache,
    feed_forward: FeedForwardCache,
    d_keys_values: Vec<f32>,
    d_attended: Vec<f32>,
}

impl EncoderLayerCache {
    fn output(&self) -> &[f32] {
        &self.feed_forward.output
    }
}

impl EncoderLayer {
    fn forward(&self, params: &ParamStore, input: &[f32], batch: usize, len: usize, train_seed: Option<u64>, cache: &mut EncoderLayerCache) -> Result<(), NnError> {
        self.attention.forward(params, input, input, batch, len, len, train_seed, &mut cache.attention)?;
        self.feed_forward.forward(params, &cache.attention.output, batch * len, train_seed, &mut cache.feed_forward)
    }

    fn backward(&self, params: &ParamStore, input: &[f32], cache: &mut EncoderLayerCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
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
struct DecoderLayer {
    self_attention: AttentionBlock,
    cross_attention: AttentionBlock,
    feed_forward: FeedForwardBlock,
}

#[derive(Debug, Clone, Default)]
struct DecoderLayerCache {
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

impl DecoderLayerCache {
    fn output(&self) -> &[f32] {
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
    /// `input` `[B, len, hidden]`, `encoded` `[B, enc_len, hidden]`.
    #[allow(clippy::too_many_arguments)]
    fn forward(
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
        self.self_attention.forward(params, queries, input, batch, rows_out, len, train_seed, &mut cache.self_attention)?;
        let attended = &cache.self_attention.output;
        self.cross_attention.forward(params, attended, encoded, batch, rows_out, enc_len, train_seed, &mut cache.cross_attention)?;
        self.feed_forward.forward(params, &cache.cross_attention.output, batch * rows_out, train_seed, &mut cache.feed_forward)
    }

    /// Writes the gradient of `input` into `d_input` and adds that of `encoded` to `d_encoded`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
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

/// NeuralForecast's `VanillaTransformer` (see the module docs).
#[derive(Debug, Clone)]
pub struct VanillaTransformer {
    config: TransformerConfig,
    params: ParamStore,
    label_len: usize,
    enc_embedding: DataEmbedding,
    dec_embedding: DataEmbedding,
    encoder: Vec<EncoderLayer>,
    encoder_norm: LayerNorm,
    decoder: Vec<DecoderLayer>,
    decoder_norm: LayerNorm,
    projection: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct TransformerCache {
    batch: usize,
    /// `[B, label_len + h]`: the last `label_len` inputs, then zeros.
    decoder_values: Vec<f32>,
    enc_embedding: DataEmbeddingCache,
    enc_embedded: Vec<f32>,
    encoder: Vec<EncoderLayerCache>,
    encoder_norm: LayerNormCache,
    encoded: Vec<f32>,
    dec_embedding: DataEmbeddingCache,
    dec_embedded: Vec<f32>,
    decoder: Vec<DecoderLayerCache>,
    decoder_norm: LayerNormCache,
    decoded: Vec<f32>,
    forecast: Vec<f32>,
    d_decoded: Vec<f32>,
    d_encoded: Vec<f32>,
    /// The gradient flowing down the layer stack, and the buffer the next layer down writes into.
    d_above: Vec<f32>,
    d_below: Vec<f32>,
}

/// Creates one attention layer under `prefix` in torch's order.
fn attention(init: &mut ParamInit<'_>, prefix: &str, config: &TransformerConfig, streams: &mut DropoutStreams) -> Result<MultiHeadAttention, NnError> {
    MultiHeadAttention::new(&mut init.pp(prefix), config.hidden_size, config.n_head, streams.next()?)
}

/// Creates `conv1` and `conv2` under `prefix`.
fn convolutions(init: &mut ParamInit<'_>, prefix: &str, config: &TransformerConfig) -> Result<(Linear, Linear), NnError> {
    let (d, c) = (config.hidden_size, config.conv_hidden_size);
    Ok((Linear::pointwise_conv1d(&mut init.pp(format!("{prefix}.conv1")), d, c)?, Linear::pointwise_conv1d(&mut init.pp(format!("{prefix}.conv2")), c, d)?))
}

fn norm(init: &mut ParamInit<'_>, name: String, config: &TransformerConfig) -> Result<LayerNorm, NnError> {
    LayerNorm::new(&mut init.pp(name), config.hidden_size)
}

fn feed_forward(convs: (Linear, Linear), norm: LayerNorm, config: &TransformerConfig, streams: &mut DropoutStreams) -> Result<FeedForwardBlock, NnError> {
    let (conv1, conv2) = convs;
    Ok(FeedForwardBlock { conv1, conv2, activation: config.activation, dropout_hidden: streams.next()?, dropout_out: streams.next()?, norm })
}

impl VanillaTransformer {
    /// Builds the network with torch's parameter names, in torch's registration order.
    pub fn new(config: TransformerConfig) -> Result<Self, NnError> {
        let ModelShape { h, input_size, outputs_per_point, exog, random_seed } = config.shape;
        nonzero("h", h)?;
        nonzero("inputSize", input_size)?;
        nonzero("outputs_per_point", outputs_per_point)?;
        nonzero("convHiddenSize", config.conv_hidden_size)?;
        nonzero("encoderLayers", config.encoder_layers)?;
        nonzero("decoderLayers", config.decoder_layers)?;
        if exog.hist + exog.stat > 0 {
            return Err(NnError::InvalidValue { what: "exogenous inputs", reason: "VanillaTransformer takes future exogenous inputs only".into() });
        }
        let label_len = config.label_len()?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut streams = DropoutStreams { p: config.dropout as f32, next: 0 };
        let d = config.hidden_size;
        let enc_embedding = DataEmbedding::new(&mut init.pp("enc_embedding"), 1, exog.futr, d, input_size, streams.next()?)?;
        let dec_embedding = DataEmbedding::new(&mut init.pp("dec_embedding"), 1, exog.futr, d, label_len + h, streams.next()?)?;
        let mut encoder = Vec::with_capacity(config.encoder_layers);
        for i in 0..config.encoder_layers {
            let prefix = format!("encoder.attn_layers.{i}");
            let attention = attention(&mut init, &format!("{prefix}.attention"), &config, &mut streams)?;
            let convs = convolutions(&mut init, &prefix, &config)?;
            let norm1 = norm(&mut init, format!("{prefix}.norm1"), &config)?;
            let norm2 = norm(&mut init, format!("{prefix}.norm2"), &config)?;
            encoder.push(EncoderLayer {
                attention: AttentionBlock { attention, dropout: streams.next()?, norm: norm1 },
                feed_forward: feed_forward(convs, norm2, &config, &mut streams)?,
            });
        }
        let encoder_norm = norm(&mut init, "encoder.norm".into(), &config)?;
        let mut decoder = Vec::with_capacity(config.decoder_layers);
        for i in 0..config.decoder_layers {
            let prefix = format!("decoder.layers.{i}");
            let self_attention = attention(&mut init, &format!("{prefix}.self_attention"), &config, &mut streams)?;
            let cross_attention = attention(&mut init, &format!("{prefix}.cross_attention"), &config, &mut streams)?;
            let convs = convolutions(&mut init, &prefix, &config)?;
            let [norm1, norm2, norm3] = [1, 2, 3].map(|k| norm(&mut init, format!("{prefix}.norm{k}"), &config));
            decoder.push(DecoderLayer {
                self_attention: AttentionBlock { attention: self_attention, dropout: streams.next()?, norm: norm1? },
                cross_attention: AttentionBlock { attention: cross_attention, dropout: streams.next()?, norm: norm2? },
                feed_forward: feed_forward(convs, norm3?, &config, &mut streams)?,
            });
        }
        let decoder_norm = norm(&mut init, "decoder.norm".into(), &config)?;
        let projection = Linear::new(&mut init.pp("decoder.projection"), d, outputs_per_point)?;
        Ok(VanillaTransformer { config, params, label_len, enc_embedding, dec_embedding, encoder, encoder_norm, decoder, decoder_norm, projection })
    }

    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    fn encode(&self, batch: &WindowBatch<'_>, cache: &mut TransformerCache) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let (b, d) = (batch.batch, self.config.hidden_size);
        let marks = (exog.futr > 0).then_some(WindowRows { data: batch.futr_exog, rows_per_window: l + h, first_row: 0 });
        cache.enc_embedded.resize(b * l * d, 0.0);
        self.enc_embedding.forward(&self.params, batch.insample_y, marks, b, l, batch.train_seed, &mut cache.enc_embedded, &mut cache.enc_embedding)?;
        cache.encoder.resize_with(self.encoder.len(), Default::default);
        for (i, layer) in self.encoder.iter().enumerate() {
            let (below, rest) = cache.encoder.split_at_mut(i);
            let input = below.last().map_or(&cache.enc_embedded[..], EncoderLayerCache::output);
            layer.forward(&self.params, input, b, l, batch.train_seed, &mut rest[0])?;
        }
        let top = cache.encoder.last().map_or(&cache.enc_embedded[..], EncoderLayerCache::output);
        cache.encoded.resize(b * l * d, 0.0);
        self.encoder_norm.forward(&self.params, top, b * l, &mut cache.encoded, &mut cache.encoder_norm)
    }

    fn decode(&self, batch: &WindowBatch<'_>, cache: &mut TransformerCache) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let (b, d, t) = (batch.batch, self.config.hidden_size, self.label_len + h);
        cache.decoder_values.clear();
        for window in batch.insample_y.chunks_exact(l) {
            cache.decoder_values.extend_from_slice(&window[l - self.label_len..]);
            cache.decoder_values.extend(std::iter::repeat_n(0.0, h));
        }
        let marks = (exog.futr > 0).then_some(WindowRows { data: batch.futr_exog, rows_per_window: l + h, first_row: l - self.label_len });
        cache.dec_embedded.resize(b * t * d, 0.0);
        self.dec_embedding.forward(&self.params, &cache.decoder_values, marks, b, t, batch.train_seed, &mut cache.dec_embedded, &mut cache.dec_embedding)?;
        cache.decoder.resize_with(self.decoder.len(), Default::default);
        let last = self.decoder.len() - 1;
        for (i, layer) in self.decoder.iter().enumerate() {
            let (below, rest) = cache.decoder.split_at_mut(i);
            let input = below.last().map_or(&cache.dec_embedded[..], DecoderLayerCache::output);
            let rows_out = if i == last { h } else { t };
            layer.forward(&self.params, input, &cache.encoded, b, (t, l, rows_out), batch.train_seed, &mut rest[0])?;
        }
        let top = cache.decoder[last].output();
        cache.decoded.resize(b * h * d, 0.0);
        self.decoder_norm.forward(&self.params, top, b * h, &mut cache.decoded, &mut cache.decoder_norm)?;
        cache.forecast.resize(b * h * self.config.shape.outputs_per_point, 0.0);
        self.projection.forward(&self.params, &cache.decoded, b * h, &mut cache.forecast)
    }

    /// Backpropagates from `cache.d_above` (the gradient of the decoder's top layer output) to the decoder's
    /// parameters, accumulating the gradient of the encoder output in `cache.d_encoded`.
    fn backward_decoder(&self, cache: &mut TransformerCache, grads: &mut ParamStore) -> Result<(), NnError> {
        let b = cache.batch;
        let (d, t) = (self.config.hidden_size, self.label_len + self.config.shape.h);
        cache.d_encoded.clear();
        cache.d_encoded.resize(cache.encoded.len(), 0.0);
        for i in (0..self.decoder.len()).rev() {
            cache.d_below.resize(b * t * d, 0.0);
            let (below, rest) = cache.decoder.split_at_mut(i);
            let input = below.last().map_or(&cache.dec_embedded[..], DecoderLayerCache::output);
            self.decoder[i].backward(&self.params, input, &cache.encoded, &mut rest[0], &cache.d_above, grads, &mut cache.d_below, &mut cache.d_encoded)?;
            std::mem::swap(&mut cache.d_above, &mut cache.d_below);
        }
        self.dec_embedding.backward(&self.params, &mut cache.dec_embedding, &mut cache.d_above, grads, None, None)
    }

    fn backward_encoder(&self, cache: &mut TransformerCache, grads: &mut ParamStore) -> Result<(), NnError> {
        cache.d_above.resize(cache.encoded.len(), 0.0);
        self.encoder_norm.backward(&self.params, &cache.encoder_norm, &cache.d_encoded, grads, &mut cache.d_above)?;
        cache.d_below.resize(cache.encoded.len(), 0.0);
        for i in (0..self.encoder.len()).rev() {
            let (below, rest) = cache.encoder.split_at_mut(i);
            let input = below.last().map_or(&cache.enc_embedded[..], EncoderLayerCache::output);
            self.encoder[i].backward(&self.params, input, &mut rest[0], &cache.d_above, grads, &mut cache.d_below)?;
            std::mem::swap(&mut cache.d_above, &mut cache.d_below);
        }
        self.enc_embedding.backward(&self.params, &mut cache.enc_embedding, &mut cache.d_above, grads, None, None)
    }
}

impl Model for VanillaTransformer {
    type Cache = TransformerCache;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn params_mut(&mut self) -> &mut ParamStore {
        &mut self.params
    }

    fn forward<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut TransformerCache) -> Result<&'c [f32], NnError> {
        let shape = &self.config.shape;
        batch.check(shape.input_size, shape.h, shape.exog)?;
        cache.batch = 0;
        self.encode(batch, cache)?;
        self.decode(batch, cache)?;
        cache.batch = batch.batch;
        Ok(&cache.forecast)
    }

    fn backward(&self, cache: &mut TransformerCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        self.params.check_same_layout(grads)?;
        nonzero("batch of the forward pass (run forward first)", cache.batch)?;
        let ModelShape { h, outputs_per_point, .. } = self.config.shape;
        expect_len("forecast gradient", cache.batch * h * outputs_per_point, d_output.len())?;
        cache.d_decoded.resize(cache.decoded.len(), 0.0);
        self.projection.backward(&self.params, &cache.decoded, d_output, cache.batch * h, grads, Some(&mut cache.d_decoded))?;
        cache.d_above.resize(cache.decoded.len(), 0.0);
        self.decoder_norm.backward(&self.params, &cache.decoder_norm, &cache.d_decoded, grads, &mut cache.d_above)?;
        self.backward_decoder(cache, grads)?;
        self.backward_encoder(cache, grads)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::models::model::tests::{check_model_gradients, fit_sine, shape, RandomBatch};
    use crate::models::ExogSizes;

    /// The baseline of baselines.md: h 12, input_size 24, hidden_size 64, 4 heads, 2 encoder and 1 decoder layer.
    fn baseline() -> TransformerConfig {
        TransformerConfig { hidden_size: 64, ..TransformerConfig::new(shape(12, 24, ExogSizes::none())) }
    }

    fn small(exog: ExogSizes, outputs_per_point: usize) -> TransformerConfig {
        TransformerConfig {
            hidden_size: 8,
            n_head: 2,
            conv_hidden_size: 6,
            ..TransformerConfig::new(ModelShape { outputs_per_point, ..shape(3, 5, exog) })
        }
    }

    #[test]
    fn parameter_count_equals_torch_at_the_baseline() {
        // NeuralForecast VanillaTransformer(h=12, input_size=24, hidden_size=64, n_head=4, encoder_layers=2,
        // decoder_layers=1): 80,737 parameters.
        let config = baseline();
        let model = config.build().unwrap();
        assert_eq!(model.params().num_parameters(), 80_737);
        assert_eq!(config.memory_estimate().0, 80_737);
        let find = |name: &str| model.params().find(name).unwrap().shape.clone();
        assert_eq!(find("enc_embedding.value_embedding.tokenConv.weight"), [64, 1, 3]);
        assert_eq!(find("encoder.attn_layers.1.attention.key_projection.weight"), [64, 64]);
        assert_eq!(find("encoder.attn_layers.0.conv1.weight"), [32, 64, 1]);
        assert_eq!(find("decoder.layers.0.conv2.weight"), [64, 32, 1]);
        assert_eq!(find("decoder.projection.weight"), [1, 64]);
    }

    #[test]
    fn the_estimate_counts_every_parameter() {
        let configs = [
            TransformerConfig { encoder_layers: 3, decoder_layers: 2, ..small(ExogSizes { futr: 3, ..ExogSizes::none() }, 3) },
            TransformerConfig { hidden_size: 10, n_head: 3, ..small(ExogSizes { futr: 1, ..ExogSizes::none() }, 1) },
            TransformerConfig::new(shape(7, 30, ExogSizes { futr: 2, ..ExogSizes::none() })),
        ];
        for config in configs {
            assert_eq!(config.memory_estimate().0, config.build().unwrap().params().num_parameters() as u128, "{config:?}");
        }
    }

    #[test]
    fn names_follow_torch_registration_order() {
        let config = TransformerConfig { encoder_layers: 1, ..small(ExogSizes { futr: 2, ..ExogSizes::none() }, 1) };
        let model = config.build().unwrap();
        let attention = |prefix: &str| -> Vec<String> {
            ["query", "key", "value", "out"]
                .iter()
                .flat_map(|p| ["weight", "bias"].map(|w| format!("{prefix}.{p}_projection.{w}")))
                .collect()
        };
        let pairs = |prefix: &str, modules: &[&str]| -> Vec<String> {
            modules.iter().flat_map(|m| ["weight", "bias"].map(|w| format!("{prefix}.{m}.{w}"))).collect()
        };
        let mut expected: Vec<String> = ["enc_embedding", "dec_embedding"]
            .iter()
            .flat_map(|e| [format!("{e}.value_embedding.tokenConv.weight"), format!("{e}.temporal_embedding.embed.weight")])
            .collect();
        expected.extend(attention("encoder.attn_layers.0.attention"));
        expected.extend(pairs("encoder.attn_layers.0", &["conv1", "conv2", "norm1", "norm2"]));
        expected.extend(pairs("encoder", &["norm"]));
        expected.extend(attention("decoder.layers.0.self_attention"));
        expected.extend(attention("decoder.layers.0.cross_attention"));
        expected.extend(pairs("decoder.layers.0", &["conv1", "conv2", "norm1", "norm2", "norm3"]));
        expected.extend(pairs("decoder", &["norm", "projection"]));
        let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
        assert_eq!(names, expected);
        assert_eq!(model.params().find("enc_embedding.temporal_embedding.embed.weight").unwrap().shape, [8, 2]);
    }

    #[test]
    fn defaults_and_options_follow_neuralforecast() {
        let mut config = TransformerConfig::new(shape(12, 24, ExogSizes::none()));
        assert_eq!((config.hidden_size, config.n_head, config.conv_hidden_size), (128, 4, 32));
        assert_eq!((config.encoder_layers, config.decoder_layers, config.dropout, config.activation), (2, 1, 0.05, Activation::Gelu));
        assert_eq!(config.label_len(), Ok(12));
        let options = json!({ "hiddenSize": 16, "nHead": 2, "convHiddenSize": 8, "encoderLayers": 3, "decoderLayers": 2,
            "dropout": 0.1, "activation": "relu", "decoderInputSizeMultiplier": 0.3 });
        config.read_options(&ModelOptions::new("VanillaTransformer", options.as_object().unwrap())).unwrap();
        assert_eq!(config.label_len(), Ok(8)); // ceil(24 * 0.3)
        let mut written = Map::new();
        config.write_options(&mut written);
        let mut reread = TransformerConfig::new(shape(12, 24, ExogSizes::none()));
        reread.read_options(&ModelOptions::new("VanillaTransformer", &written)).unwrap();
        assert_eq!(reread, config);
        assert_eq!(written.len(), TransformerConfig::OPTION_KEYS.len());
    }

    #[test]
    fn invalid_options_name_the_field() {
        let read = |options: Value| {
            let mut config = TransformerConfig::new(shape(12, 24, ExogSizes::none()));
            config.read_options(&ModelOptions::new("VanillaTransformer", options.as_object().unwrap())).unwrap_err().to_string()
        };
        assert!(read(json!({ "dropout": 1 })).contains("VanillaTransformer.dropout"));
        assert!(read(json!({ "activation": "tanh" })).contains("VanillaTransformer.activation"));
        assert!(read(json!({ "decoderInputSizeMultiplier": 0.99 })).contains("decoderInputSizeMultiplier"));
        assert!(read(json!({ "hiddenSize": 7 })).contains("hiddenSize"));
        assert!(read(json!({ "hiddenSize": 4, "nHead": 5 })).contains("nHead"));
        assert!(read(json!({ "encoderLayers": 0 })).contains("encoderLayers"));
    }

    #[test]
    fn invalid_sizes_and_inputs_give_errors() {
        let exog = |hist, stat| ExogSizes { futr: 0, hist, stat };
        assert!(small(exog(1, 0), 1).build().is_err());
        assert!(small(exog(0, 1), 1).build().is_err());
        for config in [
            TransformerConfig { decoder_input_size_multiplier: 1.0, ..small(ExogSizes::none(), 1) },
            TransformerConfig { decoder_input_size_multiplier: 0.0, ..small(ExogSizes::none(), 1) },
            TransformerConfig { hidden_size: 9, ..small(ExogSizes::none(), 1) },
            TransformerConfig { n_head: 9, ..small(ExogSizes::none(), 1) },
            TransformerConfig { decoder_layers: 0, ..small(ExogSizes::none(), 1) },
            TransformerConfig { conv_hidden_size: 0, ..small(ExogSizes::none(), 1) },
            TransformerConfig::new(shape(0, 5, ExogSizes::none())),
        ] {
            assert!(config.build().is_err(), "{config:?}");
        }
        let model = small(ExogSizes { futr: 1, ..ExogSizes::none() }, 1).build().unwrap();
        let mut cache = TransformerCache::default();
        let mut grads = model.params().zeros_like();
        assert!(model.backward(&mut cache, &[0.0; 6], &mut grads).is_err(), "backward before forward");
        let inputs = RandomBatch::new(model.config().shape(), 2, 1);
        let missing_exog = WindowBatch { futr_exog: &[], ..inputs.view(None) };
        assert!(model.forward(&missing_exog, &mut cache).is_err());
        model.forward(&inputs.view(None), &mut cache).unwrap();
        assert!(model.backward(&mut cache, &[0.0; 5], &mut grads).is_err());
        assert!(model.backward(&mut cache, &[0.0; 6], &mut ParamStore::new()).is_err());
    }

    #[test]
    fn gradients_match_finite_differences_with_future_exogenous_inputs_and_quantiles() {
        let config = TransformerConfig { decoder_layers: 2, ..small(ExogSizes { futr: 2, ..ExogSizes::none() }, 3) };
        check_model_gradients(&config);
    }

    #[test]
    fn gradients_match_finite_differences_with_relu_uneven_heads_and_more_dropout() {
        let config = TransformerConfig {
            hidden_size: 10,
            n_head: 3,
            encoder_layers: 1,
            dropout: 0.3,
            activation: Activation::Relu,
            ..small(ExogSizes::none(), 1)
        };
        check_model_gradients(&config);
    }

    #[test]
    fn the_last_decoder_layer_computes_the_forecast_rows_as_the_full_layer_does() {
        let config = small(ExogSizes::none(), 1);
        let model = config.build().unwrap();
        let (b, t, l, h, d) = (2, model.label_len + 3, 5, 3, 8);
        let input = crate::nn::gradcheck::random_vec(b * t * d, 1);
        let encoded = crate::nn::gradcheck::random_vec(b * l * d, 2);
        let layer = &model.decoder[0];
        let (mut full, mut tail) = (DecoderLayerCache::default(), DecoderLayerCache::default());
        layer.forward(&model.params, &input, &encoded, b, (t, l, t), None, &mut full).unwrap();
        layer.forward(&model.params, &input, &encoded, b, (t, l, h), None, &mut tail).unwrap();
        let full_tail: Vec<f32> = full.output().chunks_exact(t * d).flat_map(|w| w[(t - h) * d..].to_vec()).collect();
        assert_eq!(full_tail, tail.output());
    }

    #[test]
    fn a_window_is_forecast_alone_as_in_a_batch() {
        let model = small(ExogSizes { futr: 2, ..ExogSizes::none() }, 2).build().unwrap();
        let shape = *model.config().shape();
        let inputs = RandomBatch::new(&shape, 5, 3);
        let (k, l, h, f) = (3, shape.input_size, shape.h, shape.exog.futr);
        let one = WindowBatch {
            batch: 1,
            insample_y: &inputs.insample_y[k * l..(k + 1) * l],
            futr_exog: &inputs.futr_exog[k * (l + h) * f..(k + 1) * (l + h) * f],
            ..inputs.view(None)
        };
        for simd in [true, false] {
            let _path = crate::simd::scoped_simd(simd);
            let all = model.forward(&inputs.view(None), &mut TransformerCache::default()).unwrap().to_vec();
            let single = model.forward(&one, &mut TransformerCache::default()).unwrap().to_vec();
            // Bit for bit: every product and reduction treats a row alike whatever the batch.
            assert_eq!(single, &all[k * h * 2..(k + 1) * h * 2], "simd {simd}");
        }
    }

    #[test]
    fn dropout_is_seeded_and_off_at_inference() {
        let model = small(ExogSizes::none(), 1).build().unwrap();
        let inputs = RandomBatch::new(model.config().shape(), 2, 8);
        let run = |seed| model.forward(&inputs.view(seed), &mut TransformerCache::default()).unwrap().to_vec();
        assert_eq!(run(Some(1)), run(Some(1)));
        assert_ne!(run(Some(1)), run(Some(2)));
        assert_eq!(run(None), run(None));
        assert_ne!(run(None), run(Some(1)));
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = TransformerConfig { hidden_size: 16, conv_hidden_size: 16, ..TransformerConfig::new(shape(12, 24, ExogSizes::none())) };
        let (before, after) = fit_sine(&config, 200, 3e-3);
        assert!(after < 0.3 * before, "MAE {before} -> {after}");
    }

    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib models::transformer -- --ignored --nocapture"]
    fn timing_at_the_baseline() {
        crate::models::timing::time_all(&baseline());
    }
}

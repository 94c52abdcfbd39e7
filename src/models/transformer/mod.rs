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

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use crate::nn::embedding::{DataEmbedding, DataEmbeddingCache, WindowRows};
use crate::nn::error::{expect_len, nonzero};
use crate::nn::layer_norm::{LayerNorm, LayerNormCache};

pub(crate) mod layers;
use layers::{norm, LayerSizes, DecoderLayer, DecoderLayerCache, DropoutStreams, EncoderLayer, EncoderLayerCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// The feed-forward activation: vanillatransformer.py accepts exactly these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    /// `F.gelu`: the exact erf form.
    Gelu,
}

impl Activation {
    pub(crate) const NAMES: [&'static str; 2] = ["relu", "gelu"];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
        }
    }

    /// `output = act(pre_activation)`, the feed-forward blocks' nonlinearity (this model's and PatchTST's).
    pub(crate) fn forward(self, pre_activation: &[f32], output: &mut [f32]) {
        match self {
            Activation::Gelu => crate::nn::gelu::gelu_forward(pre_activation, output),
            Activation::Relu => {
                output.copy_from_slice(pre_activation);
                crate::nn::activation::relu_in_place(output);
            }
        }
    }

    /// Turns the gradient of `act(pre_activation)` in `d` into that of `pre_activation`.
    pub(crate) fn backward_in_place(self, d: &mut [f32], pre_activation: &[f32]) {
        match self {
            Activation::Gelu => crate::nn::gelu::gelu_backward_in_place(d, pre_activation),
            Activation::Relu => crate::nn::activation::relu_backward_in_place(d, pre_activation),
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
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros (forecasts from the exogenous
    /// variables alone).
    pub exclude_insample_y: bool,
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

    fn layer_sizes(&self) -> LayerSizes {
        LayerSizes { hidden_size: self.hidden_size, n_head: self.n_head, conv_hidden_size: self.conv_hidden_size, activation: self.activation }
    }

    fn decoder_len(&self) -> usize {
        self.label_len().unwrap_or(0) + self.shape.h
    }
}

impl ModelConfig for TransformerConfig {
    type Network = VanillaTransformer;

    const NAME: &'static str = "VanillaTransformer";
    const OPTION_KEYS: &'static [&'static str] =
        &["hiddenSize", "nHead", "convHiddenSize", "encoderLayers", "decoderLayers", "dropout", "activation", "decoderInputSizeMultiplier", "excludeInsampleY"];
    /// vanillatransformer.py: `input_size` required, `scaler_type='identity'`, `learning_rate=1e-4`,
    /// `max_steps=5000`, `windows_batch_size=1024`, `inference_windows_batch_size=1024`, `num_lr_decays=-1`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { learning_rate: 1e-4, max_steps: 5000, inference_windows_batch_size: Some(1024), ..TrainingDefaults::WINDOWS };

    /// vanillatransformer.py: `hidden_size=128`, `n_head=4`, `conv_hidden_size=32`, `encoder_layers=2`,
    /// `decoder_layers=1`, `dropout=0.05`, `activation='gelu'`, `decoder_input_size_multiplier=0.5`, `exclude_insample_y=False`.
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
            exclude_insample_y: false,
        }
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([
            ("hiddenSize", &mut self.hidden_size), ("nHead", &mut self.n_head),
            ("convHiddenSize", &mut self.conv_hidden_size), ("encoderLayers", &mut self.encoder_layers),
            ("decoderLayers", &mut self.decoder_layers),
        ])?;
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
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
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
        write_entries(out, [
            ("hiddenSize", self.hidden_size.into()), ("nHead", self.n_head.into()),
            ("convHiddenSize", self.conv_hidden_size.into()), ("encoderLayers", self.encoder_layers.into()),
            ("decoderLayers", self.decoder_layers.into()), ("dropout", self.dropout.into()),
            ("activation", self.activation.name().into()),
            ("decoderInputSizeMultiplier", self.decoder_input_size_multiplier.into()),
            ("excludeInsampleY", self.exclude_insample_y.into()),
        ]);
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size, outputs_per_point, exog, .. } = self.shape;
        let sizes = self.layer_sizes();
        let [d, futr, out] = [self.hidden_size, exog.futr, outputs_per_point].map(|v| v as u128);
        let [l, t, h, enc, dec] = [input_size, self.decoder_len(), h, self.encoder_layers, self.decoder_layers].map(|v| v as u128);
        let norm_params = 2 * d;
        let embedding_params = 3 * d + futr * d;
        let decoder_layer_params = sizes.encoder_layer_parameters() + sizes.attention_parameters() + norm_params;
        let parameters = 2 * embedding_params + enc * sizes.encoder_layer_parameters() + norm_params + dec * decoder_layer_params + norm_params + d * out + out;
        // Every buffer the caches keep per window, backward scratch included, counting each decoder layer at
        // full length (see the cache structs).
        let embedding_rows = |rows: u128| rows * (3 + futr + 3 * d);
        let decoder_layer = sizes.attention_block_values(t, t) + sizes.attention_block_values(t, l) + sizes.feed_forward_block_values(t) + 4 * t * d + l * d;
        let norms_and_heads = (2 * l * d + l) + (3 * h * d + h) + h * out;
        let gradients_down = l * d + 2 * t.max(l) * d;
        let activations = t + embedding_rows(l) + embedding_rows(t) + enc * sizes.encoder_layer_values(l) + dec * decoder_layer + norms_and_heads + gradients_down;
        (parameters, activations)
    }

    fn build(&self) -> Result<VanillaTransformer, NnError> {
        VanillaTransformer::new(self.clone())
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
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
crate::nn::heap_bytes::heap_bytes!(TransformerCache { batch, decoder_values, enc_embedding, enc_embedded, encoder, encoder_norm, encoded, dec_embedding, dec_embedded, decoder, decoder_norm, decoded, forecast, d_decoded, d_encoded, d_above, d_below });

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
        let mut streams = DropoutStreams::new(config.dropout as f32);
        let d = config.hidden_size;
        let sizes = config.layer_sizes();
        let enc_embedding = DataEmbedding::new(&mut init.pp("enc_embedding"), 1, exog.futr, d, input_size, streams.next()?)?;
        let dec_embedding = DataEmbedding::new(&mut init.pp("dec_embedding"), 1, exog.futr, d, label_len + h, streams.next()?)?;
        let mut encoder = Vec::with_capacity(config.encoder_layers);
        for i in 0..config.encoder_layers {
            encoder.push(EncoderLayer::new(&mut init, &format!("encoder.attn_layers.{i}"), &sizes, &mut streams)?);
        }
        let encoder_norm = norm(&mut init, "encoder.norm".into(), &sizes)?;
        let mut decoder = Vec::with_capacity(config.decoder_layers);
        for i in 0..config.decoder_layers {
            decoder.push(DecoderLayer::new(&mut init, &format!("decoder.layers.{i}"), &sizes, &mut streams)?);
        }
        let decoder_norm = norm(&mut init, "decoder.norm".into(), &sizes)?;
        let projection = Linear::new(&mut init.pp("decoder.projection"), d, outputs_per_point)?;
        Ok(VanillaTransformer { config, params, label_len, enc_embedding, dec_embedding, encoder, encoder_norm, decoder, decoder_norm, projection })
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

impl VanillaTransformer {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut TransformerCache) -> Result<&'c [f32], NnError> {
        cache.batch = 0;
        self.encode(batch, cache)?;
        self.decode(batch, cache)?;
        cache.batch = batch.batch;
        Ok(&cache.forecast)
    }

    fn backward_pass(&self, cache: &mut TransformerCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
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

impl_model!(VanillaTransformer, TransformerConfig, TransformerCache);

#[cfg(test)]
pub(crate) mod tests;

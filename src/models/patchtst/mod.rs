//! NeuralForecast's `PatchTST` (neuralforecast/models/patchtst.py): a channel-independent Transformer over patches
//! of the input window.
//!
//! - `model.revin_layer` (RevIN, [`crate::nn::revin`]) normalises each window (by its last value by default) and
//!   maps the forecasts back.
//! - `model.backbone` cuts the window into patches (padded at the end with `stride` copies of the last value),
//!   projects them and adds the positional encoding ([`crate::nn::patching`]), then runs `encoder_layers`
//!   `TSTEncoderLayer`s ([`layers`]): self-attention (residual attention by default: each layer adds the previous
//!   layer's pre-softmax scores) and a feed-forward block, each with a BatchNorm over the hidden channels.
//! - `model.head.linear` maps the flattened `[hidden, patch_num]` encoding (hidden-major, as NF's `Flatten`) to the
//!   `h * outputs_per_point` forecasts.
//!
//! As NF, the model always normalises with BatchNorm (NF's `batch_normalization` only moves it before each
//! sublayer), trains with the batch's statistics and forecasts with the running ones; the engine therefore runs a
//! training step of this model as one pass over the whole batch and folds the statistics in afterwards
//! ([`crate::models::Model::update_buffers`]). `patch_len` is `min(patchLen, inputSize + stride)`, as NF. The model
//! takes no exogenous inputs (NF's `EXOGENOUS_* = False`). `fc_dropout` feeds only NF's pretraining head, which
//! `PatchTST` never builds; it is accepted at NF's default only.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use super::transformer::Activation;
use crate::nn::attention::ScoreGradients;
use crate::nn::dropout::Dropout;
use crate::nn::error::nonzero;
use crate::nn::matmul::transpose;
use crate::nn::patching::{PatchEmbedding, PatchEmbeddingCache};
use crate::nn::revin::{RevIn, RevInCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};
use crate::simd::thread_isa;

mod layers;
use layers::{EncoderLayer, EncoderLayerCache, LayerOptions};

/// NF's default `fc_dropout`, the only value accepted (see the module docs).
const FC_DROPOUT: f64 = 0.2;

#[derive(Debug, Clone, PartialEq)]
pub struct PatchTstConfig {
    pub shape: ModelShape,
    pub encoder_layers: usize,
    pub n_heads: usize,
    pub hidden_size: usize,
    pub linear_hidden_size: usize,
    pub dropout: f64,
    pub head_dropout: f64,
    pub attn_dropout: f64,
    pub patch_len: usize,
    pub stride: usize,
    pub revin: bool,
    pub revin_affine: bool,
    pub revin_subtract_last: bool,
    pub activation: Activation,
    pub res_attention: bool,
    pub batch_normalization: bool,
    pub learn_pos_embed: bool,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros.
    pub exclude_insample_y: bool,
}

impl PatchTstConfig {
    /// NF's `patch_len = min(input_size + stride, patch_len)`.
    pub fn effective_patch_len(&self) -> usize {
        self.patch_len.min(self.shape.input_size + self.stride)
    }

    /// `(input_size + stride - patch_len) / stride + 1` patches (the padded window's `unfold`).
    pub fn patch_num(&self) -> usize {
        (self.shape.input_size + self.stride - self.effective_patch_len()) / self.stride.max(1) + 1
    }
}

impl ModelConfig for PatchTstConfig {
    type Network = PatchTst;

    const NAME: &'static str = "PatchTST";
    const OPTION_KEYS: &'static [&'static str] = &[
        "encoderLayers", "nHeads", "hiddenSize", "linearHiddenSize", "dropout", "fcDropout", "headDropout", "attnDropout", "patchLen",
        "stride", "revin", "revinAffine", "revinSubtractLast", "activation", "resAttention", "batchNormalization", "learnPosEmbed",
        "excludeInsampleY",
    ];
    /// patchtst.py: `input_size` required, `scaler_type='identity'`, `learning_rate=1e-4`, `max_steps=5000`,
    /// `windows_batch_size=1024`, `inference_windows_batch_size=1024`, `num_lr_decays=-1`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { learning_rate: 1e-4, max_steps: 5000, inference_windows_batch_size: Some(1024), ..TrainingDefaults::WINDOWS };

    /// patchtst.py: `encoder_layers=3`, `n_heads=16`, `hidden_size=128`, `linear_hidden_size=256`, `dropout=0.2`,
    /// `fc_dropout=0.2`, `head_dropout=0.0`, `attn_dropout=0.0`, `patch_len=16`, `stride=8`, `revin=True`,
    /// `revin_affine=False`, `revin_subtract_last=True`, `activation='gelu'`, `res_attention=True`,
    /// `batch_normalization=False`, `learn_pos_embed=True`, `exclude_insample_y=False`.
    fn new(shape: ModelShape) -> Self {
        PatchTstConfig {
            shape,
            encoder_layers: 3,
            n_heads: 16,
            hidden_size: 128,
            linear_hidden_size: 256,
            dropout: 0.2,
            head_dropout: 0.0,
            attn_dropout: 0.0,
            patch_len: 16,
            stride: 8,
            revin: true,
            revin_affine: false,
            revin_subtract_last: true,
            activation: Activation::Gelu,
            res_attention: true,
            batch_normalization: false,
            learn_pos_embed: true,
            exclude_insample_y: false,
        }
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        if !self.shape.exog.is_empty() {
            return Err(OptionError::Type(format!(
                "{}: PatchTST takes no exogenous variables (NeuralForecast's PatchTST has none): leave out futrExogList, histExogList and statExogList",
                options.path()
            )));
        }
        options.read_sizes([
            ("encoderLayers", &mut self.encoder_layers), ("nHeads", &mut self.n_heads), ("hiddenSize", &mut self.hidden_size),
            ("linearHiddenSize", &mut self.linear_hidden_size), ("patchLen", &mut self.patch_len), ("stride", &mut self.stride),
        ])?;
        for (key, value) in [("dropout", &mut self.dropout), ("headDropout", &mut self.head_dropout), ("attnDropout", &mut self.attn_dropout)] {
            if let Some(p) = options.number_in(key, 0.0, 1.0)? {
                if p >= 1.0 {
                    return Err(OptionError::Range(format!("{} must be below 1, got {p}", options.field(key))));
                }
                *value = p;
            }
        }
        if let Some(p) = options.number_in("fcDropout", 0.0, 1.0)? {
            if p != FC_DROPOUT {
                return Err(OptionError::Range(format!(
                    "{} has no effect in NeuralForecast's PatchTST (it feeds only a pretraining head the model never builds); leave it at {FC_DROPOUT}, got {p}",
                    options.field("fcDropout")
                )));
            }
        }
        if let Some(name) = options.choice("activation", &Activation::NAMES)? {
            self.activation = if name == "relu" { Activation::Relu } else { Activation::Gelu };
        }
        for (key, value) in [
            ("revin", &mut self.revin), ("revinAffine", &mut self.revin_affine), ("revinSubtractLast", &mut self.revin_subtract_last),
            ("resAttention", &mut self.res_attention), ("batchNormalization", &mut self.batch_normalization),
            ("learnPosEmbed", &mut self.learn_pos_embed), ("excludeInsampleY", &mut self.exclude_insample_y),
        ] {
            *value = options.boolean(key)?.unwrap_or(*value);
        }
        for (key, value) in [("encoderLayers", self.encoder_layers), ("nHeads", self.n_heads), ("patchLen", self.patch_len), ("stride", self.stride)] {
            if value == 0 {
                return Err(OptionError::Range(format!("{} must be at least 1, got 0", options.field(key))));
            }
        }
        if self.hidden_size % self.n_heads != 0 {
            return Err(OptionError::Range(format!(
                "{} ({}) must be a multiple of nHeads ({}), as NeuralForecast asserts",
                options.field("hiddenSize"),
                self.hidden_size,
                self.n_heads
            )));
        }
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("encoderLayers", self.encoder_layers.into()), ("nHeads", self.n_heads.into()), ("hiddenSize", self.hidden_size.into()),
            ("linearHiddenSize", self.linear_hidden_size.into()), ("dropout", self.dropout.into()), ("fcDropout", FC_DROPOUT.into()),
            ("headDropout", self.head_dropout.into()), ("attnDropout", self.attn_dropout.into()), ("patchLen", self.patch_len.into()),
            ("stride", self.stride.into()), ("revin", self.revin.into()), ("revinAffine", self.revin_affine.into()),
            ("revinSubtractLast", self.revin_subtract_last.into()), ("activation", self.activation.name().into()),
            ("resAttention", self.res_attention.into()), ("batchNormalization", self.batch_normalization.into()),
            ("learnPosEmbed", self.learn_pos_embed.into()), ("excludeInsampleY", self.exclude_insample_y.into()),
        ]);
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size, outputs_per_point, .. } = self.shape;
        let [d, f, heads, layers, q, p, l] =
            [self.hidden_size, self.linear_hidden_size, self.n_heads, self.encoder_layers, self.patch_num(), self.effective_patch_len(), input_size]
                .map(|v| v as u128);
        let outputs = (h * outputs_per_point) as u128;
        let revin = if self.revin && self.revin_affine { 2 } else { 0 };
        let layer = 4 * (d * d + d) + 1 + 4 * d + (2 * d * f + f + d);
        let parameters = revin + q * d + p * d + d + layers * layer + q * d * outputs + outputs;
        // Every buffer the caches keep per window (see the cache structs), rounded up.
        let attention = 16 * q * d + 6 * heads * q * q;
        let residuals = 2 * 6 * q * d;
        let feed_forward = 4 * q * f + 4 * q * d;
        let embedding = q * p + 3 * q * d;
        let activations = 3 * l + embedding + layers * (attention + residuals + feed_forward) + 4 * q * d + 4 * outputs;
        (parameters, activations)
    }

    fn build(&self) -> Result<PatchTst, NnError> {
        PatchTst::new(self.clone())
    }

    /// Two BatchNorms a layer, each with `running_mean`, `running_var` and `num_batches_tracked`.
    fn buffer_values(&self) -> u128 {
        (self.encoder_layers * 2 * (2 * self.hidden_size + 1)) as u128
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

/// NeuralForecast's `PatchTST` (see the module docs).
#[derive(Debug, Clone)]
pub struct PatchTst {
    config: PatchTstConfig,
    params: ParamStore,
    revin: Option<RevIn>,
    embedding: PatchEmbedding,
    layers: Vec<EncoderLayer>,
    head: Linear,
    head_dropout: Dropout,
}

#[derive(Debug, Clone, Default)]
pub struct PatchTstCache {
    batch: usize,
    /// The RevIN-normalised windows `[B, L]` (the windows themselves without RevIN).
    normalized: Vec<f32>,
    revin: RevInCache,
    embedding: PatchEmbeddingCache,
    tokens: Vec<f32>,
    layers: Vec<EncoderLayerCache>,
    /// The encoder output of each window transposed to `[hidden, patch_num]` and flattened: the head's input.
    flat: Vec<f32>,
    head_mask: Vec<f32>,
    forecast: Vec<f32>,
    d_forecast: Vec<f32>,
    d_flat: Vec<f32>,
    d_above: Vec<f32>,
    d_below: Vec<f32>,
    d_scores_above: Vec<f32>,
    d_scores_below: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(PatchTstCache {
    batch, normalized, revin, embedding, tokens, layers, flat, head_mask, forecast, d_forecast, d_flat, d_above, d_below, d_scores_above, d_scores_below
});

impl PatchTst {
    /// Builds the network with torch's parameter names, in torch's registration order.
    pub fn new(config: PatchTstConfig) -> Result<Self, NnError> {
        let ModelShape { h, input_size, outputs_per_point, exog, random_seed } = config.shape;
        nonzero("h", h)?;
        nonzero("outputs_per_point", outputs_per_point)?;
        nonzero("encoderLayers", config.encoder_layers)?;
        nonzero("linearHiddenSize", config.linear_hidden_size)?;
        if !exog.is_empty() {
            return Err(NnError::InvalidValue { what: "exogenous inputs", reason: "PatchTST takes none".into() });
        }
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut model = init.pp("model");
        let mut stream = 0;
        let mut next_dropout = |p: f32| {
            stream += 1;
            Dropout::new(p, stream)
        };
        let revin = if config.revin { Some(RevIn::new(&mut model.pp("revin_layer"), config.revin_affine, config.revin_subtract_last)?) } else { None };
        let (d, dropout) = (config.hidden_size, config.dropout as f32);
        let mut backbone = model.pp("backbone");
        let embedding = PatchEmbedding::new(&mut backbone, input_size, config.effective_patch_len(), config.stride, d, config.learn_pos_embed, next_dropout(dropout)?)?;
        let options = LayerOptions {
            hidden: d,
            heads: config.n_heads,
            linear_hidden: config.linear_hidden_size,
            dropout,
            attn_dropout: config.attn_dropout as f32,
            activation: config.activation,
            res_attention: config.res_attention,
            pre_norm: config.batch_normalization,
        };
        let layers = (0..config.encoder_layers)
            .map(|i| EncoderLayer::new(&mut backbone.pp(format!("encoder.layers.{i}")), options, &mut next_dropout))
            .collect::<Result<Vec<_>, _>>()?;
        let head = Linear::new(&mut model.pp("head.linear"), d * embedding.patch_num(), h * outputs_per_point)?;
        let head_dropout = next_dropout(config.head_dropout as f32)?;
        Ok(PatchTst { config, params, revin, embedding, layers, head, head_dropout })
    }

    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut PatchTstCache) -> Result<&'c [f32], NnError> {
        let (b, l, d, q) = (batch.batch, self.config.shape.input_size, self.config.hidden_size, self.embedding.patch_num());
        cache.batch = b;
        cache.normalized.resize(b * l, 0.0);
        match &self.revin {
            Some(revin) => revin.normalize(&self.params, batch.insample_y, l, &mut cache.normalized, &mut cache.revin)?,
            None => cache.normalized.copy_from_slice(batch.insample_y),
        }
        cache.tokens.resize(b * q * d, 0.0);
        self.embedding.forward(&self.params, &cache.normalized, batch.train_seed, &mut cache.tokens, &mut cache.embedding)?;
        cache.layers.resize_with(self.layers.len(), Default::default);
        for (i, layer) in self.layers.iter().enumerate() {
            let (below, rest) = cache.layers.split_at_mut(i);
            let previous = below.last().zip(i.checked_sub(1).map(|j| &self.layers[j]));
            let input = previous.map_or(&cache.tokens[..], |(c, layer)| c.output(layer));
            let prev_scores = previous.filter(|_| self.config.res_attention).map(|(c, layer)| c.scores(layer));
            layer.forward(&self.params, input, b, q, prev_scores, batch.train_seed, &mut rest[0])?;
        }
        let top = cache.layers.last().map_or(&cache.tokens[..], |c| c.output(&self.layers[self.layers.len() - 1]));
        // NF's head flattens `[hidden, patch_num]`: each window's `[patch_num, hidden]` encoding transposed.
        let isa = thread_isa();
        cache.flat.resize(b * q * d, 0.0);
        for (window, flat) in top.chunks_exact(q * d).zip(cache.flat.chunks_exact_mut(q * d)) {
            transpose(isa, window, q, d, &mut cache.d_flat);
            flat.copy_from_slice(&cache.d_flat[..q * d]);
        }
        let outputs = self.head.out_features();
        cache.forecast.resize(b * outputs, 0.0);
        self.head.forward(&self.params, &cache.flat, b, &mut cache.forecast)?;
        self.head_dropout.forward_in_place(&mut cache.forecast, batch.train_seed, &mut cache.head_mask);
        if let Some(revin) = &self.revin {
            revin.denormalize(&self.params, &mut cache.forecast, outputs, &mut cache.revin)?;
        }
        Ok(&cache.forecast)
    }

    fn backward_pass(&self, cache: &mut PatchTstCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let (b, d, q) = (cache.batch, self.config.hidden_size, self.embedding.patch_num());
        nonzero("PatchTST batch (run forward first)", b)?;
        crate::nn::error::expect_len("PatchTST forecast gradient", cache.forecast.len(), d_output.len())?;
        cache.d_forecast.clear();
        cache.d_forecast.extend_from_slice(d_output);
        if let Some(revin) = &self.revin {
            revin.backward_denormalize(&self.params, &cache.revin, &mut cache.d_forecast, grads)?;
        }
        self.head_dropout.backward_in_place(&mut cache.d_forecast, &cache.head_mask)?;
        cache.d_flat.resize(b * q * d, 0.0);
        self.head.backward(&self.params, &cache.flat, &cache.d_forecast, b, grads, Some(&mut cache.d_flat))?;
        let isa = thread_isa();
        cache.d_above.resize(b * q * d, 0.0);
        for (d_flat, d_window) in cache.d_flat.chunks_exact(q * d).zip(cache.d_above.chunks_exact_mut(q * d)) {
            transpose(isa, d_flat, d, q, &mut cache.d_below);
            d_window.copy_from_slice(&cache.d_below[..q * d]);
        }
        cache.d_scores_above.clear();
        for i in (0..self.layers.len()).rev() {
            cache.d_below.resize(b * q * d, 0.0);
            let (below, rest) = cache.layers.split_at_mut(i);
            let input = below.last().map_or(&cache.tokens[..], |c| c.output(&self.layers[i - 1]));
            let residual = self.config.res_attention;
            if residual && i > 0 {
                cache.d_scores_below.resize(rest[0].scores(&self.layers[i]).len(), 0.0);
            }
            let d_scores = ScoreGradients {
                above: (residual && !cache.d_scores_above.is_empty()).then_some(&cache.d_scores_above[..]),
                below: (residual && i > 0).then_some(&mut cache.d_scores_below[..]),
            };
            self.layers[i].backward(&self.params, input, &mut rest[0], &cache.d_above, grads, &mut cache.d_below, d_scores)?;
            std::mem::swap(&mut cache.d_above, &mut cache.d_below);
            std::mem::swap(&mut cache.d_scores_above, &mut cache.d_scores_below);
        }
        // The windows are data: their gradient is needed only for RevIN's affine parameters.
        match self.revin.as_ref().filter(|_| self.config.revin_affine) {
            Some(revin) => {
                cache.d_below.resize(cache.normalized.len(), 0.0);
                self.embedding.backward(&self.params, &mut cache.embedding, &cache.d_above, grads, Some(&mut cache.d_below))?;
                revin.backward_normalize(&cache.revin, &cache.d_below, grads)
            }
            None => self.embedding.backward(&self.params, &mut cache.embedding, &cache.d_above, grads, None),
        }
    }
}

impl PatchTst {
    /// [`crate::models::Model::update_buffers`]: every BatchNorm's running statistics, from the training pass in
    /// `cache`.
    fn update_running_statistics(&mut self, cache: &PatchTstCache) -> Result<(), NnError> {
        for (layer, layer_cache) in self.layers.iter().zip(&cache.layers) {
            layer.update_running_statistics(&mut self.params, layer_cache)?;
        }
        Ok(())
    }
}

impl_model!(PatchTst, PatchTstConfig, PatchTstCache; update_running_statistics);

#[cfg(test)]
mod tests;

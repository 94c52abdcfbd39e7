//! NeuralForecast's `iTransformer` (neuralforecast/models/itransformer.py), a multivariate model that inverts the
//! Transformer: each of the `n_series` series of a window is one token. With `use_norm`, every series' window is
//! centred and scaled (the Non-stationary Transformer's normalisation, [`RevIn`] without affine weights); the
//! inverted embedding (`DataEmbedding_inverted`: a linear map `input_size → hidden_size` of each series, then
//! dropout) gives the tokens, `e_layers` `TransEncoderLayer`s attend across the series (full attention, no mask;
//! the layers VanillaTransformer uses, with GELU), `encoder.norm` and `projector` (`hidden_size → h ×
//! outputs_per_point`) give each series' forecast, mapped back with its window's statistics.
//!
//! Future exogenous variables (NeuralForecast 3.3's `EXOGENOUS_FUTR = True`) are extra tokens: each variable of
//! each series over the window and the horizon (`input_size + h` values, not normalised) goes through
//! `futr_embedding` and `futr_dropout`; the `N·F` tokens (series-major) follow the `N` series tokens, the encoder
//! attends over all of them, and the projector reads the series tokens alone. Historic and static variables are
//! refused (`EXOGENOUS_HIST = EXOGENOUS_STAT = False`). Its `d_layers` and `factor` build nothing (no decoder;
//! `FullAttention` ignores `factor`), so they are accepted at their defaults only.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use super::transformer::layers::{norm, DropoutStreams, EncoderLayer, EncoderLayerCache, LayerSizes};
use super::transformer::Activation;
use super::tsmixer::{read_dropout, read_n_series};
use crate::nn::dropout::Dropout;
use crate::nn::layer_norm::{LayerNorm, LayerNormCache};
use crate::nn::revin::{RevIn, RevInCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct ITransformerConfig {
    pub shape: ModelShape,
    /// NeuralForecast's `n_series`: the series the model forecasts jointly (required, no default).
    pub n_series: usize,
    pub hidden_size: usize,
    pub n_heads: usize,
    pub e_layers: usize,
    pub d_ff: usize,
    pub dropout: f64,
    pub use_norm: bool,
}

/// itransformer.py's `d_layers=1` and `factor=1`, which it stores but never uses.
const D_LAYERS: usize = 1;
const FACTOR: usize = 1;

impl ITransformerConfig {
    fn out_features(&self) -> usize {
        self.shape.h * self.shape.outputs_per_point
    }

    /// Tokens per window: the series, then each future exogenous variable of each series.
    fn tokens_per_window(&self) -> usize {
        self.n_series * (1 + self.shape.exog.futr)
    }

    fn layer_sizes(&self) -> LayerSizes {
        LayerSizes { hidden_size: self.hidden_size, n_head: self.n_heads, conv_hidden_size: self.d_ff, activation: Activation::Gelu }
    }
}

/// Reads an option NeuralForecast's iTransformer stores but never uses, accepting only its default `default`.
fn read_unused(options: &ModelOptions<'_>, key: &str, default: usize, why: &str) -> OptionResult<()> {
    match options.size(key)? {
        Some(value) if value != default => {
            Err(OptionError::Range(format!("{} is accepted as {default} only, got {value}: NeuralForecast's iTransformer {why}", options.field(key))))
        }
        _ => Ok(()),
    }
}

impl ModelConfig for ITransformerConfig {
    type Network = ITransformer;

    const NAME: &'static str = "iTransformer";
    const OPTION_KEYS: &'static [&'static str] = &["nSeries", "hiddenSize", "nHeads", "eLayers", "dLayers", "dFf", "factor", "dropout", "useNorm"];
    /// itransformer.py: `input_size` required, `scaler_type='identity'`, `learning_rate=1e-3`, `max_steps=1000`,
    /// `windows_batch_size=32`, `inference_windows_batch_size=32`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { windows_batch_size: 32, inference_windows_batch_size: Some(32), ..TrainingDefaults::WINDOWS };

    /// itransformer.py: `hidden_size=512`, `n_heads=8`, `e_layers=2`, `d_ff=2048`, `dropout=0.1`,
    /// `use_norm=True`; `n_series` has no default (1 until read).
    fn new(shape: ModelShape) -> Self {
        ITransformerConfig { shape, n_series: 1, hidden_size: 512, n_heads: 8, e_layers: 2, d_ff: 2048, dropout: 0.1, use_norm: true }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        read_n_series(options, Self::NAME, &mut self.n_series)?;
        options.read_sizes([("hiddenSize", &mut self.hidden_size), ("nHeads", &mut self.n_heads), ("eLayers", &mut self.e_layers), ("dFf", &mut self.d_ff)])?;
        read_unused(options, "dLayers", D_LAYERS, "builds no decoder")?;
        read_unused(options, "factor", FACTOR, "uses FullAttention, which ignores factor")?;
        read_dropout(options, &mut self.dropout)?;
        self.use_norm = options.boolean("useNorm")?.unwrap_or(self.use_norm);
        if self.n_heads == 0 || self.n_heads > self.hidden_size {
            return Err(OptionError::Range(format!("{} must be between 1 and hiddenSize ({}), got {}", options.field("nHeads"), self.hidden_size, self.n_heads)));
        }
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("nSeries", self.n_series.into()), ("hiddenSize", self.hidden_size.into()), ("nHeads", self.n_heads.into()),
            ("eLayers", self.e_layers.into()), ("dLayers", D_LAYERS.into()), ("dFf", self.d_ff.into()), ("factor", FACTOR.into()),
            ("dropout", self.dropout.into()), ("useNorm", self.use_norm.into()),
        ]);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let sizes = self.layer_sizes();
        let [n, l, h, f, t, d, layers, out] =
            [self.n_series, self.shape.input_size, self.shape.h, self.shape.exog.futr, self.tokens_per_window(), self.hidden_size, self.e_layers, self.out_features()]
                .map(|v| v as u128);
        let futr_embedding = if f > 0 { (l + h) * d + d } else { 0 };
        let parameters = (l * d + d) + futr_embedding + layers * sizes.encoder_layer_parameters() + 2 * d + (d * out + out);
        // Per window of `n` series tokens and `t` tokens in all: the normalised input and the future variables,
        // the embeddings and their masks, the tokens, each encoder layer's cache, the series tokens on top and the
        // final norm's, the projection and forecast, and the gradients flowing down.
        let activations = 2 * n * l + n * f * (l + h) + 2 * (t - n) * d + 2 * n * d + t * d + layers * sizes.encoder_layer_values(t)
            + n * d + (3 * n * d + n) + 3 * n * out + 2 * t * d + n * d + (t - n) * d;
        (parameters, activations)
    }

    fn build(&self) -> Result<ITransformer, NnError> {
        ITransformer::new(self.clone())
    }

    fn n_series(&self) -> Option<usize> {
        Some(self.n_series)
    }
}

/// NeuralForecast's `iTransformer` (see the module docs).
#[derive(Debug, Clone)]
pub struct ITransformer {
    config: ITransformerConfig,
    params: ParamStore,
    /// `use_norm`'s normalisation (no parameters).
    norm: Option<RevIn>,
    enc_embedding: Linear,
    embedding_dropout: Dropout,
    /// `futr_embedding` (`input_size + h → hidden_size`) and `futr_dropout`, with future exogenous variables.
    futr_embedding: Option<(Linear, Dropout)>,
    encoder: Vec<EncoderLayer>,
    encoder_norm: LayerNorm,
    projector: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct ITransformerCache {
    windows: usize,
    revin: RevInCache,
    /// The (normalised) input `[B·N, L]`, and its tokens `[B·N, hidden]` after embedding and dropout.
    normalized: Vec<f32>,
    series_tokens: Vec<f32>,
    series_mask: Vec<f32>,
    /// The future exogenous variables `[B·N·F, L + h]` (series-major), and their tokens `[B·N·F, hidden]`.
    futr: Vec<f32>,
    futr_tokens: Vec<f32>,
    futr_mask: Vec<f32>,
    /// The encoder's input `[B, N + N·F, hidden]`.
    tokens: Vec<f32>,
    encoder: Vec<EncoderLayerCache>,
    /// The encoder's output at the series tokens `[B·N, hidden]`, the only ones the projector reads.
    series_top: Vec<f32>,
    encoder_norm: LayerNormCache,
    encoded: Vec<f32>,
    /// `[B·N, h·outputs]`: the projection, then denormalised.
    output: Vec<f32>,
    d_output: Vec<f32>,
    /// The gradient flowing down the layer stack, and the buffer the next layer down writes into.
    d_above: Vec<f32>,
    d_below: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(ITransformerCache {
    windows, revin, normalized, series_tokens, series_mask, futr, futr_tokens, futr_mask, tokens, encoder, series_top, encoder_norm, encoded, output,
    d_output, d_above, d_below
});

impl_model!(ITransformer, ITransformerConfig, ITransformerCache);

impl ITransformer {
    /// Builds the network with torch's parameter names, in torch's registration order.
    pub fn new(config: ITransformerConfig) -> Result<Self, NnError> {
        let ModelShape { input_size, exog, random_seed, .. } = config.shape;
        for (what, value) in [("nSeries", config.n_series), ("inputSize", input_size), ("hiddenSize", config.hidden_size), ("nHeads", config.n_heads), ("eLayers", config.e_layers), ("dFf", config.d_ff), ("h", config.shape.h)] {
            crate::nn::error::nonzero(what, value)?;
        }
        exog.refuse_hist_stat(ITransformerConfig::NAME)?;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut streams = DropoutStreams::new(config.dropout as f32);
        let sizes = config.layer_sizes();
        let norm_layer = config.use_norm.then(|| RevIn::new(&mut init, false, false)).transpose()?;
        let enc_embedding = Linear::new(&mut init.pp("enc_embedding.value_embedding"), input_size, config.hidden_size)?;
        let embedding_dropout = streams.next()?;
        let futr_embedding = (exog.futr > 0)
            .then(|| Ok::<_, NnError>((Linear::new(&mut init.pp("futr_embedding"), input_size + config.shape.h, config.hidden_size)?, streams.next()?)))
            .transpose()?;
        let encoder = (0..config.e_layers)
            .map(|i| EncoderLayer::new(&mut init, &format!("encoder.attn_layers.{i}"), &sizes, &mut streams))
            .collect::<Result<Vec<_>, _>>()?;
        let encoder_norm = norm(&mut init, "encoder.norm".into(), &sizes)?;
        let projector = Linear::new(&mut init.pp("projector"), config.hidden_size, config.out_features())?;
        Ok(ITransformer { config, params, norm: norm_layer, enc_embedding, embedding_dropout, futr_embedding, encoder, encoder_norm, projector })
    }

    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut ITransformerCache) -> Result<&'c [f32], NnError> {
        let (n, l, d) = (self.config.n_series, self.config.shape.input_size, self.config.hidden_size);
        let windows = batch.multivariate_windows(n)?;
        let rows = windows * n;
        cache.windows = 0;
        cache.normalized.resize(rows * l, 0.0);
        match &self.norm {
            Some(norm) => norm.normalize(&self.params, batch.insample_y, l, &mut cache.normalized, &mut cache.revin)?,
            None => cache.normalized.copy_from_slice(batch.insample_y),
        }
        cache.series_tokens.resize(rows * d, 0.0);
        self.enc_embedding.forward(&self.params, &cache.normalized, rows, &mut cache.series_tokens)?;
        self.embedding_dropout.forward_in_place(&mut cache.series_tokens, batch.train_seed, &mut cache.series_mask);
        let t = self.config.tokens_per_window();
        cache.tokens.resize(windows * t * d, 0.0);
        copy_blocks(&cache.series_tokens, n * d, &mut cache.tokens, t * d, 0);
        if let Some((embedding, dropout)) = &self.futr_embedding {
            let (f, steps) = (self.config.shape.exog.futr, l + self.config.shape.h);
            // `[B·N, L + h, F]` → `[B·N, F, L + h]`: NF's permute(0, 3, 1, 2) of `[B, F, L + h, N]`.
            cache.futr.resize(rows * f * steps, 0.0);
            for (k, v) in cache.futr.iter_mut().enumerate() {
                let (row, f_i, step) = (k / (f * steps), k / steps % f, k % steps);
                *v = batch.futr_exog[(row * steps + step) * f + f_i];
            }
            cache.futr_tokens.resize(rows * f * d, 0.0);
            embedding.forward(&self.params, &cache.futr, rows * f, &mut cache.futr_tokens)?;
            dropout.forward_in_place(&mut cache.futr_tokens, batch.train_seed, &mut cache.futr_mask);
            copy_blocks(&cache.futr_tokens, n * f * d, &mut cache.tokens, t * d, n * d);
        }
        cache.encoder.resize_with(self.encoder.len(), Default::default);
        for (i, layer) in self.encoder.iter().enumerate() {
            let (below, rest) = cache.encoder.split_at_mut(i);
            let input = below.last().map_or(&cache.tokens[..], EncoderLayerCache::output);
            layer.forward(&self.params, input, windows, t, batch.train_seed, &mut rest[0])?;
        }
        let top = cache.encoder.last().map_or(&cache.tokens[..], EncoderLayerCache::output);
        // The final LayerNorm is per token, so normalising the series tokens alone gives NF's values for them.
        cache.series_top.clear();
        cache.series_top.extend(top.chunks_exact(t * d).flat_map(|window| &window[..n * d]));
        cache.encoded.resize(rows * d, 0.0);
        self.encoder_norm.forward(&self.params, &cache.series_top, rows, &mut cache.encoded, &mut cache.encoder_norm)?;
        let out_features = self.config.out_features();
        cache.output.resize(rows * out_features, 0.0);
        self.projector.forward(&self.params, &cache.encoded, rows, &mut cache.output)?;
        if let Some(norm) = &self.norm {
            norm.denormalize(&self.params, &mut cache.output, out_features, &mut cache.revin)?;
        }
        cache.windows = windows;
        Ok(&cache.output)
    }

    fn backward_pass(&self, cache: &mut ITransformerCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        crate::nn::error::nonzero("batch of the forward pass (run forward first)", cache.windows)?;
        let rows = cache.windows * self.config.n_series;
        crate::nn::error::expect_len("forecast gradient", rows * self.config.out_features(), d_output.len())?;
        cache.d_output.clear();
        cache.d_output.extend_from_slice(d_output);
        if let Some(norm) = &self.norm {
            norm.backward_denormalize(&self.params, &cache.revin, &mut cache.d_output, grads)?;
        }
        let (n, d, t) = (self.config.n_series, self.config.hidden_size, self.config.tokens_per_window());
        cache.d_below.resize(cache.encoded.len(), 0.0);
        self.projector.backward(&self.params, &cache.encoded, &cache.d_output, rows, grads, Some(&mut cache.d_below))?;
        cache.d_above.resize(cache.encoded.len(), 0.0);
        self.encoder_norm.backward(&self.params, &cache.encoder_norm, &cache.d_below, grads, &mut cache.d_above)?;
        // The future tokens reach the forecast only through attention: their gradient on top is zero.
        cache.d_below.clear();
        cache.d_below.resize(cache.tokens.len(), 0.0);
        copy_blocks(&cache.d_above, n * d, &mut cache.d_below, t * d, 0);
        std::mem::swap(&mut cache.d_above, &mut cache.d_below);
        cache.d_below.resize(cache.tokens.len(), 0.0);
        for i in (0..self.encoder.len()).rev() {
            let (below, rest) = cache.encoder.split_at_mut(i);
            let input = below.last().map_or(&cache.tokens[..], EncoderLayerCache::output);
            self.encoder[i].backward(&self.params, input, &mut rest[0], &cache.d_above, grads, &mut cache.d_below)?;
            std::mem::swap(&mut cache.d_above, &mut cache.d_below);
        }
        if let Some((embedding, dropout)) = &self.futr_embedding {
            let f = self.config.shape.exog.futr;
            cache.d_below.clear();
            cache.d_below.extend(cache.d_above.chunks_exact(t * d).flat_map(|window| &window[n * d..]));
            dropout.backward_in_place(&mut cache.d_below, &cache.futr_mask)?;
            embedding.backward(&self.params, &cache.futr, &cache.d_below, rows * f, grads, None)?;
        }
        cache.d_below.clear();
        cache.d_below.extend(cache.d_above.chunks_exact(t * d).flat_map(|window| &window[..n * d]));
        self.embedding_dropout.backward_in_place(&mut cache.d_below, &cache.series_mask)?;
        self.enc_embedding.backward(&self.params, &cache.normalized, &cache.d_below, rows, grads, None)
    }
}

/// Copies `from`, blocks of `block` values back to back, into the blocks of `stride` values of `to`, each at
/// `offset`: one window's tokens of one kind into the window's place in the encoder's input.
fn copy_blocks(from: &[f32], block: usize, to: &mut [f32], stride: usize, offset: usize) {
    for (source, target) in from.chunks_exact(block).zip(to.chunks_exact_mut(stride)) {
        target[offset..offset + block].copy_from_slice(source);
    }
}

#[cfg(test)]
#[path = "itransformer_tests.rs"]
mod tests;

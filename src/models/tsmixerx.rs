//! NeuralForecast's `TSMixerx` (neuralforecast/models/tsmixerx.py), TSMixer with exogenous variables, a
//! multivariate model: each window holds all `n_series` series (RevIN per series, `revin`), their historic and
//! future exogenous inputs over the input steps and a temporal projection `input_size → h` of every channel;
//! then feature mixing of the `(1 + hist + futr) · n_series` channels, of the future exogenous values over the
//! horizon and of the static ones, a first mixing layer over their concatenation, `n_block` mixing layers (with
//! the static values mixed in again when there are any) and a linear output to `n_series × outputs` per step,
//! denormalised. The layers are in `nn::tsmixerx_mixing`.
//!
//! With a multi-output loss (MQLoss) and several series, NeuralForecast's RevIN reverses output `m` of a step
//! with the statistics of series `m mod n_series` while its loss reads `m` as output `m mod outputs` of series
//! `m / outputs`; here every output is reversed with its own series' statistics (the same with one output or
//! one series).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ExogSizes, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionResult};
use super::tsmixer::{read_dropout, read_n_series};
use crate::nn::revin_multivariate::{RevInMultivariate, RevInMultivariateCache};
use crate::nn::ts_mixing::transpose_windows;
use crate::nn::tsmixerx_mixing::{concat_features, split_features, FeatureMixing, FeatureMixingCache, MixingLayer, MixingLayerCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct TsMixerxConfig {
    pub shape: ModelShape,
    /// NeuralForecast's `n_series`: the series the model forecasts jointly (required, no default).
    pub n_series: usize,
    pub n_block: usize,
    pub ff_dim: usize,
    pub dropout: f64,
    pub revin: bool,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros.
    pub exclude_insample_y: bool,
}

impl TsMixerxConfig {
    /// Input channels of the temporal projection: y, then the historic and future exogenous variables.
    fn channels(&self) -> usize {
        1 + self.shape.exog.hist + self.shape.exog.futr
    }

    /// Widths concatenated before the first mixing layer: the mixed history, the future and static mixers'.
    fn first_mixing_in(&self) -> usize {
        let ExogSizes { futr, stat, .. } = self.shape.exog;
        (1 + (futr > 0) as usize + (stat > 0) as usize) * self.ff_dim
    }
}

impl ModelConfig for TsMixerxConfig {
    type Network = TsMixerx;

    const NAME: &'static str = "TSMixerx";
    const OPTION_KEYS: &'static [&'static str] = &["nSeries", "nBlock", "ffDim", "dropout", "revin", "excludeInsampleY"];
    /// tsmixerx.py: `input_size` required, `scaler_type='identity'`, `windows_batch_size=32`,
    /// `inference_windows_batch_size=32`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { windows_batch_size: 32, inference_windows_batch_size: Some(32), ..TrainingDefaults::WINDOWS };

    /// tsmixerx.py: `n_block=2`, `ff_dim=64`, `dropout=0.0`, `revin=True`, `exclude_insample_y=False`; `n_series`
    /// has no default (1 until read).
    fn new(shape: ModelShape) -> Self {
        TsMixerxConfig { shape, n_series: 1, n_block: 2, ff_dim: 64, dropout: 0.0, revin: true, exclude_insample_y: false }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        read_n_series(options, Self::NAME, &mut self.n_series)?;
        options.read_sizes([("nBlock", &mut self.n_block), ("ffDim", &mut self.ff_dim)])?;
        read_dropout(options, &mut self.dropout)?;
        self.revin = options.boolean("revin")?.unwrap_or(self.revin);
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("nSeries", self.n_series.into()), ("nBlock", self.n_block.into()), ("ffDim", self.ff_dim.into()),
            ("dropout", self.dropout.into()), ("revin", self.revin.into()), ("excludeInsampleY", self.exclude_insample_y.into()),
        ]);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size: l, outputs_per_point: o, exog, .. } = self.shape;
        let [n, l, h, o, ff, blocks, c, f, s, first] =
            [self.n_series, l, h, o, self.ff_dim, self.n_block, self.channels(), exog.futr, exog.stat, self.first_mixing_in()].map(|v| v as u128);
        let feature = FeatureMixing::parameter_count;
        let revin = if self.revin { 2 * n } else { 0 };
        let futr = if f > 0 { feature(f * n, ff, h, ff) } else { 0 };
        let stat = if s > 0 { feature(s * n, ff, h, ff) } else { 0 };
        let block = if s > 0 { feature(s * n, ff, h, ff) + MixingLayer::parameter_count(2 * ff, ff, h, ff) } else { MixingLayer::parameter_count(ff, ff, h, ff) };
        let parameters = revin + (l + 1) * h + feature(c * n, ff, h, ff) + futr + stat + MixingLayer::parameter_count(first, ff, h, ff)
            + blocks * block + (ff + 1) * o * n;
        // Per window: the gathered channels and their projection, every mixer's dozen `[h, width]` activations
        // (width at most the widest input or `3 ff`), the output and its denormalised copy.
        let widest = (c * n).max(f * n).max(s * n).max(first).max(2 * ff);
        let mixers = 3 + 2 * blocks;
        (parameters, 3 * c * n * l + 3 * c * n * h + mixers * 12 * h * widest + 6 * h * o * n)
    }

    fn build(&self) -> Result<TsMixerx, NnError> {
        let (n, l, h, ff) = (self.n_series, self.shape.input_size, self.shape.h, self.ff_dim);
        crate::nn::error::nonzero("nSeries", n)?;
        crate::nn::error::nonzero("ffDim", ff)?;
        let exog = self.shape.exog;
        let p = self.dropout as f32;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut stream = 0;
        let norm = self.revin.then(|| RevInMultivariate::new(&mut init.pp("norm"), n)).transpose()?;
        let temporal_projection = Linear::new(&mut init.pp("temporal_projection"), l, h)?;
        let feature_mixer_hist = FeatureMixing::new(&mut init.pp("feature_mixer_hist"), (self.channels() * n, ff, h, ff), p, &mut stream)?;
        let feature_mixer_futr =
            (exog.futr > 0).then(|| FeatureMixing::new(&mut init.pp("feature_mixer_futr"), (exog.futr * n, ff, h, ff), p, &mut stream)).transpose()?;
        let feature_mixer_stat =
            (exog.stat > 0).then(|| FeatureMixing::new(&mut init.pp("feature_mixer_stat"), (exog.stat * n, ff, h, ff), p, &mut stream)).transpose()?;
        let first_mixing = MixingLayer::new(&mut init.pp("first_mixing"), (self.first_mixing_in(), ff, h, ff), p, &mut stream)?;
        let mixing_block = (0..self.n_block)
            .map(|i| {
                let mut block = init.pp(format!("mixing_block.{i}"));
                let stat = (exog.stat > 0)
                    .then(|| FeatureMixing::new(&mut block.pp("feature_mixer_stat"), (exog.stat * n, ff, h, ff), p, &mut stream))
                    .transpose()?;
                let width = if stat.is_some() { 2 * ff } else { ff };
                Ok(MixingBlock { feature_mixer_stat: stat, mixing: MixingLayer::new(&mut block, (width, ff, h, ff), p, &mut stream)? })
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        let out = Linear::new(&mut init.pp("out"), ff, self.shape.outputs_per_point * n)?;
        Ok(TsMixerx { config: self.clone(), params, norm, temporal_projection, feature_mixer_hist, feature_mixer_futr, feature_mixer_stat, first_mixing, mixing_block, out })
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }

    fn n_series(&self) -> Option<usize> {
        Some(self.n_series)
    }
}

/// One of `mixing_block`: NeuralForecast's `MixingLayer`, or with static variables its
/// `MixingLayerWithStaticExogenous` (the statics mixed, concatenated to the input, then a mixing layer).
#[derive(Debug, Clone)]
struct MixingBlock {
    feature_mixer_stat: Option<FeatureMixing>,
    mixing: MixingLayer,
}

#[derive(Debug, Clone, Default)]
pub struct MixingBlockCache {
    stat: FeatureMixingCache,
    /// The input joined with the mixed statics (empty without statics).
    joined: Vec<f32>,
    mixing: MixingLayerCache,
    d_joined: Vec<f32>,
    d_stat: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(MixingBlockCache { stat, joined, mixing, d_joined, d_stat });

#[derive(Debug, Clone)]
pub struct TsMixerx {
    config: TsMixerxConfig,
    params: ParamStore,
    norm: Option<RevInMultivariate>,
    temporal_projection: Linear,
    feature_mixer_hist: FeatureMixing,
    feature_mixer_futr: Option<FeatureMixing>,
    feature_mixer_stat: Option<FeatureMixing>,
    first_mixing: MixingLayer,
    mixing_block: Vec<MixingBlock>,
    out: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct TsMixerxCache {
    windows: usize,
    revin: RevInMultivariateCache,
    /// The (normalised) y windows `[B·N, L]`.
    normalized: Vec<f32>,
    /// Every channel's input steps `[B, C, N, L]`, their projection `[B, C·N, h]` and as features `[B, h, C·N]`.
    channels: Vec<f32>,
    projected: Vec<f32>,
    history: Vec<f32>,
    /// The future exogenous values over the horizon `[B, h, F·N]` and the statics `[B, h, N·S]`.
    future: Vec<f32>,
    statics: Vec<f32>,
    hist_mixer: FeatureMixingCache,
    futr_mixer: FeatureMixingCache,
    stat_mixer: FeatureMixingCache,
    /// The first mixing layer's input `[B, h, (1 + futr + stat) · ff]`.
    joined: Vec<f32>,
    first: MixingLayerCache,
    blocks: Vec<MixingBlockCache>,
    /// The output layer's `[B, h, O·N]`, as `[B·N, h·O]`, and denormalised.
    projection: Vec<f32>,
    per_series: Vec<f32>,
    output: Vec<f32>,
    d_values: Vec<f32>,
    d_other: Vec<f32>,
    d_part: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TsMixerxCache {
    windows,
    revin,
    normalized,
    channels,
    projected,
    history,
    future,
    statics,
    hist_mixer,
    futr_mixer,
    stat_mixer,
    joined,
    first,
    blocks,
    projection,
    per_series,
    output,
    d_values,
    d_other,
    d_part
});

impl_model!(TsMixerx, TsMixerxConfig, TsMixerxCache);

impl MixingBlock {
    fn forward<'c>(&self, params: &ParamStore, input: &[f32], statics: &[f32], windows: usize, train_seed: Option<u64>, cache: &'c mut MixingBlockCache) -> Result<&'c [f32], NnError> {
        let Some(stat_mixer) = &self.feature_mixer_stat else {
            return self.mixing.forward(params, input, windows, train_seed, &mut cache.mixing);
        };
        let mixed = stat_mixer.forward(params, statics, windows, train_seed, &mut cache.stat)?;
        let ff = stat_mixer.out_features();
        concat_features(&[(input, ff), (mixed, ff)], mixed.len() / ff, &mut cache.joined);
        self.mixing.forward(params, &cache.joined, windows, train_seed, &mut cache.mixing)
    }

    /// Writes the gradient of the block's input (the previous layer's output) into `d_input`.
    fn backward(&self, params: &ParamStore, statics: &[f32], cache: &mut MixingBlockCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut Vec<f32>) -> Result<(), NnError> {
        d_input.resize(d_output.len(), 0.0);
        let Some(stat_mixer) = &self.feature_mixer_stat else {
            return self.mixing.backward(params, &mut cache.mixing, d_output, grads, d_input);
        };
        let MixingBlockCache { stat, joined, mixing, d_joined, d_stat } = cache;
        d_joined.resize(joined.len(), 0.0);
        self.mixing.backward(params, mixing, d_output, grads, d_joined)?;
        let ff = stat_mixer.out_features();
        split_features(d_joined, 2 * ff, 0, ff, d_input);
        split_features(d_joined, 2 * ff, ff, ff, d_stat);
        stat_mixer.backward(params, statics, stat, d_stat, grads, None)
    }
}

impl TsMixerx {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut TsMixerxCache) -> Result<&'c [f32], NnError> {
        let config = &self.config;
        let (n, ff) = (config.n_series, config.ff_dim);
        let ModelShape { h, input_size: l, outputs_per_point: o, exog, .. } = config.shape;
        let windows = batch.multivariate_windows(n)?;
        let rows = windows * n;
        let c = config.channels();
        cache.windows = windows;
        cache.normalized.resize(rows * l, 0.0);
        match &self.norm {
            Some(norm) => norm.norm(&self.params, batch.insample_y, rows, &mut cache.normalized, &mut cache.revin)?,
            None => cache.normalized.copy_from_slice(batch.insample_y),
        }
        // `[B, C, N, L]`: y, each historic exogenous variable, each future one over the input steps.
        cache.channels.resize(windows * c * n * l, 0.0);
        for (w, window) in cache.channels.chunks_exact_mut(c * n * l).enumerate() {
            for (k, steps) in window.chunks_exact_mut(l).enumerate() {
                let (channel, row) = (k / n, w * n + k % n);
                for (t, v) in steps.iter_mut().enumerate() {
                    *v = match channel {
                        0 => cache.normalized[row * l + t],
                        x if x <= exog.hist => batch.hist_exog[(row * l + t) * exog.hist + x - 1],
                        f => batch.futr_exog[(row * (l + h) + t) * exog.futr + f - 1 - exog.hist],
                    };
                }
            }
        }
        cache.projected.resize(windows * c * n * h, 0.0);
        self.temporal_projection.forward(&self.params, &cache.channels, windows * c * n, &mut cache.projected)?;
        transpose_windows(&cache.projected, c * n, h, &mut cache.history);
        let mixed_history = self.feature_mixer_hist.forward(&self.params, &cache.history, windows, batch.train_seed, &mut cache.hist_mixer)?;
        let mut parts: [(&[f32], usize); 3] = [(mixed_history, ff), (&[], 0), (&[], 0)];
        let mut used = 1;
        if let Some(mixer) = &self.feature_mixer_futr {
            // `[B, h, F·N]`, variable-major as torch's `permute(0, 2, 1, 3)` of `[B, F, h, N]`.
            cache.future.resize(windows * h * exog.futr * n, 0.0);
            for (k, v) in cache.future.iter_mut().enumerate() {
                let (w, t, f, s) = (k / (h * exog.futr * n), k / (exog.futr * n) % h, k / n % exog.futr, k % n);
                *v = batch.futr_exog[((w * n + s) * (l + h) + l + t) * exog.futr + f];
            }
            parts[used] = (mixer.forward(&self.params, &cache.future, windows, batch.train_seed, &mut cache.futr_mixer)?, ff);
            used += 1;
        }
        if exog.stat > 0 {
            // Each window's `[N, S]` statics, flattened, at every step.
            let width = n * exog.stat;
            cache.statics.resize(windows * h * width, 0.0);
            for (k, step) in cache.statics.chunks_exact_mut(width).enumerate() {
                let w = k / h;
                step.copy_from_slice(&batch.stat_exog[w * width..(w + 1) * width]);
            }
        }
        if let Some(mixer) = &self.feature_mixer_stat {
            parts[used] = (mixer.forward(&self.params, &cache.statics, windows, batch.train_seed, &mut cache.stat_mixer)?, ff);
            used += 1;
        }
        concat_features(&parts[..used], windows * h, &mut cache.joined);
        self.first_mixing.forward(&self.params, &cache.joined, windows, batch.train_seed, &mut cache.first)?;
        cache.blocks.resize_with(self.mixing_block.len(), MixingBlockCache::default);
        for (k, block) in self.mixing_block.iter().enumerate() {
            let (done, rest) = cache.blocks.split_at_mut(k);
            let input = done.last().map_or(cache.first.output(), |b| b.mixing.output());
            block.forward(&self.params, input, &cache.statics, windows, batch.train_seed, &mut rest[0])?;
        }
        let last = cache.blocks.last().map_or(cache.first.output(), |b| b.mixing.output());
        cache.projection.resize(windows * h * o * n, 0.0);
        self.out.forward(&self.params, last, windows * h, &mut cache.projection)?;
        // `[B, h, N·O]` (output `j` of series `s` at `s · O + j`, as the loss's `domain_map` reads it) to each
        // series' `[h, O]`.
        cache.per_series.resize(rows * h * o, 0.0);
        for (k, v) in cache.per_series.iter_mut().enumerate() {
            let (row, t, j) = (k / (h * o), k / o % h, k % o);
            let (w, s) = (row / n, row % n);
            *v = cache.projection[(w * h + t) * o * n + s * o + j];
        }
        cache.output.resize(rows * h * o, 0.0);
        match &self.norm {
            Some(norm) => norm.denorm(&self.params, &cache.per_series, rows, &mut cache.output, &mut cache.revin)?,
            None => cache.output.copy_from_slice(&cache.per_series),
        }
        Ok(&cache.output)
    }

    fn backward_pass(&self, cache: &mut TsMixerxCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let config = &self.config;
        let (n, ff) = (config.n_series, config.ff_dim);
        let ModelShape { h, input_size: l, outputs_per_point: o, .. } = config.shape;
        let (windows, c) = (cache.windows, config.channels());
        let rows = windows * n;
        let TsMixerxCache { revin, normalized, channels, history, future, statics, hist_mixer, futr_mixer, stat_mixer, joined, first, blocks, d_values, d_other, d_part, .. } = cache;
        d_part.resize(d_output.len(), 0.0);
        match &self.norm {
            Some(norm) => norm.denorm_backward(&self.params, revin, d_output, grads, d_part)?,
            None => d_part.copy_from_slice(d_output),
        }
        d_values.resize(windows * h * o * n, 0.0);
        for (k, d) in d_part.iter().enumerate() {
            let (row, t, j) = (k / (h * o), k / o % h, k % o);
            let (w, s) = (row / n, row % n);
            d_values[(w * h + t) * o * n + s * o + j] = *d;
        }
        let last = blocks.last().map_or(first.output(), |b| b.mixing.output());
        d_other.resize(windows * h * ff, 0.0);
        self.out.backward(&self.params, last, d_values, windows * h, grads, Some(d_other))?;
        for (block, block_cache) in self.mixing_block.iter().zip(blocks.iter_mut()).rev() {
            block.backward(&self.params, statics, block_cache, d_other, grads, d_values)?;
            std::mem::swap(d_values, d_other);
        }
        d_values.resize(joined.len(), 0.0);
        self.first_mixing.backward(&self.params, first, d_other, grads, d_values)?;
        let total = config.first_mixing_in();
        let mut offset = ff;
        if let Some(mixer) = &self.feature_mixer_futr {
            split_features(d_values, total, offset, ff, d_part);
            mixer.backward(&self.params, future, futr_mixer, d_part, grads, None)?;
            offset += ff;
        }
        if let Some(mixer) = &self.feature_mixer_stat {
            split_features(d_values, total, offset, ff, d_part);
            mixer.backward(&self.params, statics, stat_mixer, d_part, grads, None)?;
        }
        split_features(d_values, total, 0, ff, d_part);
        d_other.resize(history.len(), 0.0);
        self.feature_mixer_hist.backward(&self.params, history, hist_mixer, d_part, grads, Some(d_other))?;
        transpose_windows(d_other, h, c * n, d_part);
        d_values.resize(channels.len(), 0.0);
        self.temporal_projection.backward(&self.params, channels, d_part, windows * c * n, grads, Some(d_values))?;
        // The y channel's gradient reaches the RevIN affine weights (the exogenous inputs have no parameters).
        if let Some(norm) = &self.norm {
            d_other.resize(rows * l, 0.0);
            for (row, steps) in d_other.chunks_exact_mut(l).enumerate() {
                let (w, s) = (row / n, row % n);
                steps.copy_from_slice(&d_values[(w * c * n + s) * l..(w * c * n + s + 1) * l]);
            }
            d_part.resize(normalized.len(), 0.0);
            norm.norm_backward(&self.params, revin, d_other, grads, d_part)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tsmixerx_tests.rs"]
mod tests;

//! NeuralForecast's `TSMixer` (neuralforecast/models/tsmixer.py), a multivariate model: each window holds the
//! last `input_size` values of all `n_series` series; reversible instance normalisation per series (`revin`),
//! `n_block` mixing layers (time mixing, then feature mixing across the series, see [`MixingLayer`]), and a
//! linear temporal projection `input_size → h × outputs_per_point` per series, denormalised. No exogenous
//! variables (TSMixerx has them).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use crate::nn::revin_multivariate::{RevInMultivariate, RevInMultivariateCache};
use crate::nn::ts_mixing::{transpose_windows, MixingCache, MixingLayer};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct TsMixerConfig {
    pub shape: ModelShape,
    /// NeuralForecast's `n_series`: the series the model forecasts jointly (required, no default).
    pub n_series: usize,
    pub n_block: usize,
    pub ff_dim: usize,
    pub dropout: f64,
    pub revin: bool,
}

impl TsMixerConfig {
    fn out_features(&self) -> usize {
        self.shape.h * self.shape.outputs_per_point
    }
}

/// Reads `dropout` in `[0, 1)`.
pub(crate) fn read_dropout(options: &ModelOptions<'_>, dropout: &mut f64) -> OptionResult<()> {
    if let Some(p) = options.number_in("dropout", 0.0, 1.0)? {
        if p >= 1.0 {
            return Err(OptionError::Range(format!("{} must be below 1, got {p}", options.field("dropout"))));
        }
        *dropout = p;
    }
    Ok(())
}

/// Reads the required `nSeries` of a multivariate model named `name`.
pub(crate) fn read_n_series(options: &ModelOptions<'_>, name: &str, n_series: &mut usize) -> OptionResult<()> {
    *n_series = options.size("nSeries")?.ok_or_else(|| {
        OptionError::Type(format!("{} is missing: {name} is multivariate, give the number of series it forecasts jointly", options.field("nSeries")))
    })?;
    Ok(())
}

impl ModelConfig for TsMixerConfig {
    type Network = TsMixer;

    const NAME: &'static str = "TSMixer";
    const OPTION_KEYS: &'static [&'static str] = &["nSeries", "nBlock", "ffDim", "dropout", "revin"];
    /// tsmixer.py: `input_size` required, `scaler_type='identity'`, `windows_batch_size=32`,
    /// `inference_windows_batch_size=32`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { windows_batch_size: 32, inference_windows_batch_size: Some(32), ..TrainingDefaults::WINDOWS };

    /// tsmixer.py: `n_block=2`, `ff_dim=64`, `dropout=0.9`, `revin=True`; `n_series` has no default (1 until read).
    fn new(shape: ModelShape) -> Self {
        TsMixerConfig { shape, n_series: 1, n_block: 2, ff_dim: 64, dropout: 0.9, revin: true }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        read_n_series(options, Self::NAME, &mut self.n_series)?;
        options.read_sizes([("nBlock", &mut self.n_block), ("ffDim", &mut self.ff_dim)])?;
        read_dropout(options, &mut self.dropout)?;
        self.revin = options.boolean("revin")?.unwrap_or(self.revin);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("nSeries", self.n_series.into()), ("nBlock", self.n_block.into()), ("ffDim", self.ff_dim.into()),
            ("dropout", self.dropout.into()), ("revin", self.revin.into()),
        ]);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let [n, l, ff, blocks, out] = [self.n_series, self.shape.input_size, self.ff_dim, self.n_block, self.out_features()].map(|v| v as u128);
        let revin = if self.revin { 2 * n } else { 0 };
        let block = 2 * (2 * n * l) + (l * l + l) + (n * ff + ff) + (ff * n + n);
        let parameters = revin + blocks * block + l * out + out;
        // Per window: each block's ten `[L, N]` and two `[L, ff]` activations, and the projection's.
        (parameters, blocks * (10 * n * l + 2 * l * ff) + 4 * n * l + 3 * n * out)
    }

    /// Per mixing layer, two batch norms' running mean and variance over `n_series × input_size` values, and
    /// their batch counts.
    fn buffer_values(&self) -> u128 {
        (self.n_block * 2 * (2 * self.n_series * self.shape.input_size + 1)) as u128
    }

    fn build(&self) -> Result<TsMixer, NnError> {
        crate::nn::error::nonzero("nSeries", self.n_series)?;
        crate::nn::error::nonzero("nBlock", self.n_block)?;
        if !self.shape.exog.is_empty() {
            let reason = "NeuralForecast's TSMixer takes no exogenous variables (futrExogList, histExogList, statExogList); TSMixerx does";
            return Err(NnError::InvalidValue { what: "exogenous inputs", reason: reason.into() });
        }
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let norm = self.revin.then(|| RevInMultivariate::new(&mut init.pp("norm"), self.n_series)).transpose()?;
        let mixing_layers = (0..self.n_block)
            .map(|i| {
                let mut layer = init.pp(format!("mixing_layers.{i}"));
                MixingLayer::new(&mut layer, self.n_series, self.shape.input_size, self.ff_dim, self.dropout as f32, 3 * i as u64)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = Linear::new(&mut init.pp("out"), self.shape.input_size, self.out_features())?;
        Ok(TsMixer { config: self.clone(), params, norm, mixing_layers, out })
    }

    fn n_series(&self) -> Option<usize> {
        Some(self.n_series)
    }
}

#[derive(Debug, Clone)]
pub struct TsMixer {
    config: TsMixerConfig,
    params: ParamStore,
    norm: Option<RevInMultivariate>,
    mixing_layers: Vec<MixingLayer>,
    out: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct TsMixerCache {
    windows: usize,
    revin: RevInMultivariateCache,
    /// The (normalised) input `[B·N, L]`, then as the mixing layers read it, `[B, L, N]`.
    normalized: Vec<f32>,
    mixer_input: Vec<f32>,
    blocks: Vec<MixingCache>,
    /// The last block's output as `[B·N, L]`, the projection `[B·N, h·outputs]` and the forecasts.
    projected_input: Vec<f32>,
    projection: Vec<f32>,
    output: Vec<f32>,
    d_projection: Vec<f32>,
    d_values: Vec<f32>,
    d_other: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TsMixerCache {
    windows,
    revin,
    normalized,
    mixer_input,
    blocks,
    projected_input,
    projection,
    output,
    d_projection,
    d_values,
    d_other
});

impl_model!(TsMixer, TsMixerConfig, TsMixerCache; update_running_statistics);

impl TsMixer {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut TsMixerCache) -> Result<&'c [f32], NnError> {
        let (n, l) = (self.config.n_series, self.config.shape.input_size);
        let windows = batch.multivariate_windows(n)?;
        let rows = windows * n;
        cache.windows = windows;
        cache.normalized.resize(rows * l, 0.0);
        match &self.norm {
            Some(norm) => norm.norm(&self.params, batch.insample_y, rows, &mut cache.normalized, &mut cache.revin)?,
            None => cache.normalized.copy_from_slice(batch.insample_y),
        }
        transpose_windows(&cache.normalized, n, l, &mut cache.mixer_input);
        cache.blocks.resize_with(self.mixing_layers.len(), MixingCache::default);
        for (k, layer) in self.mixing_layers.iter().enumerate() {
            let (done, rest) = cache.blocks.split_at_mut(k);
            let input = done.last().map_or(&cache.mixer_input[..], MixingCache::output);
            layer.forward(&self.params, input, windows, batch.train_seed, &mut rest[0])?;
        }
        let last = cache.blocks.last().map_or(&cache.mixer_input[..], MixingCache::output);
        transpose_windows(last, l, n, &mut cache.projected_input);
        let out_features = self.config.out_features();
        cache.projection.resize(rows * out_features, 0.0);
        self.out.forward(&self.params, &cache.projected_input, rows, &mut cache.projection)?;
        cache.output.resize(rows * out_features, 0.0);
        match &self.norm {
            Some(norm) => norm.denorm(&self.params, &cache.projection, rows, &mut cache.output, &mut cache.revin)?,
            None => cache.output.copy_from_slice(&cache.projection),
        }
        Ok(&cache.output)
    }

    fn backward_pass(&self, cache: &mut TsMixerCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let (n, l) = (self.config.n_series, self.config.shape.input_size);
        let rows = cache.windows * n;
        let TsMixerCache { revin, normalized, blocks, projected_input, d_projection, d_values, d_other, .. } = cache;
        d_projection.resize(d_output.len(), 0.0);
        match &self.norm {
            Some(norm) => norm.denorm_backward(&self.params, revin, d_output, grads, d_projection)?,
            None => d_projection.copy_from_slice(d_output),
        }
        d_values.resize(rows * l, 0.0);
        self.out.backward(&self.params, projected_input, d_projection, rows, grads, Some(d_values))?;
        transpose_windows(d_values, n, l, d_other);
        for (layer, block) in self.mixing_layers.iter().zip(blocks.iter_mut()).rev() {
            d_values.resize(rows * l, 0.0);
            layer.backward(&self.params, block, d_other, grads, d_values)?;
            std::mem::swap(d_values, d_other);
        }
        // `d_other` holds the gradient of the mixers' input `[B, L, N]`: the RevIN affine weights take theirs.
        if let Some(norm) = &self.norm {
            transpose_windows(d_other, l, n, d_values);
            d_other.resize(normalized.len(), 0.0);
            norm.norm_backward(&self.params, revin, d_values, grads, d_other)?;
        }
        Ok(())
    }

    /// Moves every batch norm's running statistics with the batch of the training pass in `cache`.
    fn update_running_statistics(&mut self, cache: &TsMixerCache) -> Result<(), NnError> {
        for (layer, block) in self.mixing_layers.iter().zip(&cache.blocks) {
            layer.update_running_statistics(&mut self.params, block)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tsmixer_tests.rs"]
mod tests;

//! NeuralForecast's `TiDE` (neuralforecast/models/tide.py), the Time-series Dense Encoder, built from
//! [`MlpResidual`] blocks:
//! - the exogenous features are projected per time step to `temporal_width` values (`hist_exog_projection` over
//!   the window's `[L, hist]`, `futr_exog_projection` over `[L + h, futr]`);
//! - the dense encoder (`num_encoder_layers` blocks) maps `[ y | hist proj | futr proj | stat ]` to `hidden_size`,
//!   the dense decoder (`num_decoder_layers` blocks) to `decoder_output_dim` values per horizon step;
//! - the temporal decoder maps each step's `[ decoded | futr proj of that step ]` to its outputs, and the global
//!   skip (a Linear over the window) is added.
//!
//! As in tide.py, the historic projection exists whenever there are future variables too: with future variables
//! alone its weights have zero inputs (torch's `Linear(0, n)`), are never used and stay at their initial values,
//! so that the parameters (and checkpoints) are NeuralForecast's one for one.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use crate::nn::dropout::Dropout;
use crate::nn::mlp_residual::{MlpResidual, MlpResidualCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct TideConfig {
    pub shape: ModelShape,
    pub hidden_size: usize,
    pub decoder_output_dim: usize,
    pub temporal_decoder_dim: usize,
    pub dropout: f64,
    pub layernorm: bool,
    pub num_encoder_layers: usize,
    pub num_decoder_layers: usize,
    pub temporal_width: usize,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros.
    pub exclude_insample_y: bool,
}

impl TideConfig {
    /// Width of the dense encoder's input (tide.py's `dense_encoder_input_size`).
    fn encoder_in_features(&self) -> usize {
        let ModelShape { h, input_size: l, exog, .. } = self.shape;
        let tw = self.temporal_width;
        l + if exog.hist > 0 { l * tw } else { 0 } + if exog.futr > 0 { (l + h) * tw } else { 0 } + exog.stat
    }

    /// Width of the temporal decoder's input per horizon step.
    fn temporal_in_features(&self) -> usize {
        self.decoder_output_dim + if self.shape.exog.futr > 0 { self.temporal_width } else { 0 }
    }

    /// `(in, hidden, out)` of every dense encoder and decoder block, in order.
    fn dense_blocks(&self) -> Vec<(usize, usize, usize)> {
        let hidden = self.hidden_size;
        let encoder = (0..self.num_encoder_layers).map(|i| (if i == 0 { self.encoder_in_features() } else { hidden }, hidden, hidden));
        let last = self.num_decoder_layers - 1;
        let decoder = (0..self.num_decoder_layers)
            .map(|i| (hidden, hidden, if i == last { self.decoder_output_dim * self.shape.h } else { hidden }));
        encoder.chain(decoder).collect()
    }
}

impl ModelConfig for TideConfig {
    type Network = Tide;

    const NAME: &'static str = "TiDE";
    const OPTION_KEYS: &'static [&'static str] = &[
        "hiddenSize", "decoderOutputDim", "temporalDecoderDim", "dropout", "layernorm", "numEncoderLayers",
        "numDecoderLayers", "temporalWidth", "excludeInsampleY",
    ];
    /// tide.py: `input_size` required, `scaler_type='identity'`, `windows_batch_size=1024`,
    /// `inference_windows_batch_size=1024`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { inference_windows_batch_size: Some(1024), ..TrainingDefaults::WINDOWS };

    /// tide.py: `hidden_size=512`, `decoder_output_dim=32`, `temporal_decoder_dim=128`, `dropout=0.3`,
    /// `layernorm=True`, `num_encoder_layers=1`, `num_decoder_layers=1`, `temporal_width=4`.
    fn new(shape: ModelShape) -> Self {
        TideConfig {
            shape,
            hidden_size: 512,
            decoder_output_dim: 32,
            temporal_decoder_dim: 128,
            dropout: 0.3,
            layernorm: true,
            num_encoder_layers: 1,
            num_decoder_layers: 1,
            temporal_width: 4,
            exclude_insample_y: false,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([
            ("hiddenSize", &mut self.hidden_size), ("decoderOutputDim", &mut self.decoder_output_dim),
            ("temporalDecoderDim", &mut self.temporal_decoder_dim), ("numEncoderLayers", &mut self.num_encoder_layers),
            ("numDecoderLayers", &mut self.num_decoder_layers), ("temporalWidth", &mut self.temporal_width),
        ])?;
        if let Some(p) = options.number_in("dropout", 0.0, 1.0)? {
            if p >= 1.0 {
                return Err(OptionError::Range(format!("{} must be below 1, got {p}", options.field("dropout"))));
            }
            self.dropout = p;
        }
        self.layernorm = options.boolean("layernorm")?.unwrap_or(self.layernorm);
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("hiddenSize", self.hidden_size.into()), ("decoderOutputDim", self.decoder_output_dim.into()),
            ("temporalDecoderDim", self.temporal_decoder_dim.into()), ("dropout", self.dropout.into()),
            ("layernorm", self.layernorm.into()), ("numEncoderLayers", self.num_encoder_layers.into()),
            ("numDecoderLayers", self.num_decoder_layers.into()), ("temporalWidth", self.temporal_width.into()),
            ("excludeInsampleY", self.exclude_insample_y.into()),
        ]);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size: l, outputs_per_point: outputs, exog, .. } = self.shape;
        let [h, l, outputs, hidden, tw, hist, futr] =
            [h, l, outputs, self.hidden_size, self.temporal_width, exog.hist, exog.futr].map(|v| v as u128);
        let block = |i, k, o| MlpResidual::parameter_count(i, k, o, self.layernorm);
        // Rows per window times what a block's cache keeps per row (see MlpResidualCache).
        let block_activations = |rows: u128, i: u128, k: u128, o: u128| rows * (2 * k + 5 * o + i);
        let mut parameters = (l + 1) * h * outputs;
        let mut activations = l * (1 + hist) + (l + h) * futr + 2 * h * outputs + 2 * self.encoder_in_features() as u128;
        if hist > 0 || futr > 0 {
            parameters += block(hist, hidden, tw);
            activations += block_activations(l, hist, hidden, tw) + 2 * l * tw;
        }
        if futr > 0 {
            parameters += block(futr, hidden, tw);
            activations += block_activations(l + h, futr, hidden, tw) + 2 * (l + h) * tw;
        }
        for (i, k, o) in self.dense_blocks() {
            let [i, k, o] = [i, k, o].map(|v| v as u128);
            parameters += block(i, k, o);
            activations += block_activations(1, i, k, o) + 2 * o;
        }
        let temporal_in = self.temporal_in_features() as u128;
        parameters += block(temporal_in, self.temporal_decoder_dim as u128, outputs);
        activations += block_activations(h, temporal_in, self.temporal_decoder_dim as u128, outputs) + 2 * h * temporal_in;
        (parameters, activations)
    }

    fn build(&self) -> Result<Tide, NnError> {
        crate::nn::error::nonzero("numEncoderLayers", self.num_encoder_layers)?;
        crate::nn::error::nonzero("numDecoderLayers", self.num_decoder_layers)?;
        let ModelShape { h, input_size, outputs_per_point, exog, random_seed } = self.shape;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let (hidden, tw, layernorm) = (self.hidden_size, self.temporal_width, self.layernorm);
        let mut stream = 0;
        let mut dropout = || {
            stream += 1;
            Dropout::new(self.dropout as f32, stream)
        };
        let hist_projection = if exog.hist > 0 {
            Some(MlpResidual::new(&mut init.pp("hist_exog_projection"), (exog.hist, hidden, tw), layernorm, dropout()?)?)
        } else {
            if exog.futr > 0 {
                unused_hist_projection(&mut init.pp("hist_exog_projection"), hidden, tw, layernorm)?;
            }
            None
        };
        let futr_projection = match exog.futr {
            0 => None,
            futr => Some(MlpResidual::new(&mut init.pp("futr_exog_projection"), (futr, hidden, tw), layernorm, dropout()?)?),
        };
        let mut dense = Vec::with_capacity(self.num_encoder_layers + self.num_decoder_layers);
        for (i, &sizes) in self.dense_blocks().iter().enumerate() {
            let name = match i.checked_sub(self.num_encoder_layers) {
                None => format!("dense_encoder.{i}"),
                Some(j) => format!("dense_decoder.{j}"),
            };
            dense.push(MlpResidual::new(&mut init.pp(name), sizes, layernorm, dropout()?)?);
        }
        let temporal_sizes = (self.temporal_in_features(), self.temporal_decoder_dim, outputs_per_point);
        let temporal_decoder = MlpResidual::new(&mut init.pp("temporal_decoder"), temporal_sizes, layernorm, dropout()?)?;
        let global_skip = Linear::new(&mut init.pp("global_skip"), input_size, h * outputs_per_point)?;
        Ok(Tide { config: self.clone(), params, hist_projection, futr_projection, dense, temporal_decoder, global_skip })
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

/// tide.py's `hist_exog_projection` of a model with future but no historic variables: `MLPResidual(0, hidden,
/// temporal_width)`, which its forward never calls. Torch initialises a zero-input Linear's bias to 0.
fn unused_hist_projection(init: &mut ParamInit<'_>, hidden: usize, tw: usize, layernorm: bool) -> Result<(), NnError> {
    if layernorm {
        init.constant("norm.weight", &[tw], 1.0)?;
        init.constant("norm.bias", &[tw], 0.0)?;
    }
    init.constant("lin1.weight", &[hidden, 0], 0.0)?;
    init.constant("lin1.bias", &[hidden], 0.0)?;
    Linear::new(&mut init.pp("lin2"), hidden, tw)?;
    init.constant("skip.weight", &[tw, 0], 0.0)?;
    init.constant("skip.bias", &[tw], 0.0)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Tide {
    config: TideConfig,
    params: ParamStore,
    hist_projection: Option<MlpResidual>,
    futr_projection: Option<MlpResidual>,
    /// The dense encoder's blocks, then the dense decoder's: one chain.
    dense: Vec<MlpResidual>,
    temporal_decoder: MlpResidual,
    global_skip: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct TideCache {
    batch: usize,
    /// The input windows `[B, L]` (the global skip's input).
    insample: Vec<f32>,
    /// The exogenous inputs `[B, L, hist]` and `[B, L + h, futr]` (the projections' inputs).
    hist_exog: Vec<f32>,
    futr_exog: Vec<f32>,
    hist: MlpResidualCache,
    futr: MlpResidualCache,
    /// `[B, encoder_in_features]`.
    encoder_input: Vec<f32>,
    dense: Vec<MlpResidualCache>,
    /// `[B * h, temporal_in_features]`.
    temporal_input: Vec<f32>,
    temporal: MlpResidualCache,
    output: Vec<f32>,
    d_encoder_input: Vec<f32>,
    d_dense: Vec<f32>,
    d_dense_below: Vec<f32>,
    d_temporal_input: Vec<f32>,
    d_hist: Vec<f32>,
    d_futr: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TideCache {
    batch, insample, hist_exog, futr_exog, hist, futr, encoder_input, dense, temporal_input, temporal, output, d_encoder_input, d_dense,
    d_dense_below, d_temporal_input, d_hist, d_futr
});

impl_model!(Tide, TideConfig, TideCache);

impl Tide {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut TideCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, input_size: l, outputs_per_point: outputs, exog, .. } = self.config.shape;
        let (b, tw, seed) = (batch.batch, self.config.temporal_width, batch.train_seed);
        cache.batch = b;
        cache.insample.clear();
        cache.insample.extend_from_slice(batch.insample_y);
        cache.hist_exog.clear();
        cache.hist_exog.extend_from_slice(batch.hist_exog);
        cache.futr_exog.clear();
        cache.futr_exog.extend_from_slice(batch.futr_exog);
        let hist = match &self.hist_projection {
            Some(block) => block.forward(&self.params, batch.hist_exog, b * l, seed, &mut cache.hist)?,
            None => &[],
        };
        let futr = match &self.futr_projection {
            Some(block) => block.forward(&self.params, batch.futr_exog, b * (l + h), seed, &mut cache.futr)?,
            None => &[],
        };
        // [ y | hist projection | futr projection | stat ] per window, each flattened row-major.
        let (hist_len, futr_len) = (hist.len() / b, futr.len() / b);
        cache.encoder_input.clear();
        for w in 0..b {
            cache.encoder_input.extend_from_slice(&batch.insample_y[w * l..(w + 1) * l]);
            cache.encoder_input.extend_from_slice(&hist[w * hist_len..(w + 1) * hist_len]);
            cache.encoder_input.extend_from_slice(&futr[w * futr_len..(w + 1) * futr_len]);
            cache.encoder_input.extend_from_slice(&batch.stat_exog[w * exog.stat..(w + 1) * exog.stat]);
        }
        cache.dense.resize_with(self.dense.len(), MlpResidualCache::default);
        for (i, block) in self.dense.iter().enumerate() {
            let (done, rest) = cache.dense.split_at_mut(i);
            let input = if i == 0 { &cache.encoder_input } else { self.dense[i - 1].output(&done[i - 1]) };
            block.forward(&self.params, input, b, seed, &mut rest[0])?;
        }
        let decoded = self.dense[self.dense.len() - 1].output(&cache.dense[self.dense.len() - 1]);
        // [ decoded step | futr projection of that step ] per window and horizon step.
        let dec = self.config.decoder_output_dim;
        let futr_step = if exog.futr > 0 { tw } else { 0 };
        cache.temporal_input.clear();
        for w in 0..b {
            for t in 0..h {
                cache.temporal_input.extend_from_slice(&decoded[(w * h + t) * dec..(w * h + t + 1) * dec]);
                let row = w * (l + h) + l + t;
                cache.temporal_input.extend_from_slice(&futr[row * futr_step..(row + 1) * futr_step]);
            }
        }
        let temporal = self.temporal_decoder.forward(&self.params, &cache.temporal_input, b * h, seed, &mut cache.temporal)?;
        cache.output.resize(b * h * outputs, 0.0);
        self.global_skip.forward(&self.params, batch.insample_y, b, &mut cache.output)?;
        cache.output.iter_mut().zip(temporal).for_each(|(y, t)| *y += t);
        Ok(&cache.output)
    }

    fn backward_pass(&self, cache: &mut TideCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let (b, tw, dec) = (cache.batch, self.config.temporal_width, self.config.decoder_output_dim);
        let params = &self.params;
        crate::nn::error::expect_len("TiDE output gradient", cache.output.len(), d_output.len())?;
        self.global_skip.backward(params, &cache.insample, d_output, b, grads, None)?;
        cache.d_temporal_input.resize(cache.temporal_input.len(), 0.0);
        self.temporal_decoder.backward(params, &cache.temporal_input, &mut cache.temporal, d_output, grads, Some(&mut cache.d_temporal_input))?;
        let futr_step = if exog.futr > 0 { tw } else { 0 };
        cache.d_futr.clear();
        cache.d_futr.resize(b * (l + h) * futr_step, 0.0);
        cache.d_dense.clear();
        for (row, d_step) in cache.d_temporal_input.chunks_exact(dec + futr_step).enumerate() {
            cache.d_dense.extend_from_slice(&d_step[..dec]);
            let (w, t) = (row / h, row % h);
            let futr_row = w * (l + h) + l + t;
            cache.d_futr[futr_row * futr_step..(futr_row + 1) * futr_step].copy_from_slice(&d_step[dec..]);
        }
        let has_projections = self.hist_projection.is_some() || self.futr_projection.is_some();
        for (i, block) in self.dense.iter().enumerate().rev() {
            let (done, rest) = cache.dense.split_at_mut(i);
            let input = if i == 0 { &cache.encoder_input } else { self.dense[i - 1].output(&done[i - 1]) };
            if i == 0 {
                // The encoder's input gradient feeds only the exogenous projections.
                let d_input = if has_projections {
                    cache.d_encoder_input.resize(cache.encoder_input.len(), 0.0);
                    Some(cache.d_encoder_input.as_mut_slice())
                } else {
                    None
                };
                block.backward(params, input, &mut rest[0], &cache.d_dense, grads, d_input)?;
            } else {
                cache.d_dense_below.resize(b * block.in_features(), 0.0);
                block.backward(params, input, &mut rest[0], &cache.d_dense, grads, Some(&mut cache.d_dense_below))?;
                std::mem::swap(&mut cache.d_dense, &mut cache.d_dense_below);
            }
        }
        if !has_projections {
            return Ok(());
        }
        let hist_len = if exog.hist > 0 { l * tw } else { 0 };
        let futr_len = (l + h) * futr_step;
        let width = l + hist_len + futr_len + exog.stat;
        cache.d_hist.resize(b * hist_len, 0.0);
        for (w, d_row) in cache.d_encoder_input.chunks_exact(width).enumerate() {
            cache.d_hist[w * hist_len..(w + 1) * hist_len].copy_from_slice(&d_row[l..l + hist_len]);
            let d_futr = &mut cache.d_futr[w * futr_len..(w + 1) * futr_len];
            d_futr.iter_mut().zip(&d_row[l + hist_len..l + hist_len + futr_len]).for_each(|(d, e)| *d += e);
        }
        if let Some(block) = &self.hist_projection {
            block.backward(params, &cache.hist_exog, &mut cache.hist, &cache.d_hist, grads, None)?;
        }
        if let Some(block) = &self.futr_projection {
            block.backward(params, &cache.futr_exog, &mut cache.futr, &cache.d_futr, grads, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tide_tests.rs"]
mod tests;

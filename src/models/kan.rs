//! NeuralForecast's `KAN` (neuralforecast/models/kan.py), a Kolmogorov-Arnold network: the window and its exogenous
//! inputs flattened as MLP's `[ y_{t-L..t} | X_{t-L..t} | F_{t-L..t+h} | S ]`, then `n_hidden_layers` [`KanLinear`]
//! layers of `hidden_size` units (one width for all, or one per layer) and a last one to `h × outputs_per_point`.
//!
//! kan.py defines a `regularization_loss` but NeuralForecast's training never adds it to the loss, so neither do
//! we. Its `grid_eps` is used only by `update_grid`, which training never calls, and `KAN` does not pass
//! `enable_standalone_scale_spline` to its layers (they always have the scaler): both are accepted at their
//! defaults only, so that another value is an error rather than silently ignored.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::mlp::flatten_window_inputs;
use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{ModelOptions, OptionError, OptionResult, MAX_SIZE};
use crate::nn::kan_linear::{KanLinear, KanLinearCache, KanOptions};
use crate::nn::{NnError, ParamInit, ParamStore};

/// kan.py's `grid_eps` and `enable_standalone_scale_spline`, the only values it accepts.
const GRID_EPS: f64 = 0.02;

/// kan.py's `hidden_size`: one width for every hidden layer, or one per layer.
#[derive(Debug, Clone, PartialEq)]
pub enum HiddenSize {
    Same(usize),
    PerLayer(Vec<usize>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KanConfig {
    pub shape: ModelShape,
    pub layer: KanOptions,
    pub n_hidden_layers: usize,
    pub hidden_size: HiddenSize,
    /// NeuralForecast's `exclude_insample_y`: the input window enters as zeros.
    pub exclude_insample_y: bool,
}

impl KanConfig {
    /// kan.py's `layers.{i}.grid` buffers, `[in_features, knots]`: NeuralForecast stores them (and never changes
    /// them); we derive them from the options, so only model directories hold them.
    pub fn grid_buffers(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let knots = self.layer.knots();
        let widths = self.widths();
        (0..widths.len() - 1)
            .map(|i| (format!("layers.{i}.grid"), vec![widths[i], knots.len()], knots.repeat(widths[i])))
            .collect()
    }

    /// Widths from the flattened input to the output: kan.py's `hidden_layers`.
    fn widths(&self) -> Vec<usize> {
        let ModelShape { h, input_size: l, outputs_per_point, exog, .. } = self.shape;
        let hidden = match &self.hidden_size {
            HiddenSize::Same(n) => vec![*n; self.n_hidden_layers],
            HiddenSize::PerLayer(sizes) => sizes.clone(),
        };
        let input = l + exog.hist * l + exog.futr * (l + h) + exog.stat;
        std::iter::once(input).chain(hidden).chain(std::iter::once(h * outputs_per_point)).collect()
    }
}

impl ModelConfig for KanConfig {
    type Network = Kan;

    const NAME: &'static str = "KAN";
    const OPTION_KEYS: &'static [&'static str] = &[
        "gridSize", "splineOrder", "scaleNoise", "scaleBase", "scaleSpline", "enableStandaloneScaleSpline", "gridEps",
        "gridRange", "nHiddenLayers", "hiddenSize", "excludeInsampleY",
    ];
    /// kan.py: `input_size` required, `scaler_type='identity'`, `windows_batch_size=1024`,
    /// `inference_windows_batch_size=-1`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults::WINDOWS;

    /// kan.py: `grid_size=5`, `spline_order=3`, `scale_noise=0.1`, `scale_base=1.0`, `scale_spline=1.0`,
    /// `grid_range=[-1, 1]`, `n_hidden_layers=1`, `hidden_size=512`.
    fn new(shape: ModelShape) -> Self {
        KanConfig {
            shape,
            layer: KanOptions { grid_size: 5, spline_order: 3, scale_noise: 0.1, scale_base: 1.0, scale_spline: 1.0, grid_range: [-1.0, 1.0] },
            n_hidden_layers: 1,
            hidden_size: HiddenSize::Same(512),
            exclude_insample_y: false,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        let layer = &mut self.layer;
        options.read_sizes([("gridSize", &mut layer.grid_size)])?;
        layer.spline_order = options.integer("splineOrder", 0, 64)?.unwrap_or(layer.spline_order);
        for (key, field) in [("scaleNoise", &mut layer.scale_noise), ("scaleBase", &mut layer.scale_base), ("scaleSpline", &mut layer.scale_spline)] {
            if let Some(value) = options.number_in(key, 0.0, 1e6)? {
                *field = value;
            }
        }
        if let Some(range) = options.get("gridRange") {
            let pair = range.as_array().filter(|a| a.len() == 2).and_then(|a| Some([a[0].as_f64()?, a[1].as_f64()?]));
            match pair {
                Some([lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => layer.grid_range = [lo, hi],
                _ => return Err(OptionError::Range(format!("{} must be [low, high] with low < high, got {range}", options.field("gridRange")))),
            }
        }
        if options.number("gridEps")?.is_some_and(|eps| eps != GRID_EPS) {
            return Err(OptionError::Range(format!(
                "{} is accepted at its default {GRID_EPS} only: NeuralForecast uses it only in update_grid, which its training never calls",
                options.field("gridEps")
            )));
        }
        if options.boolean("enableStandaloneScaleSpline")? == Some(false) {
            return Err(OptionError::Range(format!(
                "{} is accepted as true only: NeuralForecast's KAN does not pass it to its layers, which always scale each spline",
                options.field("enableStandaloneScaleSpline")
            )));
        }
        self.n_hidden_layers = options.integer("nHiddenLayers", 0, MAX_SIZE)?.unwrap_or(self.n_hidden_layers);
        match options.get("hiddenSize") {
            Some(Value::Array(_)) => {
                let sizes = options.integers("hiddenSize", 1, MAX_SIZE)?.unwrap_or_default();
                if sizes.len() != self.n_hidden_layers {
                    return Err(OptionError::Range(format!(
                        "{} must have nHiddenLayers ({}) elements, got {}",
                        options.field("hiddenSize"), self.n_hidden_layers, sizes.len()
                    )));
                }
                self.hidden_size = HiddenSize::PerLayer(sizes);
            }
            Some(_) => self.hidden_size = HiddenSize::Same(options.size("hiddenSize")?.unwrap_or(512)),
            None => {
                if let HiddenSize::PerLayer(sizes) = &self.hidden_size {
                    if sizes.len() != self.n_hidden_layers {
                        return Err(OptionError::Range(format!("{} must be given with nHiddenLayers", options.field("hiddenSize"))));
                    }
                }
            }
        }
        self.exclude_insample_y = options.boolean("excludeInsampleY")?.unwrap_or(self.exclude_insample_y);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        let layer = &self.layer;
        let hidden = match &self.hidden_size {
            HiddenSize::Same(n) => Value::from(*n),
            HiddenSize::PerLayer(sizes) => Value::from(sizes.clone()),
        };
        let entries: [(&str, Value); 11] = [
            ("gridSize", layer.grid_size.into()), ("splineOrder", layer.spline_order.into()),
            ("scaleNoise", layer.scale_noise.into()), ("scaleBase", layer.scale_base.into()),
            ("scaleSpline", layer.scale_spline.into()), ("enableStandaloneScaleSpline", true.into()),
            ("gridEps", GRID_EPS.into()), ("gridRange", Value::from(layer.grid_range.to_vec())),
            ("nHiddenLayers", self.n_hidden_layers.into()), ("hiddenSize", hidden),
            ("excludeInsampleY", self.exclude_insample_y.into()),
        ];
        out.extend(entries.map(|(k, v)| (k.to_string(), v)));
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let widths: Vec<u128> = self.widths().into_iter().map(|w| w as u128).collect();
        let c = self.layer.coefficients() as u128;
        let parameters = widths.windows(2).map(|w| KanLinear::parameter_count(w[0], w[1], &self.layer)).sum();
        // Per layer: its input, features and their gradient, output; plus the flattened input.
        let activations = widths[0] + widths.windows(2).map(|w| w[0] * (1 + 2 * (1 + c)) + 2 * w[1]).sum::<u128>();
        (parameters, activations)
    }

    fn build(&self) -> Result<Kan, NnError> {
        let widths = self.widths();
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.shape.random_seed);
        let noise_seeds: Vec<u64> = widths.iter().map(|_| rng.random()).collect();
        let mut init = ParamInit::new(&mut params, &mut rng);
        let layers = widths
            .windows(2)
            .zip(noise_seeds)
            .enumerate()
            .map(|(i, (w, seed))| KanLinear::new(&mut init.pp(format!("layers.{i}")), w[0], w[1], self.layer, seed))
            .collect::<Result<_, _>>()?;
        Ok(Kan { config: self.clone(), params, layers })
    }

    fn exclude_insample_y(&self) -> bool {
        self.exclude_insample_y
    }
}

#[derive(Debug, Clone)]
pub struct Kan {
    config: KanConfig,
    params: ParamStore,
    layers: Vec<KanLinear>,
}

#[derive(Debug, Clone, Default)]
pub struct KanCache {
    /// The flattened inputs `[B, in_features]`.
    inputs: Vec<f32>,
    layers: Vec<KanLinearCache>,
    d_current: Vec<f32>,
    d_below: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(KanCache { inputs, layers, d_current, d_below });

impl_model!(Kan, KanConfig, KanCache);

impl Kan {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut KanCache) -> Result<&'c [f32], NnError> {
        flatten_window_inputs(batch, &self.config.shape, &mut cache.inputs);
        cache.layers.resize_with(self.layers.len(), KanLinearCache::default);
        for (i, layer) in self.layers.iter().enumerate() {
            let (done, rest) = cache.layers.split_at_mut(i);
            let input = done.last().map_or(cache.inputs.as_slice(), KanLinearCache::output);
            layer.forward(&self.params, input, batch.batch, &mut rest[0])?;
        }
        Ok(cache.layers[self.layers.len() - 1].output())
    }

    fn backward_pass(&self, cache: &mut KanCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let KanCache { layers: caches, d_current, d_below, .. } = cache;
        d_current.clear();
        d_current.extend_from_slice(d_output);
        for (i, layer) in self.layers.iter().enumerate().rev() {
            if i == 0 {
                // The flattened inputs are data: no gradient below the first layer.
                layer.backward(&self.params, &mut caches[i], d_current, grads, None)?;
            } else {
                d_below.resize(caches[i].rows() * layer.in_features(), 0.0);
                layer.backward(&self.params, &mut caches[i], d_current, grads, Some(d_below))?;
                std::mem::swap(d_current, d_below);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "kan_tests.rs"]
mod tests;

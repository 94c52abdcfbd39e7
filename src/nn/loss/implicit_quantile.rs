//! NeuralForecast's `IQLoss` head (losses/pytorch.py `QuantileLayer` and `IQLoss.domain_map`): each forecast value
//! `ŷ` is conditioned on a quantile `tau` through a cosine embedding, `y = PReLU(Linear(1,1)(ŷ (1 + emb(tau))))`
//! with `emb = Linear(d,1)(PReLU(Linear(d,d)(cos(pi i tau), i < d)))`; and the Beta draws of `tau` in training.

use rand::SeedableRng;
use rand_distr::{Beta, Distribution};
use rand_chacha::ChaCha8Rng;

use super::super::activation::{Activation, ActivationKind};
use super::super::error::{expect_len, NnError};
use super::super::linear::Linear;
use super::super::params::{ParamInit, ParamStore};

/// The quantile an IQLoss network forecasts when none is asked (NeuralForecast's `update_quantile(q=[0.5])`).
pub const MEDIAN: f32 = 0.5;

/// The IQN head's layers, named as NeuralForecast's state dict under `loss.`.
#[derive(Debug, Clone)]
pub struct ImplicitQuantileHead {
    cos_embedding_dim: usize,
    /// `quantile_layer.output_layer.0`: Linear(d, d).
    hidden: Linear,
    /// `quantile_layer.output_layer.1`: PReLU.
    hidden_activation: Activation,
    /// `quantile_layer.output_layer.2`: Linear(d, 1).
    embedding: Linear,
    /// `output_layer.0`: Linear(1, 1).
    output: Linear,
    /// `output_layer.1`: PReLU.
    output_activation: Activation,
}

/// The head's activations of one pass over `n` values, kept for backward.
#[derive(Debug, Default)]
pub struct ImplicitQuantileCache {
    n: usize,
    /// `[n, d]` cos(pi i tau).
    cosines: Vec<f32>,
    /// `[n, d]` before and after the hidden PReLU.
    hidden_input: Vec<f32>,
    hidden_output: Vec<f32>,
    /// `[n]` the embedding, `ŷ (1 + emb)`, its Linear(1,1) image and the head's output.
    embedding: Vec<f32>,
    scaled: Vec<f32>,
    output_input: Vec<f32>,
    output: Vec<f32>,
    /// The forecasts `ŷ` the head conditioned.
    forecast: Vec<f32>,
    /// Backward buffers: d output, d scaled, d hidden output, and d ŷ (what the model's backward receives).
    d_output: Vec<f32>,
    d_scaled: Vec<f32>,
    d_embedding: Vec<f32>,
    d_hidden: Vec<f32>,
    d_forecast: Vec<f32>,
}

crate::nn::heap_bytes::heap_bytes!(ImplicitQuantileCache {
    n,
    cosines,
    hidden_input,
    hidden_output,
    embedding,
    scaled,
    output_input,
    output,
    forecast,
    d_output,
    d_scaled,
    d_embedding,
    d_hidden,
    d_forecast
});

/// The quantiles a head conditions its `n` values on: one per value (training's draws), or one for all.
#[derive(Debug, Clone, Copy)]
pub enum Quantiles<'a> {
    Each(&'a [f32]),
    All(f32),
}

impl Quantiles<'_> {
    fn at(&self, i: usize) -> f32 {
        match self {
            Quantiles::Each(q) => q[i],
            Quantiles::All(q) => *q,
        }
    }
}

impl ImplicitQuantileHead {
    /// Creates `quantile_layer.output_layer.{0,1,2}.*` and `output_layer.{0,1}.*` under `init`'s prefix.
    pub fn new(init: &mut ParamInit<'_>, cos_embedding_dim: usize) -> Result<Self, NnError> {
        let d = cos_embedding_dim;
        let mut quantile_layer = init.pp("quantile_layer");
        let mut layer = quantile_layer.pp("output_layer");
        let hidden = Linear::new(&mut layer.pp("0"), d, d)?;
        let hidden_activation = Activation::new(&mut layer.pp("1"), ActivationKind::Prelu)?;
        let embedding = Linear::new(&mut layer.pp("2"), d, 1)?;
        let mut out = init.pp("output_layer");
        let output = Linear::new(&mut out.pp("0"), 1, 1)?;
        let output_activation = Activation::new(&mut out.pp("1"), ActivationKind::Prelu)?;
        Ok(ImplicitQuantileHead { cos_embedding_dim: d, hidden, hidden_activation, embedding, output, output_activation })
    }

    /// The head's outputs for `forecast` (any shape, one output per value), each value conditioned on its quantile.
    pub fn forward<'c>(
        &self,
        params: &ParamStore,
        forecast: &[f32],
        quantiles: Quantiles<'_>,
        cache: &'c mut ImplicitQuantileCache,
    ) -> Result<&'c [f32], NnError> {
        let (n, d) = (forecast.len(), self.cos_embedding_dim);
        if let Quantiles::Each(q) = quantiles {
            expect_len("IQLoss quantiles", n, q.len())?;
        }
        cache.n = n;
        cache.forecast.clear();
        cache.forecast.extend_from_slice(forecast);
        cache.cosines.resize(n * d, 0.0);
        for (i, row) in cache.cosines.chunks_exact_mut(d).enumerate() {
            let tau = quantiles.at(i);
            row.iter_mut().enumerate().for_each(|(k, c)| *c = (tau * k as f32 * std::f32::consts::PI).cos());
        }
        cache.hidden_input.resize(n * d, 0.0);
        self.hidden.forward(params, &cache.cosines, n, &mut cache.hidden_input)?;
        cache.hidden_output.clone_from(&cache.hidden_input);
        self.hidden_activation.forward_in_place(params, &mut cache.hidden_output);
        cache.embedding.resize(n, 0.0);
        self.embedding.forward(params, &cache.hidden_output, n, &mut cache.embedding)?;
        cache.scaled.clear();
        cache.scaled.extend(forecast.iter().zip(&cache.embedding).map(|(&y, &e)| y * (1.0 + e)));
        cache.output_input.resize(n, 0.0);
        self.output.forward(params, &cache.scaled, n, &mut cache.output_input)?;
        cache.output.clone_from(&cache.output_input);
        self.output_activation.forward_in_place(params, &mut cache.output);
        Ok(&cache.output)
    }

    /// Accumulates the head's parameter gradients into `grads` from `d_output` (d loss / d head output) and
    /// returns d loss / d forecast, for the model's backward pass.
    pub fn backward<'c>(
        &self,
        params: &ParamStore,
        cache: &'c mut ImplicitQuantileCache,
        d_output: &[f32],
        grads: &mut ParamStore,
    ) -> Result<&'c [f32], NnError> {
        let (n, d) = (cache.n, self.cos_embedding_dim);
        expect_len("IQLoss head output gradient", n, d_output.len())?;
        let c = &mut *cache;
        c.d_output.clear();
        c.d_output.extend_from_slice(d_output);
        self.output_activation.backward_in_place(params, &mut c.d_output, &c.output, &c.output_input, grads)?;
        c.d_scaled.resize(n, 0.0);
        self.output.backward(params, &c.scaled, &c.d_output, n, grads, Some(&mut c.d_scaled))?;
        c.d_forecast.clear();
        c.d_forecast.extend(c.d_scaled.iter().zip(&c.embedding).map(|(&g, &e)| g * (1.0 + e)));
        c.d_embedding.clear();
        c.d_embedding.extend(c.d_scaled.iter().zip(&c.forecast).map(|(&g, &y)| g * y));
        c.d_hidden.resize(n * d, 0.0);
        self.embedding.backward(params, &c.hidden_output, &c.d_embedding, n, grads, Some(&mut c.d_hidden))?;
        self.hidden_activation.backward_in_place(params, &mut c.d_hidden, &c.hidden_output, &c.hidden_input, grads)?;
        self.hidden.backward(params, &c.cosines, &c.d_hidden, n, grads, None)?;
        Ok(&cache.d_forecast)
    }
}

/// Fills `out` with draws of Beta(`concentration1`, `concentration0`) (torch's argument order: the mean is
/// c1 / (c0 + c1)) from a generator seeded by `seed` alone, on its own stream so other draws from the same seed
/// (dropout) stay independent of these.
pub fn sample_beta(seed: u64, concentration0: f64, concentration1: f64, out: &mut [f32]) {
    const QUANTILE_STREAM: u64 = 0x1_0_5;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(QUANTILE_STREAM);
    // The concentrations are validated positive and finite when the loss is built; were they not, the median.
    let Ok(beta) = Beta::new(concentration1, concentration0) else {
        out.fill(MEDIAN);
        return;
    };
    for q in out.iter_mut() {
        let draw = beta.sample(&mut rng);
        *q = if draw.is_finite() { draw as f32 } else { MEDIAN };
    }
}

#[cfg(test)]
#[path = "implicit_quantile_tests.rs"]
mod tests;

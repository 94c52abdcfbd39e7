//! NeuralForecast's `RevIN` (common/_modules.py) for one channel: each window is centred (on its mean, or on its
//! last value with `subtract_last`) and divided by `sqrt(var + 1e-5)` (biased variance) before the network, and
//! the network's outputs are mapped back with the same window's statistics. The statistics are detached, as NF's,
//! so gradients reach only the optional affine `affine_weight`/`affine_bias` (shape `[1]`: one channel).

use super::error::{expect_len, nonzero, NnError};
use super::params::{ParamId, ParamInit, ParamStore};

const EPS: f32 = 1e-5;

#[derive(Debug, Clone)]
pub struct RevIn {
    /// `(affine_weight, affine_bias)` when `affine`.
    affine: Option<(ParamId, ParamId)>,
    subtract_last: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RevInCache {
    /// Per window: the centre (mean or last value) and the standard deviation.
    center: Vec<f32>,
    stdev: Vec<f32>,
    /// The normalised windows before the affine map (for `affine_weight`'s gradient).
    normalized: Vec<f32>,
    /// The network outputs `denormalize` read (for the affine gradients).
    outputs: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(RevInCache { center, stdev, normalized, outputs });

impl RevIn {
    /// `<prefix>.affine_weight` (ones) and `<prefix>.affine_bias` (zeros) when `affine`.
    pub fn new(init: &mut ParamInit<'_>, affine: bool, subtract_last: bool) -> Result<Self, NnError> {
        let affine = if affine { Some((init.constant("affine_weight", &[1], 1.0)?, init.constant("affine_bias", &[1], 0.0)?)) } else { None };
        Ok(RevIn { affine, subtract_last })
    }

    /// NF's `forward(x, "norm")` on `windows` `[B, len]`, into `output` `[B, len]`, keeping the statistics.
    pub fn normalize(&self, params: &ParamStore, windows: &[f32], len: usize, output: &mut [f32], cache: &mut RevInCache) -> Result<(), NnError> {
        nonzero("RevIN window length", len)?;
        expect_len("RevIN output", windows.len(), output.len())?;
        cache.center.clear();
        cache.stdev.clear();
        cache.normalized.resize(windows.len(), 0.0);
        let (w, b) = self.affine_values(params);
        for ((x, y), x_hat) in windows.chunks_exact(len).zip(output.chunks_exact_mut(len)).zip(cache.normalized.chunks_exact_mut(len)) {
            let mean = x.iter().sum::<f32>() / len as f32;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / len as f32;
            let center = if self.subtract_last { x[len - 1] } else { mean };
            let stdev = (var + EPS).sqrt();
            cache.center.push(center);
            cache.stdev.push(stdev);
            for ((y, x_hat), x) in y.iter_mut().zip(x_hat.iter_mut()).zip(x) {
                *x_hat = (x - center) / stdev;
                *y = *x_hat * w + b;
            }
        }
        Ok(())
    }

    /// NF's `forward(y, "denorm")` on `outputs` `[B, width]` (each window's outputs, quantiles included), in place.
    pub fn denormalize(&self, params: &ParamStore, outputs: &mut [f32], width: usize, cache: &mut RevInCache) -> Result<(), NnError> {
        expect_len("RevIN outputs", cache.stdev.len() * width, outputs.len())?;
        cache.outputs.clear();
        cache.outputs.extend_from_slice(outputs);
        let (w, b) = self.affine_values(params);
        let divisor = w + EPS * EPS;
        for ((y, &center), &stdev) in outputs.chunks_exact_mut(width.max(1)).zip(&cache.center).zip(&cache.stdev) {
            y.iter_mut().for_each(|v| *v = (*v - b) / divisor * stdev + center);
        }
        Ok(())
    }

    /// Backpropagates through `denormalize`: writes the gradient of its input into `d_outputs` (in place) and
    /// accumulates the affine gradients.
    pub fn backward_denormalize(&self, params: &ParamStore, cache: &RevInCache, d_outputs: &mut [f32], grads: &mut ParamStore) -> Result<(), NnError> {
        expect_len("RevIN output gradient", cache.outputs.len(), d_outputs.len())?;
        let width = cache.outputs.len() / cache.stdev.len().max(1);
        let (w, b) = self.affine_values(params);
        let divisor = w + EPS * EPS;
        let (mut d_w, mut d_b) = (0.0f32, 0.0f32);
        for ((d, y), &stdev) in d_outputs.chunks_exact_mut(width.max(1)).zip(cache.outputs.chunks_exact(width.max(1))).zip(&cache.stdev) {
            for (d, y) in d.iter_mut().zip(y) {
                let d_in = *d * stdev / divisor;
                d_b -= d_in;
                d_w -= d_in * (y - b) / divisor;
                *d = d_in;
            }
        }
        self.add_affine_grads(grads, d_w, d_b);
        Ok(())
    }

    /// Backpropagates `d_output` (the gradient of `normalize`'s output) to the affine parameters.
    pub fn backward_normalize(&self, cache: &RevInCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        expect_len("RevIN input gradient", cache.normalized.len(), d_output.len())?;
        if self.affine.is_some() {
            let d_w = d_output.iter().zip(&cache.normalized).map(|(d, x)| d * x).sum();
            let d_b = d_output.iter().sum();
            self.add_affine_grads(grads, d_w, d_b);
        }
        Ok(())
    }

    fn affine_values(&self, params: &ParamStore) -> (f32, f32) {
        self.affine.map_or((1.0, 0.0), |(w, b)| (params.get(w).data[0], params.get(b).data[0]))
    }

    fn add_affine_grads(&self, grads: &mut ParamStore, d_w: f32, d_b: f32) {
        if let Some((w, b)) = self.affine {
            grads.get_mut(w).data[0] += d_w;
            grads.get_mut(b).data[0] += d_b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    /// normalize, a fixed map standing in for the network (`y_j = sum_i a_ji x_i`), denormalize.
    fn round_trip(revin: &RevIn, params: &ParamStore, windows: &[f32], mix: &[f32], cache: &mut RevInCache) -> Vec<f32> {
        let mut normalized = vec![0.0; windows.len()];
        revin.normalize(params, windows, 5, &mut normalized, cache).unwrap();
        let mut out: Vec<f32> = normalized.chunks(5).flat_map(|x| mix.chunks(5).map(move |a| a.iter().zip(x).map(|(a, x)| a * x).sum::<f32>())).collect();
        revin.denormalize(params, &mut out, 3, cache).unwrap();
        out
    }

    #[test]
    fn affine_gradients_match_finite_differences() {
        for subtract_last in [false, true] {
            let (revin, mut params) = seeded_layer(1, "revin", |init| RevIn::new(init, true, subtract_last));
            params.iter_mut().for_each(|(name, t)| t.data[0] = if name.ends_with("weight") { 1.3 } else { 0.2 });
            let (windows, mix, weights) = (random_vec(10, 1), random_vec(15, 2), random_vec(6, 3));
            let mut cache = RevInCache::default();
            round_trip(&revin, &params, &windows, &mix, &mut cache);
            let mut d = weights.clone();
            let mut grads = params.zeros_like();
            revin.backward_denormalize(&params, &cache, &mut d, &mut grads).unwrap();
            let d_normalized: Vec<f32> = d.chunks(3).flat_map(|d| (0..5).map(|i| (0..3).map(|j| d[j] * mix[j * 5 + i]).sum::<f32>()).collect::<Vec<_>>()).collect();
            revin.backward_normalize(&cache, &d_normalized, &mut grads).unwrap();
            check_param_grads(&mut params.clone(), &grads, 1, |p| weighted_sum(&round_trip(&revin, p, &windows, &mix, &mut RevInCache::default()), &weights));
            // The gradient through denormalize alone, with the window statistics held.
            let mut d_out = weights.clone();
            revin.backward_denormalize(&params, &cache, &mut d_out, &mut params.zeros_like()).unwrap();
            let outputs = cache.outputs.clone();
            check_input_grads(&outputs, &d_out, 6, |y| {
                let mut y = y.to_vec();
                revin.denormalize(&params, &mut y, 3, &mut cache.clone()).unwrap();
                weighted_sum(&y, &weights)
            });
        }
    }

    #[test]
    fn normalize_then_denormalize_is_the_identity() {
        let (revin, params) = seeded_layer(1, "revin", |init| RevIn::new(init, false, true));
        let windows = [1.0, 2.0, 4.0, 8.0, 3.0, 10.0, 10.0, 12.0, 14.0, 9.0];
        let (mut normalized, mut cache) = (vec![0.0; 10], RevInCache::default());
        revin.normalize(&params, &windows, 5, &mut normalized, &mut cache).unwrap();
        assert_eq!(normalized[4], 0.0, "subtract_last centres on the last value");
        revin.denormalize(&params, &mut normalized, 5, &mut cache).unwrap();
        normalized.iter().zip(&windows).for_each(|(a, b)| assert!((a - b).abs() < 1e-5));
    }
}

//! NeuralForecast's `RevINMultivariate(num_features=n_series, affine=True)` (common/_modules.py): reversible
//! instance normalisation of each series of each window by the mean and `sqrt(biased var + 1e-5)` of its input
//! steps (statistics detached, as NeuralForecast's `.detach()`), then a learnable per-series `affine_weight` and
//! `affine_bias` (`[1, 1, n_series]`); `denorm` undoes both on the forecasts with the same window's statistics.
//! Rows are `[windows · n_series, steps]`, series `s` of a window in row `w · n_series + s`.

use super::error::{expect_len, nonzero, NnError};
use super::params::{ParamId, ParamInit, ParamStore};

const EPS: f32 = 1e-5;

#[derive(Debug, Clone)]
pub struct RevInMultivariate {
    affine_weight: ParamId,
    affine_bias: ParamId,
    n_series: usize,
}

/// Each row's statistics from `norm`, and what the backward passes need: the standardised inputs and the
/// forecasts with the affine map undone.
#[derive(Debug, Clone, Default)]
pub struct RevInMultivariateCache {
    mean: Vec<f32>,
    std: Vec<f32>,
    standardized: Vec<f32>,
    unshifted: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(RevInMultivariateCache { mean, std, standardized, unshifted });

impl RevInMultivariate {
    /// Creates `<prefix>.affine_weight` (ones) and `<prefix>.affine_bias` (zeros), `[1, 1, n_series]`.
    pub fn new(init: &mut ParamInit<'_>, n_series: usize) -> Result<Self, NnError> {
        nonzero("RevIN series", n_series)?;
        Ok(RevInMultivariate {
            affine_weight: init.constant("affine_weight", &[1, 1, n_series], 1.0)?,
            affine_bias: init.constant("affine_bias", &[1, 1, n_series], 0.0)?,
            n_series,
        })
    }

    /// `output` = each row of `input` (`[rows, steps]`) standardised by its own statistics, then scaled and
    /// shifted by its series' affine weight and bias; keeps the statistics for [`RevInMultivariate::denorm`].
    pub fn norm(&self, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32], cache: &mut RevInMultivariateCache) -> Result<(), NnError> {
        let steps = self.steps(input.len(), rows)?;
        expect_len("RevIN output", input.len(), output.len())?;
        let (weight, bias) = (&params.get(self.affine_weight).data, &params.get(self.affine_bias).data);
        cache.mean.clear();
        cache.std.clear();
        cache.standardized.resize(input.len(), 0.0);
        let rows_iter = input.chunks_exact(steps).zip(output.chunks_exact_mut(steps)).zip(cache.standardized.chunks_exact_mut(steps));
        for (r, ((x, y), z)) in rows_iter.enumerate() {
            let mean = x.iter().sum::<f32>() / steps as f32;
            let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / steps as f32;
            let std = (var + EPS).sqrt();
            let s = r % self.n_series;
            for ((y, z), &x) in y.iter_mut().zip(z.iter_mut()).zip(x) {
                *z = (x - mean) / std;
                *y = *z * weight[s] + bias[s];
            }
            cache.mean.push(mean);
            cache.std.push(std);
        }
        Ok(())
    }

    /// Backpropagates through [`RevInMultivariate::norm`] (the statistics held constant): `dx = dy · weight / std`, and the
    /// affine gradients.
    pub fn norm_backward(&self, params: &ParamStore, cache: &RevInMultivariateCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
        let steps = self.steps(d_output.len(), cache.std.len())?;
        expect_len("RevIN input gradient", d_output.len(), d_input.len())?;
        let weight = &params.get(self.affine_weight).data;
        for (r, ((dy, z), dx)) in d_output.chunks_exact(steps).zip(cache.standardized.chunks_exact(steps)).zip(d_input.chunks_exact_mut(steps)).enumerate() {
            let s = r % self.n_series;
            let g = weight[s] / cache.std[r];
            dx.iter_mut().zip(dy).for_each(|(dx, &dy)| *dx = dy * g);
            grads.get_mut(self.affine_weight).data[s] += dy.iter().zip(z).map(|(&dy, &z)| dy * z).sum::<f32>();
            grads.get_mut(self.affine_bias).data[s] += dy.iter().sum::<f32>();
        }
        Ok(())
    }

    /// `output` = each row of `input` (`[rows, steps]`, forecasts) with its series' affine map undone, then scaled
    /// back by the statistics `norm` kept for that row.
    pub fn denorm(&self, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32], cache: &mut RevInMultivariateCache) -> Result<(), NnError> {
        let steps = self.steps(input.len(), rows)?;
        expect_len("RevIN statistics", rows, cache.std.len())?;
        expect_len("RevIN output", input.len(), output.len())?;
        let (weight, bias) = (&params.get(self.affine_weight).data, &params.get(self.affine_bias).data);
        cache.unshifted.resize(input.len(), 0.0);
        let rows_iter = input.chunks_exact(steps).zip(output.chunks_exact_mut(steps)).zip(cache.unshifted.chunks_exact_mut(steps));
        for (r, ((y, x), u)) in rows_iter.enumerate() {
            let s = r % self.n_series;
            for ((x, u), &y) in x.iter_mut().zip(u.iter_mut()).zip(y) {
                *u = (y - bias[s]) / weight[s];
                *x = *u * cache.std[r] + cache.mean[r];
            }
        }
        Ok(())
    }

    /// Backpropagates through [`RevInMultivariate::denorm`]: `dy = dx · std / weight`, `d bias = −Σ dx · std / weight`,
    /// `d weight = −Σ dx · std · u / weight` (`u` the unshifted value).
    pub fn denorm_backward(&self, params: &ParamStore, cache: &RevInMultivariateCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
        let steps = self.steps(d_output.len(), cache.std.len())?;
        expect_len("RevIN forecast gradient", d_output.len(), d_input.len())?;
        let weight = &params.get(self.affine_weight).data;
        for (r, ((dx, u), dy)) in d_output.chunks_exact(steps).zip(cache.unshifted.chunks_exact(steps)).zip(d_input.chunks_exact_mut(steps)).enumerate() {
            let s = r % self.n_series;
            let g = cache.std[r] / weight[s];
            dy.iter_mut().zip(dx).for_each(|(dy, &dx)| *dy = dx * g);
            let d_sum: f32 = dx.iter().sum();
            let du_sum: f32 = dx.iter().zip(u).map(|(&dx, &u)| dx * u).sum();
            grads.get_mut(self.affine_bias).data[s] -= d_sum * g;
            grads.get_mut(self.affine_weight).data[s] -= du_sum * g;
        }
        Ok(())
    }

    /// Steps per row of `len` values in `rows` rows (whole windows of `n_series` rows).
    fn steps(&self, len: usize, rows: usize) -> Result<usize, NnError> {
        let rows = nonzero("RevIN rows", rows)?;
        if !rows.is_multiple_of(self.n_series) || !len.is_multiple_of(rows) {
            return Err(NnError::InvalidValue { what: "RevIN input", reason: format!("{len} values in {rows} rows are not whole windows of {} series", self.n_series) });
        }
        Ok(len / rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    #[test]
    fn norm_then_denorm_is_the_identity_and_names_follow_neuralforecast() {
        let (layer, mut params) = seeded_layer(1, "norm", |init| RevInMultivariate::new(init, 2));
        let names: Vec<_> = params.iter().map(|(n, t)| (n.to_string(), t.shape.clone())).collect();
        assert_eq!(names, [("norm.affine_weight".to_string(), vec![1, 1, 2]), ("norm.affine_bias".to_string(), vec![1, 1, 2])]);
        params.iter_mut().for_each(|(_, t)| t.data = vec![0.7, 1.3]);
        let input = random_vec(4 * 5, 3);
        let (mut normed, mut back) = (vec![0.0; 20], vec![0.0; 20]);
        let mut cache = RevInMultivariateCache::default();
        layer.norm(&params, &input, 4, &mut normed, &mut cache).unwrap();
        layer.denorm(&params, &normed, 4, &mut back, &mut cache).unwrap();
        assert!(input.iter().zip(&back).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Two windows of three series, 4 input steps, 2 forecast steps; the statistics come from the input and
        // are held constant (detached), so the objective is the norm pass followed by the denorm of a fixed map.
        let (n, rows, steps, out_steps) = (3, 6, 4, 2);
        let (layer, mut params) = seeded_layer(1, "norm", |init| RevInMultivariate::new(init, n));
        params.iter_mut().enumerate().for_each(|(i, (_, t))| t.data = random_vec(n, 10 + i as u64).iter().map(|v| v + 2.0 * (1 - i) as f32).collect());
        let input = random_vec(rows * steps, 2);
        let forecast = random_vec(rows * out_steps, 4);
        let (w_norm, w_denorm) = (random_vec(rows * steps, 5), random_vec(rows * out_steps, 6));
        let objective = |params: &ParamStore, input: &[f32], forecast: &[f32]| {
            let mut cache = RevInMultivariateCache::default();
            let (mut normed, mut back) = (vec![0.0; rows * steps], vec![0.0; rows * out_steps]);
            layer.norm(params, input, rows, &mut normed, &mut cache).unwrap();
            layer.denorm(params, forecast, rows, &mut back, &mut cache).unwrap();
            weighted_sum(&normed, &w_norm) + weighted_sum(&back, &w_denorm)
        };
        let mut cache = RevInMultivariateCache::default();
        let (mut normed, mut back) = (vec![0.0; rows * steps], vec![0.0; rows * out_steps]);
        layer.norm(&params, &input, rows, &mut normed, &mut cache).unwrap();
        layer.denorm(&params, &forecast, rows, &mut back, &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let (mut d_input, mut d_forecast) = (vec![0.0; rows * steps], vec![0.0; rows * out_steps]);
        layer.denorm_backward(&params, &cache, &w_denorm, &mut grads, &mut d_forecast).unwrap();
        layer.norm_backward(&params, &cache, &w_norm, &mut grads, &mut d_input).unwrap();
        check_input_grads(&forecast, &d_forecast, usize::MAX, |f| objective(&params, &input, f));
        check_param_grads(&mut params.clone(), &grads, usize::MAX, |p| objective(p, &input, &forecast));
        // The input's gradient through the norm pass alone (the statistics detached).
        let detached = |x: &[f32]| {
            let mut normed = vec![0.0; rows * steps];
            let rows_iter = x.chunks_exact(steps).zip(normed.chunks_exact_mut(steps)).enumerate();
            for (r, (x, y)) in rows_iter {
                let s = r % n;
                let (w, b) = (params.tensor_at(0).data[s], params.tensor_at(1).data[s]);
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = (x - cache.mean[r]) / cache.std[r] * w + b);
            }
            weighted_sum(&normed, &w_norm)
        };
        check_input_grads(&input, &d_input, usize::MAX, detached);
    }
}

//! `torch.nn.BatchNorm1d(features)` over `[rows, features]` (each feature a channel, its statistics over all rows of
//! the batch), with torch's semantics: while training it normalises with the batch's mean and biased variance and
//! the model then folds them into `running_mean`/`running_var` (momentum 0.1, the variance unbiased) and counts
//! `num_batches_tracked`; at inference it normalises with the running statistics. `eps = 1e-5`, `weight` 1,
//! `bias` 0 at first. The three statistics are buffers of the store (torch's state-dict names), not parameters.

use super::error::{expect_len, nonzero, NnError};
use super::params::{ParamId, ParamInit, ParamStore, TensorKind};

/// torch's default `eps` and `momentum`.
const EPS: f32 = 1e-5;
const MOMENTUM: f32 = 0.1;

#[derive(Debug, Clone)]
pub struct BatchNorm1d {
    weight: ParamId,
    bias: ParamId,
    running_mean: ParamId,
    running_var: ParamId,
    num_batches_tracked: ParamId,
    features: usize,
}

/// What the backward pass and the running statistics need.
#[derive(Debug, Clone, Default)]
pub struct BatchNormCache {
    /// Whether the pass used the batch's statistics (training) or the running ones.
    training: bool,
    rows: usize,
    normalized: Vec<f32>,
    /// Per feature: the mean and biased variance used, and `1 / sqrt(var + eps)`.
    mean: Vec<f32>,
    var: Vec<f32>,
    inv_std: Vec<f32>,
    /// Per feature: `sum(dy)` and `sum(dy * x_hat)` of the backward pass.
    d_bias: Vec<f32>,
    d_weight: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(BatchNormCache { training, rows, normalized, mean, var, inv_std, d_bias, d_weight });

impl BatchNorm1d {
    /// Creates `<prefix>.weight` (ones), `<prefix>.bias` (zeros) and the buffers `running_mean` (zeros),
    /// `running_var` (ones) and `num_batches_tracked` (0; torch's int64, stored here as f32).
    pub fn new(init: &mut ParamInit<'_>, features: usize) -> Result<Self, NnError> {
        nonzero("BatchNorm features", features)?;
        let weight = init.constant("weight", &[features], 1.0)?;
        let bias = init.constant("bias", &[features], 0.0)?;
        let running_mean = init.untrained("running_mean", TensorKind::Buffer, &[features], vec![0.0; features])?;
        let running_var = init.untrained("running_var", TensorKind::Buffer, &[features], vec![1.0; features])?;
        let num_batches_tracked = init.untrained("num_batches_tracked", TensorKind::Buffer, &[], vec![0.0])?;
        Ok(BatchNorm1d { weight, bias, running_mean, running_var, num_batches_tracked, features })
    }

    /// `output[rows, features]`: `input` normalised per feature with the batch's statistics when `training`
    /// (which needs at least 2 rows, as torch), else with the running ones, then scaled and shifted.
    pub fn forward(&self, params: &ParamStore, input: &[f32], rows: usize, training: bool, output: &mut [f32], cache: &mut BatchNormCache) -> Result<(), NnError> {
        let n = self.features;
        expect_len("BatchNorm input", rows * n, input.len())?;
        expect_len("BatchNorm output", rows * n, output.len())?;
        if training && rows < 2 {
            return Err(NnError::InvalidValue { what: "BatchNorm batch", reason: format!("training needs more than 1 value per channel, got {rows}") });
        }
        (cache.training, cache.rows) = (training, rows);
        cache.mean.resize(n, 0.0);
        cache.var.resize(n, 0.0);
        if training {
            cache.mean.fill(0.0);
            input.chunks_exact(n).for_each(|row| cache.mean.iter_mut().zip(row).for_each(|(m, x)| *m += x));
            cache.mean.iter_mut().for_each(|m| *m /= rows as f32);
            cache.var.fill(0.0);
            for row in input.chunks_exact(n) {
                cache.var.iter_mut().zip(row.iter().zip(&cache.mean)).for_each(|(v, (x, m))| *v += (x - m) * (x - m));
            }
            cache.var.iter_mut().for_each(|v| *v /= rows as f32);
        } else {
            cache.mean.copy_from_slice(&params.get(self.running_mean).data);
            cache.var.copy_from_slice(&params.get(self.running_var).data);
        }
        cache.inv_std.clear();
        cache.inv_std.extend(cache.var.iter().map(|v| 1.0 / (v + EPS).sqrt()));
        let (weight, bias) = (&params.get(self.weight).data, &params.get(self.bias).data);
        cache.normalized.resize(rows * n, 0.0);
        for ((x, y), x_hat) in input.chunks_exact(n).zip(output.chunks_exact_mut(n)).zip(cache.normalized.chunks_exact_mut(n)) {
            for (c, ((y, x_hat), x)) in y.iter_mut().zip(x_hat.iter_mut()).zip(x).enumerate() {
                *x_hat = (x - cache.mean[c]) * cache.inv_std[c];
                *y = *x_hat * weight[c] + bias[c];
            }
        }
        Ok(())
    }

    /// Accumulates the gradients of `weight` and `bias` and writes that of the input (through the batch
    /// statistics when the pass trained).
    pub fn backward(&self, params: &ParamStore, cache: &mut BatchNormCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
        let (n, rows) = (self.features, cache.rows);
        nonzero("BatchNorm rows (run forward first)", rows)?;
        expect_len("BatchNorm output gradient", rows * n, d_output.len())?;
        expect_len("BatchNorm input gradient", rows * n, d_input.len())?;
        cache.d_bias.clear();
        cache.d_bias.resize(n, 0.0);
        cache.d_weight.clear();
        cache.d_weight.resize(n, 0.0);
        for (dy, x_hat) in d_output.chunks_exact(n).zip(cache.normalized.chunks_exact(n)) {
            for (c, (dy, x_hat)) in dy.iter().zip(x_hat).enumerate() {
                cache.d_bias[c] += dy;
                cache.d_weight[c] += dy * x_hat;
            }
        }
        grads.get_mut(self.weight).data.iter_mut().zip(&cache.d_weight).for_each(|(g, d)| *g += d);
        grads.get_mut(self.bias).data.iter_mut().zip(&cache.d_bias).for_each(|(g, d)| *g += d);
        let weight = &params.get(self.weight).data;
        let inv_rows = 1.0 / rows as f32;
        for ((dx, dy), x_hat) in d_input.chunks_exact_mut(n).zip(d_output.chunks_exact(n)).zip(cache.normalized.chunks_exact(n)) {
            for (c, ((dx, dy), x_hat)) in dx.iter_mut().zip(dy).zip(x_hat).enumerate() {
                let scale = weight[c] * cache.inv_std[c];
                *dx = if cache.training {
                    scale * (dy - inv_rows * (cache.d_bias[c] + x_hat * cache.d_weight[c]))
                } else {
                    scale * dy
                };
            }
        }
        Ok(())
    }

    /// Folds the statistics of the training pass in `cache` into the running ones, as torch's training forward
    /// does: `running = 0.9 running + 0.1 batch` (the variance unbiased), `num_batches_tracked += 1`.
    pub fn update_running_statistics(&self, params: &mut ParamStore, cache: &BatchNormCache) -> Result<(), NnError> {
        if !cache.training {
            return Err(NnError::InvalidValue { what: "BatchNorm statistics", reason: "the last pass did not train".into() });
        }
        let unbiased = cache.rows as f32 / (cache.rows - 1) as f32;
        let fold = |running: &mut [f32], batch: &[f32], factor: f32| {
            running.iter_mut().zip(batch).for_each(|(r, b)| *r = (1.0 - MOMENTUM) * *r + MOMENTUM * (b * factor));
        };
        fold(&mut params.get_mut(self.running_mean).data, &cache.mean, 1.0);
        fold(&mut params.get_mut(self.running_var).data, &cache.var, unbiased);
        params.get_mut(self.num_batches_tracked).data[0] += 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn layer() -> (BatchNorm1d, ParamStore) {
        let (norm, mut params) = seeded_layer(3, "norm", |init| BatchNorm1d::new(init, 4));
        // Weights away from 1 and 0, so that a mix-up of the two shows.
        params.get_mut(norm.weight).data = vec![0.5, 1.5, -0.8, 1.2];
        params.get_mut(norm.bias).data = vec![0.1, -0.2, 0.3, 0.0];
        (norm, params)
    }

    #[test]
    fn training_gradients_match_finite_differences() {
        let (norm, params) = layer();
        let (rows, input, weights) = (6, random_vec(24, 1), random_vec(24, 2));
        let run = |params: &ParamStore, input: &[f32]| {
            let (mut out, mut cache) = (vec![0.0; 24], BatchNormCache::default());
            norm.forward(params, input, rows, true, &mut out, &mut cache).unwrap();
            weighted_sum(&out, &weights)
        };
        let (mut out, mut cache) = (vec![0.0; 24], BatchNormCache::default());
        norm.forward(&params, &input, rows, true, &mut out, &mut cache).unwrap();
        let (mut grads, mut d_input) = (params.zeros_like(), vec![0.0; 24]);
        norm.backward(&params, &mut cache, &weights, &mut grads, &mut d_input).unwrap();
        check_input_grads(&input, &d_input, 24, |x| run(&params, x));
        check_param_grads(&mut params.clone(), &grads, 4, |p| run(p, &input));
    }

    #[test]
    fn inference_gradients_match_finite_differences() {
        let (norm, mut params) = layer();
        params.get_mut(norm.running_mean).data = vec![0.3, -0.1, 0.0, 0.2];
        params.get_mut(norm.running_var).data = vec![0.5, 2.0, 1.0, 0.7];
        let (input, weights) = (random_vec(8, 4), random_vec(8, 5));
        let run = |input: &[f32]| {
            let (mut out, mut cache) = (vec![0.0; 8], BatchNormCache::default());
            norm.forward(&params, input, 2, false, &mut out, &mut cache).unwrap();
            weighted_sum(&out, &weights)
        };
        let (mut out, mut cache) = (vec![0.0; 8], BatchNormCache::default());
        norm.forward(&params, &input, 2, false, &mut out, &mut cache).unwrap();
        let (mut grads, mut d_input) = (params.zeros_like(), vec![0.0; 8]);
        norm.backward(&params, &mut cache, &weights, &mut grads, &mut d_input).unwrap();
        check_input_grads(&input, &d_input, 8, run);
    }

    #[test]
    fn running_statistics_follow_torch() {
        // torch: BatchNorm1d(2) in train mode on [[1, 2], [3, 6], [5, 4]] -> running_mean 0.1 * [3, 4],
        // running_var 0.9 + 0.1 * [4, 4] (unbiased), num_batches_tracked 1; eval then uses those.
        let (norm, mut params) = seeded_layer(1, "bn", |init| BatchNorm1d::new(init, 2));
        let input = [1.0, 2.0, 3.0, 6.0, 5.0, 4.0];
        let (mut out, mut cache) = (vec![0.0; 6], BatchNormCache::default());
        norm.forward(&params, &input, 3, true, &mut out, &mut cache).unwrap();
        let sd = (8.0f32 / 3.0 + EPS).sqrt();
        assert!((out[0] - (-2.0 / sd)).abs() < 1e-6, "{out:?}");
        norm.update_running_statistics(&mut params, &cache).unwrap();
        assert_eq!(params.find("bn.running_mean").unwrap().data, vec![0.3, 0.4]);
        assert!((params.find("bn.running_var").unwrap().data[0] - 1.3).abs() < 1e-6);
        assert_eq!(params.find("bn.num_batches_tracked").unwrap().data, vec![1.0]);
        norm.forward(&params, &input[..2], 1, false, &mut out[..2], &mut cache).unwrap();
        assert!((out[0] - (1.0 - 0.3) / (1.3f32 + EPS).sqrt()).abs() < 1e-6);
        assert!(norm.update_running_statistics(&mut params, &cache).is_err(), "an inference pass has no batch statistics");
        assert_eq!(params.num_parameters(), 4, "buffers are not parameters");
    }
}

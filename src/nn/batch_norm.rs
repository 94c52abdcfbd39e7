//! `torch.nn.BatchNorm1d(features, eps, momentum)` over `[batch, features]`: while training, each feature is
//! normalised by the batch's mean and biased variance, and the running statistics (buffers `running_mean`,
//! `running_var`, `num_batches_tracked`, as torch's state dict) move towards the batch's (the unbiased variance)
//! after the step; at inference the running statistics normalise. Then `weight` (init 1) scales and `bias`
//! (init 0) shifts each feature.

use super::error::{expect_len, nonzero, NnError};
use super::params::{ParamId, ParamInit, ParamStore, TensorKind};

#[derive(Debug, Clone)]
pub struct BatchNorm1d {
    weight: ParamId,
    bias: ParamId,
    running_mean: ParamId,
    running_var: ParamId,
    num_batches_tracked: ParamId,
    features: usize,
    eps: f32,
    momentum: f32,
}

/// What the backward pass and the running-statistics update need: the normalised input, each feature's
/// `1 / sqrt(var + eps)`, and (training) the batch's mean and biased variance.
#[derive(Debug, Clone, Default)]
pub struct BatchNormCache {
    normalized: Vec<f32>,
    inv_std: Vec<f32>,
    mean: Vec<f32>,
    var: Vec<f32>,
    batch: usize,
    training: bool,
    /// Backward's per-feature `Σ dy` and `Σ dy x_hat`.
    dy_sum: Vec<f32>,
    dy_x_sum: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(BatchNormCache { normalized, inv_std, mean, var, batch, training, dy_sum, dy_x_sum });

impl BatchNorm1d {
    /// Creates `<prefix>.weight` (ones), `<prefix>.bias` (zeros) and the buffers `running_mean` (zeros),
    /// `running_var` (ones) and `num_batches_tracked` (0, a scalar).
    pub fn new(init: &mut ParamInit<'_>, features: usize, eps: f32, momentum: f32) -> Result<Self, NnError> {
        nonzero("BatchNorm features", features)?;
        Ok(BatchNorm1d {
            weight: init.constant("weight", &[features], 1.0)?,
            bias: init.constant("bias", &[features], 0.0)?,
            running_mean: init.untrained("running_mean", TensorKind::Buffer, &[features], vec![0.0; features])?,
            running_var: init.untrained("running_var", TensorKind::Buffer, &[features], vec![1.0; features])?,
            num_batches_tracked: init.untrained("num_batches_tracked", TensorKind::Buffer, &[], vec![0.0])?,
            features,
            eps,
            momentum,
        })
    }

    /// `output[batch, features]` = `input` normalised by the batch's statistics (`training`) or the running ones,
    /// scaled and shifted.
    pub fn forward(
        &self,
        params: &ParamStore,
        input: &[f32],
        batch: usize,
        training: bool,
        output: &mut [f32],
        cache: &mut BatchNormCache,
    ) -> Result<(), NnError> {
        let n = self.features;
        expect_len("BatchNorm input", batch * n, input.len())?;
        expect_len("BatchNorm output", batch * n, output.len())?;
        if training && batch < 2 {
            // torch: "Expected more than 1 value per channel when training".
            return Err(NnError::InvalidValue { what: "BatchNorm batch", reason: format!("training needs at least 2 windows a batch, got {batch}") });
        }
        cache.batch = batch;
        cache.training = training;
        cache.mean.clear();
        cache.var.clear();
        cache.inv_std.clear();
        if training {
            cache.mean.resize(n, 0.0);
            cache.var.resize(n, 0.0);
            input.chunks_exact(n).for_each(|row| cache.mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x));
            cache.mean.iter_mut().for_each(|m| *m /= batch as f32);
            for row in input.chunks_exact(n) {
                cache.var.iter_mut().zip(row).zip(&cache.mean).for_each(|((v, &x), &m)| *v += (x - m) * (x - m));
            }
            cache.var.iter_mut().for_each(|v| *v /= batch as f32);
            cache.inv_std.extend(cache.var.iter().map(|&v| 1.0 / (v + self.eps).sqrt()));
        } else {
            cache.inv_std.extend(params.get(self.running_var).data.iter().map(|&v| 1.0 / (v + self.eps).sqrt()));
        }
        let mean = if training { &cache.mean } else { &params.get(self.running_mean).data };
        let (weight, bias) = (&params.get(self.weight).data, &params.get(self.bias).data);
        cache.normalized.resize(batch * n, 0.0);
        let rows = input.chunks_exact(n).zip(output.chunks_exact_mut(n)).zip(cache.normalized.chunks_exact_mut(n));
        for ((x, y), x_hat) in rows {
            for f in 0..n {
                x_hat[f] = (x[f] - mean[f]) * cache.inv_std[f];
                y[f] = x_hat[f] * weight[f] + bias[f];
            }
        }
        Ok(())
    }

    /// Accumulates `dweight += Σ dy x_hat` and `dbias += Σ dy` over the batch, and writes `d_input`: through the
    /// batch statistics when training, `dx = weight inv_std (dy − mean(dy) − x_hat mean(dy x_hat))`, else
    /// `dx = weight inv_std dy`.
    pub fn backward(
        &self,
        params: &ParamStore,
        cache: &mut BatchNormCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: &mut [f32],
    ) -> Result<(), NnError> {
        let (n, batch) = (self.features, cache.batch);
        expect_len("BatchNorm output gradient", batch * n, d_output.len())?;
        expect_len("BatchNorm input gradient", batch * n, d_input.len())?;
        let weight = &params.get(self.weight).data;
        let BatchNormCache { normalized, inv_std, training, dy_sum, dy_x_sum, .. } = cache;
        dy_sum.clear();
        dy_sum.resize(n, 0.0);
        dy_x_sum.clear();
        dy_x_sum.resize(n, 0.0);
        for (dy, x_hat) in d_output.chunks_exact(n).zip(normalized.chunks_exact(n)) {
            for f in 0..n {
                dy_sum[f] += dy[f];
                dy_x_sum[f] += dy[f] * x_hat[f];
            }
        }
        let scale = 1.0 / batch as f32;
        for ((dy, x_hat), dx) in d_output.chunks_exact(n).zip(normalized.chunks_exact(n)).zip(d_input.chunks_exact_mut(n)) {
            for f in 0..n {
                let g = weight[f] * inv_std[f];
                dx[f] = if *training { g * (dy[f] - scale * dy_sum[f] - x_hat[f] * scale * dy_x_sum[f]) } else { g * dy[f] };
            }
        }
        grads.get_mut(self.weight).data.iter_mut().zip(dy_x_sum.iter()).for_each(|(g, d)| *g += d);
        grads.get_mut(self.bias).data.iter_mut().zip(dy_sum.iter()).for_each(|(g, d)| *g += d);
        Ok(())
    }

    /// After a training step: `running = (1 − momentum) running + momentum batch` for the mean and the unbiased
    /// variance of the batch the cache's forward pass normalised, and one more batch tracked (torch's update).
    pub fn update_running_statistics(&self, params: &mut ParamStore, cache: &BatchNormCache) -> Result<(), NnError> {
        if !cache.training {
            return Ok(());
        }
        let (m, unbiased) = (self.momentum, cache.batch as f32 / (cache.batch - 1) as f32);
        let mean = &mut params.get_mut(self.running_mean).data;
        mean.iter_mut().zip(&cache.mean).for_each(|(r, &b)| *r = (1.0 - m) * *r + m * b);
        let var = &mut params.get_mut(self.running_var).data;
        var.iter_mut().zip(&cache.var).for_each(|(r, &b)| *r = (1.0 - m) * *r + m * b * unbiased);
        params.get_mut(self.num_batches_tracked).data[0] += 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn batch_norm(features: usize) -> (BatchNorm1d, ParamStore) {
        seeded_layer(1, "temporal_norm", |init| BatchNorm1d::new(init, features, 1e-3, 0.01))
    }

    #[test]
    fn names_follow_torch_and_buffers_are_not_parameters() {
        let (_, params) = batch_norm(4);
        let names: Vec<_> = params.iter().map(|(n, t)| (n, t.shape.clone())).collect();
        let names: Vec<_> = names.iter().map(|(n, s)| (n.strip_prefix("temporal_norm.").unwrap(), s.as_slice())).collect();
        assert_eq!(names, [("weight", &[4][..]), ("bias", &[4]), ("running_mean", &[4]), ("running_var", &[4]), ("num_batches_tracked", &[])]);
        assert_eq!(params.num_parameters(), 8);
    }

    #[test]
    fn trains_on_batch_statistics_and_predicts_with_running_ones() {
        let (layer, mut params) = batch_norm(1);
        let mut cache = BatchNormCache::default();
        let mut out = [0.0; 3];
        layer.forward(&params, &[1.0, 2.0, 6.0], 3, true, &mut out, &mut cache).unwrap();
        // Mean 3, biased variance 14/3.
        let expected = [-2.0, -1.0, 3.0].map(|v: f32| v / (14.0f32 / 3.0 + 1e-3).sqrt());
        assert!(out.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-5), "{out:?}");
        layer.update_running_statistics(&mut params, &cache).unwrap();
        // torch: running_mean 0.99·0 + 0.01·3, running_var 0.99·1 + 0.01·7 (the unbiased 14/2).
        assert!((params.find("temporal_norm.running_mean").unwrap().data[0] - 0.03).abs() < 1e-7);
        assert!((params.find("temporal_norm.running_var").unwrap().data[0] - 1.06).abs() < 1e-6);
        assert_eq!(params.find("temporal_norm.num_batches_tracked").unwrap().data, [1.0]);
        let mut one = [0.0];
        layer.forward(&params, &[1.0], 1, false, &mut one, &mut cache).unwrap();
        assert!((one[0] - (1.0 - 0.03) / (1.06f32 + 1e-3).sqrt()).abs() < 1e-6);
        assert!(layer.forward(&params, &[1.0], 1, true, &mut one, &mut cache).is_err());
    }

    #[test]
    fn gradients_match_finite_differences_in_training_and_at_inference() {
        let (n, batch) = (5, 4);
        let (layer, mut params) = batch_norm(n);
        // Weights, biases and running statistics away from their initial values (the variance positive).
        for (i, (_, t)) in params.iter_mut().enumerate().take(4) {
            t.data = random_vec(n, 10 + i as u64).iter().map(|v| if i == 3 { 1.0 + v.abs() } else { *v }).collect();
        }
        let input = random_vec(batch * n, 2);
        let weights = random_vec(batch * n, 3);
        for training in [true, false] {
            let objective = |params: &ParamStore, input: &[f32]| {
                let mut out = vec![0.0; batch * n];
                layer.forward(params, input, batch, training, &mut out, &mut BatchNormCache::default()).unwrap();
                weighted_sum(&out, &weights)
            };
            let mut cache = BatchNormCache::default();
            layer.forward(&params, &input, batch, training, &mut vec![0.0; batch * n], &mut cache).unwrap();
            let mut grads = params.zeros_like();
            let mut d_input = vec![0.0; batch * n];
            layer.backward(&params, &mut cache, &weights, &mut grads, &mut d_input).unwrap();
            check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
            if training {
                // The running statistics (buffers, no gradient) play no part in a training pass; at inference
                // they do, but torch does not train them either.
                let mut trained = params.clone();
                check_param_grads(&mut trained, &grads, usize::MAX, |p| objective(p, &input));
            }
        }
    }
}

//! `torch.nn.LayerNorm(features)` over the last dimension of `[rows, features]`: each row is centred, divided by
//! `sqrt(var + 1e-5)` (the biased variance, as torch) and scaled and shifted element-wise by `weight` (init 1) and
//! `bias` (init 0).

use super::error::{expect_len, nonzero, NnError};
use super::params::{ParamId, ParamInit, ParamStore};

/// torch's default `eps`.
const EPS: f32 = 1e-5;

#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: ParamId,
    bias: ParamId,
    features: usize,
    eps: f32,
}

/// What the backward pass needs: the normalised rows and each row's `1 / sqrt(var + eps)`.
#[derive(Debug, Clone, Default)]
pub struct LayerNormCache {
    normalized: Vec<f32>,
    inv_std: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(LayerNormCache { normalized, inv_std });

impl LayerNorm {
    /// Creates `<prefix>.weight` (ones) and `<prefix>.bias` (zeros).
    pub fn new(init: &mut ParamInit<'_>, features: usize) -> Result<Self, NnError> {
        Self::with_shape(init, &[features])
    }

    /// torch's `LayerNorm(normalized_shape)` over several trailing dimensions (TSMixerx's `(h, features)`): one
    /// row is their product of values, and `weight` and `bias` keep `normalized_shape` as their tensor shape.
    pub fn with_shape(init: &mut ParamInit<'_>, normalized_shape: &[usize]) -> Result<Self, NnError> {
        let features = nonzero("LayerNorm features", normalized_shape.iter().product())?;
        let weight = init.constant("weight", normalized_shape, 1.0)?;
        let bias = init.constant("bias", normalized_shape, 0.0)?;
        Ok(LayerNorm { weight, bias, features, eps: EPS })
    }

    /// `LayerNorm(features, eps=eps)`: TFT's layers use `eps=1e-3`.
    pub fn with_eps(init: &mut ParamInit<'_>, features: usize, eps: f32) -> Result<Self, NnError> {
        Ok(LayerNorm { eps, ..Self::new(init, features)? })
    }

    pub fn features(&self) -> usize {
        self.features
    }

    /// `output[rows, features]` = the normalised `input`, scaled and shifted.
    pub fn forward(
        &self,
        params: &ParamStore,
        input: &[f32],
        rows: usize,
        output: &mut [f32],
        cache: &mut LayerNormCache,
    ) -> Result<(), NnError> {
        let n = self.features;
        expect_len("LayerNorm input", rows * n, input.len())?;
        expect_len("LayerNorm output", rows * n, output.len())?;
        let (weight, bias) = (&params.get(self.weight).data, &params.get(self.bias).data);
        cache.normalized.resize(rows * n, 0.0);
        cache.inv_std.resize(rows, 0.0);
        let rows_iter = input.chunks_exact(n).zip(output.chunks_exact_mut(n)).zip(cache.normalized.chunks_exact_mut(n));
        for (((x, y), x_hat), inv_std) in rows_iter.zip(cache.inv_std.iter_mut()) {
            let mean = lane_sum(x, |v| v) / n as f32;
            let var = lane_sum(x, |v| (v - mean) * (v - mean)) / n as f32;
            *inv_std = 1.0 / (var + self.eps).sqrt();
            for ((((y, x_hat), &x), &w), &b) in y.iter_mut().zip(x_hat.iter_mut()).zip(x).zip(weight).zip(bias) {
                *x_hat = (x - mean) * *inv_std;
                *y = *x_hat * w + b;
            }
        }
        Ok(())
    }

    /// Accumulates `dweight += sum dy x_hat` and `dbias += sum dy`, and writes into `d_input`
    /// `dx = inv_std (g - mean(g) - x_hat mean(g x_hat))` with `g = dy weight`.
    pub fn backward(
        &self,
        params: &ParamStore,
        cache: &LayerNormCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: &mut [f32],
    ) -> Result<(), NnError> {
        let n = self.features;
        let rows = cache.inv_std.len();
        expect_len("LayerNorm output gradient", rows * n, d_output.len())?;
        expect_len("LayerNorm input gradient", rows * n, d_input.len())?;
        let weight = &params.get(self.weight).data;
        let row_iter = d_output.chunks_exact(n).zip(cache.normalized.chunks_exact(n)).zip(d_input.chunks_exact_mut(n));
        for (((dy, x_hat), dx), &inv_std) in row_iter.zip(&cache.inv_std) {
            let (g_sum, gx_sum) = gradient_sums(dy, weight, x_hat);
            let (g_mean, gx_mean) = (g_sum / n as f32, gx_sum / n as f32);
            for (((dx, &dy), &x_hat), &w) in dx.iter_mut().zip(dy).zip(x_hat).zip(weight) {
                *dx = inv_std * (dy * w - g_mean - x_hat * gx_mean);
            }
        }
        let d_weight = &mut grads.get_mut(self.weight).data;
        for (dy, x_hat) in d_output.chunks_exact(n).zip(cache.normalized.chunks_exact(n)) {
            d_weight.iter_mut().zip(dy).zip(x_hat).for_each(|((g, dy), x_hat)| *g += dy * x_hat);
        }
        super::matmul::add_column_sums(d_output, &mut grads.get_mut(self.bias).data);
        Ok(())
    }
}

/// Independent partial sums: the additions vectorise instead of waiting on one another.
const LANES: usize = 8;

/// `sum f(x_i)`, in [`LANES`] interleaved partial sums.
#[inline(always)]
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        acc.iter_mut().zip(chunk).for_each(|(a, &v)| *a += f(v));
    }
    acc.iter().sum::<f32>() + tail
}

/// `(sum dy w, sum dy w x_hat)`, in [`LANES`] interleaved partial sums.
#[inline(always)]
fn gradient_sums(dy: &[f32], weight: &[f32], x_hat: &[f32]) -> (f32, f32) {
    let (mut g, mut gx) = ([0.0f32; LANES], [0.0f32; LANES]);
    let mut chunks = dy.chunks_exact(LANES).zip(weight.chunks_exact(LANES)).zip(x_hat.chunks_exact(LANES));
    for ((dy, w), x) in chunks.by_ref() {
        for l in 0..LANES {
            g[l] += dy[l] * w[l];
            gx[l] += dy[l] * w[l] * x[l];
        }
    }
    let full = dy.len() / LANES * LANES;
    let (mut g_tail, mut gx_tail) = (0.0, 0.0);
    for ((&dy, &w), &x) in dy[full..].iter().zip(&weight[full..]).zip(&x_hat[full..]) {
        g_tail += dy * w;
        gx_tail += dy * w * x;
    }
    (g.iter().sum::<f32>() + g_tail, gx.iter().sum::<f32>() + gx_tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn layer_norm(features: usize) -> (LayerNorm, ParamStore) {
        seeded_layer(1, "norm1", |init| LayerNorm::new(init, features))
    }

    #[test]
    fn starts_as_torch_and_normalises_rows() {
        let (layer, params) = layer_norm(4);
        let names: Vec<_> = params.iter().map(|(n, t)| (n, t.data.clone())).collect();
        assert_eq!(names, [("norm1.weight", vec![1.0; 4]), ("norm1.bias", vec![0.0; 4])]);
        let mut out = [0.0; 4];
        layer.forward(&params, &[1.0, 2.0, 3.0, 4.0], 1, &mut out, &mut LayerNormCache::default()).unwrap();
        // mean 2.5, biased variance 1.25.
        let expected = [-1.5, -0.5, 0.5, 1.5].map(|v: f32| v / (1.25f32 + 1e-5).sqrt());
        assert!(out.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6), "{out:?}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        // 13 features: one block of the partial sums and a tail.
        let (n, rows) = (13, 3);
        let (layer, mut params) = layer_norm(n);
        // Away from the initial ones and zeros, so that a mix-up of weight and bias shows.
        params.iter_mut().enumerate().for_each(|(i, (_, t))| t.data = random_vec(n, 10 + i as u64));
        let input = random_vec(rows * n, 2);
        let weights = random_vec(rows * n, 3);
        let objective = |params: &ParamStore, input: &[f32]| {
            let mut out = vec![0.0; rows * n];
            layer.forward(params, input, rows, &mut out, &mut LayerNormCache::default()).unwrap();
            weighted_sum(&out, &weights)
        };
        let mut cache = LayerNormCache::default();
        layer.forward(&params, &input, rows, &mut vec![0.0; rows * n], &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; rows * n];
        layer.backward(&params, &cache, &weights, &mut grads, &mut d_input).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &input));
    }

    #[test]
    fn rejects_wrong_lengths() {
        let (layer, params) = layer_norm(4);
        let mut cache = LayerNormCache::default();
        assert!(layer.forward(&params, &[0.0; 7], 2, &mut [0.0; 8], &mut cache).is_err());
        layer.forward(&params, &[0.0; 8], 2, &mut [0.0; 8], &mut cache).unwrap();
        let mut grads = params.zeros_like();
        assert!(layer.backward(&params, &cache, &[0.0; 4], &mut grads, &mut [0.0; 8]).is_err());
    }
}

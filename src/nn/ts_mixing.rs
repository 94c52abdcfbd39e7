//! TSMixer's `MixingLayer` (neuralforecast/models/tsmixer.py) over `[windows, input_size, n_series]`: a
//! time-mixing MLP (`temporal_mixer`: batch norm over the `n_series · input_size` values, a `[L, L]` linear along
//! time, ReLU, dropout, residual), then a feature-mixing MLP (`feature_mixer`: batch norm over the
//! `input_size · n_series` values, `n_series → ff_dim` linear, ReLU, dropout, `ff_dim → n_series` linear, dropout,
//! residual). Both batch norms are torch's `BatchNorm1d(eps=0.001, momentum=0.01)`.

use super::activation::{relu_backward_in_place, relu_in_place};
use super::batch_norm::{BatchNorm1d, BatchNormCache};
use super::dropout::Dropout;
use super::error::{expect_len, NnError};
use super::params::{ParamInit, ParamStore};
use super::Linear;

const EPS: f32 = 1e-3;
const MOMENTUM: f32 = 0.01;

#[derive(Debug, Clone)]
pub struct MixingLayer {
    temporal_norm: BatchNorm1d,
    temporal_lin: Linear,
    temporal_drop: Dropout,
    feature_norm: BatchNorm1d,
    feature_lin_1: Linear,
    feature_lin_2: Linear,
    feature_drop_1: Dropout,
    feature_drop_2: Dropout,
    n_series: usize,
    input_size: usize,
    ff_dim: usize,
}

/// The activations of a pass (and backward's scratch), `[B, L, N]` unless said.
#[derive(Debug, Clone, Default)]
pub struct MixingCache {
    batch: usize,
    /// The input as `[B, N, L]`, and after the temporal batch norm.
    transposed: Vec<f32>,
    temporal_normed: Vec<f32>,
    temporal_bn: BatchNormCache,
    /// ReLU of the temporal linear, `[B, N, L]`.
    temporal_hidden: Vec<f32>,
    temporal_mask: Vec<f32>,
    /// After the time-mixing residual.
    mixed: Vec<f32>,
    feature_normed: Vec<f32>,
    feature_bn: BatchNormCache,
    /// ReLU of the first feature linear after its dropout, `[B·L, ff_dim]`.
    feature_hidden: Vec<f32>,
    feature_mask_1: Vec<f32>,
    feature_out: Vec<f32>,
    feature_mask_2: Vec<f32>,
    output: Vec<f32>,
    d_mixed: Vec<f32>,
    d_values: Vec<f32>,
    d_other: Vec<f32>,
    d_hidden: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(MixingCache {
    batch,
    transposed,
    temporal_normed,
    temporal_bn,
    temporal_hidden,
    temporal_mask,
    mixed,
    feature_normed,
    feature_bn,
    feature_hidden,
    feature_mask_1,
    feature_out,
    feature_mask_2,
    output,
    d_mixed,
    d_values,
    d_other,
    d_hidden
});

/// `[B, rows, cols]` → `[B, cols, rows]` into `out`.
pub fn transpose_windows(input: &[f32], rows: usize, cols: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(input.len(), 0.0);
    for (x, y) in input.chunks_exact(rows * cols).zip(out.chunks_exact_mut(rows * cols)) {
        for r in 0..rows {
            for c in 0..cols {
                y[c * rows + r] = x[r * cols + c];
            }
        }
    }
}

impl MixingCache {
    /// The layer's output of the last pass, `[B, L, N]`.
    pub fn output(&self) -> &[f32] {
        &self.output
    }
}

impl MixingLayer {
    /// Creates `<prefix>.temporal_mixer.{temporal_norm, temporal_lin}` and
    /// `<prefix>.feature_mixer.{feature_norm, feature_lin_1, feature_lin_2}`; `stream` numbers its first of three
    /// dropout streams.
    pub fn new(init: &mut ParamInit<'_>, n_series: usize, input_size: usize, ff_dim: usize, dropout: f32, stream: u64) -> Result<Self, NnError> {
        let features = n_series * input_size;
        let mut temporal = init.pp("temporal_mixer");
        let temporal_norm = BatchNorm1d::new(&mut temporal.pp("temporal_norm"), features, EPS, MOMENTUM)?;
        let temporal_lin = Linear::new(&mut temporal.pp("temporal_lin"), input_size, input_size)?;
        let mut feature = init.pp("feature_mixer");
        let feature_norm = BatchNorm1d::new(&mut feature.pp("feature_norm"), features, EPS, MOMENTUM)?;
        let feature_lin_1 = Linear::new(&mut feature.pp("feature_lin_1"), n_series, ff_dim)?;
        let feature_lin_2 = Linear::new(&mut feature.pp("feature_lin_2"), ff_dim, n_series)?;
        Ok(MixingLayer {
            temporal_norm,
            temporal_lin,
            temporal_drop: Dropout::new(dropout, stream)?,
            feature_norm,
            feature_lin_1,
            feature_lin_2,
            feature_drop_1: Dropout::new(dropout, stream + 1)?,
            feature_drop_2: Dropout::new(dropout, stream + 2)?,
            n_series,
            input_size,
            ff_dim,
        })
    }

    /// The layer's output `[B, L, N]` for `input` (`[B, L, N]`); batch statistics and dropout while training
    /// (`train_seed` given), running statistics at inference.
    pub fn forward<'c>(&self, params: &ParamStore, input: &[f32], batch: usize, train_seed: Option<u64>, cache: &'c mut MixingCache) -> Result<&'c [f32], NnError> {
        let (l, n, ff) = (self.input_size, self.n_series, self.ff_dim);
        let size = batch * l * n;
        expect_len("mixing layer input", size, input.len())?;
        let training = train_seed.is_some();
        cache.batch = batch;
        // Time mixing.
        transpose_windows(input, l, n, &mut cache.transposed);
        cache.temporal_normed.resize(size, 0.0);
        self.temporal_norm.forward(params, &cache.transposed, batch, training, &mut cache.temporal_normed, &mut cache.temporal_bn)?;
        cache.temporal_hidden.resize(size, 0.0);
        self.temporal_lin.forward(params, &cache.temporal_normed, batch * n, &mut cache.temporal_hidden)?;
        relu_in_place(&mut cache.temporal_hidden);
        transpose_windows(&cache.temporal_hidden, n, l, &mut cache.mixed);
        self.temporal_drop.forward_in_place(&mut cache.mixed, train_seed, &mut cache.temporal_mask);
        cache.mixed.iter_mut().zip(input).for_each(|(m, &x)| *m += x);
        // Feature mixing.
        cache.feature_normed.resize(size, 0.0);
        self.feature_norm.forward(params, &cache.mixed, batch, training, &mut cache.feature_normed, &mut cache.feature_bn)?;
        cache.feature_hidden.resize(batch * l * ff, 0.0);
        self.feature_lin_1.forward(params, &cache.feature_normed, batch * l, &mut cache.feature_hidden)?;
        relu_in_place(&mut cache.feature_hidden);
        self.feature_drop_1.forward_in_place(&mut cache.feature_hidden, train_seed, &mut cache.feature_mask_1);
        cache.feature_out.resize(size, 0.0);
        self.feature_lin_2.forward(params, &cache.feature_hidden, batch * l, &mut cache.feature_out)?;
        self.feature_drop_2.forward_in_place(&mut cache.feature_out, train_seed, &mut cache.feature_mask_2);
        cache.output.clear();
        cache.output.extend(cache.feature_out.iter().zip(&cache.mixed).map(|(f, m)| f + m));
        Ok(&cache.output)
    }

    /// Backpropagates `d_output` (`[B, L, N]`) through the pass in `cache` into `grads`, writing `d_input`.
    pub fn backward(&self, params: &ParamStore, cache: &mut MixingCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
        let (l, n, ff, batch) = (self.input_size, self.n_series, self.ff_dim, cache.batch);
        let size = batch * l * n;
        expect_len("mixing layer output gradient", size, d_output.len())?;
        expect_len("mixing layer input gradient", size, d_input.len())?;
        let MixingCache {
            temporal_normed, temporal_bn, temporal_hidden, temporal_mask, feature_normed, feature_bn, feature_hidden, feature_mask_1, feature_mask_2, d_mixed, d_values, d_other, d_hidden, ..
        } = cache;
        // Feature mixing: the residual, then the MLP back to its batch norm's input.
        d_mixed.clear();
        d_mixed.extend_from_slice(d_output);
        d_values.clear();
        d_values.extend_from_slice(d_output);
        self.feature_drop_2.backward_in_place(d_values, feature_mask_2)?;
        d_hidden.resize(batch * l * ff, 0.0);
        self.feature_lin_2.backward(params, feature_hidden, d_values, batch * l, grads, Some(d_hidden))?;
        self.feature_drop_1.backward_in_place(d_hidden, feature_mask_1)?;
        relu_backward_in_place(d_hidden, feature_hidden);
        self.feature_lin_1.backward(params, feature_normed, d_hidden, batch * l, grads, Some(d_values))?;
        d_other.resize(size, 0.0);
        self.feature_norm.backward(params, feature_bn, d_values, grads, d_other)?;
        d_mixed.iter_mut().zip(d_other.iter()).for_each(|(d, o)| *d += o);
        // Time mixing: the residual, then the MLP (in `[B, N, L]`) back to the input.
        d_input.copy_from_slice(d_mixed);
        self.temporal_drop.backward_in_place(d_mixed, temporal_mask)?;
        transpose_windows(d_mixed, l, n, d_values);
        relu_backward_in_place(d_values, temporal_hidden);
        self.temporal_lin.backward(params, temporal_normed, d_values, batch * n, grads, Some(d_other))?;
        self.temporal_norm.backward(params, temporal_bn, d_other, grads, d_values)?;
        transpose_windows(d_values, n, l, d_other);
        d_input.iter_mut().zip(d_other.iter()).for_each(|(d, o)| *d += o);
        Ok(())
    }

    /// Moves both batch norms' running statistics after a training step (see [`BatchNorm1d`]).
    pub fn update_running_statistics(&self, params: &mut ParamStore, cache: &MixingCache) -> Result<(), NnError> {
        self.temporal_norm.update_running_statistics(params, &cache.temporal_bn)?;
        self.feature_norm.update_running_statistics(params, &cache.feature_bn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    #[test]
    fn names_follow_neuralforecast() {
        let (_, params) = seeded_layer(1, "mixing_layers.0", |init| MixingLayer::new(init, 2, 3, 4, 0.9, 0));
        let names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        assert_eq!(names[..3], ["mixing_layers.0.temporal_mixer.temporal_norm.weight", "mixing_layers.0.temporal_mixer.temporal_norm.bias", "mixing_layers.0.temporal_mixer.temporal_norm.running_mean"]);
        assert_eq!(names[names.len() - 1], "mixing_layers.0.feature_mixer.feature_lin_2.bias");
        // 2·6 + 12 + 2·6 + (2·4 + 4) + (4·2 + 2).
        assert_eq!(params.num_parameters(), 12 + 12 + 12 + 12 + 10);
    }

    #[test]
    fn gradients_match_finite_differences_with_dropout_and_batch_statistics() {
        let (n, l, ff, batch) = (3, 4, 5, 3);
        let (layer, params) = seeded_layer(2, "mixing", |init| MixingLayer::new(init, n, l, ff, 0.3, 0));
        let input = random_vec(batch * l * n, 3);
        let weights = random_vec(batch * l * n, 4);
        let objective = |params: &ParamStore, input: &[f32]| {
            weighted_sum(layer.forward(params, input, batch, Some(7), &mut MixingCache::default()).unwrap(), &weights)
        };
        let mut cache = MixingCache::default();
        layer.forward(&params, &input, batch, Some(7), &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; input.len()];
        layer.backward(&params, &mut cache, &weights, &mut grads, &mut d_input).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params.clone(), &grads, usize::MAX, |p| objective(p, &input));
    }
}

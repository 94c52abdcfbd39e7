//! TSMixerx's mixing layers (neuralforecast/models/tsmixerx.py) over `[windows, h, features]`, each block
//! normalised by a LayerNorm over the window's whole `(h, features)` (TSMixer's layers, with batch norms over the
//! input, are in `ts_mixing.rs`):
//! - [`FeatureMixing`]: `feature_norm(drop_2(feature_lin_2(drop_1(relu(feature_lin_1(x))))) + residual)`, the
//!   residual `x`, or `project_residual(x)` when the widths differ;
//! - [`TemporalMixing`]: `temporal_norm(drop(relu(temporal_lin(x along h))) + x)`;
//! - [`MixingLayer`]: a temporal mixer, then a feature mixer.

use super::activation::{relu_backward_in_place, relu_in_place};
use super::dropout::Dropout;
use super::error::{expect_len, NnError};
use super::layer_norm::{LayerNorm, LayerNormCache};
use super::params::{ParamInit, ParamStore};
use super::ts_mixing::transpose_windows;
use super::Linear;

/// NeuralForecast's `FeatureMixing(in_features, out_features, h, dropout, ff_dim)`.
#[derive(Debug, Clone)]
pub struct FeatureMixing {
    feature_lin_1: Linear,
    feature_lin_2: Linear,
    feature_drop_1: Dropout,
    feature_drop_2: Dropout,
    project_residual: Option<Linear>,
    feature_norm: LayerNorm,
    h: usize,
}

#[derive(Debug, Clone, Default)]
pub struct FeatureMixingCache {
    windows: usize,
    /// `drop_1(relu(feature_lin_1(x)))`, `[B·h, ff]`.
    hidden: Vec<f32>,
    mask_1: Vec<f32>,
    mask_2: Vec<f32>,
    /// The sum before the norm, then the projected residual while it is added; the output.
    sum: Vec<f32>,
    residual: Vec<f32>,
    output: Vec<f32>,
    norm: LayerNormCache,
    d_sum: Vec<f32>,
    d_branch: Vec<f32>,
    d_hidden: Vec<f32>,
    d_part: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(FeatureMixingCache { windows, hidden, mask_1, mask_2, sum, residual, output, norm, d_sum, d_branch, d_hidden, d_part });

impl FeatureMixingCache {
    pub fn output(&self) -> &[f32] {
        &self.output
    }
}

impl FeatureMixing {
    /// Creates `<prefix>.{feature_lin_1, feature_lin_2, project_residual (in ≠ out), feature_norm}`, torch's
    /// order; the two dropouts take streams `*stream` and `*stream + 1`, and `stream` moves past them.
    pub fn new(init: &mut ParamInit<'_>, (in_features, out_features, h, ff_dim): (usize, usize, usize, usize), dropout: f32, stream: &mut u64) -> Result<Self, NnError> {
        let feature_lin_1 = Linear::new(&mut init.pp("feature_lin_1"), in_features, ff_dim)?;
        let feature_lin_2 = Linear::new(&mut init.pp("feature_lin_2"), ff_dim, out_features)?;
        let project_residual = (in_features != out_features).then(|| Linear::new(&mut init.pp("project_residual"), in_features, out_features)).transpose()?;
        let feature_norm = LayerNorm::with_shape(&mut init.pp("feature_norm"), &[h, out_features])?;
        let (feature_drop_1, feature_drop_2) = (Dropout::new(dropout, *stream)?, Dropout::new(dropout, *stream + 1)?);
        *stream += 2;
        Ok(FeatureMixing { feature_lin_1, feature_lin_2, feature_drop_1, feature_drop_2, project_residual, feature_norm, h })
    }

    /// Parameters of a feature mixer of these widths, by arithmetic.
    pub fn parameter_count(in_features: u128, out_features: u128, h: u128, ff_dim: u128) -> u128 {
        let projection = if in_features != out_features { (in_features + 1) * out_features } else { 0 };
        (in_features + 1) * ff_dim + (ff_dim + 1) * out_features + projection + 2 * h * out_features
    }

    pub fn in_features(&self) -> usize {
        self.feature_lin_1.in_features()
    }

    pub fn out_features(&self) -> usize {
        self.feature_lin_2.out_features()
    }

    /// `[B, h, out]` of `input` `[B, h, in]`; dropout on while training (`train_seed` given).
    pub fn forward<'c>(&self, params: &ParamStore, input: &[f32], windows: usize, train_seed: Option<u64>, cache: &'c mut FeatureMixingCache) -> Result<&'c [f32], NnError> {
        let rows = windows * self.h;
        expect_len("FeatureMixing input", rows * self.in_features(), input.len())?;
        cache.windows = windows;
        cache.hidden.resize(rows * self.feature_lin_1.out_features(), 0.0);
        self.feature_lin_1.forward(params, input, rows, &mut cache.hidden)?;
        relu_in_place(&mut cache.hidden);
        self.feature_drop_1.forward_in_place(&mut cache.hidden, train_seed, &mut cache.mask_1);
        let out = rows * self.out_features();
        cache.sum.resize(out, 0.0);
        self.feature_lin_2.forward(params, &cache.hidden, rows, &mut cache.sum)?;
        self.feature_drop_2.forward_in_place(&mut cache.sum, train_seed, &mut cache.mask_2);
        match &self.project_residual {
            Some(projection) => {
                cache.residual.resize(out, 0.0);
                projection.forward(params, input, rows, &mut cache.residual)?;
                cache.sum.iter_mut().zip(&cache.residual).for_each(|(s, r)| *s += r);
            }
            None => cache.sum.iter_mut().zip(input).for_each(|(s, x)| *s += x),
        }
        cache.output.resize(out, 0.0);
        self.feature_norm.forward(params, &cache.sum, windows, &mut cache.output, &mut cache.norm)?;
        Ok(&cache.output)
    }

    /// Backpropagates `d_output` through the pass in `cache` (whose input was `input`) into `grads`, writing the
    /// input's gradient into `d_input` when given.
    pub fn backward(&self, params: &ParamStore, input: &[f32], cache: &mut FeatureMixingCache, d_output: &[f32], grads: &mut ParamStore, d_input: Option<&mut [f32]>) -> Result<(), NnError> {
        let rows = cache.windows * self.h;
        expect_len("FeatureMixing input", rows * self.in_features(), input.len())?;
        expect_len("FeatureMixing output gradient", rows * self.out_features(), d_output.len())?;
        let FeatureMixingCache { hidden, mask_1, mask_2, norm, d_sum, d_branch, d_hidden, d_part, .. } = cache;
        d_sum.resize(d_output.len(), 0.0);
        self.feature_norm.backward(params, norm, d_output, grads, d_sum)?;
        let mut d_input = d_input;
        match (&self.project_residual, d_input.as_deref_mut()) {
            (Some(projection), d_input) => projection.backward(params, input, d_sum, rows, grads, d_input)?,
            (None, Some(d_input)) => d_input.copy_from_slice(d_sum),
            (None, None) => {}
        }
        d_branch.clear();
        d_branch.extend_from_slice(d_sum);
        self.feature_drop_2.backward_in_place(d_branch, mask_2)?;
        d_hidden.resize(hidden.len(), 0.0);
        self.feature_lin_2.backward(params, hidden, d_branch, rows, grads, Some(d_hidden))?;
        self.feature_drop_1.backward_in_place(d_hidden, mask_1)?;
        relu_backward_in_place(d_hidden, hidden);
        match d_input {
            Some(d_input) => {
                d_part.resize(d_input.len(), 0.0);
                self.feature_lin_1.backward(params, input, d_hidden, rows, grads, Some(d_part))?;
                d_input.iter_mut().zip(d_part.iter()).for_each(|(d, p)| *d += p);
            }
            None => self.feature_lin_1.backward(params, input, d_hidden, rows, grads, None)?,
        }
        Ok(())
    }
}

/// NeuralForecast's `TemporalMixing(num_features, h, dropout)`.
#[derive(Debug, Clone)]
pub struct TemporalMixing {
    temporal_norm: LayerNorm,
    temporal_lin: Linear,
    temporal_drop: Dropout,
    features: usize,
}

#[derive(Debug, Clone, Default)]
pub struct TemporalMixingCache {
    windows: usize,
    /// The input as `[B, C, h]`, and `relu(temporal_lin(·))` of it.
    transposed: Vec<f32>,
    hidden: Vec<f32>,
    mask: Vec<f32>,
    /// `drop(hidden) + x` as `[B, h, C]`, and its norm.
    sum: Vec<f32>,
    output: Vec<f32>,
    norm: LayerNormCache,
    d_sum: Vec<f32>,
    d_values: Vec<f32>,
    d_other: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TemporalMixingCache { windows, transposed, hidden, mask, sum, output, norm, d_sum, d_values, d_other });

impl TemporalMixing {
    /// Creates `<prefix>.{temporal_norm, temporal_lin}`; the dropout takes stream `*stream`.
    pub fn new(init: &mut ParamInit<'_>, features: usize, h: usize, dropout: f32, stream: &mut u64) -> Result<Self, NnError> {
        let temporal_norm = LayerNorm::with_shape(&mut init.pp("temporal_norm"), &[h, features])?;
        let temporal_lin = Linear::new(&mut init.pp("temporal_lin"), h, h)?;
        let temporal_drop = Dropout::new(dropout, *stream)?;
        *stream += 1;
        Ok(TemporalMixing { temporal_norm, temporal_lin, temporal_drop, features })
    }

    pub fn parameter_count(features: u128, h: u128) -> u128 {
        2 * h * features + h * h + h
    }

    fn h(&self) -> usize {
        self.temporal_lin.in_features()
    }

    /// `[B, h, C]` of `input` `[B, h, C]`.
    pub fn forward<'c>(&self, params: &ParamStore, input: &[f32], windows: usize, train_seed: Option<u64>, cache: &'c mut TemporalMixingCache) -> Result<&'c [f32], NnError> {
        let (h, c) = (self.h(), self.features);
        let size = windows * h * c;
        expect_len("TemporalMixing input", size, input.len())?;
        cache.windows = windows;
        transpose_windows(input, h, c, &mut cache.transposed);
        cache.hidden.resize(size, 0.0);
        self.temporal_lin.forward(params, &cache.transposed, windows * c, &mut cache.hidden)?;
        relu_in_place(&mut cache.hidden);
        transpose_windows(&cache.hidden, c, h, &mut cache.sum);
        self.temporal_drop.forward_in_place(&mut cache.sum, train_seed, &mut cache.mask);
        cache.sum.iter_mut().zip(input).for_each(|(s, x)| *s += x);
        cache.output.resize(size, 0.0);
        self.temporal_norm.forward(params, &cache.sum, windows, &mut cache.output, &mut cache.norm)?;
        Ok(&cache.output)
    }

    /// Backpropagates `d_output` through the pass in `cache` into `grads`, writing `d_input`.
    pub fn backward(&self, params: &ParamStore, cache: &mut TemporalMixingCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
        let (h, c) = (self.h(), self.features);
        let size = cache.windows * h * c;
        expect_len("TemporalMixing output gradient", size, d_output.len())?;
        expect_len("TemporalMixing input gradient", size, d_input.len())?;
        let TemporalMixingCache { windows, transposed, hidden, mask, norm, d_sum, d_values, d_other, .. } = cache;
        d_sum.resize(size, 0.0);
        self.temporal_norm.backward(params, norm, d_output, grads, d_sum)?;
        d_input.copy_from_slice(d_sum);
        self.temporal_drop.backward_in_place(d_sum, mask)?;
        transpose_windows(d_sum, h, c, d_values);
        relu_backward_in_place(d_values, hidden);
        d_other.resize(size, 0.0);
        self.temporal_lin.backward(params, transposed, d_values, *windows * c, grads, Some(d_other))?;
        transpose_windows(d_other, c, h, d_values);
        d_input.iter_mut().zip(d_values.iter()).for_each(|(d, v)| *d += v);
        Ok(())
    }
}

/// NeuralForecast's `MixingLayer(in_features, out_features, h, dropout, ff_dim)` of tsmixerx.py.
#[derive(Debug, Clone)]
pub struct MixingLayer {
    temporal_mixer: TemporalMixing,
    feature_mixer: FeatureMixing,
}

#[derive(Debug, Clone, Default)]
pub struct MixingLayerCache {
    temporal: TemporalMixingCache,
    feature: FeatureMixingCache,
    d_mixed: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(MixingLayerCache { temporal, feature, d_mixed });

impl MixingLayerCache {
    pub fn output(&self) -> &[f32] {
        self.feature.output()
    }
}

impl MixingLayer {
    /// Creates `<prefix>.temporal_mixer.*` and `<prefix>.feature_mixer.*`, three dropout streams from `*stream`.
    pub fn new(init: &mut ParamInit<'_>, (in_features, out_features, h, ff_dim): (usize, usize, usize, usize), dropout: f32, stream: &mut u64) -> Result<Self, NnError> {
        let temporal_mixer = TemporalMixing::new(&mut init.pp("temporal_mixer"), in_features, h, dropout, stream)?;
        let feature_mixer = FeatureMixing::new(&mut init.pp("feature_mixer"), (in_features, out_features, h, ff_dim), dropout, stream)?;
        Ok(MixingLayer { temporal_mixer, feature_mixer })
    }

    pub fn parameter_count(in_features: u128, out_features: u128, h: u128, ff_dim: u128) -> u128 {
        TemporalMixing::parameter_count(in_features, h) + FeatureMixing::parameter_count(in_features, out_features, h, ff_dim)
    }

    /// `[B, h, out]` of `input` `[B, h, in]`.
    pub fn forward<'c>(&self, params: &ParamStore, input: &[f32], windows: usize, train_seed: Option<u64>, cache: &'c mut MixingLayerCache) -> Result<&'c [f32], NnError> {
        let mixed = self.temporal_mixer.forward(params, input, windows, train_seed, &mut cache.temporal)?;
        self.feature_mixer.forward(params, mixed, windows, train_seed, &mut cache.feature)
    }

    /// Backpropagates `d_output` through the pass in `cache` into `grads`, writing `d_input`.
    pub fn backward(&self, params: &ParamStore, cache: &mut MixingLayerCache, d_output: &[f32], grads: &mut ParamStore, d_input: &mut [f32]) -> Result<(), NnError> {
        let MixingLayerCache { temporal, feature, d_mixed } = cache;
        d_mixed.resize(temporal.output.len(), 0.0);
        self.feature_mixer.backward(params, &temporal.output, feature, d_output, grads, Some(d_mixed))?;
        self.temporal_mixer.backward(params, temporal, d_mixed, grads, d_input)
    }
}

/// Concatenates, window step by window step, the rows of `parts` (`(values, width)`, each `[rows, width]`)
/// into `out` (`[rows, Σ width]`): torch's `cat(dim=2)` of `[B, h, ·]` tensors.
pub fn concat_features(parts: &[(&[f32], usize)], rows: usize, out: &mut Vec<f32>) {
    let total: usize = parts.iter().map(|p| p.1).sum();
    out.resize(rows * total, 0.0);
    let mut offset = 0;
    for &(values, width) in parts {
        for (dst, src) in out.chunks_exact_mut(total).zip(values.chunks_exact(width)) {
            dst[offset..offset + width].copy_from_slice(src);
        }
        offset += width;
    }
}

/// The columns `offset..offset + width` of `values` (`[rows, total]`) into `out` (`[rows, width]`): the gradient
/// of one part of [`concat_features`].
pub fn split_features(values: &[f32], total: usize, offset: usize, width: usize, out: &mut Vec<f32>) {
    out.clear();
    out.extend(values.chunks_exact(total).flat_map(|row| &row[offset..offset + width]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    #[test]
    fn names_shapes_and_counts_follow_neuralforecast() {
        let (_, params) = seeded_layer(1, "first_mixing", |init| MixingLayer::new(init, (6, 4, 3, 5), 0.0, &mut 0));
        let names: Vec<(&str, Vec<usize>)> = params.iter().map(|(n, t)| (n, t.shape.clone())).collect();
        assert_eq!(names, [
            ("first_mixing.temporal_mixer.temporal_norm.weight", vec![3, 6]),
            ("first_mixing.temporal_mixer.temporal_norm.bias", vec![3, 6]),
            ("first_mixing.temporal_mixer.temporal_lin.weight", vec![3, 3]),
            ("first_mixing.temporal_mixer.temporal_lin.bias", vec![3]),
            ("first_mixing.feature_mixer.feature_lin_1.weight", vec![5, 6]),
            ("first_mixing.feature_mixer.feature_lin_1.bias", vec![5]),
            ("first_mixing.feature_mixer.feature_lin_2.weight", vec![4, 5]),
            ("first_mixing.feature_mixer.feature_lin_2.bias", vec![4]),
            ("first_mixing.feature_mixer.project_residual.weight", vec![4, 6]),
            ("first_mixing.feature_mixer.project_residual.bias", vec![4]),
            ("first_mixing.feature_mixer.feature_norm.weight", vec![3, 4]),
            ("first_mixing.feature_mixer.feature_norm.bias", vec![3, 4]),
        ]);
        assert_eq!(params.num_parameters() as u128, MixingLayer::parameter_count(6, 4, 3, 5));
        let (_, same_width) = seeded_layer(1, "m", |init| FeatureMixing::new(init, (4, 4, 3, 5), 0.0, &mut 0));
        assert_eq!(same_width.num_parameters() as u128, FeatureMixing::parameter_count(4, 4, 3, 5));
        assert!(same_width.find("m.project_residual.weight").is_none());
    }

    /// Gradients of a mixing layer whose feature mixer projects its residual (`in ≠ out`) or not, with dropout.
    fn check_mixing_layer(in_features: usize, out_features: usize) {
        let (h, ff, windows) = (3, 5, 2);
        let (layer, params) = seeded_layer(2, "mixing", |init| MixingLayer::new(init, (in_features, out_features, h, ff), 0.3, &mut 0));
        let input = random_vec(windows * h * in_features, 3);
        let weights = random_vec(windows * h * out_features, 4);
        let objective = |params: &ParamStore, input: &[f32]| {
            weighted_sum(layer.forward(params, input, windows, Some(7), &mut MixingLayerCache::default()).unwrap(), &weights)
        };
        let mut cache = MixingLayerCache::default();
        layer.forward(&params, &input, windows, Some(7), &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; input.len()];
        layer.backward(&params, &mut cache, &weights, &mut grads, &mut d_input).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params.clone(), &grads, usize::MAX, |p| objective(p, &input));
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_mixing_layer(6, 4);
        check_mixing_layer(4, 4);
    }

    #[test]
    fn concat_and_split_are_inverse() {
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0]);
        let mut joined = Vec::new();
        concat_features(&[(&a, 2), (&b, 1)], 2, &mut joined);
        assert_eq!(joined, [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
        let mut part = Vec::new();
        split_features(&joined, 3, 2, 1, &mut part);
        assert_eq!(part, b);
    }
}

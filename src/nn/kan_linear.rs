//! NeuralForecast's `KANLinear` (neuralforecast/models/kan.py), a Kolmogorov-Arnold layer over `[rows, in]`:
//! `y = silu(x) base_weightᵀ + B(x) (spline_weight · spline_scaler)ᵀ`, where `B(x)` are the `grid_size +
//! spline_order` B-spline bases of each input on a uniform grid over `grid_range` extended by `spline_order` knots
//! on each side (Cox-de Boor, as kan.py's `b_splines`).
//!
//! Both terms are one product: the features `[ silu(x) | B(x) ]` times the weight `[ base_weight | spline_weight ·
//! spline_scaler ]`, which the forward pass assembles into a [`Linear`] of its own (so the product has Linear's
//! kernels, and a window the same bits alone or in a batch) and the backward pass maps back to the three
//! parameters. The grid is kan.py's `grid` buffer, which NeuralForecast never updates (its `update_grid` is not
//! called in training), so it is derived from the options rather than stored.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::{expect_len, nonzero, NnError};
use super::linear::Linear;
use super::params::{ParamId, ParamInit, ParamStore};

/// kan.py's options of a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KanOptions {
    pub grid_size: usize,
    pub spline_order: usize,
    pub scale_noise: f64,
    pub scale_base: f64,
    pub scale_spline: f64,
    pub grid_range: [f64; 2],
}

impl KanOptions {
    /// Spline coefficients per input: `grid_size + spline_order`.
    pub fn coefficients(&self) -> usize {
        self.grid_size + self.spline_order
    }

    /// kan.py's `grid` row: `(j - spline_order) * step + grid_range[0]` for `j` in `0..=grid_size + 2 spline_order`.
    pub fn knots(&self) -> Vec<f32> {
        let step = (self.grid_range[1] - self.grid_range[0]) / self.grid_size as f64;
        (0..=self.grid_size + 2 * self.spline_order)
            .map(|j| ((j as f64 - self.spline_order as f64) * step + self.grid_range[0]) as f32)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct KanLinear {
    base_weight: ParamId,
    spline_weight: ParamId,
    spline_scaler: ParamId,
    in_features: usize,
    out_features: usize,
    coefficients: usize,
    spline_order: usize,
    knots: Vec<f32>,
}

/// The assembled product of one layer: its weight (in a store of its own) and the weight's gradient.
#[derive(Debug, Clone, Default)]
pub struct KanLinearCache {
    rows: usize,
    /// `[rows, in]`.
    input: Vec<f32>,
    /// `[ silu(x) | B(x) ]` `[rows, in (1 + coefficients)]`.
    features: Vec<f32>,
    combined: Option<Assembled>,
    output: Vec<f32>,
    d_features: Vec<f32>,
    /// Scratch of the spline recursion: the bases of one input and their derivatives.
    bases: Vec<f32>,
    d_bases: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(KanLinearCache { rows, input, features, combined, output, d_features, bases, d_bases });

/// The assembled weight `[out, in (1 + coefficients)]` as a bias-free Linear in a store of its own, and a
/// store for its gradient.
#[derive(Debug, Clone)]
struct Assembled {
    store: ParamStore,
    grads: ParamStore,
    linear: Linear,
}

impl crate::nn::heap_bytes::HeapBytes for Assembled {
    fn heap_bytes(&self) -> usize {
        let bytes = |store: &ParamStore| store.iter().map(|(_, t)| t.data.capacity() * std::mem::size_of::<f32>()).sum::<usize>();
        bytes(&self.store) + bytes(&self.grads)
    }
}

impl KanLinearCache {
    /// The output `[rows, out]` of the last forward pass.
    pub fn output(&self) -> &[f32] {
        &self.output
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl KanLinear {
    /// Creates `<prefix>.base_weight` `[out, in]`, `<prefix>.spline_weight` `[out, in, coefficients]` and
    /// `<prefix>.spline_scaler` `[out, in]`, initialised as kan.py's `reset_parameters`: kaiming-uniform weight and
    /// scaler, and spline coefficients fitted (least squares, minimum norm) to noise at the grid points. `seed`
    /// draws the noise.
    pub fn new(init: &mut ParamInit<'_>, in_features: usize, out_features: usize, options: KanOptions, seed: u64) -> Result<Self, NnError> {
        nonzero("KANLinear in_features", in_features)?;
        nonzero("KANLinear out_features", out_features)?;
        nonzero("KAN gridSize", options.grid_size)?;
        let coefficients = options.coefficients();
        // torch's kaiming_uniform_(a = sqrt(5) scale): bound sqrt(6 / ((1 + 5 scale²) fan_in)).
        let kaiming = |scale: f64| (6.0 / ((1.0 + 5.0 * scale * scale) * in_features as f64)).sqrt() as f32;
        let base_weight = init.uniform("base_weight", &[out_features, in_features], kaiming(options.scale_base))?;
        let spline = spline_init(&options, in_features, out_features, seed);
        let spline_weight = init.with_values("spline_weight", &[out_features, in_features, coefficients], spline)?;
        let spline_scaler = init.uniform("spline_scaler", &[out_features, in_features], kaiming(options.scale_spline))?;
        let knots = options.knots();
        Ok(KanLinear { base_weight, spline_weight, spline_scaler, in_features, out_features, coefficients, spline_order: options.spline_order, knots })
    }

    /// Parameters of a layer.
    pub fn parameter_count(in_features: u128, out_features: u128, options: &KanOptions) -> u128 {
        in_features * out_features * (2 + options.coefficients() as u128)
    }

    pub fn in_features(&self) -> usize {
        self.in_features
    }

    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// Assembles `[ base_weight | spline_weight · spline_scaler ]` into the cache's own Linear.
    fn assemble(&self, params: &ParamStore, cache: &mut KanLinearCache) -> Result<(), NnError> {
        let (n_in, c) = (self.in_features, self.coefficients);
        let width = n_in * (1 + c);
        if cache.combined.is_none() {
            let mut store = ParamStore::new();
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let linear = Linear::without_bias(&mut ParamInit::new(&mut store, &mut rng), width, self.out_features)?;
            cache.combined = Some(Assembled { grads: store.zeros_like(), store, linear });
        }
        let Assembled { store, linear, .. } = cache.combined.as_mut().expect("assembled above");
        let combined = &mut store.get_mut(linear.weight()).data;
        let base = &params.get(self.base_weight).data;
        let spline = &params.get(self.spline_weight).data;
        let scaler = &params.get(self.spline_scaler).data;
        for o in 0..self.out_features {
            let row = &mut combined[o * width..(o + 1) * width];
            row[..n_in].copy_from_slice(&base[o * n_in..(o + 1) * n_in]);
            for i in 0..n_in {
                let s = scaler[o * n_in + i];
                let from = &spline[(o * n_in + i) * c..(o * n_in + i + 1) * c];
                row[n_in + i * c..n_in + (i + 1) * c].iter_mut().zip(from).for_each(|(w, v)| *w = v * s);
            }
        }
        Ok(())
    }

    /// Maps `input[rows, in]` to `[rows, out]`, returned from the cache.
    pub fn forward<'c>(&self, params: &ParamStore, input: &[f32], rows: usize, cache: &'c mut KanLinearCache) -> Result<&'c [f32], NnError> {
        let (n_in, c) = (self.in_features, self.coefficients);
        expect_len("KANLinear input", rows * n_in, input.len())?;
        self.assemble(params, cache)?;
        cache.rows = rows;
        cache.input.clear();
        cache.input.extend_from_slice(input);
        let width = n_in * (1 + c);
        cache.features.resize(rows * width, 0.0);
        let mut bases = std::mem::take(&mut cache.bases);
        for (x, features) in input.chunks_exact(n_in).zip(cache.features.chunks_exact_mut(width)) {
            let (activated, splines) = features.split_at_mut(n_in);
            activated.iter_mut().zip(x).for_each(|(a, &v)| *a = v * sigmoid(v));
            for (&v, out) in x.iter().zip(splines.chunks_exact_mut(c)) {
                b_splines(&self.knots, self.spline_order, v, &mut bases, None);
                out.copy_from_slice(&bases);
            }
        }
        cache.bases = bases;
        cache.output.resize(rows * self.out_features, 0.0);
        let Assembled { store, linear, .. } = cache.combined.as_ref().expect("assembled");
        linear.forward(store, &cache.features, rows, &mut cache.output)?;
        Ok(&cache.output)
    }

    /// Accumulates the gradients of `base_weight`, `spline_weight` and `spline_scaler` into `grads`; writes d loss/d
    /// input into `d_input` if given.
    pub fn backward(
        &self,
        params: &ParamStore,
        cache: &mut KanLinearCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let (n_in, c, rows) = (self.in_features, self.coefficients, cache.rows);
        let width = n_in * (1 + c);
        expect_len("KANLinear output gradient", rows * self.out_features, d_output.len())?;
        let KanLinearCache { input, features, combined, d_features, bases, d_bases, .. } = cache;
        let Assembled { store, grads: combined_grads, linear } =
            combined.as_mut().ok_or_else(|| NnError::InvalidValue { what: "KANLinear backward", reason: "no forward pass".into() })?;
        combined_grads.fill_zero();
        let wants_input = d_input.is_some();
        if wants_input {
            d_features.resize(rows * width, 0.0);
        }
        linear.backward(store, features, d_output, rows, combined_grads, wants_input.then_some(d_features.as_mut_slice()))?;
        // d combined [out, width] back to the three parameters.
        let d_combined = &combined_grads.get(linear.weight()).data;
        let spline = &params.get(self.spline_weight).data;
        let scaler = &params.get(self.spline_scaler).data;
        for o in 0..self.out_features {
            let row = &d_combined[o * width..(o + 1) * width];
            let d_base = &mut grads.get_mut(self.base_weight).data[o * n_in..(o + 1) * n_in];
            d_base.iter_mut().zip(&row[..n_in]).for_each(|(d, g)| *d += g);
            for i in 0..n_in {
                let at = (o * n_in + i) * c;
                let d_row = &row[n_in + i * c..n_in + (i + 1) * c];
                let s = scaler[o * n_in + i];
                let d_spline = &mut grads.get_mut(self.spline_weight).data[at..at + c];
                d_spline.iter_mut().zip(d_row).for_each(|(d, g)| *d += g * s);
                let dot: f32 = d_row.iter().zip(&spline[at..at + c]).map(|(g, w)| g * w).sum();
                grads.get_mut(self.spline_scaler).data[o * n_in + i] += dot;
            }
        }
        if let Some(d_input) = d_input {
            expect_len("KANLinear input gradient", rows * n_in, d_input.len())?;
            for ((x, d_feature), d_x) in input.chunks_exact(n_in).zip(d_features.chunks_exact(width)).zip(d_input.chunks_exact_mut(n_in)) {
                for (i, (&v, d)) in x.iter().zip(d_x.iter_mut()).enumerate() {
                    let s = sigmoid(v);
                    b_splines(&self.knots, self.spline_order, v, bases, Some(d_bases));
                    let spline_part: f32 = d_feature[n_in + i * c..n_in + (i + 1) * c].iter().zip(d_bases.iter()).map(|(g, b)| g * b).sum();
                    *d = d_feature[i] * s * (1.0 + v * (1.0 - s)) + spline_part;
                }
            }
        }
        Ok(())
    }
}

/// The B-spline bases of `x` on `knots` of order `order` into `bases` (`knots.len() - 1 - order` values, kan.py's
/// `b_splines`), and their derivatives into `d_bases` when given.
fn b_splines(knots: &[f32], order: usize, x: f32, bases: &mut Vec<f32>, mut d_bases: Option<&mut Vec<f32>>) {
    let g = knots;
    bases.clear();
    bases.extend(g.windows(2).map(|w| if x >= w[0] && x < w[1] { 1.0 } else { 0.0 }));
    if let Some(d) = d_bases.as_deref_mut() {
        d.clear();
        d.resize(bases.len(), 0.0);
    }
    for k in 1..=order {
        for j in 0..bases.len() - 1 {
            let left = (x - g[j]) / (g[j + k] - g[j]);
            let right = (g[j + k + 1] - x) / (g[j + k + 1] - g[j + 1]);
            if let Some(d) = d_bases.as_deref_mut() {
                d[j] = bases[j] / (g[j + k] - g[j]) + left * d[j] - bases[j + 1] / (g[j + k + 1] - g[j + 1]) + right * d[j + 1];
            }
            bases[j] = left * bases[j] + right * bases[j + 1];
        }
        bases.pop();
        if let Some(d) = d_bases.as_deref_mut() {
            d.pop();
        }
    }
}

/// kan.py's spline initialisation: `curve2coeff` of noise `(U[0, 1) - 1/2) scale_noise / grid_size` at the
/// `grid_size + 1` interior knots, i.e. the minimum-norm least-squares coefficients `Aᵀ (A Aᵀ)⁻¹ noise` with `A`
/// the bases at those knots (torch's `lstsq` on its underdetermined system). `[out, in, coefficients]`.
fn spline_init(options: &KanOptions, in_features: usize, out_features: usize, seed: u64) -> Vec<f32> {
    let knots = options.knots();
    let (points, c) = (options.grid_size + 1, options.coefficients());
    // A [points, c] in f64.
    let mut bases = Vec::new();
    let mut a = vec![0.0f64; points * c];
    for p in 0..points {
        b_splines(&knots, options.spline_order, knots[options.spline_order + p], &mut bases, None);
        a[p * c..(p + 1) * c].iter_mut().zip(&bases).for_each(|(a, &b)| *a = b as f64);
    }
    let pseudo_inverse = min_norm_pseudo_inverse(&a, points, c);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise_scale = options.scale_noise / options.grid_size as f64;
    let mut out = vec![0.0f32; out_features * in_features * c];
    let mut noise = vec![0.0f64; points];
    for o in 0..out_features {
        for i in 0..in_features {
            noise.iter_mut().for_each(|n| *n = (rng.random::<f64>() - 0.5) * noise_scale);
            for (k, w) in out[(o * in_features + i) * c..(o * in_features + i + 1) * c].iter_mut().enumerate() {
                *w = ((0..points).map(|p| pseudo_inverse[k * points + p] * noise[p]).sum::<f64>()) as f32;
            }
        }
    }
    out
}

/// `Aᵀ (A Aᵀ)⁻¹` `[c, points]` of a full-row-rank `A` `[points, c]` (Gauss-Jordan on the small `A Aᵀ`).
fn min_norm_pseudo_inverse(a: &[f64], points: usize, c: usize) -> Vec<f64> {
    let mut gram: Vec<f64> = (0..points * points)
        .map(|e| (0..c).map(|k| a[(e / points) * c + k] * a[(e % points) * c + k]).sum())
        .collect();
    let mut inverse: Vec<f64> = (0..points * points).map(|e| if e / points == e % points { 1.0 } else { 0.0 }).collect();
    for col in 0..points {
        let pivot = (col..points).max_by(|&x, &y| gram[x * points + col].abs().total_cmp(&gram[y * points + col].abs())).unwrap_or(col);
        for k in 0..points {
            gram.swap(col * points + k, pivot * points + k);
            inverse.swap(col * points + k, pivot * points + k);
        }
        let d = gram[col * points + col];
        for k in 0..points {
            gram[col * points + k] /= d;
            inverse[col * points + k] /= d;
        }
        for r in (0..points).filter(|&r| r != col) {
            let f = gram[r * points + col];
            for k in 0..points {
                gram[r * points + k] -= f * gram[col * points + k];
                inverse[r * points + k] -= f * inverse[col * points + k];
            }
        }
    }
    (0..c * points).map(|e| (0..points).map(|q| a[q * c + e / points] * inverse[q * points + e % points]).sum()).collect()
}

#[cfg(test)]
#[path = "kan_linear_tests.rs"]
mod tests;

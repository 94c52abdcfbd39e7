//! NeuralForecast's `DataEmbedding` (common/_modules.py) with `pos_embedding=True`: for each window of `T` steps
//! of `c_in` values,
//!
//! - `value_embedding` (`TokenEmbedding`): `nn.Conv1d(c_in, hidden, kernel_size=3, padding=1,
//!   padding_mode="circular", bias=False)`, computed as a circular 3-tap gather `[x_{t-1} | x_t | x_{t+1}]` per
//!   channel followed by one product with the weight `[hidden, c_in, 3]` (kaiming-normal init, as NF's);
//! - `position_embedding`: the fixed sinusoids `PE(t, 2i) = sin(t w_i)`, `PE(t, 2i+1) = cos(t w_i)`,
//!   `w_i = exp(-2i ln(10000) / hidden)`, a buffer, not a parameter;
//! - `temporal_embedding` (`TimeFeatureEmbedding`, only with future exogenous inputs): `nn.Linear(F, hidden,
//!   bias=False)` of the `F` exogenous values at each step;
//!
//! summed and passed through dropout.

use super::dropout::Dropout;
use super::error::{expect_len, nonzero, NnError};
use super::matmul::{gemm, Mat, MatMut, PackedB};
use super::params::{ParamId, ParamInit, ParamStore};
use super::Linear;

/// Taps of the token convolution.
const KERNEL: usize = 3;

/// `len` consecutive rows, from `first_row` on, of every window of a `[B, rows_per_window, features]` array:
/// the encoder's or the decoder's part of the future exogenous inputs `[B, L + h, F]`.
#[derive(Debug, Clone, Copy)]
pub struct WindowRows<'a> {
    pub data: &'a [f32],
    pub rows_per_window: usize,
    pub first_row: usize,
}

#[derive(Debug, Clone)]
pub struct DataEmbedding {
    token_weight: ParamId,
    temporal: Option<Linear>,
    /// `[max_len, hidden]`.
    positions: Vec<f32>,
    c_in: usize,
    hidden: usize,
    dropout: Dropout,
}

#[derive(Debug, Clone, Default)]
pub struct DataEmbeddingCache {
    batch: usize,
    len: usize,
    /// The token convolution's weights, packed for the [`super::matmul`] register tiles.
    packed: PackedB,
    /// The convolution's input windows `[B T, c_in * 3]`, ordered as the weight's `(c_in, 3)`.
    taps: Vec<f32>,
    /// The gathered exogenous rows `[B T, F]`.
    marks: Vec<f32>,
    temporal: Vec<f32>,
    dropout_mask: Vec<f32>,
    d_taps: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(DataEmbeddingCache { batch, len, packed, taps, marks, temporal, dropout_mask, d_taps });

/// The fixed positional embedding `[len, hidden]` (hidden even), computed in f32 as torch does.
pub(crate) fn sinusoids(len: usize, hidden: usize) -> Vec<f32> {
    let mut table = vec![0.0; len * hidden];
    let step = -(10000.0f32.ln() / hidden as f32);
    for (t, row) in table.chunks_exact_mut(hidden).enumerate() {
        for (i, pair) in row.chunks_exact_mut(2).enumerate() {
            let angle = t as f32 * ((2 * i) as f32 * step).exp();
            pair[0] = angle.sin();
            pair[1] = angle.cos();
        }
    }
    table
}

impl DataEmbedding {
    /// Creates `<prefix>.value_embedding.tokenConv.weight` and, when `exog_features > 0`,
    /// `<prefix>.temporal_embedding.embed.weight`, for windows of up to `max_len` steps.
    pub fn new(init: &mut ParamInit<'_>, c_in: usize, exog_features: usize, hidden: usize, max_len: usize, dropout: Dropout) -> Result<Self, NnError> {
        nonzero("embedding input channels", c_in)?;
        nonzero("embedding window length", max_len)?;
        if hidden == 0 || hidden % 2 == 1 {
            // NF's PositionalEmbedding fills sines and cosines in pairs and fails on an odd size.
            return Err(NnError::InvalidValue { what: "hidden_size", reason: format!("must be even and positive, got {hidden}") });
        }
        // kaiming_normal_(mode="fan_in", nonlinearity="leaky_relu", a=0): std = sqrt(2 / fan_in).
        let std = (2.0 / (c_in * KERNEL) as f32).sqrt();
        let token_weight = init.pp("value_embedding.tokenConv").normal("weight", &[hidden, c_in, KERNEL], std)?;
        let temporal = match exog_features {
            0 => None,
            f => Some(Linear::without_bias(&mut init.pp("temporal_embedding.embed"), f, hidden)?),
        };
        Ok(DataEmbedding { token_weight, temporal, positions: sinusoids(max_len, hidden), c_in, hidden, dropout })
    }

    /// `output[B T, hidden]` for `values` `[B, T, c_in]` and, when the embedding has a temporal part, the
    /// exogenous rows `marks`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        params: &ParamStore,
        values: &[f32],
        marks: Option<WindowRows<'_>>,
        batch: usize,
        len: usize,
        train_seed: Option<u64>,
        output: &mut [f32],
        cache: &mut DataEmbeddingCache,
    ) -> Result<(), NnError> {
        let (c_in, hidden) = (self.c_in, self.hidden);
        nonzero("embedding window length", len)?;
        if len * hidden > self.positions.len() {
            return Err(NnError::InvalidValue { what: "embedding window length", reason: format!("{len} exceeds the built maximum") });
        }
        expect_len("embedding input", batch * len * c_in, values.len())?;
        expect_len("embedding output", batch * len * hidden, output.len())?;
        (cache.batch, cache.len) = (batch, len);
        gather_taps(values, batch, len, c_in, &mut cache.taps);
        let isa = crate::simd::thread_isa();
        cache.packed.pack_transposed(isa, &params.get(self.token_weight).data, hidden, c_in * KERNEL);
        cache.packed.matmul(isa, &cache.taps, batch * len, output, false);
        let positions = &self.positions[..len * hidden];
        output.chunks_exact_mut(len * hidden).for_each(|w| w.iter_mut().zip(positions).for_each(|(o, p)| *o += p));
        match (&self.temporal, marks) {
            (Some(temporal), Some(marks)) => {
                gather_rows(marks, batch, len, temporal.in_features(), &mut cache.marks)?;
                cache.temporal.resize(output.len(), 0.0);
                temporal.forward(params, &cache.marks, batch * len, &mut cache.temporal)?;
                output.iter_mut().zip(&cache.temporal).for_each(|(o, t)| *o += t);
            }
            (None, None) => {}
            _ => return Err(NnError::InvalidValue { what: "embedding inputs", reason: "exogenous rows given exactly when the embedding has a temporal part".into() }),
        }
        self.dropout.forward_in_place(output, train_seed, &mut cache.dropout_mask);
        Ok(())
    }

    /// Accumulates the weight gradients of the pass in `cache` and, if asked, writes the gradients of the values
    /// `[B, T, c_in]` and of the gathered exogenous rows `[B T, F]`. `d_output` is scaled in place by the
    /// dropout mask.
    pub fn backward(
        &self,
        params: &ParamStore,
        cache: &mut DataEmbeddingCache,
        d_output: &mut [f32],
        grads: &mut ParamStore,
        d_values: Option<&mut [f32]>,
        d_marks: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let (rows, c_in, hidden) = (cache.batch * cache.len, self.c_in, self.hidden);
        expect_len("embedding output gradient", rows * hidden, d_output.len())?;
        self.dropout.backward_in_place(d_output, &cache.dropout_mask)?;
        gemm(
            Mat::transposed(d_output, rows, hidden),
            Mat::rows(&cache.taps, rows, c_in * KERNEL),
            1.0,
            MatMut::rows(&mut grads.get_mut(self.token_weight).data, hidden, c_in * KERNEL),
        );
        if let Some(temporal) = &self.temporal {
            temporal.backward(params, &cache.marks, d_output, rows, grads, d_marks)?;
        }
        if let Some(d_values) = d_values {
            expect_len("embedding input gradient", rows * c_in, d_values.len())?;
            cache.d_taps.resize(rows * c_in * KERNEL, 0.0);
            gemm(
                Mat::rows(d_output, rows, hidden),
                Mat::rows(&params.get(self.token_weight).data, hidden, c_in * KERNEL),
                0.0,
                MatMut::rows(&mut cache.d_taps, rows, c_in * KERNEL),
            );
            scatter_taps(&cache.d_taps, cache.batch, cache.len, c_in, d_values);
        }
        Ok(())
    }
}

/// Position of tap `k` (offset `k - 1`) around step `t` of a circular window of `len` steps.
fn tap_step(t: usize, k: usize, len: usize) -> usize {
    (t + len + k - 1) % len
}

/// `taps[b, t, c * 3 + k] = values[b, (t + k - 1) mod T, c]`.
fn gather_taps(values: &[f32], batch: usize, len: usize, c_in: usize, taps: &mut Vec<f32>) {
    taps.resize(batch * len * c_in * KERNEL, 0.0);
    for (window, window_taps) in values.chunks_exact(len * c_in).zip(taps.chunks_exact_mut(len * c_in * KERNEL)) {
        for (t, row) in window_taps.chunks_exact_mut(c_in * KERNEL).enumerate() {
            for (c, channel) in row.chunks_exact_mut(KERNEL).enumerate() {
                for (k, tap) in channel.iter_mut().enumerate() {
                    *tap = window[tap_step(t, k, len) * c_in + c];
                }
            }
        }
    }
}

/// The adjoint of [`gather_taps`]: `d_values` is overwritten with the sum over the taps that read each value.
fn scatter_taps(d_taps: &[f32], batch: usize, len: usize, c_in: usize, d_values: &mut [f32]) {
    d_values.fill(0.0);
    for (window, window_taps) in d_values.chunks_exact_mut(len * c_in).zip(d_taps.chunks_exact(len * c_in * KERNEL)).take(batch) {
        for (t, row) in window_taps.chunks_exact(c_in * KERNEL).enumerate() {
            for (c, channel) in row.chunks_exact(KERNEL).enumerate() {
                for (k, tap) in channel.iter().enumerate() {
                    window[tap_step(t, k, len) * c_in + c] += tap;
                }
            }
        }
    }
}

/// Copies the `len` rows of `features` values that `rows` selects from each of `batch` windows into `out`.
fn gather_rows(rows: WindowRows<'_>, batch: usize, len: usize, features: usize, out: &mut Vec<f32>) -> Result<(), NnError> {
    expect_len("exogenous rows", batch * rows.rows_per_window * features, rows.data.len())?;
    if rows.first_row + len > rows.rows_per_window {
        return Err(NnError::InvalidValue { what: "exogenous rows", reason: "the selected rows run past the window".into() });
    }
    out.clear();
    for window in rows.data.chunks_exact(rows.rows_per_window * features) {
        out.extend_from_slice(&window[rows.first_row * features..(rows.first_row + len) * features]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn embedding(c_in: usize, exog: usize, hidden: usize, p: f32) -> (DataEmbedding, ParamStore) {
        seeded_layer(4, "enc_embedding", |init| DataEmbedding::new(init, c_in, exog, hidden, 16, Dropout::new(p, 0).unwrap()))
    }

    #[test]
    fn names_shapes_and_init_follow_torch() {
        let (_, params) = embedding(1, 2, 64, 0.0);
        let shapes: Vec<_> = params.iter().map(|(n, t)| (n, t.shape.clone())).collect();
        assert_eq!(shapes, [("enc_embedding.value_embedding.tokenConv.weight", vec![64, 1, 3]), ("enc_embedding.temporal_embedding.embed.weight", vec![64, 2])]);
        // kaiming normal with fan_in 3: standard deviation sqrt(2/3).
        let w = &params.find("enc_embedding.value_embedding.tokenConv.weight").unwrap().data;
        let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
        assert!((std - (2.0f32 / 3.0).sqrt()).abs() < 0.12, "std {std}");
    }

    #[test]
    fn sums_a_circular_convolution_and_the_sinusoids() {
        let (layer, mut params) = embedding(1, 0, 2, 0.0);
        params.iter_mut().for_each(|(_, t)| t.data = vec![1.0, 2.0, 3.0, 0.0, 0.0, 1.0]);
        let mut out = vec![0.0; 6];
        layer.forward(&params, &[1.0, 10.0, 100.0], None, 1, 3, None, &mut out, &mut DataEmbeddingCache::default()).unwrap();
        // Channel 0: x_{t-1} + 2 x_t + 3 x_{t+1} with wrap-around; channel 1: x_{t+1}. Plus (sin t, cos t).
        let conv = [[100.0 + 2.0 + 30.0, 10.0], [1.0 + 20.0 + 300.0, 100.0], [10.0 + 200.0 + 3.0, 1.0]];
        for t in 0..3 {
            assert!((out[2 * t] - conv[t][0] - (t as f32).sin()).abs() < 1e-4);
            assert!((out[2 * t + 1] - conv[t][1] - (t as f32).cos()).abs() < 1e-4);
        }
    }

    fn rows(data: &[f32]) -> WindowRows<'_> {
        WindowRows { data, rows_per_window: 8, first_row: 2 }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (c_in, exog, hidden, batch, len) = (2, 3, 4, 2, 5);
        let (layer, mut params) = embedding(c_in, exog, hidden, 0.3);
        let values = random_vec(batch * len * c_in, 1);
        // Rows 2..7 of windows of 8 exogenous rows.
        let marks = random_vec(batch * 8 * exog, 2);
        let weights = random_vec(batch * len * hidden, 3);
        let objective = |params: &ParamStore, values: &[f32], marks: &[f32]| {
            let mut out = vec![0.0; batch * len * hidden];
            layer.forward(params, values, Some(rows(marks)), batch, len, Some(6), &mut out, &mut DataEmbeddingCache::default()).unwrap();
            weighted_sum(&out, &weights)
        };
        let mut cache = DataEmbeddingCache::default();
        let mut out = vec![0.0; batch * len * hidden];
        layer.forward(&params, &values, Some(rows(&marks)), batch, len, Some(6), &mut out, &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let (mut d_values, mut d_marks) = (vec![0.0; values.len()], vec![0.0; batch * len * exog]);
        layer.backward(&params, &mut cache, &mut weights.clone(), &mut grads, Some(&mut d_values), Some(&mut d_marks)).unwrap();
        check_input_grads(&values, &d_values, usize::MAX, |x| objective(&params, x, &marks));
        let gathered: Vec<f32> = marks.chunks_exact(8 * exog).flat_map(|w| w[2 * exog..7 * exog].to_vec()).collect();
        check_input_grads(&gathered, &d_marks, usize::MAX, |g| {
            let mut full = marks.clone();
            full.chunks_exact_mut(8 * exog).zip(g.chunks_exact(5 * exog)).for_each(|(w, g)| w[2 * exog..7 * exog].copy_from_slice(g));
            objective(&params, &values, &full)
        });
        check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &values, &marks));
    }

    #[test]
    fn rejects_bad_sizes_and_inputs() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut init = ParamInit::new(&mut params, &mut rng);
        assert!(DataEmbedding::new(&mut init, 1, 0, 5, 8, Dropout::new(0.0, 0).unwrap()).is_err());
        let (layer, params) = embedding(1, 2, 4, 0.0);
        let mut cache = DataEmbeddingCache::default();
        let marks = [0.0; 2 * 4 * 2];
        let rows = WindowRows { data: &marks, rows_per_window: 4, first_row: 0 };
        assert!(layer.forward(&params, &[0.0; 8], None, 2, 4, None, &mut [0.0; 32], &mut cache).is_err());
        assert!(layer.forward(&params, &[0.0; 8], Some(WindowRows { first_row: 1, ..rows }), 2, 4, None, &mut [0.0; 32], &mut cache).is_err());
        assert!(layer.forward(&params, &[0.0; 34], Some(rows), 2, 17, None, &mut [0.0; 136], &mut cache).is_err());
        layer.forward(&params, &[0.0; 8], Some(rows), 2, 4, None, &mut [0.0; 32], &mut cache).unwrap();
    }
}

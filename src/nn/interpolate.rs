//! torch's `F.interpolate(x, size=out_len, mode=...)` along one axis, as NHITS' `_IdentityBasis` expands the
//! `n` forecast knots of a block to the horizon `h` (neuralforecast/models/nhits.py). `align_corners` is left
//! at its default (False), so source positions are `(j + 0.5) * in / out - 0.5`.
//!
//! The indices and weights are computed once, in f32, the way ATen's CPU kernels compute them
//! (`area_pixel_compute_source_index`, `guard_index_and_lambda`, `get_cubic_upsample_coefficients`), and
//! every output is summed in the kernels' order, so the forward pass gives torch's values:
//! - 'linear': two taps, the source position clamped at 0 and the upper tap clamped at the last knot; with
//!   `in == out` a copy.
//! - 'nearest': `floor(j * in / out)` (torch's legacy 'nearest', not 'nearest-exact').
//! - 'cubic': NHITS interpolates `[B, 1, 1, n]` with torch's 'bicubic' to `(h, h)` and keeps output row 0.
//!   Along the knots that is Keys' cubic convolution (A = -0.75) with border taps clamped; the vertical pass
//!   over the single input row multiplies each value by four weights that sum to 1, which is kept here as
//!   torch evaluates it (`t * w0 + t * w1 + t * w2 + t * w3`).

use super::error::{expect_len, nonzero, NnError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpolationMode {
    Linear,
    Nearest,
    Cubic,
}

impl InterpolationMode {
    /// NeuralForecast's `interpolation_mode` values.
    pub const NAMES: [&'static str; 3] = ["linear", "nearest", "cubic"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "linear" => Some(InterpolationMode::Linear),
            "nearest" => Some(InterpolationMode::Nearest),
            "cubic" => Some(InterpolationMode::Cubic),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        InterpolationMode::NAMES[self as usize]
    }
}

/// A fixed resampling of `in_len` values to `out_len`: output `j` is
/// `sum_i row_weights[i] * sum_t weight[j, t] * input[index[j, t]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpolate1d {
    in_len: usize,
    out_len: usize,
    /// Taps per output: 1 (nearest), 2 (linear) or 4 (cubic).
    taps: usize,
    index: Vec<usize>,
    weight: Vec<f32>,
    /// The vertical pass of NHITS' bicubic call (`[1.0]` for the other modes, an exact identity).
    row_weights: Vec<f32>,
}

/// torch's `area_pixel_compute_source_index` with `align_corners=False`: `scale * (j + 0.5) - 0.5`, clamped at
/// 0 except for cubic.
fn source_position(scale: f32, j: usize, cubic: bool) -> f32 {
    let position = scale * (j as f32 + 0.5) - 0.5;
    if !cubic && position < 0.0 {
        0.0
    } else {
        position
    }
}

/// torch's `guard_index_and_lambda`: the lower source index (at most `len - 1`) and the fraction past it in
/// `[0, 1]`.
fn index_and_fraction(position: f32, len: usize) -> (i64, f32) {
    let index = (position.floor() as i64).min(len as i64 - 1);
    (index, (position - index as f32).clamp(0.0, 1.0))
}

/// torch's `get_cubic_upsample_coefficients` (Keys' kernel with A = -0.75) for the fraction `t`.
fn cubic_coefficients(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let near = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let rest = 1.0 - t;
    [far(t + 1.0), near(t), near(rest), far(rest + 1.0)]
}

/// The four clamped taps and weights of torch's cubic resampling of `in_len` values to `out_len`, at output `j`.
fn cubic_taps(in_len: usize, out_len: usize, j: usize) -> ([usize; 4], [f32; 4]) {
    let (lower, t) = index_and_fraction(source_position(in_len as f32 / out_len as f32, j, true), in_len);
    let taps = [0, 1, 2, 3].map(|tap| (lower + tap - 1).clamp(0, in_len as i64 - 1) as usize);
    (taps, cubic_coefficients(t))
}

impl Interpolate1d {
    pub fn new(mode: InterpolationMode, in_len: usize, out_len: usize) -> Result<Self, NnError> {
        nonzero("interpolation input length", in_len)?;
        nonzero("interpolation output length", out_len)?;
        let scale = in_len as f32 / out_len as f32;
        let (mut index, mut weight) = (Vec::new(), Vec::new());
        let mut row_weights = vec![1.0];
        let taps = match mode {
            InterpolationMode::Nearest => {
                // floor(j * scale) (ATen's HelperInterpNearest), no 0.5 offsets.
                index.extend((0..out_len).map(|j| ((j as f32 * scale).floor() as usize).min(in_len - 1)));
                weight.resize(out_len, 1.0);
                1
            }
            InterpolationMode::Linear => {
                for j in 0..out_len {
                    let (lower, upper, fraction) = if in_len == out_len {
                        (j, j, 0.0)
                    } else {
                        let (lower, fraction) = index_and_fraction(source_position(scale, j, false), in_len);
                        let lower = lower as usize;
                        (lower, lower + usize::from(lower < in_len - 1), fraction)
                    };
                    index.extend([lower, upper]);
                    weight.extend([1.0 - fraction, fraction]);
                }
                2
            }
            InterpolationMode::Cubic => {
                for j in 0..out_len {
                    let (taps, weights) = cubic_taps(in_len, out_len, j);
                    index.extend(taps);
                    weight.extend(weights);
                }
                // Output row 0 of the vertical pass: one input row, `out_len` output rows.
                row_weights = cubic_taps(1, out_len, 0).1.to_vec();
                4
            }
        };
        Ok(Interpolate1d { in_len, out_len, taps, index, weight, row_weights })
    }

    pub fn in_len(&self) -> usize {
        self.in_len
    }

    pub fn out_len(&self) -> usize {
        self.out_len
    }

    fn check(&self, input: usize, output: usize) -> Result<(), NnError> {
        expect_len("interpolation input", self.in_len, input)?;
        expect_len("interpolation output", self.out_len, output)
    }

    /// Resamples one row: `output` `[out_len]` from `input` `[in_len]`.
    pub fn forward_row(&self, input: &[f32], output: &mut [f32]) -> Result<(), NnError> {
        self.check(input.len(), output.len())?;
        let taps = self.index.chunks_exact(self.taps).zip(self.weight.chunks_exact(self.taps));
        for (out, (index, weight)) in output.iter_mut().zip(taps) {
            let sum = index.iter().zip(weight).map(|(&i, &w)| input[i] * w).reduce(|a, b| a + b).unwrap_or(0.0);
            *out = self.row_weights.iter().map(|&r| sum * r).reduce(|a, b| a + b).unwrap_or(0.0);
        }
        Ok(())
    }

    /// Writes d loss/d input of one row into `d_input` `[in_len]` (overwriting it) from `d_output` `[out_len]`.
    pub fn backward_row(&self, d_output: &[f32], d_input: &mut [f32]) -> Result<(), NnError> {
        self.check(d_input.len(), d_output.len())?;
        d_input.fill(0.0);
        let taps = self.index.chunks_exact(self.taps).zip(self.weight.chunks_exact(self.taps));
        for (&g, (index, weight)) in d_output.iter().zip(taps) {
            for &r in &self.row_weights {
                index.iter().zip(weight).for_each(|(&i, &w)| d_input[i] += g * r * w);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, random_vec, weighted_sum};

    fn resample(mode: InterpolationMode, input: &[f32], out_len: usize) -> Vec<f32> {
        let layer = Interpolate1d::new(mode, input.len(), out_len).unwrap();
        let mut out = vec![0.0; out_len];
        layer.forward_row(input, &mut out).unwrap();
        out
    }

    fn assert_close(actual: &[f32], expected: &[f32]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= 1e-6 * e.abs().max(1.0), "{actual:?} vs {expected:?}");
        }
    }

    #[test]
    fn linear_matches_torch() {
        // F.interpolate(torch.tensor([[[1., 3., 2.]]]), size=12, mode='linear'): positions (j + 0.5) / 4 - 0.5,
        // clamped at 0 below and held at the last knot above.
        let expected = [1.0, 1.0, 1.25, 1.75, 2.25, 2.75, 2.875, 2.625, 2.375, 2.125, 2.0, 2.0];
        assert_close(&resample(InterpolationMode::Linear, &[1.0, 3.0, 2.0], 12), &expected);
        // One knot: a constant; as many knots as outputs: a copy.
        assert_eq!(resample(InterpolationMode::Linear, &[4.0], 5), [4.0; 5]);
        assert_eq!(resample(InterpolationMode::Linear, &[1.0, -2.0, 5.0], 3), [1.0, -2.0, 5.0]);
        // Downsampling: 4 -> 3, positions 1/6, 3/2, 17/6.
        assert_close(&resample(InterpolationMode::Linear, &[0.0, 6.0, 12.0, 18.0], 3), &[1.0, 9.0, 17.0]);
    }

    #[test]
    fn nearest_matches_torch() {
        // F.interpolate(..., size=7, mode='nearest') of 3 knots: floor(j * 3 / 7) = 0 0 0 1 1 2 2.
        assert_eq!(resample(InterpolationMode::Nearest, &[1.0, 2.0, 3.0], 7), [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
        assert_eq!(resample(InterpolationMode::Nearest, &[5.0, 7.0], 4), [5.0, 5.0, 7.0, 7.0]);
    }

    #[test]
    fn cubic_matches_torch_bicubic_row() {
        // F.interpolate(torch.tensor([[[[0., 1., 8.]]]]), size=6, mode='bicubic')[0, 0, 0]: positions
        // (j + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, 1.75, 2.25 with A = -0.75 and clamped taps.
        let knots = [0.0, 1.0, 8.0];
        let expected: Vec<f32> = [-0.25f64, 0.25, 0.75, 1.25, 1.75, 2.25]
            .iter()
            .map(|&x: &f64| {
                let (lower, t) = (x.floor(), x - x.floor());
                let a = -0.75;
                let near = |x: f64| ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
                let far = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
                let tap = |k: f64| knots[(lower + k).clamp(0.0, 2.0) as usize] as f64;
                (tap(-1.0) * far(t + 1.0) + tap(0.0) * near(t) + tap(1.0) * near(1.0 - t) + tap(2.0) * far(2.0 - t)) as f32
            })
            .collect();
        assert_close(&resample(InterpolationMode::Cubic, &knots, 6), &expected);
        // Keys' kernel reproduces a constant (its weights sum to 1), and so does the vertical pass.
        assert_close(&resample(InterpolationMode::Cubic, &[2.5; 4], 9), &[2.5; 9]);
        let row_sum: f32 = Interpolate1d::new(InterpolationMode::Cubic, 3, 12).unwrap().row_weights.iter().sum();
        assert!((row_sum - 1.0).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for mode in [InterpolationMode::Linear, InterpolationMode::Nearest, InterpolationMode::Cubic] {
            for (in_len, out_len) in [(3, 12), (5, 12), (12, 12), (1, 4), (7, 3)] {
                let layer = Interpolate1d::new(mode, in_len, out_len).unwrap();
                let input = random_vec(in_len, 1);
                let weights = random_vec(out_len, 2);
                let objective = |x: &[f32]| {
                    let mut out = vec![0.0; out_len];
                    layer.forward_row(x, &mut out).unwrap();
                    weighted_sum(&out, &weights)
                };
                let mut d_input = vec![9.0; in_len];
                layer.backward_row(&weights, &mut d_input).unwrap();
                check_input_grads(&input, &d_input, usize::MAX, objective);
            }
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        let err = Interpolate1d::new(InterpolationMode::Linear, 0, 4).unwrap_err();
        assert_eq!(err, NnError::ZeroSize { what: "interpolation input length" });
        assert!(Interpolate1d::new(InterpolationMode::Cubic, 3, 0).is_err());
        let layer = Interpolate1d::new(InterpolationMode::Linear, 3, 4).unwrap();
        assert!(layer.forward_row(&[0.0; 2], &mut [0.0; 4]).is_err());
        assert!(layer.backward_row(&[0.0; 4], &mut [0.0; 4]).is_err());
        assert_eq!(InterpolationMode::from_name("cubic"), Some(InterpolationMode::Cubic));
        assert_eq!(InterpolationMode::Nearest.name(), "nearest");
        assert_eq!(InterpolationMode::from_name("bicubic"), None);
    }
}

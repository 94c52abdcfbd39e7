//! NHITS' input pooling (neuralforecast/models/nhits.py): torch's `nn.MaxPool1d` / `nn.AvgPool1d` with
//! `kernel_size = stride = k`, no padding and `ceil_mode=True`. The time axis is cut into `ceil(len / k)`
//! windows of `k` steps, the last one shorter when `k` does not divide `len`.
//!
//! As in ATen's CPU kernels, max pooling takes the first maximum of a window (a NaN wins) and sends the
//! gradient there; average pooling divides the window's sum by the number of steps it actually covers (with
//! no padding, torch's `count_include_pad` divisor is the clipped window).
//!
//! Sequences are `[rows, len, channels]`, channels innermost: NHITS pools its `[B, L, C]` exogenous inputs
//! along `L` channel by channel (its permute, pool, permute back), and the window itself as one channel.

use super::error::{expect_len, nonzero, NnError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    Max,
    Avg,
}

impl PoolMode {
    /// torch's module names, which NeuralForecast's `pooling_mode` takes.
    pub const NAMES: [&'static str; 2] = ["MaxPool1d", "AvgPool1d"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "MaxPool1d" => Some(PoolMode::Max),
            "AvgPool1d" => Some(PoolMode::Avg),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PoolMode::Max => "MaxPool1d",
            PoolMode::Avg => "AvgPool1d",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool1d {
    mode: PoolMode,
    kernel: usize,
}

impl Pool1d {
    pub fn new(mode: PoolMode, kernel: usize) -> Result<Self, NnError> {
        nonzero("pooling kernel size", kernel)?;
        Ok(Pool1d { mode, kernel })
    }

    pub fn mode(&self) -> PoolMode {
        self.mode
    }

    /// Steps after pooling `len` steps: `ceil(len / k)` (NeuralForecast's `pooled_hist_size`).
    pub fn output_len(&self, len: usize) -> usize {
        len.div_ceil(self.kernel)
    }

    /// The input steps `[start, end)` of output step `j`.
    fn window(&self, j: usize, len: usize) -> (usize, usize) {
        (j * self.kernel, ((j + 1) * self.kernel).min(len))
    }

    fn check(&self, what: &'static str, values: usize, rows: usize, len: usize, channels: usize) -> Result<(), NnError> {
        expect_len(what, rows * len * channels, values)
    }

    /// Pools `input` `[rows, len, channels]` into `output` `[rows, output_len(len), channels]`. With max pooling
    /// and `argmax` given, it receives the index into `input` of every output's maximum, for
    /// [`Pool1d::backward`]; average pooling leaves it empty.
    pub fn forward(
        &self,
        input: &[f32],
        rows: usize,
        len: usize,
        channels: usize,
        output: &mut [f32],
        mut argmax: Option<&mut Vec<usize>>,
    ) -> Result<(), NnError> {
        let out_len = self.output_len(len);
        self.check("pooling input", input.len(), rows, len, channels)?;
        self.check("pooling output", output.len(), rows, out_len, channels)?;
        if let Some(argmax) = argmax.as_deref_mut() {
            argmax.clear();
            if self.mode == PoolMode::Max {
                argmax.resize(output.len(), 0);
            }
        }
        for r in 0..rows {
            for j in 0..out_len {
                let (start, end) = self.window(j, len);
                for c in 0..channels {
                    let at = |t: usize| (r * len + t) * channels + c;
                    let o = (r * out_len + j) * channels + c;
                    output[o] = match self.mode {
                        PoolMode::Max => {
                            let best = (start + 1..end).map(at).fold(at(start), |best, i| {
                                if input[i] > input[best] || input[i].is_nan() {
                                    i
                                } else {
                                    best
                                }
                            });
                            if let Some(argmax) = argmax.as_deref_mut() {
                                argmax[o] = best;
                            }
                            input[best]
                        }
                        PoolMode::Avg => (start..end).map(|t| input[at(t)]).sum::<f32>() / (end - start) as f32,
                    };
                }
            }
        }
        Ok(())
    }

    /// Accumulates d loss/d input into `d_input` `[rows, len, channels]` from `d_output`
    /// `[rows, output_len(len), channels]`; max pooling needs the `argmax` of the forward pass.
    pub fn backward(
        &self,
        d_output: &[f32],
        rows: usize,
        len: usize,
        channels: usize,
        argmax: &[usize],
        d_input: &mut [f32],
    ) -> Result<(), NnError> {
        let out_len = self.output_len(len);
        self.check("pooling output gradient", d_output.len(), rows, out_len, channels)?;
        self.check("pooling input gradient", d_input.len(), rows, len, channels)?;
        match self.mode {
            PoolMode::Max => {
                expect_len("max pooling indices", d_output.len(), argmax.len())?;
                if let Some(&bad) = argmax.iter().find(|&&i| i >= d_input.len()) {
                    return Err(NnError::InvalidValue {
                        what: "max pooling indices",
                        reason: format!("index {bad} is outside an input of {} values", d_input.len()),
                    });
                }
                argmax.iter().zip(d_output).for_each(|(&i, &g)| d_input[i] += g);
            }
            PoolMode::Avg => {
                for r in 0..rows {
                    for j in 0..out_len {
                        let (start, end) = self.window(j, len);
                        for c in 0..channels {
                            let g = d_output[(r * out_len + j) * channels + c] / (end - start) as f32;
                            (start..end).for_each(|t| d_input[(r * len + t) * channels + c] += g);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, random_vec, weighted_sum};

    /// Distinct values at least 0.05 apart in scrambled order, so that no finite-difference step moves a maximum.
    fn distinct_values(len: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7919) % len) as f32 * 0.05 - 1.0).collect()
    }

    fn pooled(mode: PoolMode, kernel: usize, input: &[f32], rows: usize, channels: usize) -> (Vec<f32>, Vec<usize>) {
        let pool = Pool1d::new(mode, kernel).unwrap();
        let len = input.len() / rows / channels;
        let mut output = vec![0.0; rows * pool.output_len(len) * channels];
        let mut argmax = Vec::new();
        pool.forward(input, rows, len, channels, &mut output, Some(&mut argmax)).unwrap();
        (output, argmax)
    }

    #[test]
    fn ceil_mode_keeps_a_short_last_window() {
        // torch: MaxPool1d(2, 2, ceil_mode=True)([1, 5, 3, 2, 4]) = [5, 3, 4]; AvgPool1d(...) = [3, 2.5, 4].
        let x = [1.0, 5.0, 3.0, 2.0, 4.0];
        assert_eq!(pooled(PoolMode::Max, 2, &x, 1, 1), (vec![5.0, 3.0, 4.0], vec![1, 2, 4]));
        assert_eq!(pooled(PoolMode::Avg, 2, &x, 1, 1).0, [3.0, 2.5, 4.0]);
        // A kernel longer than the sequence gives one window over all of it.
        assert_eq!(pooled(PoolMode::Avg, 4, &[1.0, 2.0, 6.0], 1, 1).0, [3.0]);
        let pool = Pool1d::new(PoolMode::Max, 3).unwrap();
        assert_eq!([24, 25, 36, 2].map(|len| pool.output_len(len)), [8, 9, 12, 1]);
    }

    #[test]
    fn pools_each_channel_along_time() {
        // Two rows of three steps and two channels: [[t0c0, t0c1], [t1c0, t1c1], [t2c0, t2c1]].
        let x = [1.0, -1.0, 3.0, -4.0, 2.0, 0.0, /* row 1 */ 0.0, 9.0, 7.0, 8.0, 5.0, 6.0];
        let (max, argmax) = pooled(PoolMode::Max, 2, &x, 2, 2);
        assert_eq!(max, [3.0, -1.0, 2.0, 0.0, 7.0, 9.0, 5.0, 6.0]);
        assert_eq!(argmax, [2, 1, 4, 5, 8, 7, 10, 11]);
        assert_eq!(pooled(PoolMode::Avg, 2, &x, 2, 2).0, [2.0, -2.5, 2.0, 0.0, 3.5, 8.5, 5.0, 6.0]);
    }

    #[test]
    fn ties_go_to_the_first_maximum_and_nan_wins() {
        assert_eq!(pooled(PoolMode::Max, 3, &[2.0, 2.0, 1.0], 1, 1).1, [0]);
        let (out, argmax) = pooled(PoolMode::Max, 3, &[2.0, f32::NAN, 1.0], 1, 1);
        assert!(out[0].is_nan() && argmax == [1]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (rows, len, channels) = (2, 7, 3);
        let input = distinct_values(rows * len * channels);
        for (mode, kernel) in [(PoolMode::Max, 3), (PoolMode::Avg, 3), (PoolMode::Max, 1), (PoolMode::Avg, 2)] {
            let pool = Pool1d::new(mode, kernel).unwrap();
            let out_len = rows * pool.output_len(len) * channels;
            let weights = random_vec(out_len, 3);
            let objective = |x: &[f32]| {
                let mut out = vec![0.0; out_len];
                pool.forward(x, rows, len, channels, &mut out, None).unwrap();
                weighted_sum(&out, &weights)
            };
            let mut out = vec![0.0; out_len];
            let mut argmax = Vec::new();
            pool.forward(&input, rows, len, channels, &mut out, Some(&mut argmax)).unwrap();
            // Accumulates: start from ones and subtract them afterwards.
            let mut d_input = vec![1.0; input.len()];
            pool.backward(&weights, rows, len, channels, &argmax, &mut d_input).unwrap();
            d_input.iter_mut().for_each(|g| *g -= 1.0);
            check_input_grads(&input, &d_input, usize::MAX, objective);
        }
    }

    #[test]
    fn rejects_bad_sizes_and_indices() {
        assert_eq!(Pool1d::new(PoolMode::Max, 0).unwrap_err(), NnError::ZeroSize { what: "pooling kernel size" });
        let pool = Pool1d::new(PoolMode::Max, 2).unwrap();
        let err = pool.forward(&[0.0; 5], 1, 6, 1, &mut [0.0; 3], None).unwrap_err();
        assert_eq!(err, NnError::LengthMismatch { what: "pooling input", expected: 6, actual: 5 });
        assert!(pool.forward(&[0.0; 6], 1, 6, 1, &mut [0.0; 2], None).is_err());
        assert!(pool.backward(&[1.0; 3], 1, 6, 1, &[0, 2], &mut [0.0; 6]).is_err());
        assert!(pool.backward(&[1.0; 3], 1, 6, 1, &[0, 2, 6], &mut [0.0; 6]).is_err());
        assert_eq!(PoolMode::from_name("AvgPool1d"), Some(PoolMode::Avg));
        assert_eq!(PoolMode::from_name("avg"), None);
    }
}

//! DLinear's series decomposition (neuralforecast/models/dlinear.py, `SeriesDecomp` over `MovingAvg`): a
//! window's trend is its moving average over `kernel_size` steps, the window padded at both ends by
//! `(kernel_size - 1) / 2` copies of its first and last value (torch's `AvgPool1d(kernel_size, stride=1)` after
//! the `repeat`s), so the trend is as long as the window; the seasonal part is the window minus its trend.
//!
//! NeuralForecast refuses an even `moving_avg_window` (the average would be off centre by half a step), and so
//! does [`SeriesDecomp::new`].

use super::error::{expect_len, nonzero, NnError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesDecomp {
    kernel_size: usize,
}

impl SeriesDecomp {
    pub fn new(kernel_size: usize) -> Result<Self, NnError> {
        if nonzero("moving average window", kernel_size)? % 2 == 0 {
            return Err(NnError::InvalidValue { what: "movingAvgWindow", reason: format!("must be odd, got {kernel_size}") });
        }
        Ok(SeriesDecomp { kernel_size })
    }

    /// Steps of padding on each side.
    fn half(&self) -> usize {
        (self.kernel_size - 1) / 2
    }

    fn check(&self, what: &'static str, values: usize, rows: usize, len: usize) -> Result<(), NnError> {
        nonzero("series length", len)?;
        expect_len(what, rows * len, values)
    }

    /// Splits `input` `[rows, len]` into `seasonal` and `trend` (both `[rows, len]`), `seasonal + trend = input`.
    pub fn forward(&self, input: &[f32], rows: usize, len: usize, seasonal: &mut [f32], trend: &mut [f32]) -> Result<(), NnError> {
        self.check("decomposition input", input.len(), rows, len)?;
        self.check("seasonal part", seasonal.len(), rows, len)?;
        self.check("trend part", trend.len(), rows, len)?;
        let (half, divisor) = (self.half(), self.kernel_size as f32);
        for ((x, seasonal), trend) in input.chunks_exact(len).zip(seasonal.chunks_exact_mut(len)).zip(trend.chunks_exact_mut(len)) {
            for t in 0..len {
                // Padded step t + j - half of the window, clamped onto the repeated first or last value.
                let sum: f32 = (0..self.kernel_size).map(|j| x[(t + j).saturating_sub(half).min(len - 1)]).sum();
                trend[t] = sum / divisor;
                seasonal[t] = x[t] - trend[t];
            }
        }
        Ok(())
    }

    /// Accumulates d loss/d input into `d_input` `[rows, len]` from the gradients of the two parts.
    pub fn backward(&self, d_seasonal: &[f32], d_trend: &[f32], rows: usize, len: usize, d_input: &mut [f32]) -> Result<(), NnError> {
        self.check("seasonal gradient", d_seasonal.len(), rows, len)?;
        self.check("trend gradient", d_trend.len(), rows, len)?;
        self.check("decomposition input gradient", d_input.len(), rows, len)?;
        let (half, divisor) = (self.half(), self.kernel_size as f32);
        for ((d_seasonal, d_trend), d_x) in d_seasonal.chunks_exact(len).zip(d_trend.chunks_exact(len)).zip(d_input.chunks_exact_mut(len)) {
            for t in 0..len {
                d_x[t] += d_seasonal[t];
                // seasonal = x - trend: the trend's total gradient is its own minus the seasonal part's.
                let g = (d_trend[t] - d_seasonal[t]) / divisor;
                (0..self.kernel_size).for_each(|j| d_x[(t + j).saturating_sub(half).min(len - 1)] += g);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, random_vec, weighted_sum};

    #[test]
    fn pads_with_the_edge_values_as_torch() {
        // torch: SeriesDecomp(3)(tensor([[1., 2., 6., 3.]])) = (res, mean) with
        // mean = AvgPool1d(3, 1)([1, 1, 2, 6, 3, 3]) = [4/3, 3, 11/3, 4].
        let decomp = SeriesDecomp::new(3).unwrap();
        let (mut seasonal, mut trend) = ([0.0; 4], [0.0; 4]);
        decomp.forward(&[1.0, 2.0, 6.0, 3.0], 1, 4, &mut seasonal, &mut trend).unwrap();
        assert_eq!(trend, [4.0 / 3.0, 3.0, 11.0 / 3.0, 4.0]);
        assert_eq!(seasonal, [1.0 - 4.0 / 3.0, -1.0, 6.0 - 11.0 / 3.0, -1.0]);
        // A window longer than the series (dlinear.py's 25 over input_size 24) averages mostly edge copies.
        let wide = SeriesDecomp::new(5).unwrap();
        let (mut seasonal, mut trend) = ([0.0; 2], [0.0; 2]);
        wide.forward(&[0.0, 5.0], 1, 2, &mut seasonal, &mut trend).unwrap();
        assert_eq!(trend, [2.0, 3.0]);
        // Kernel 1 is the identity trend.
        let mut trend = [0.0; 3];
        SeriesDecomp::new(1).unwrap().forward(&[1.0, -2.0, 3.0], 1, 3, &mut [0.0; 3], &mut trend).unwrap();
        assert_eq!(trend, [1.0, -2.0, 3.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (rows, len) = (3, 7);
        let input = random_vec(rows * len, 1);
        let (w_seasonal, w_trend) = (random_vec(rows * len, 2), random_vec(rows * len, 3));
        for kernel in [1, 3, 5, 25] {
            let decomp = SeriesDecomp::new(kernel).unwrap();
            let objective = |x: &[f32]| {
                let (mut seasonal, mut trend) = (vec![0.0; rows * len], vec![0.0; rows * len]);
                decomp.forward(x, rows, len, &mut seasonal, &mut trend).unwrap();
                weighted_sum(&seasonal, &w_seasonal) + weighted_sum(&trend, &w_trend)
            };
            // Accumulates: start from ones and subtract them afterwards.
            let mut d_input = vec![1.0; input.len()];
            decomp.backward(&w_seasonal, &w_trend, rows, len, &mut d_input).unwrap();
            d_input.iter_mut().for_each(|g| *g -= 1.0);
            check_input_grads(&input, &d_input, usize::MAX, objective);
        }
    }

    #[test]
    fn rejects_even_windows_and_bad_sizes() {
        assert!(matches!(SeriesDecomp::new(4), Err(NnError::InvalidValue { what: "movingAvgWindow", .. })));
        assert_eq!(SeriesDecomp::new(0).unwrap_err(), NnError::ZeroSize { what: "moving average window" });
        let decomp = SeriesDecomp::new(3).unwrap();
        assert!(decomp.forward(&[0.0; 5], 2, 3, &mut [0.0; 6], &mut [0.0; 6]).is_err());
        assert!(decomp.forward(&[0.0; 6], 2, 3, &mut [0.0; 6], &mut [0.0; 5]).is_err());
        assert!(decomp.backward(&[0.0; 6], &[0.0; 6], 2, 3, &mut [0.0; 5]).is_err());
    }
}

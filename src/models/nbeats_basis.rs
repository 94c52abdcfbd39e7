//! The basis expansions of NeuralForecast's NBEATS family (neuralforecast/models/nbeats.py, nbeatsx.py): a block's
//! coefficients `theta` become a backcast over the input window and a forecast `[h, outputs_per_point]`.
//!
//! `IdentityBasis`, `TrendBasis` and `SeasonalityBasis` are all linear in `theta`, so each is kept here as two
//! fixed matrices and applied with one matrix product per direction. The templates are computed in f64 as
//! NeuralForecast computes them with numpy and rounded to f32 as its `torch.tensor(..., dtype=torch.float32)`.

use crate::nn::matmul::{gemm, Mat, MatMut};
use crate::nn::NnError;

/// NeuralForecast's `basis` choices for the trend stack (`get_basis` in nbeats.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendBasisKind {
    Legendre,
    Polynomial,
    Changepoint,
    PiecewiseLinear,
    LinearHat,
    Spline,
    Chebyshev,
}

impl TrendBasisKind {
    pub const ALL: [TrendBasisKind; 7] =
        [Self::Legendre, Self::Polynomial, Self::Changepoint, Self::PiecewiseLinear, Self::LinearHat, Self::Spline, Self::Chebyshev];

    pub fn name(self) -> &'static str {
        match self {
            Self::Legendre => "legendre",
            Self::Polynomial => "polynomial",
            Self::Changepoint => "changepoint",
            Self::PiecewiseLinear => "piecewise_linear",
            Self::LinearHat => "linear_hat",
            Self::Spline => "spline",
            Self::Chebyshev => "chebyshev",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The smallest `n_basis` NeuralForecast accepts: `linear_hat` divides by `n_basis`, `spline` raises below 3.
    pub fn min_n_basis(self) -> usize {
        match self {
            Self::LinearHat => 1,
            Self::Spline => 3,
            _ => 0,
        }
    }

    /// `generate_<kind>_basis(length, count)`, `[length, count]` in NeuralForecast, here transposed: `[count, length]`.
    fn functions(self, length: usize, count: usize) -> Vec<f64> {
        let mut out = vec![0.0; count * length];
        let mut set = |f: &dyn Fn(usize, usize) -> f64| {
            for (i, row) in out.chunks_exact_mut(length).enumerate() {
                row.iter_mut().enumerate().for_each(|(j, v)| *v = f(i, j));
            }
        };
        match self {
            Self::Polynomial => set(&|i, j| (j as f64 / length as f64).powf(i as f64)),
            Self::Legendre => {
                let x = linspace(-1.0, 1.0, length);
                set(&|i, j| legendre(i, x[j]))
            }
            Self::Chebyshev => {
                let x = linspace(-1.0, 1.0, length);
                set(&|i, j| chebyshev(i, x[j]))
            }
            Self::Changepoint => {
                let (x, at) = (linspace(0.0, 1.0, length), linspace(0.0, 1.0, count + 1));
                set(&|i, j| (x[j] - at[i + 1]).max(0.0))
            }
            Self::PiecewiseLinear => {
                let (x, knots) = (linspace(0.0, 1.0, length), linspace(0.0, 1.0, count + 1));
                // The first function stays zero, as NeuralForecast's loop starts at 1.
                set(&|i, j| {
                    if i == 0 {
                        return 0.0;
                    }
                    let rising = (x[j] - knots[i - 1]) / (knots[i] - knots[i - 1]);
                    let falling = (knots[i + 1] - x[j]) / (knots[i + 1] - knots[i]);
                    rising.min(falling).max(0.0)
                })
            }
            Self::LinearHat => {
                let (x, centers) = (linspace(0.0, 1.0, length), linspace(0.0, 1.0, count));
                let width = 1.0 / (count - 1) as f64;
                set(&|i, j| (1.0 - (x[j] - centers[i]).abs() / width).max(0.0))
            }
            Self::Spline => {
                let x = linspace(0.0, 1.0, length);
                let mut knots = vec![0.0; 3];
                knots.extend(linspace(0.0, 1.0, count - 2));
                knots.extend([1.0; 3]);
                for (j, &xj) in x.iter().enumerate() {
                    let (first, values) = cubic_bspline_basis(&knots, xj);
                    values.iter().enumerate().for_each(|(a, v)| out[(first + a) * length + j] = *v);
                }
            }
        }
        out
    }
}

/// numpy's `linspace(start, stop, num)`: `start + i * step`, the last point exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    (0..num).map(|i| if i + 1 == num { stop } else { i as f64 * step + start }).collect()
}

/// `Legendre.basis(degree)(x)`: numpy's Clenshaw recursion (`legval`) over the coefficients `e_degree`.
fn legendre(degree: usize, x: f64) -> f64 {
    let c = |i: usize| if i == degree { 1.0 } else { 0.0 };
    if degree < 2 {
        return c(0) + c(1) * x;
    }
    let len = degree + 1;
    let (mut c0, mut c1, mut nd) = (c(len - 2), c(len - 1), len as f64);
    for i in 3..=len {
        let previous = c0;
        nd -= 1.0;
        c0 = c(len - i) - (c1 * (nd - 1.0)) / nd;
        c1 = previous + (c1 * x * (2.0 * nd - 1.0)) / nd;
    }
    c0 + c1 * x
}

/// `Chebyshev.basis(degree)(x)`: numpy's `chebval` recursion.
fn chebyshev(degree: usize, x: f64) -> f64 {
    let c = |i: usize| if i == degree { 1.0 } else { 0.0 };
    if degree < 2 {
        return c(0) + c(1) * x;
    }
    let len = degree + 1;
    let (mut c0, mut c1) = (c(len - 2), c(len - 1));
    for i in 3..=len {
        let previous = c0;
        c0 = c(len - i) - c1;
        c1 = previous + c1 * 2.0 * x;
    }
    c0 + c1 * x
}

/// The four non-zero cubic B-splines over `knots` at `x` in `[knots[3], knots[n]]`, as scipy's `BSpline`
/// evaluates them (`find_interval`, then `_deBoor_D`): returns the index of the first one and their values.
/// At the right end the last interval is used, so the last function is 1 there.
fn cubic_bspline_basis(knots: &[f64], x: f64) -> (usize, [f64; 4]) {
    const K: usize = 3;
    let n = knots.len() - K - 1;
    let mut interval = K;
    while interval + 1 < n && x >= knots[interval + 1] {
        interval += 1;
    }
    let mut h = [0.0; K + 1];
    h[0] = 1.0;
    for j in 1..=K {
        let previous = h;
        h[0] = 0.0;
        for m in 1..=j {
            let (xb, xa) = (knots[interval + m], knots[interval + m - j]);
            if xb == xa {
                h[m] = 0.0;
                continue;
            }
            let w = previous[m - 1] / (xb - xa);
            h[m - 1] += w * (xb - x);
            h[m] = w * (x - xa);
        }
    }
    (interval - K, h)
}

/// `TrendBasis`' template `get_basis(length, n_basis, kind).T`: `[n_basis + 1, length]`.
pub fn trend_template(kind: TrendBasisKind, length: usize, n_basis: usize) -> Result<Vec<f32>, NnError> {
    if n_basis < kind.min_n_basis() {
        return Err(NnError::InvalidValue {
            what: "n_basis",
            reason: format!("the {} basis needs n_basis >= {}, got {n_basis}", kind.name(), kind.min_n_basis()),
        });
    }
    Ok(kind.functions(length, n_basis + 1).into_iter().map(|v| v as f32).collect())
}

/// Length of `arange(harmonics, harmonics / 2 * h)`, as numpy counts it (saturating for absurd sizes).
fn nonzero_frequency_count(harmonics: usize, forecast_size: usize) -> usize {
    let stop = harmonics as f64 / 2.0 * forecast_size as f64;
    (stop - harmonics as f64).ceil().max(0.0) as usize
}

/// `SeasonalityBasis`' frequencies: 0, then `arange(harmonics, harmonics / 2 * h) / harmonics`.
fn seasonality_frequencies(harmonics: usize, forecast_size: usize) -> Vec<f64> {
    let count = nonzero_frequency_count(harmonics, forecast_size);
    std::iter::once(0.0).chain((0..count).map(|i| (harmonics as f64 + i as f64) / harmonics as f64)).collect()
}

/// Number of rows of `SeasonalityBasis`' templates (cosines, then sines): NeuralForecast's `harmonic_size`,
/// by arithmetic.
pub fn seasonality_size(harmonics: usize, forecast_size: usize) -> u128 {
    2 * (1 + nonzero_frequency_count(harmonics, forecast_size) as u128)
}

/// `SeasonalityBasis`' template over `length` steps: `[cos; sin]` of `sign * 2 pi (t / h) f`, `[2 F, length]`,
/// with `sign` -1 for the backcast and +1 for the forecast.
pub fn seasonality_template(harmonics: usize, length: usize, forecast_size: usize, sign: f64) -> Vec<f32> {
    let frequencies = seasonality_frequencies(harmonics, forecast_size);
    let angle = |f: f64, t: usize| sign * 2.0 * std::f64::consts::PI * (t as f64 / forecast_size as f64) * f;
    let cosines = frequencies.iter().flat_map(|&f| (0..length).map(move |t| angle(f, t).cos()));
    let sines = frequencies.iter().flat_map(|&f| (0..length).map(move |t| angle(f, t).sin()));
    cosines.chain(sines).map(|v| v as f32).collect()
}

/// A block's basis as two linear maps of `theta[n_theta]`: `backcast = theta · B`, `forecast = theta · F`.
/// `B` is stored negated, so that the product accumulates `residual - backcast` straight into the next
/// block's input and its transpose maps d loss / d next residual straight to d loss / d theta.
#[derive(Debug, Clone)]
pub struct BasisExpansion {
    n_theta: usize,
    backcast_size: usize,
    /// `h * outputs_per_point`.
    forecast_width: usize,
    /// `-B`, `[n_theta, backcast_size]`.
    negated_backcast: Vec<f32>,
    /// `F`, `[n_theta, forecast_width]`.
    forecast: Vec<f32>,
}

impl BasisExpansion {
    /// `IdentityBasis`: `theta = [backcast (L) | forecast (h × outputs)]`.
    pub fn identity(backcast_size: usize, h: usize, outputs: usize) -> Self {
        let forecast_width = h * outputs;
        let n_theta = backcast_size + forecast_width;
        let mut expansion = Self::zeros(n_theta, backcast_size, forecast_width);
        (0..backcast_size).for_each(|t| expansion.negated_backcast[t * backcast_size + t] = -1.0);
        (0..forecast_width).for_each(|t| expansion.forecast[(backcast_size + t) * forecast_width + t] = 1.0);
        expansion
    }

    /// `TrendBasis` and `SeasonalityBasis` over templates `[p, L]` and `[p, h]`: `theta = [backcast coefficients
    /// (p) | forecast coefficients (p × outputs)]`, forecast `[t, q] = sum_i theta[p + i * outputs + q] F[i, t]`.
    pub fn from_templates(backcast_template: &[f32], forecast_template: &[f32], p: usize, h: usize, outputs: usize) -> Self {
        let backcast_size = backcast_template.len() / p;
        let forecast_width = h * outputs;
        let mut expansion = Self::zeros(p * (outputs + 1), backcast_size, forecast_width);
        for (i, row) in backcast_template.chunks_exact(backcast_size).enumerate() {
            expansion.negated_backcast[i * backcast_size..(i + 1) * backcast_size].iter_mut().zip(row).for_each(|(m, v)| *m = -v);
        }
        for (i, row) in forecast_template.chunks_exact(h).enumerate() {
            for q in 0..outputs {
                let map_row = &mut expansion.forecast[(p + i * outputs + q) * forecast_width..][..forecast_width];
                row.iter().enumerate().for_each(|(t, v)| map_row[t * outputs + q] = *v);
            }
        }
        expansion
    }

    fn zeros(n_theta: usize, backcast_size: usize, forecast_width: usize) -> Self {
        BasisExpansion {
            n_theta,
            backcast_size,
            forecast_width,
            negated_backcast: vec![0.0; n_theta * backcast_size],
            forecast: vec![0.0; n_theta * forecast_width],
        }
    }

    pub fn n_theta(&self) -> usize {
        self.n_theta
    }

    /// `residual -= backcast(theta)` when a residual is given (the last block's backcast is never used), and
    /// `forecast += forecast(theta)`, over `rows` windows.
    pub fn forward(&self, theta: &[f32], rows: usize, residual: Option<&mut [f32]>, forecast: &mut [f32]) {
        let theta = Mat::rows(theta, rows, self.n_theta);
        if let Some(residual) = residual {
            let map = Mat::rows(&self.negated_backcast, self.n_theta, self.backcast_size);
            gemm(theta, map, 1.0, MatMut::rows(residual, rows, self.backcast_size));
        }
        let map = Mat::rows(&self.forecast, self.n_theta, self.forecast_width);
        gemm(theta, map, 1.0, MatMut::rows(forecast, rows, self.forecast_width));
    }

    /// `d_theta = d_forecast · F^T + d_residual · (-B)^T`, where `d_residual` is d loss / d (residual - backcast).
    pub fn backward(&self, d_forecast: &[f32], d_residual: Option<&[f32]>, rows: usize, d_theta: &mut [f32]) {
        let map = Mat::transposed(&self.forecast, self.n_theta, self.forecast_width);
        gemm(Mat::rows(d_forecast, rows, self.forecast_width), map, 0.0, MatMut::rows(d_theta, rows, self.n_theta));
        if let Some(d_residual) = d_residual {
            let map = Mat::transposed(&self.negated_backcast, self.n_theta, self.backcast_size);
            gemm(Mat::rows(d_residual, rows, self.backcast_size), map, 1.0, MatMut::rows(d_theta, rows, self.n_theta));
        }
    }
}

/// NBEATSx' `ExogenousBasis`: each window's exogenous values `E [L + h, F]` (future exogenous variables, then the
/// static ones repeated over time) are the basis. `theta = [forecast coefficients (F) | backcast coefficients (F)]`:
/// `backcast[t] = sum_p theta[F + p] E[t, p]` over the window (in the window's own time order, as NeuralForecast
/// subtracts it from the reversed residual), and `forecast[t] = sum_p theta[p] E[L + t, p]`, a single series
/// that NeuralForecast's broadcasting adds to every output of the point.
#[derive(Debug, Clone)]
pub struct ExogenousBasis {
    width: usize,
    backcast_size: usize,
    h: usize,
    outputs: usize,
}

impl ExogenousBasis {
    pub fn new(width: usize, backcast_size: usize, h: usize, outputs: usize) -> Self {
        ExogenousBasis { width, backcast_size, h, outputs }
    }

    pub fn n_theta(&self) -> usize {
        2 * self.width
    }

    /// `residual -= backcast(theta)` when a residual is given, and `forecast += forecast(theta)`, over `rows`
    /// windows with exogenous basis `basis [rows, L + h, F]`.
    pub fn forward(&self, theta: &[f32], rows: usize, basis: &[f32], mut residual: Option<&mut [f32]>, forecast: &mut [f32]) {
        let (f, l, q) = (self.width, self.backcast_size, self.outputs);
        let dot = |coefficients: &[f32], values: &[f32]| coefficients.iter().zip(values).map(|(c, v)| c * v).sum::<f32>();
        let steps = l + self.h;
        for b in 0..rows {
            let basis = &basis[b * steps * f..(b + 1) * steps * f];
            let (forecast_theta, backcast_theta) = theta[b * 2 * f..(b + 1) * 2 * f].split_at(f);
            if let Some(residual) = residual.as_deref_mut() {
                for (t, r) in residual[b * l..(b + 1) * l].iter_mut().enumerate() {
                    *r -= dot(backcast_theta, &basis[t * f..(t + 1) * f]);
                }
            }
            for (t, point) in forecast[b * self.h * q..(b + 1) * self.h * q].chunks_exact_mut(q).enumerate() {
                let value = dot(forecast_theta, &basis[(l + t) * f..(l + t + 1) * f]);
                point.iter_mut().for_each(|v| *v += value);
            }
        }
    }

    /// `d_theta` from `d_forecast [rows, h, outputs]` and, for all but the last block, d loss / d next residual.
    pub fn backward(&self, d_forecast: &[f32], d_residual: Option<&[f32]>, rows: usize, basis: &[f32], d_theta: &mut [f32]) {
        let (f, l, q) = (self.width, self.backcast_size, self.outputs);
        d_theta.fill(0.0);
        let steps = l + self.h;
        for b in 0..rows {
            let basis = &basis[b * steps * f..(b + 1) * steps * f];
            let (d_forecast_theta, d_backcast_theta) = d_theta[b * 2 * f..(b + 1) * 2 * f].split_at_mut(f);
            for (t, point) in d_forecast[b * self.h * q..(b + 1) * self.h * q].chunks_exact(q).enumerate() {
                let d_value: f32 = point.iter().sum();
                d_forecast_theta.iter_mut().zip(&basis[(l + t) * f..(l + t + 1) * f]).for_each(|(d, e)| *d += d_value * e);
            }
            if let Some(d_residual) = d_residual {
                for (t, d_r) in d_residual[b * l..(b + 1) * l].iter().enumerate() {
                    d_backcast_theta.iter_mut().zip(&basis[t * f..(t + 1) * f]).for_each(|(d, e)| *d -= d_r * e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_vec;

    fn close(a: &[f32], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f64 - y).abs() < 1e-6)
    }

    #[test]
    fn trend_templates_match_numpy() {
        // np.power(np.arange(4) / 4, i) for i = 0, 1, 2.
        let polynomial = trend_template(TrendBasisKind::Polynomial, 4, 2).unwrap();
        assert!(close(&polynomial, &[1.0, 1.0, 1.0, 1.0, 0.0, 0.25, 0.5, 0.75, 0.0, 0.0625, 0.25, 0.5625]));
        // x = linspace(-1, 1, 3): P2 = (3x^2 - 1) / 2, T2 = 2x^2 - 1, T3 = 4x^3 - 3x.
        assert!(close(&trend_template(TrendBasisKind::Legendre, 3, 2).unwrap(), &[1.0, 1.0, 1.0, -1.0, 0.0, 1.0, 1.0, -0.5, 1.0]));
        let chebyshev = trend_template(TrendBasisKind::Chebyshev, 3, 3).unwrap();
        assert!(close(&chebyshev[6..], &[1.0, -1.0, 1.0, -1.0, 0.0, 1.0]));
        // x = linspace(0, 1, 5), changepoints at 1/3, 2/3, 1.
        let changepoint = trend_template(TrendBasisKind::Changepoint, 5, 2).unwrap();
        assert!(close(&changepoint[..5], &[0.0, 0.0, 0.5 - 1.0 / 3.0, 0.75 - 1.0 / 3.0, 1.0 - 1.0 / 3.0]));
        assert!(changepoint[10..].iter().all(|v| *v == 0.0));
        // Knots 0, 1/3, 2/3, 1: function 0 is zero, function 1 peaks at 1/3.
        let piecewise = trend_template(TrendBasisKind::PiecewiseLinear, 4, 2).unwrap();
        assert!(close(&piecewise, &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]));
        // Centers 0, 0.5, 1, width 0.5, at x = 0, 0.25, 0.5, 0.75, 1.
        let hat = trend_template(TrendBasisKind::LinearHat, 5, 2).unwrap();
        assert!(close(&hat, &[1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0]));
    }

    #[test]
    fn cubic_splines_match_scipy_and_sum_to_one() {
        // scipy: BSpline(t=[0,0,0,0,0.5,1,1,1,1], eye(5), 3)(linspace(0, 1, 5)).T
        let spline = trend_template(TrendBasisKind::Spline, 5, 4).unwrap();
        let scipy = [
            [1.0, 0.125, 0.0, 0.0, 0.0],
            [0.0, 0.59375, 0.25, 0.03125, 0.0],
            [0.0, 0.25, 0.5, 0.25, 0.0],
            [0.0, 0.03125, 0.25, 0.59375, 0.0],
            [0.0, 0.0, 0.0, 0.125, 1.0],
        ];
        assert!(close(&spline, &scipy.concat()));
        let wide = trend_template(TrendBasisKind::Spline, 13, 6).unwrap();
        for j in 0..13 {
            let sum: f32 = (0..7).map(|i| wide[i * 13 + j]).sum();
            assert!((sum - 1.0).abs() < 1e-6, "partition of unity at {j}: {sum}");
        }
    }

    #[test]
    fn rejects_too_few_basis_functions() {
        assert!(matches!(trend_template(TrendBasisKind::Spline, 5, 2), Err(NnError::InvalidValue { what: "n_basis", .. })));
        assert!(trend_template(TrendBasisKind::LinearHat, 5, 0).is_err());
        assert!(trend_template(TrendBasisKind::Polynomial, 5, 0).is_ok());
    }

    #[test]
    fn seasonality_templates_match_numpy() {
        // harmonics 2, h 12: frequencies 0, 1, 1.5, ..., 5.5 (11), 22 rows.
        assert_eq!(seasonality_frequencies(2, 12), [0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5]);
        assert_eq!(seasonality_size(2, 12), 22);
        // harmonics 3, h 5: arange(3, 7.5) / 3 = 1, 4/3, 5/3, 2, 7/3.
        assert_eq!(seasonality_size(3, 5), 12);
        let backcast = seasonality_template(2, 24, 12, -1.0);
        assert_eq!(backcast.len(), 22 * 24);
        // Row 1: cos(-2 pi t / 12); row 11 + 1: sin(-2 pi t / 12).
        let t = 5.0f64;
        assert!(close(&backcast[24 + 5..24 + 6], &[(-2.0 * std::f64::consts::PI * t / 12.0).cos()]));
        assert!(close(&backcast[12 * 24 + 5..12 * 24 + 6], &[(-2.0 * std::f64::consts::PI * t / 12.0).sin()]));
        let forecast = seasonality_template(2, 12, 12, 1.0);
        assert!(close(&forecast[12 * 12 + 3..12 * 12 + 4], &[(2.0 * std::f64::consts::PI * 3.0 / 12.0).sin()]));
    }

    /// torch's einsum over the reshaped theta, written out.
    #[test]
    fn templates_expand_as_neuralforecast_reshapes_theta() {
        let (p, l, h, q, rows) = (3, 5, 4, 2, 2);
        let backcast_template = random_vec(p * l, 1);
        let forecast_template = random_vec(p * h, 2);
        let expansion = BasisExpansion::from_templates(&backcast_template, &forecast_template, p, h, q);
        assert_eq!(expansion.n_theta(), p * (q + 1));
        let theta = random_vec(rows * expansion.n_theta(), 3);
        let residual_in = random_vec(rows * l, 4);
        let (mut residual, mut forecast) = (residual_in.clone(), vec![0.5; rows * h * q]);
        expansion.forward(&theta, rows, Some(&mut residual), &mut forecast);
        for b in 0..rows {
            let th = &theta[b * p * (q + 1)..(b + 1) * p * (q + 1)];
            for t in 0..l {
                let backcast: f32 = (0..p).map(|i| th[i] * backcast_template[i * l + t]).sum();
                assert!((residual[b * l + t] - (residual_in[b * l + t] - backcast)).abs() < 1e-5);
            }
            for t in 0..h {
                for k in 0..q {
                    let value: f32 = (0..p).map(|i| th[p + i * q + k] * forecast_template[i * h + t]).sum();
                    assert!((forecast[(b * h + t) * q + k] - (0.5 + value)).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn identity_slices_theta_and_backward_is_the_transpose() {
        let (l, h, q, rows) = (3, 2, 2, 2);
        let expansion = BasisExpansion::identity(l, h, q);
        let theta = random_vec(rows * 7, 5);
        let (mut residual, mut forecast) = (vec![0.0; rows * l], vec![0.0; rows * h * q]);
        expansion.forward(&theta, rows, Some(&mut residual), &mut forecast);
        assert_eq!(residual, theta.chunks(7).flat_map(|r| r[..3].iter().map(|v| -v)).collect::<Vec<_>>());
        assert_eq!(forecast, theta.chunks(7).flat_map(|r| r[3..].to_vec()).collect::<Vec<_>>());
        // <d_forecast, forecast> + <d_residual, residual> is linear in theta with gradient d_theta.
        let (d_forecast, d_residual) = (random_vec(rows * h * q, 6), random_vec(rows * l, 7));
        let mut d_theta = vec![0.0; rows * 7];
        expansion.backward(&d_forecast, Some(&d_residual), rows, &mut d_theta);
        let expected: Vec<f32> = (0..rows)
            .flat_map(|b| d_residual[b * l..(b + 1) * l].iter().map(|v| -v).chain(d_forecast[b * 4..(b + 1) * 4].iter().copied()).collect::<Vec<_>>())
            .collect();
        assert_eq!(d_theta, expected);
    }
}

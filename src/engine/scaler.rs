//! NeuralForecast's scalers (neuralforecast/common/_scalers.py) as a shift and a scale: `z = (x - shift) / scale`.

use super::spec::ScalerType;
use crate::kernels::{self, Isa};

/// Added to every scale, as NeuralForecast does, so that nothing divides by zero.
const EPS: f64 = 1e-6;

/// The MAD of a normal distribution per standard deviation (the 75th percentile of the standard normal), the
/// constant of NeuralForecast's robust scaler.
const NORMAL_MAD_PER_STD: f64 = 0.6744897501960817;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub shift: f64,
    pub scale: f64,
}

impl Scale {
    pub const IDENTITY: Scale = Scale { shift: 0.0, scale: 1.0 };

    /// The statistics of a window's `values` for `kind` (the models' `scalerType`, NeuralForecast's
    /// `TemporalNorm`); `scratch` is reused for the medians of the robust scaler.
    pub fn of(kind: ScalerType, values: &[f64], isa: Isa, scratch: &mut Vec<f64>) -> Scale {
        if values.is_empty() {
            return Scale::IDENTITY;
        }
        match kind {
            ScalerType::Identity => Scale::IDENTITY,
            ScalerType::Robust => {
                let median = lower_median(values.iter().copied(), scratch);
                let mut mad = lower_median(values.iter().map(|v| (v - median).abs()), scratch);
                if mad == 0.0 {
                    // More than half the values equal the median: NeuralForecast's `robust_statistics` falls back to
                    // the MAD a normal distribution of the same (population) standard deviation would have.
                    mad = kernels::std_with(isa, values, 0).unwrap_or(0.0) * NORMAL_MAD_PER_STD;
                }
                Scale { shift: median, scale: nonzero(mad) + EPS }
            }
            ScalerType::Standard | ScalerType::MinMax => {
                let local = Scale::local(kind, values, isa, scratch);
                Scale { scale: local.scale + EPS, ..local }
            }
            ScalerType::MinMax1 => {
                let minmax = Scale::local(ScalerType::MinMax, values, isa, scratch);
                Scale::minmax1(minmax.shift, minmax.scale + EPS)
            }
        }
    }

    /// The statistics of a whole series for the local scaler `kind` (`localScalerType`), as NeuralForecast's
    /// coreforecast scalers compute them: unlike [`Scale::of`], 'robust' takes numpy's medians (the mean of the
    /// two middle values) and no fallback for a zero MAD, and no scale gets an epsilon (a zero spread becomes 1).
    pub fn local(kind: ScalerType, values: &[f64], isa: Isa, scratch: &mut Vec<f64>) -> Scale {
        if values.is_empty() {
            return Scale::IDENTITY;
        }
        match kind {
            ScalerType::Identity => Scale::IDENTITY,
            ScalerType::Standard => {
                let mean = kernels::mean_with(isa, values).unwrap_or(0.0);
                let std = kernels::std_with(isa, values, 0).unwrap_or(0.0);
                Scale { shift: mean, scale: nonzero(std) }
            }
            ScalerType::Robust => {
                let median = numpy_median(values.iter().copied(), scratch);
                let mad = numpy_median(values.iter().map(|v| (v - median).abs()), scratch);
                Scale { shift: median, scale: nonzero(mad) }
            }
            ScalerType::MinMax | ScalerType::MinMax1 => {
                let min = kernels::min_with(isa, values).unwrap_or(0.0);
                let max = kernels::max_with(isa, values).unwrap_or(0.0);
                match kind {
                    ScalerType::MinMax1 => Scale::minmax1(min, nonzero(max - min)),
                    _ => Scale { shift: min, scale: nonzero(max - min) },
                }
            }
        }
    }

    /// `2 (x - min) / range - 1` as a shift and a scale.
    fn minmax1(min: f64, range: f64) -> Scale {
        Scale { shift: min + range / 2.0, scale: range / 2.0 }
    }

    pub fn apply(&self, x: f64) -> f64 {
        (x - self.shift) / self.scale
    }

    pub fn invert(&self, z: f64) -> f64 {
        z * self.scale + self.shift
    }
}

/// NeuralForecast replaces a zero spread by 1.
fn nonzero(spread: f64) -> f64 {
    if spread == 0.0 {
        1.0
    } else {
        spread
    }
}

/// The lower-middle median, as torch's `median` (no interpolation between the two middle values).
fn lower_median(values: impl Iterator<Item = f64>, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(values);
    if scratch.is_empty() {
        return 0.0;
    }
    let middle = (scratch.len() - 1) / 2;
    *scratch.select_nth_unstable_by(middle, f64::total_cmp).1
}

/// numpy's `median`: of an even count, the mean of the two middle values.
fn numpy_median(values: impl Iterator<Item = f64>, scratch: &mut Vec<f64>) -> f64 {
    let lower = lower_median(values, scratch);
    if scratch.len() % 2 == 1 {
        return lower;
    }
    // The upper middle value is the smallest of those above the lower one's place.
    let middle = scratch.len() / 2;
    let upper = scratch[middle..].iter().copied().fold(f64::INFINITY, f64::min);
    (lower + upper) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(kind: ScalerType, v: &[f64]) -> Scale {
        Scale::of(kind, v, Isa::Scalar, &mut Vec::new())
    }

    #[test]
    fn local_statistics_follow_coreforecast() {
        // coreforecast 0.0.x (NeuralForecast 3.3's local scalers), stats_ of LocalRobustScaler('mad'),
        // LocalStandardScaler and LocalMinMaxScaler: [1, 2, 10, 20] -> (6, 4.5), (8.25, 7.62807315), (1, 19);
        // [1, 2, 2, 2, 9] -> robust (2, 0), a zero MAD dividing by 1; [3, 3, 3, 3] -> (3, 0) for each.
        let local = |kind, v: &[f64]| Scale::local(kind, v, Isa::Scalar, &mut Vec::new());
        assert_eq!(local(ScalerType::Robust, &[1.0, 2.0, 10.0, 20.0]), Scale { shift: 6.0, scale: 4.5 });
        let standard = local(ScalerType::Standard, &[1.0, 2.0, 10.0, 20.0]);
        assert!((standard.shift - 8.25).abs() < 1e-12 && (standard.scale - 7.62807315).abs() < 1e-8, "{standard:?}");
        assert_eq!(local(ScalerType::MinMax, &[1.0, 2.0, 10.0, 20.0]), Scale { shift: 1.0, scale: 19.0 });
        assert_eq!(local(ScalerType::Robust, &[1.0, 2.0, 2.0, 2.0, 9.0]), Scale { shift: 2.0, scale: 1.0 });
        for kind in [ScalerType::Robust, ScalerType::Standard, ScalerType::MinMax] {
            assert_eq!(local(kind, &[3.0; 4]), Scale { shift: 3.0, scale: 1.0 });
        }
    }

    #[test]
    fn statistics_follow_neuralforecast() {
        let x = [1.0, 2.0, 3.0, 4.0, 100.0];
        let s = of(ScalerType::Standard, &x);
        assert_eq!(s.shift, 22.0);
        assert!((s.scale - (1522f64.sqrt() + EPS)).abs() < 1e-9); // squared deviations 441+400+361+324+6084 over 5
        let r = of(ScalerType::Robust, &x);
        assert_eq!(r.shift, 3.0);
        assert_eq!(r.scale, 1.0 + EPS); // |x - 3| = 2,1,0,1,97 → median 1
        let m = of(ScalerType::MinMax, &x);
        assert_eq!((m.shift, m.scale), (1.0, 99.0 + EPS));
        assert_eq!(of(ScalerType::Identity, &x), Scale::IDENTITY);
    }

    #[test]
    fn robust_scaler_without_spread_around_the_median_falls_back_to_the_standard_deviation() {
        // |x - 0| = 0,0,0,4,8 → MAD 0; NeuralForecast: std (population) · 0.6744897501960817 + eps.
        let x = [0.0, 0.0, 0.0, 4.0, 8.0];
        let r = of(ScalerType::Robust, &x);
        let std = (((0.0f64 - 2.4).powi(2) * 3.0 + (4.0f64 - 2.4).powi(2) + (8.0f64 - 2.4).powi(2)) / 5.0).sqrt();
        assert_eq!(r.shift, 0.0);
        assert!((r.scale - (std * 0.6744897501960817 + EPS)).abs() < 1e-12, "{r:?}");
        assert!((r.scale - 2.158368200627461).abs() < 1e-12, "{r:?}"); // std 3.2 · 0.6744897501960817 + 1e-6
        // A constant: MAD and std are 0, so the scale is 1 + eps.
        assert_eq!(of(ScalerType::Robust, &[3.0, 3.0, 3.0]), Scale { shift: 3.0, scale: 1.0 + EPS });
        // A single value: the same.
        assert_eq!(of(ScalerType::Robust, &[-2.5]), Scale { shift: -2.5, scale: 1.0 + EPS });
    }

    #[test]
    fn standard_and_minmax_scalers_of_constants_use_one_plus_eps() {
        assert_eq!(of(ScalerType::Standard, &[4.0; 6]), Scale { shift: 4.0, scale: 1.0 + EPS });
        assert_eq!(of(ScalerType::MinMax, &[4.0; 6]), Scale { shift: 4.0, scale: 1.0 + EPS });
        // The lower middle value of an even count is the median, as torch's `nanmedian`.
        assert_eq!(of(ScalerType::Robust, &[1.0, 2.0, 10.0, 20.0]).shift, 2.0);
    }

    #[test]
    fn minmax1_maps_the_range_to_minus_one_one() {
        // NeuralForecast's minmax1: [1, 2, 10, 20] -> 2 (x - 1) / (19 + eps) - 1, from -1 to 1 - 2 eps / 19.
        let m1 = of(ScalerType::MinMax1, &[1.0, 2.0, 10.0, 20.0]);
        assert_eq!(m1, Scale { shift: 1.0 + (19.0 + EPS) / 2.0, scale: (19.0 + EPS) / 2.0 });
        assert_eq!(m1.apply(1.0), -1.0);
        assert!((m1.apply(20.0) - 1.0).abs() < 1e-6 && (m1.invert(m1.apply(10.0)) - 10.0).abs() < 1e-12);
        assert_eq!(of(ScalerType::MinMax1, &[4.0; 3]), Scale { shift: 4.0 + (1.0 + EPS) / 2.0, scale: (1.0 + EPS) / 2.0 });
    }

    #[test]
    fn constant_and_empty_inputs_do_not_divide_by_zero() {
        let s = of(ScalerType::Standard, &[5.0, 5.0]);
        assert_eq!(s.apply(5.0), 0.0);
        assert_eq!(of(ScalerType::MinMax, &[]), Scale::IDENTITY);
        let x = 7.25;
        assert!((s.invert(s.apply(x)) - x).abs() < 1e-12);
    }
}

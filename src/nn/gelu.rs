//! The exact (erf) GELU of `torch.nn.functional.gelu`: `gelu(x) = x Φ(x)`, `Φ` the standard normal CDF, and
//! its derivative `Φ(x) + x φ(x)`. `Φ` is computed from erfc by Abramowitz & Stegun 7.1.26 (absolute error
//! below 1.5e-7, f32 rounding level), in the form that keeps the negative tail accurate instead of cancelling
//! `1 + erf` as torch does; both share the one `exp(-x²/2)`.

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 π).
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// `(Φ(x), φ(x))`.
fn normal_cdf_and_density(x: f32) -> (f32, f32) {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152, 1.061_405_4];
    let z = x.abs() * FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + P * z);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let gauss = (-z * z).exp();
    // erfc(z) = poly e^{-z²}; Φ(x) = erfc(-x/√2) / 2.
    let half_erfc = 0.5 * poly * gauss;
    let cdf = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    (cdf, FRAC_1_SQRT_2PI * gauss)
}

pub fn gelu(x: f32) -> f32 {
    x * normal_cdf_and_density(x).0
}

/// d gelu(x) / dx.
pub fn gelu_grad(x: f32) -> f32 {
    let (cdf, density) = normal_cdf_and_density(x);
    cdf + x * density
}

/// `output = gelu(input)`, element-wise (the input is what the backward pass needs).
pub fn gelu_forward(input: &[f32], output: &mut [f32]) {
    output.iter_mut().zip(input).for_each(|(y, &x)| *y = gelu(x));
}

/// `grad *= gelu'(input)`, element-wise.
pub fn gelu_backward_in_place(grad: &mut [f32], input: &[f32]) {
    grad.iter_mut().zip(input).for_each(|(g, &x)| *g *= gelu_grad(x));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Maclaurin series in f64 (converges quickly for |x| <= 3).
    fn erf_series(x: f64) -> f64 {
        let (mut term, mut sum) = (x, x);
        for n in 1..80 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn matches_the_erf_definition() {
        for i in -40..=40 {
            let x = i as f64 * 0.1;
            let exact = 0.5 * x * (1.0 + erf_series(x / std::f64::consts::SQRT_2));
            let got = gelu(x as f32) as f64;
            assert!((got - exact).abs() < 3e-7 * (1.0 + x.abs()), "gelu({x}) = {got} vs {exact}");
        }
        assert_eq!(gelu(0.0), 0.0);
        assert_eq!(gelu(-30.0), 0.0);
        assert_eq!(gelu(30.0), 30.0);
    }

    #[test]
    fn derivative_matches_central_differences() {
        for x in [-6.0f32, -2.5, -0.7, -0.01, 0.0, 0.3, 1.0, 2.2, 5.0] {
            let eps = 1e-3f64;
            let numeric = (gelu((x as f64 + eps) as f32) as f64 - gelu((x as f64 - eps) as f32) as f64) / (2.0 * eps);
            assert!((gelu_grad(x) as f64 - numeric).abs() < 2e-4, "gelu'({x}) = {} vs {numeric}", gelu_grad(x));
        }
        let mut grad = [2.0, 2.0];
        gelu_backward_in_place(&mut grad, &[0.0, 100.0]);
        assert_eq!(grad, [1.0, 2.0]);
    }
}

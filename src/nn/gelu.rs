//! The exact (erf) GELU of `torch.nn.functional.gelu`: `gelu(x) = x Φ(x)`, `Φ` the standard normal CDF, and
//! its derivative `Φ(x) + x φ(x)`. `Φ` is computed from erfc by Abramowitz & Stegun 7.1.26 (absolute error
//! below 1.5e-7, f32 rounding level), in the form that keeps the negative tail accurate instead of cancelling
//! `1 + erf` as torch does; both share the one `exp(-x²/2)`. The slice functions run 8 lanes at a time on the
//! AVX2 path (with `simd::f32s`' vector exp), tails included, so every element takes the same arithmetic.

use crate::simd::{thread_isa, Isa};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 π).
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
/// A&S 7.1.26: `erfc(z) = t (A0 + t (A1 + ...)) e^{-z²}`, `t = 1 / (1 + P z)`, for `z >= 0`.
const P: f32 = 0.327_591_1;
const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152, 1.061_405_4];

/// `(Φ(x), φ(x))`.
fn normal_cdf_and_density(x: f32) -> (f32, f32) {
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
    assert_eq!(input.len(), output.len(), "gelu_forward: lengths differ");
    match thread_isa() {
        // SAFETY: `thread_isa` returns Avx2 or above only after avx2 and fma were detected; the lengths are equal.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { avx2::forward(input, output) },
        _ => output.iter_mut().zip(input).for_each(|(y, &x)| *y = gelu(x)),
    }
}

/// `grad *= gelu'(input)`, element-wise.
pub fn gelu_backward_in_place(grad: &mut [f32], input: &[f32]) {
    assert_eq!(input.len(), grad.len(), "gelu_backward_in_place: lengths differ");
    match thread_isa() {
        // SAFETY: as in `gelu_forward`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { avx2::backward(grad, input) },
        _ => grad.iter_mut().zip(input).for_each(|(g, &x)| *g *= gelu_grad(x)),
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{A, FRAC_1_SQRT_2, FRAC_1_SQRT_2PI, P};
    use crate::simd::f32s::{exp, tail_mask};

    /// `(Φ(x), e^{-x²/2})` of 8 lanes, as the scalar `normal_cdf_and_density`.
    #[inline(always)]
    unsafe fn cdf_and_gauss(x: __m256) -> (__m256, __m256) {
        let one = _mm256_set1_ps(1.0);
        let z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0), x), _mm256_set1_ps(FRAC_1_SQRT_2));
        let t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(P), z, one));
        let mut poly = _mm256_set1_ps(A[4]);
        for a in [A[3], A[2], A[1], A[0]] {
            poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(a));
        }
        poly = _mm256_mul_ps(poly, t);
        let gauss = exp(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(z, z)));
        let half_erfc = _mm256_mul_ps(_mm256_set1_ps(0.5), _mm256_mul_ps(poly, gauss));
        let non_negative = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_setzero_ps());
        (_mm256_blendv_ps(half_erfc, _mm256_sub_ps(one, half_erfc), non_negative), gauss)
    }

    /// Blocks of 8 elements of `0..len` as `(offset, mask)`, the last one masked.
    #[inline(always)]
    unsafe fn blocks(len: usize) -> impl Iterator<Item = (usize, __m256i)> {
        let full = len / 8 * 8;
        let (all, tail) = (tail_mask(8), tail_mask(len - full));
        (0..len.div_ceil(8)).map(move |b| (8 * b, if 8 * b < full { all } else { tail }))
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn forward(input: &[f32], output: &mut [f32]) {
        let (x_ptr, y_ptr) = (input.as_ptr(), output.as_mut_ptr());
        for (i, mask) in blocks(input.len()) {
            let x = _mm256_maskload_ps(x_ptr.add(i), mask);
            _mm256_maskstore_ps(y_ptr.add(i), mask, _mm256_mul_ps(x, cdf_and_gauss(x).0));
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn backward(grad: &mut [f32], input: &[f32]) {
        let (x_ptr, g_ptr) = (input.as_ptr(), grad.as_mut_ptr());
        for (i, mask) in blocks(input.len()) {
            let x = _mm256_maskload_ps(x_ptr.add(i), mask);
            let (cdf, gauss) = cdf_and_gauss(x);
            let derivative = _mm256_fmadd_ps(x, _mm256_mul_ps(_mm256_set1_ps(FRAC_1_SQRT_2PI), gauss), cdf);
            let g = _mm256_maskload_ps(g_ptr.add(i), mask);
            _mm256_maskstore_ps(g_ptr.add(i), mask, _mm256_mul_ps(g, derivative));
        }
    }
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
    fn the_vector_path_matches_the_scalar_one() {
        let input: Vec<f32> = (-61..=61).map(|i| i as f32 * 0.11).collect();
        let run = |simd| {
            let _path = crate::simd::scoped_simd(simd);
            let mut out = vec![0.0; input.len()];
            gelu_forward(&input, &mut out);
            let mut grad = vec![1.5; input.len()];
            gelu_backward_in_place(&mut grad, &input);
            (out, grad)
        };
        let ((out, grad), (scalar_out, scalar_grad)) = (run(true), run(false));
        assert!(out.iter().zip(&scalar_out).all(|(a, b)| (a - b).abs() < 1e-6));
        assert!(grad.iter().zip(&scalar_grad).all(|(a, b)| (a - b).abs() < 1e-6));
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

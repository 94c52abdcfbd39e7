//! torch's `ELU` (alpha 1): `x` above 0, `expm1(x)` at and below. The vector path (AVX2 or AVX-512F) runs whole
//! vectors, the last one masked, so every element takes the same arithmetic whatever its position: a window's
//! values are the same alone or in a batch. Its `expm1` splits `x = n ln2 + r` (`|r| <= ln2 / 2`) as `simd::f32s`'
//! `exp` does and returns `2^n expm1(r) + (2^n - 1)`, `expm1(r)` from its Taylor series to `r^8`: no cancellation
//! near 0, where `exp(x) - 1` would lose the low bits, and no branch.

use crate::simd::{thread_isa, Isa};

/// ELU of one value (the scalar path's).
pub fn elu(x: f32) -> f32 {
    if x > 0.0 { x } else { x.exp_m1() }
}

/// `values = elu(values)`, element-wise.
pub fn elu_in_place(values: &mut [f32]) {
    match thread_isa() {
        // SAFETY: `thread_isa` returns Avx2 or above only after avx2 and fma were detected.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { vector::elu_in_place(values) },
        _ => values.iter_mut().for_each(|v| *v = elu(*v)),
    }
}

#[cfg(target_arch = "x86_64")]
mod vector {
    use crate::simd::f32s::{F32s, Lanes};

    crate::simd::f32s::widest!(pub unsafe fn elu_in_place(values: &mut [f32]) = elu_lanes);

    /// Caller: the width's instructions enabled.
    #[inline(always)]
    unsafe fn elu_lanes<V: F32s>(values: &mut [f32]) {
        let (len, p) = (values.len(), values.as_mut_ptr());
        for j in (0..len).step_by(V::LANES) {
            let l = Lanes::<V>::new(len, j);
            l.store(p.add(j), elu(l.load(p.add(j))));
        }
    }

    /// `max(x, 0) + expm1(min(x, 0))`: above 0, `expm1(0)` is exactly 0 and the sum exactly `x`.
    #[inline(always)]
    unsafe fn elu<V: F32s>(x: V) -> V {
        let zero = V::splat(0.0);
        // Below -87.3, expm1 is -1 in f32; the clamp keeps 2^n normal.
        let t = x.min(zero).max(V::splat(-87.3));
        let n = t.mul(V::splat(std::f32::consts::LOG2_E)).round();
        let r = n.neg_mul_add(V::splat(0.693_359_375), t);
        let r = n.neg_mul_add(V::splat(-2.121_944_4e-4), r);
        // expm1(r) = r + r^2 (1/2! + r (1/3! + ... + r / 8!)).
        let mut q = V::splat(1.0 / 40_320.0);
        for c in [1.0 / 5_040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5] {
            q = q.mul_add(r, V::splat(c));
        }
        let expm1_r = r.mul(r).mul_add(q, r);
        let scale = n.exp2_integral();
        x.max(zero).add(scale.mul_add(expm1_r, scale.sub(V::splat(1.0))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_path_matches_expm1() {
        let input: Vec<f32> = (-4000..=400)
            .map(|i| i as f32 * 0.0237)
            .chain([-1e-7, -1e-20, -0.0, 0.0, 1e-30, -87.0, -88.0, -200.0, f32::MIN, f32::MAX, 3.5e-4, -3.5e-4])
            .collect();
        let run = |simd| {
            let _path = crate::simd::scoped_simd(simd);
            let mut out = input.clone();
            elu_in_place(&mut out);
            out
        };
        let (vector, scalar) = (run(true), run(false));
        for ((&x, &v), &s) in input.iter().zip(&vector).zip(&scalar) {
            let exact = if x > 0.0 { x as f64 } else { (x as f64).exp_m1() };
            assert!((v as f64 - exact).abs() <= 2.5e-7 * exact.abs().max(1e-30), "elu({x}) = {v} vs {exact}");
            assert!((s as f64 - exact).abs() <= 2.5e-7 * exact.abs().max(1e-30), "scalar elu({x}) = {s} vs {exact}");
            if x > 0.0 {
                assert_eq!(v, x);
            }
        }
        // Every position of a vector, the masked tail included, gives the same bits.
        let one = |x: f32| {
            let mut v = [x];
            elu_in_place(&mut v);
            v[0]
        };
        assert!(input.iter().zip(&vector).all(|(&x, &v)| one(x).to_bits() == v.to_bits()));
    }
}

//! Element-wise arithmetic: add, mul, scale, axpy. Memory-bound streaming loops.

use super::{check_len, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec};

/// out[i] = f(a[i], b[i]) vector by vector; the final partial vector is padded and stored
/// partially. Callers guarantee equal lengths.
#[inline(always)]
pub(super) fn zip_map<V: SimdVec>(
    a: &[V::Elem],
    b: &[V::Elem],
    out: &mut [V::Elem],
    f: impl Fn(V, V) -> V,
) {
    let l = V::LANES;
    let (mut ca, mut cb, mut co) = (a.chunks_exact(l), b.chunks_exact(l), out.chunks_exact_mut(l));
    for ((x, y), o) in (&mut ca).zip(&mut cb).zip(&mut co) {
        f(V::load(x), V::load(y)).store(o);
    }
    let (ra, rb, ro) = (ca.remainder(), cb.remainder(), co.into_remainder());
    if !ro.is_empty() {
        let z = V::Elem::ZERO;
        f(V::load_partial(ra, z), V::load_partial(rb, z)).store_partial(ro);
    }
}

#[inline(always)]
fn add_body<V: SimdVec>(a: &[V::Elem], b: &[V::Elem], out: &mut [V::Elem]) {
    zip_map(a, b, out, V::add);
}

#[inline(always)]
fn mul_body<V: SimdVec>(a: &[V::Elem], b: &[V::Elem], out: &mut [V::Elem]) {
    zip_map(a, b, out, V::mul);
}

#[inline(always)]
fn scale_body<V: SimdVec>(x: &[V::Elem], s: V::Elem, out: &mut [V::Elem]) {
    let s = V::splat(s);
    zip_map(x, x, out, |v: V, _| v.mul(s));
}

/// y ← alpha·x + y, in place.
#[inline(always)]
pub(super) fn axpy_body<V: SimdVec>(alpha: V::Elem, x: &[V::Elem], y: &mut [V::Elem]) {
    let (a, l) = (V::splat(alpha), V::LANES);
    let (mut cx, mut cy) = (x.chunks_exact(l), y.chunks_exact_mut(l));
    for (u, v) in (&mut cx).zip(&mut cy) {
        V::load(u).mul_add(a, V::load(v)).store(v);
    }
    let (rx, ry) = (cx.remainder(), cy.into_remainder());
    if !ry.is_empty() {
        let z = V::Elem::ZERO;
        V::load_partial(rx, z).mul_add(a, V::load_partial(ry, z)).store_partial(ry);
    }
}

simd_dispatch!(fn add_dispatch(a: &[T], b: &[T], out: &mut [T]) = add_body | scalar::add;);
simd_dispatch!(fn mul_dispatch(a: &[T], b: &[T], out: &mut [T]) = mul_body | scalar::mul;);
simd_dispatch!(fn scale_dispatch(x: &[T], s: T, out: &mut [T]) = scale_body | scalar::scale;);
simd_dispatch!(fn axpy_dispatch(alpha: T, x: &[T], y: &mut [T]) = axpy_body | scalar::axpy;);

/// Plain-loop reference twins.
mod scalar {
    use crate::simd::Float;

    pub fn add<T: Float>(a: &[T], b: &[T], out: &mut [T]) {
        for ((o, &u), &v) in out.iter_mut().zip(a).zip(b) {
            *o = u + v;
        }
    }

    pub fn mul<T: Float>(a: &[T], b: &[T], out: &mut [T]) {
        for ((o, &u), &v) in out.iter_mut().zip(a).zip(b) {
            *o = u * v;
        }
    }

    pub fn scale<T: Float>(x: &[T], s: T, out: &mut [T]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v * s;
        }
    }

    pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o += alpha * v;
        }
    }
}

/// Runs `dispatch`, an element-wise map of `a` and `b` into `out`, once the three lengths agree.
fn zip_with<T: Float>(
    isa: Isa,
    a: &[T],
    b: &[T],
    out: &mut [T],
    dispatch: fn(Isa, &[T], &[T], &mut [T]),
) -> Result<(), KernelError> {
    check_len("b", a.len(), b.len())?;
    check_len("out", a.len(), out.len())?;
    dispatch(isa, a, b, out);
    Ok(())
}

/// out = a + b. Errors unless all three lengths agree.
pub fn add<T: Float>(a: &[T], b: &[T], out: &mut [T]) -> Result<(), KernelError> {
    add_with(active(), a, b, out)
}

/// [`add`] at a chosen instruction-set level.
pub fn add_with<T: Float>(isa: Isa, a: &[T], b: &[T], out: &mut [T]) -> Result<(), KernelError> {
    zip_with(isa, a, b, out, add_dispatch::<T>)
}

/// out = a · b element-wise. Errors unless all three lengths agree.
pub fn mul<T: Float>(a: &[T], b: &[T], out: &mut [T]) -> Result<(), KernelError> {
    mul_with(active(), a, b, out)
}

/// [`mul`] at a chosen instruction-set level.
pub fn mul_with<T: Float>(isa: Isa, a: &[T], b: &[T], out: &mut [T]) -> Result<(), KernelError> {
    zip_with(isa, a, b, out, mul_dispatch::<T>)
}

/// out = x · s. Errors unless the lengths agree.
pub fn scale<T: Float>(x: &[T], s: T, out: &mut [T]) -> Result<(), KernelError> {
    scale_with(active(), x, s, out)
}

/// [`scale`] at a chosen instruction-set level.
pub fn scale_with<T: Float>(isa: Isa, x: &[T], s: T, out: &mut [T]) -> Result<(), KernelError> {
    check_len("out", x.len(), out.len())?;
    scale_dispatch(isa, x, s, out);
    Ok(())
}

/// y ← alpha·x + y (fused multiply-add where available). Errors unless the lengths agree.
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) -> Result<(), KernelError> {
    axpy_with(active(), alpha, x, y)
}

/// [`axpy`] at a chosen instruction-set level.
pub fn axpy_with<T: Float>(isa: Isa, alpha: T, x: &[T], y: &mut [T]) -> Result<(), KernelError> {
    check_len("y", x.len(), y.len())?;
    axpy_dispatch(isa, alpha, x, y);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;

    fn check_all<T: Float>(a: &[T]) {
        let b: Vec<T> = a.iter().rev().map(|&v| v - T::from_f64(0.25)).collect();
        let n = a.len();
        let scale_ab = max_abs(a) * max_abs(&b) + max_abs(a) + max_abs(&b);
        let alpha = T::from_f64(-1.5);
        let mut want = vec![T::ZERO; n];
        let mut got = vec![T::ZERO; n];
        for isa in simd_isas() {
            let what = isa.name();
            add_with(Isa::Scalar, a, &b, &mut want).unwrap();
            add_with(isa, a, &b, &mut got).unwrap();
            assert_eq!(got, want, "add {what}");
            mul_with(Isa::Scalar, a, &b, &mut want).unwrap();
            mul_with(isa, a, &b, &mut got).unwrap();
            assert_eq!(got, want, "mul {what}");
            scale_with(Isa::Scalar, a, alpha, &mut want).unwrap();
            scale_with(isa, a, alpha, &mut got).unwrap();
            assert_eq!(got, want, "scale {what}");
            want.copy_from_slice(&b);
            got.copy_from_slice(&b);
            axpy_with(Isa::Scalar, alpha, a, &mut want).unwrap();
            axpy_with(isa, alpha, a, &mut got).unwrap();
            assert_all_close(&got, &want, scale_ab, what);
        }
    }

    proptest_f64_f32!(elementwise_simd_matches_scalar_f64, elementwise_simd_matches_scalar_f32, check_all);

    #[test]
    fn elementwise_nan_policy_and_errors() {
        let a = [1.0, f64::NAN, 3.0, 4.0, 5.0];
        let b = [1.0; 5];
        let mut out = [0.0; 5];
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            add_with(isa, &a, &b, &mut out).unwrap();
            assert!(out[1].is_nan() && out.iter().filter(|v| v.is_nan()).count() == 1);
        }
        let err = add(&a, &b[..4], &mut out).unwrap_err();
        assert_eq!(err, KernelError::LengthMismatch { arg: "b", expected: 5, got: 4 });
        assert!(mul(&a, &b, &mut out[..3]).is_err());
        assert!(scale(&a, 2.0, &mut out[..3]).is_err());
        assert!(axpy(2.0, &a, &mut out[..3]).is_err());
        let mut y = [1.0f64, 2.0];
        axpy(2.0, &[3.0, 4.0], &mut y).unwrap();
        assert_eq!(y, [7.0, 10.0]);
    }
}

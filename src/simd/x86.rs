//! AVX2+FMA and AVX-512F vector types over `core::arch` intrinsics.
//!
//! Soundness: the methods are safe functions that execute AVX2/FMA or AVX-512F instructions.
//! Their only constructors are methods of the crate-private `SimdVec` trait, and the only
//! code that names them is `simd_dispatch!`, which instantiates them inside
//! `#[target_feature]` functions entered after run-time detection of the matching features.

use super::vector::SimdVec;
use core::arch::x86_64::*;

macro_rules! x86_vec {
    (
        $(#[$meta:meta])* $name:ident($raw:ty, $e:ty, $lanes:expr) {
            loadu: $loadu:ident, storeu: $storeu:ident, set1: $set1:ident,
            add: $add:ident, sub: $sub:ident, mul: $mul:ident, div: $div:ident,
            fmadd: $fmadd:ident, min: $min:ident, max: $max:ident, sqrt: $sqrt:ident,
            nan_to: $nan_to:ident,
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub struct $name($raw);

        impl SimdVec for $name {
            type Elem = $e;
            const LANES: usize = $lanes;

            #[inline(always)]
            fn splat(v: $e) -> Self {
                // SAFETY (all methods): see the module doc; the feature is enabled in the caller.
                unsafe { Self($set1(v)) }
            }
            #[inline(always)]
            fn load(s: &[$e]) -> Self {
                let s = &s[..$lanes];
                // SAFETY: `s` holds exactly LANES elements; the load is unaligned.
                unsafe { Self($loadu(s.as_ptr())) }
            }
            #[inline(always)]
            fn store(self, out: &mut [$e]) {
                let out = &mut out[..$lanes];
                // SAFETY: `out` holds exactly LANES elements; the store is unaligned.
                unsafe { $storeu(out.as_mut_ptr(), self.0) }
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                unsafe { Self($add(self.0, o.0)) }
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                unsafe { Self($sub(self.0, o.0)) }
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                unsafe { Self($mul(self.0, o.0)) }
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                unsafe { Self($div(self.0, o.0)) }
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                unsafe { Self($fmadd(self.0, a.0, b.0)) }
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                // x86 min returns its second operand when either is NaN, so only a NaN in
                // `self` needs patching in.
                unsafe { Self($nan_to($min(self.0, o.0), self.0)) }
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                unsafe { Self($nan_to($max(self.0, o.0), self.0)) }
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                unsafe { Self($sqrt(self.0)) }
            }
        }
    };
}

/// Lanes of `r`, except where `a` is NaN, which take `a`.
#[inline(always)]
unsafe fn nan_to_256d(r: __m256d, a: __m256d) -> __m256d {
    _mm256_blendv_pd(r, a, _mm256_cmp_pd::<_CMP_UNORD_Q>(a, a))
}
#[inline(always)]
unsafe fn nan_to_256(r: __m256, a: __m256) -> __m256 {
    _mm256_blendv_ps(r, a, _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a))
}
#[inline(always)]
unsafe fn nan_to_512d(r: __m512d, a: __m512d) -> __m512d {
    _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(a, a), a)
}
#[inline(always)]
unsafe fn nan_to_512(r: __m512, a: __m512) -> __m512 {
    _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a), a)
}

x86_vec! {
    /// 4 × f64 in a ymm register (AVX2 + FMA).
    Avx2F64(__m256d, f64, 4) {
        loadu: _mm256_loadu_pd, storeu: _mm256_storeu_pd, set1: _mm256_set1_pd,
        add: _mm256_add_pd, sub: _mm256_sub_pd, mul: _mm256_mul_pd, div: _mm256_div_pd,
        fmadd: _mm256_fmadd_pd, min: _mm256_min_pd, max: _mm256_max_pd, sqrt: _mm256_sqrt_pd,
        nan_to: nan_to_256d,
    }
}
x86_vec! {
    /// 8 × f32 in a ymm register (AVX2 + FMA).
    Avx2F32(__m256, f32, 8) {
        loadu: _mm256_loadu_ps, storeu: _mm256_storeu_ps, set1: _mm256_set1_ps,
        add: _mm256_add_ps, sub: _mm256_sub_ps, mul: _mm256_mul_ps, div: _mm256_div_ps,
        fmadd: _mm256_fmadd_ps, min: _mm256_min_ps, max: _mm256_max_ps, sqrt: _mm256_sqrt_ps,
        nan_to: nan_to_256,
    }
}
x86_vec! {
    /// 8 × f64 in a zmm register (AVX-512F).
    Avx512F64(__m512d, f64, 8) {
        loadu: _mm512_loadu_pd, storeu: _mm512_storeu_pd, set1: _mm512_set1_pd,
        add: _mm512_add_pd, sub: _mm512_sub_pd, mul: _mm512_mul_pd, div: _mm512_div_pd,
        fmadd: _mm512_fmadd_pd, min: _mm512_min_pd, max: _mm512_max_pd, sqrt: _mm512_sqrt_pd,
        nan_to: nan_to_512d,
    }
}
x86_vec! {
    /// 16 × f32 in a zmm register (AVX-512F).
    Avx512F32(__m512, f32, 16) {
        loadu: _mm512_loadu_ps, storeu: _mm512_storeu_ps, set1: _mm512_set1_ps,
        add: _mm512_add_ps, sub: _mm512_sub_ps, mul: _mm512_mul_ps, div: _mm512_div_ps,
        fmadd: _mm512_fmadd_ps, min: _mm512_min_ps, max: _mm512_max_ps, sqrt: _mm512_sqrt_ps,
        nan_to: nan_to_512,
    }
}

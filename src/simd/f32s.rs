//! The f32 lanes of the hand-written `nn` kernels (the gate activations, the recurrent cells' steps, softmax,
//! GELU): 256-bit AVX2+FMA and 512-bit AVX-512F registers behind one trait, [`F32s`], with tail masks, and the
//! vector exp, sigmoid and tanh written once over it. Kernels are instantiated inside `#[target_feature]`
//! functions ([`widest!`]) entered only after run-time detection. Both widths run the same operations lane by
//! lane, so they give the same bits.
//!
//! Every method is `unsafe`: the caller's `#[target_feature]` context must enable the width's instructions, and
//! pointers must cover the lanes read or written.

use std::arch::x86_64::*;

/// A vector of f32 lanes and its tail mask.
pub(crate) trait F32s: Copy {
    const LANES: usize;
    type Mask: Copy;
    /// The first `len` (<= LANES) lanes.
    unsafe fn mask(len: usize) -> Self::Mask;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn load_masked(p: *const f32, mask: Self::Mask) -> Self;
    unsafe fn store_masked(self, p: *mut f32, mask: Self::Mask);
    unsafe fn splat(v: f32) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    unsafe fn div(self, o: Self) -> Self;
    unsafe fn min(self, o: Self) -> Self;
    unsafe fn max(self, o: Self) -> Self;
    /// `self * a + b`, fused.
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
    /// `b - self * a`, fused.
    unsafe fn neg_mul_add(self, a: Self, b: Self) -> Self;
    /// `self * a - b`, fused.
    unsafe fn mul_sub(self, a: Self, b: Self) -> Self;
    /// Rounded to the nearest integer, ties to even.
    unsafe fn round(self) -> Self;
    /// `2^self` for integral lanes in the normal exponent range.
    unsafe fn exp2_integral(self) -> Self;
}

macro_rules! f32s {
    ($raw:ty, $lanes:expr, $mask:ty, mask: |$len:ident| $make_mask:expr, loadu: $loadu:ident, storeu: $storeu:ident,
     maskload: |$mp:ident, $mm:ident| $maskload:expr, maskstore: |$sp:ident, $sm:ident, $sv:ident| $maskstore:expr,
     set1: $set1:ident, binary: [$($binary:ident: $binary_op:ident),*], fused: [$($fused:ident: $fused_op:ident),*],
     round: |$rx:ident| $round:expr, exp2: |$ex:ident| $exp2:expr) => {
        impl F32s for $raw {
            const LANES: usize = $lanes;
            type Mask = $mask;
            #[inline(always)]
            unsafe fn mask($len: usize) -> $mask {
                $make_mask
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                $loadu(p)
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut f32) {
                $storeu(p, self)
            }
            #[inline(always)]
            unsafe fn load_masked($mp: *const f32, $mm: $mask) -> Self {
                $maskload
            }
            #[inline(always)]
            unsafe fn store_masked(self, $sp: *mut f32, $sm: $mask) {
                let $sv = self;
                $maskstore
            }
            #[inline(always)]
            unsafe fn splat(v: f32) -> Self {
                $set1(v)
            }
            $(
                #[inline(always)]
                unsafe fn $binary(self, o: Self) -> Self {
                    $binary_op(self, o)
                }
            )*
            $(
                #[inline(always)]
                unsafe fn $fused(self, a: Self, b: Self) -> Self {
                    $fused_op(self, a, b)
                }
            )*
            #[inline(always)]
            unsafe fn round(self) -> Self {
                let $rx = self;
                $round
            }
            #[inline(always)]
            unsafe fn exp2_integral(self) -> Self {
                let $ex = self;
                $exp2
            }
        }
    };
}

f32s!(__m256, 8, __m256i,
    mask: |len| {
        const IDX: [i32; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
        _mm256_cmpgt_epi32(_mm256_set1_epi32(len as i32), _mm256_loadu_si256(IDX.as_ptr() as *const __m256i))
    },
    loadu: _mm256_loadu_ps, storeu: _mm256_storeu_ps,
    maskload: |p, m| _mm256_maskload_ps(p, m), maskstore: |p, m, v| _mm256_maskstore_ps(p, m, v),
    set1: _mm256_set1_ps,
    binary: [add: _mm256_add_ps, sub: _mm256_sub_ps, mul: _mm256_mul_ps, div: _mm256_div_ps, min: _mm256_min_ps, max: _mm256_max_ps],
    fused: [mul_add: _mm256_fmadd_ps, neg_mul_add: _mm256_fnmadd_ps, mul_sub: _mm256_fmsub_ps],
    round: |x| _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x),
    exp2: |n| _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127))))
);

f32s!(__m512, 16, __mmask16,
    mask: |len| ((1u32 << len) - 1) as __mmask16,
    loadu: _mm512_loadu_ps, storeu: _mm512_storeu_ps,
    maskload: |p, m| _mm512_maskz_loadu_ps(m, p), maskstore: |p, m, v| _mm512_mask_storeu_ps(p, m, v),
    set1: _mm512_set1_ps,
    binary: [add: _mm512_add_ps, sub: _mm512_sub_ps, mul: _mm512_mul_ps, div: _mm512_div_ps, min: _mm512_min_ps, max: _mm512_max_ps],
    fused: [mul_add: _mm512_fmadd_ps, neg_mul_add: _mm512_fnmadd_ps, mul_sub: _mm512_fmsub_ps],
    round: |x| _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x),
    exp2: |n| _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127))))
);

/// `V::LANES` lanes of a row of `len` values from `j` on; lanes past `len` are masked off.
pub(crate) struct Lanes<V: F32s> {
    mask: V::Mask,
    full: bool,
}

impl<V: F32s> Lanes<V> {
    #[inline(always)]
    pub unsafe fn new(len: usize, j: usize) -> Self {
        let full = j + V::LANES <= len;
        Lanes { mask: V::mask(if full { V::LANES } else { len - j }), full }
    }

    #[inline(always)]
    pub unsafe fn load(&self, p: *const f32) -> V {
        if self.full {
            V::load(p)
        } else {
            V::load_masked(p, self.mask)
        }
    }

    #[inline(always)]
    pub unsafe fn store(&self, p: *mut f32, v: V) {
        if self.full {
            v.store(p)
        } else {
            v.store_masked(p, self.mask)
        }
    }
}

/// 8 lanes of a row (the AVX2 kernels').
pub(crate) type Lanes256 = Lanes<__m256>;

/// Lane mask selecting the first `len` (<= 8) lanes of a 256-bit vector, for maskload/maskstore.
#[inline(always)]
pub(crate) unsafe fn tail_mask(len: usize) -> __m256i {
    <__m256 as F32s>::mask(len)
}

/// e^x, Cephes-style: x = n ln2 + r with |r| <= ln2/2, a degree-7 polynomial in r, times 2^n. The input is
/// clamped to [-87.3, 88], so the result is always finite and normal; the relative error is about 1 ulp.
#[inline(always)]
pub(crate) unsafe fn exp<V: F32s>(x: V) -> V {
    let x = x.max(V::splat(-87.3)).min(V::splat(88.0));
    let n = x.mul(V::splat(std::f32::consts::LOG2_E)).round();
    let r = n.neg_mul_add(V::splat(0.693_359_375), x);
    let r = n.neg_mul_add(V::splat(-2.121_944_4e-4), r);
    let mut p = V::splat(1.987_569_1e-4);
    p = p.mul_add(r, V::splat(1.398_199_9e-3));
    p = p.mul_add(r, V::splat(8.333_452e-3));
    p = p.mul_add(r, V::splat(4.166_579_6e-2));
    p = p.mul_add(r, V::splat(1.666_666_5e-1));
    p = p.mul_add(r, V::splat(5.000_000_1e-1));
    p = p.mul_add(r.mul(r), r.add(V::splat(1.0)));
    p.mul(n.exp2_integral())
}

/// 1 / (1 + e^-x).
#[inline(always)]
pub(crate) unsafe fn sigmoid<V: F32s>(x: V) -> V {
    let one = V::splat(1.0);
    one.div(one.add(exp(V::splat(0.0).sub(x))))
}

/// tanh(x) = 2 sigmoid(2x) - 1, as the scalar `nn::activation::tanh`.
#[inline(always)]
pub(crate) unsafe fn tanh<V: F32s>(x: V) -> V {
    let two = V::splat(2.0);
    two.mul_sub(sigmoid(two.mul(x)), V::splat(1.0))
}

/// Defines `$name(step)` running the generic `$body::<V>` at the best width this CPU has: 512 bits where
/// AVX-512F was detected, else 256 (the caller has checked AVX2 and FMA).
macro_rules! widest {
    ($vis:vis unsafe fn $name:ident($arg:ident: $ty:ty) = $body:ident) => {
        $vis unsafe fn $name($arg: $ty) {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($arg: $ty) {
                $body::<std::arch::x86_64::__m256>($arg)
            }
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512($arg: $ty) {
                $body::<std::arch::x86_64::__m512>($arg)
            }
            if crate::simd::detected() >= crate::simd::Isa::Avx512 {
                avx512($arg)
            } else {
                avx2($arg)
            }
        }
    };
}
pub(crate) use widest;

#[cfg(test)]
mod tests {
    use super::*;

    /// The 512-bit functions give the 256-bit ones' bits, lane for lane, including at the clamps.
    #[test]
    fn both_widths_give_the_same_bits() {
        if crate::simd::detected() < crate::simd::Isa::Avx512 {
            return;
        }
        let xs: Vec<f32> = (0..1600).map(|i| (i as f32 - 800.0) * 0.137).chain([f32::MAX, f32::MIN, 0.0, -0.0, 1e-30]).collect();
        let xs = &xs[..xs.len() / 16 * 16];
        #[target_feature(enable = "avx2,fma")]
        unsafe fn narrow(xs: &[f32]) -> Vec<f32> {
            xs.chunks_exact(8).flat_map(|c| {
                let x = __m256::load(c.as_ptr());
                let mut out = [0.0f32; 24];
                for (k, y) in [exp(x), sigmoid(x), tanh(x)].into_iter().enumerate() {
                    y.store(out[8 * k..].as_mut_ptr());
                }
                out
            }).collect()
        }
        #[target_feature(enable = "avx512f")]
        unsafe fn wide(xs: &[f32]) -> Vec<f32> {
            xs.chunks_exact(16).flat_map(|c| {
                let x = __m512::load(c.as_ptr());
                let mut out = [0.0f32; 48];
                for (k, y) in [exp(x), sigmoid(x), tanh(x)].into_iter().enumerate() {
                    y.store(out[16 * k..].as_mut_ptr());
                }
                // Regrouped as two 8-lane halves, in the order `narrow` produces.
                let mut halves = [0.0f32; 48];
                for half in 0..2 {
                    for k in 0..3 {
                        halves[24 * half + 8 * k..][..8].copy_from_slice(&out[16 * k + 8 * half..][..8]);
                    }
                }
                halves
            }).collect()
        }
        // SAFETY: avx512f detected (and with it avx2 and fma on every CPU that has it).
        let (a, b) = unsafe { (narrow(xs), wide(xs)) };
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn vector_exp_sigmoid_and_tanh_are_accurate() {
        if crate::simd::detected() < crate::simd::Isa::Avx2 {
            return;
        }
        let xs: Vec<f32> = (-2000..=2000)
            .map(|i| i as f32 * 0.05)
            .chain([-1e30, -100.0, -87.0, 88.0, 1e30, 0.0, -0.0, 1e-6])
            .collect();
        for x in xs {
            // SAFETY: avx2 and fma detected.
            let (e, s, t) = unsafe {
                let v = _mm256_set1_ps(x);
                let f = |v: __m256| _mm256_cvtss_f32(v);
                (f(exp(v)), f(sigmoid(v)), f(tanh(v)))
            };
            let x64 = x as f64;
            if (-87.0..=88.0).contains(&x) {
                let exact = x64.exp();
                assert!(
                    ((e as f64 - exact) / exact).abs() < 3e-7,
                    "exp({x}) = {e} vs {exact}"
                );
            }
            let sig = 1.0 / (1.0 + (-x64).exp());
            assert!(
                (s as f64 - sig).abs() < 1e-7 + 3e-7 * sig,
                "sigmoid({x}) = {s} vs {sig}"
            );
            assert!(
                (t as f64 - x64.tanh()).abs() < 2.5e-7,
                "tanh({x}) = {t} vs {}",
                x64.tanh()
            );
            assert!(e.is_finite() && s.is_finite() && t.is_finite());
        }
    }
}

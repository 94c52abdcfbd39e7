//! What the AVX-512F dot products and gradients share: the shape of a layer's product and row loads and stores
//! on 512-bit registers that mask off the lanes past a row's end. Callers must have checked avx512f.

use std::arch::x86_64::*;

use crate::simd::f32s::F32s;

/// Lanes of one vector.
pub(super) const L: usize = 16;

/// `m` rows, `n` outputs, `k` inputs: `x [m, k]`, `w [n, k]`, `y` and `dy [m, n]`.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// Loads lanes `p..p + 16` of a row, those at or beyond `len` as 0 (touching none of them).
#[inline(always)]
pub(super) unsafe fn load(row: *const f32, p: usize, len: usize) -> __m512 {
    if p + L <= len {
        _mm512_loadu_ps(row.add(p))
    } else if p < len {
        _mm512_maskz_loadu_ps(<__m512 as F32s>::mask(len - p), row.add(p))
    } else {
        _mm512_setzero_ps()
    }
}

/// Stores lanes `p..p + 16` of a row, leaving those at or beyond `len` alone.
#[inline(always)]
pub(super) unsafe fn store(row: *mut f32, p: usize, len: usize, value: __m512) {
    if p + L <= len {
        _mm512_storeu_ps(row.add(p), value)
    } else if p < len {
        _mm512_mask_storeu_ps(row.add(p), <__m512 as F32s>::mask(len - p), value)
    }
}

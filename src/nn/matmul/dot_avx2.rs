//! The AVX2+FMA dot products of [`super::dot`]: `w` is read in blocks of 16 rows that stay in L1 while pairs of
//! rows pass over them, each output summed in one vector accumulator over `k` and reduced in a fixed order (groups
//! of 4 columns through `hadd`), so a row gives the same bits alone or among others. Every function here is
//! `unsafe`: callers must have checked avx2 and fma and that the pointers cover the shapes passed.

use std::arch::x86_64::*;

use super::dot::column_blocks;
use crate::simd::f32s::tail_mask;

/// Sum of the 8 lanes, in a fixed order.
#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// Rows of `w` per block of [`matmul_nt_acc`]: 16 rows of 512 inputs (32 KiB) stay in L1 while every row
/// tile passes over them, so `w` is read from memory once per call, not once per row tile.
const NT_COLUMN_BLOCK: usize = 16;

#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul_nt_acc(a: *const f32, m: usize, k: usize, w: *const f32, n: usize, range: std::ops::Range<usize>, c: *mut f32) {
    let full = k / 8 * 8;
    let mask = tail_mask(k - full);
    let d = NtDims { k, n, full, mask };
    // Blocks of a multiple of 4 but the last, so the 4-column groups fall where a single row's do.
    for (j0, columns) in column_blocks(range, NT_COLUMN_BLOCK) {
        let mut i = 0;
        while i + 2 <= m {
            nt_rows::<2>(a.add(i * k), w, j0, columns, c.add(i * n), d);
            i += 2;
        }
        if i < m {
            nt_rows::<1>(a.add(i * k), w, j0, columns, c.add(i * n), d);
        }
    }
}

#[derive(Clone, Copy)]
struct NtDims {
    k: usize,
    n: usize,
    /// `k` rounded down to whole vectors, and the mask of the rest.
    full: usize,
    mask: __m256i,
}

/// `acc[r][q] += a[r, p..p + 8] * w[q, p..p + 8]` lane by lane (the `MASKED` tail reads only the lanes of
/// `d.mask`).
#[inline(always)]
unsafe fn nt_step<const R: usize, const C: usize, const MASKED: bool>(a: *const f32, w: *const f32, p: usize, d: NtDims, acc: &mut [[__m256; C]; R]) {
    let load = |ptr: *const f32| if MASKED { _mm256_maskload_ps(ptr, d.mask) } else { _mm256_loadu_ps(ptr) };
    let mut wv = [_mm256_setzero_ps(); C];
    for (q, v) in wv.iter_mut().enumerate() {
        *v = load(w.add(q * d.k + p));
    }
    for (r, acc) in acc.iter_mut().enumerate() {
        let x = load(a.add(r * d.k + p));
        for (acc, v) in acc.iter_mut().zip(&wv) {
            *acc = _mm256_fmadd_ps(x, *v, *acc);
        }
    }
}

/// Columns `j..j + C` (`C` a multiple of 4) of `R` rows of [`matmul_nt_acc`]: each group of 4 columns summed and
/// reduced exactly as alone.
#[inline(always)]
unsafe fn nt_groups<const R: usize, const C: usize>(a: *const f32, w: *const f32, j: usize, c: *mut f32, d: NtDims) {
    let NtDims { k, n, full, .. } = d;
    let w = w.add(j * k);
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    let mut p = 0;
    while p < full {
        nt_step::<R, C, false>(a, w, p, d, &mut acc);
        p += 8;
    }
    if full < k {
        nt_step::<R, C, true>(a, w, full, d, &mut acc);
    }
    for (r, acc) in acc.iter().enumerate() {
        for (g, acc) in acc.chunks_exact(4).enumerate() {
            // Lanes of acc[q] summed into lane q: hadd pairs, then fold the two 128-bit halves.
            let h01 = _mm256_hadd_ps(acc[0], acc[1]);
            let h23 = _mm256_hadd_ps(acc[2], acc[3]);
            let h = _mm256_hadd_ps(h01, h23);
            let sums = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h));
            let c = c.add(r * n + j + 4 * g);
            _mm_storeu_ps(c, _mm_add_ps(_mm_loadu_ps(c), sums));
        }
    }
}

/// Columns `j0..j0 + columns` of `R` rows of [`matmul_nt_acc`] (rows of `a` and `c` from the given
/// pointers). Every output is summed over `p` in one vector accumulator and reduced as a single row's is
/// (4-column groups from column 0 through `hadd`, the last `n % 4` columns through [`hsum`]), so the row
/// tiles give the bits of one row at a time.
#[inline(always)]
unsafe fn nt_rows<const R: usize>(a: *const f32, w: *const f32, j0: usize, columns: usize, c: *mut f32, d: NtDims) {
    let NtDims { k, n, full, mask } = d;
    let mut j = j0;
    // A single row takes 8 columns (two groups of 4) at a time: 8 accumulator chains keep the FMA
    // units busy while the weight streams in, where 2 rows x 4 columns have 8 too.
    while R == 1 && j + 8 <= j0 + columns {
        nt_groups::<R, 8>(a, w, j, c, d);
        j += 8;
    }
    while j + 4 <= j0 + columns {
        nt_groups::<R, 4>(a, w, j, c, d);
        j += 4;
    }
    while j < j0 + columns {
        let w = w.add(j * k);
        let mut acc = [_mm256_setzero_ps(); R];
        let mut p = 0;
        while p < full {
            let wv = _mm256_loadu_ps(w.add(p));
            for (r, acc) in acc.iter_mut().enumerate() {
                *acc = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(r * k + p)), wv, *acc);
            }
            p += 8;
        }
        if full < k {
            let wv = _mm256_maskload_ps(w.add(full), mask);
            for (r, acc) in acc.iter_mut().enumerate() {
                *acc = _mm256_fmadd_ps(_mm256_maskload_ps(a.add(r * k + full), mask), wv, *acc);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            *c.add(r * n + j) += hsum(*acc);
        }
        j += 1;
    }
}

//! The AVX-512F forward dot products `y = bias + x w^T`, reading the row-major weight `w [out, in]` in place, tiled
//! over rows and columns so that each block of weight rows serves every row from L1 (the twin of
//! [`super::dot_avx2`], with [`super::dot::matmul_nt_acc_columns`] as the scalar reference). Callers must have
//! checked avx512f.

use std::arch::x86_64::*;
use std::ops::Range;

use super::avx512_rows::{load, Dims, L};
use super::dot::column_blocks;

/// `y[r, c] = bias[c] + sum_p x[r, p] w[c, p]` for `R` rows of `x` and `C` rows of `w`.
#[inline(always)]
unsafe fn dot_tile<const R: usize, const C: usize>(x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, d: Dims) {
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    // Whole vectors first, with no tail test in the loop; then the masked tail, if any.
    let whole = d.k / L * L;
    let mut p = 0;
    while p < whole {
        dot_step::<R, C>(x, w, p, d, &mut acc, |row, p| _mm512_loadu_ps(row.add(p)));
        p += L;
    }
    if p < d.k {
        dot_step::<R, C>(x, w, p, d, &mut acc, |row, p| load(row, p, d.k));
    }
    for (r, acc) in acc.iter().enumerate() {
        for (c, a) in acc.iter().enumerate() {
            let b = if bias.is_null() { 0.0 } else { *bias.add(c) };
            *y.add(r * d.n + c) = b + _mm512_reduce_add_ps(*a);
        }
    }
}

/// `acc[r][c] += x[r, p..p + 16] * w[c, p..p + 16]` lane by lane, with lanes read by `load`.
#[inline(always)]
unsafe fn dot_step<const R: usize, const C: usize>(
    x: *const f32,
    w: *const f32,
    p: usize,
    d: Dims,
    acc: &mut [[__m512; C]; R],
    load: impl Fn(*const f32, usize) -> __m512,
) {
    let mut wv = [_mm512_setzero_ps(); C];
    for (c, v) in wv.iter_mut().enumerate() {
        *v = load(w.add(c * d.k), p);
    }
    for (r, acc) in acc.iter_mut().enumerate() {
        let xv = load(x.add(r * d.k), p);
        for (a, v) in acc.iter_mut().zip(&wv) {
            *a = _mm512_fmadd_ps(xv, *v, *a);
        }
    }
}

/// Output columns `0..columns` (weight rows at `w`) of one row tile.
#[inline(always)]
unsafe fn row_tile<const R: usize>(x: *const f32, w: *const f32, columns: usize, bias: *const f32, y: *mut f32, d: Dims) {
    let column_bias = |j: usize| if bias.is_null() { bias } else { bias.add(j) };
    let mut j = 0;
    // A single row takes 8 columns at a time: 8 independent accumulator chains keep both FMA ports busy,
    // where 4 rows x 4 columns have 16.
    while R == 1 && j + 8 <= columns {
        dot_tile::<1, 8>(x, w.add(j * d.k), column_bias(j), y.add(j), d);
        j += 8;
    }
    while j + 4 <= columns {
        dot_tile::<R, 4>(x, w.add(j * d.k), column_bias(j), y.add(j), d);
        j += 4;
    }
    while j < columns {
        dot_tile::<R, 1>(x, w.add(j * d.k), column_bias(j), y.add(j), d);
        j += 1;
    }
}

/// Weight rows per block: 16 rows of 512 (32 KiB) stay in L1 with a row tile of `x` while every row tile
/// passes, so `x`, which exceeds L1 beyond a dozen rows, is streamed from L2 once per 16 columns.
const COLUMN_BLOCK: usize = 16;

/// Columns `range` of `y[m, n] = bias + x[m, k] w[n, k]^T` (`bias` may be null: none).
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn forward(x: *const f32, m: usize, k: usize, w: *const f32, n: usize, range: Range<usize>, bias: *const f32, y: *mut f32) {
    let d = Dims { m, n, k };
    for (j, columns) in column_blocks(range, COLUMN_BLOCK) {
        let (w, bias, y) = (w.add(j * k), if bias.is_null() { bias } else { bias.add(j) }, y.add(j));
        let mut r = 0;
        while r + 4 <= m {
            row_tile::<4>(x.add(r * k), w, columns, bias, y.add(r * n), d);
            r += 4;
        }
        while r < m {
            row_tile::<1>(x.add(r * k), w, columns, bias, y.add(r * n), d);
            r += 1;
        }
    }
}


//! The AVX2+FMA register tiles of [`super::tiles`]: up to 6 rows by 16 columns of `c (+)= a b` held in the 16 ymm
//! registers across all of `k`, masked tiles for the last `n % 8` columns, and the panel products of
//! [`super::tiles::PackedB`]. Every function here is `unsafe`: callers must have checked that the CPU supports avx2
//! and fma (`Isa::available()` at [`crate::simd::Isa::Avx2`] or above) and that the pointers cover the shapes
//! passed.
// Register tiles are indexed [row][vector] on purpose: the loops unroll into named registers.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use crate::simd::f32s::tail_mask;

/// Where the operand `a` of a product keeps element (row `r`, inner index `p`): at
/// `r * row + p * inner`. Row-major `[m, k]` is `(k, 1)`; the transpose of a row-major `[k, m]` is `(1, m)`.
#[derive(Clone, Copy)]
struct Strides {
    row: usize,
    inner: usize,
}

/// One `MR x 8*NV` block of `c += a b`: accumulators stay in registers across all of `k`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const MR: usize, const NV: usize>(a: *const f32, s: Strides, k: usize, b: *const f32, ldb: usize, c: *mut f32, n: usize, accumulate: bool, bias: *const f32) {
    let mut acc = [[_mm256_setzero_ps(); NV]; MR];
    if !bias.is_null() {
        // Every row starts from the bias row: the same sums as filling c with it and accumulating.
        for r in 0..MR {
            for v in 0..NV {
                acc[r][v] = _mm256_loadu_ps(bias.add(8 * v));
            }
        }
    } else if accumulate {
        for r in 0..MR {
            for v in 0..NV {
                acc[r][v] = _mm256_loadu_ps(c.add(r * n + 8 * v));
            }
        }
    }
    for p in 0..k {
        let mut bv = [_mm256_setzero_ps(); NV];
        for v in 0..NV {
            bv[v] = _mm256_loadu_ps(b.add(p * ldb + 8 * v));
        }
        let a = a.add(p * s.inner);
        for r in 0..MR {
            let x = _mm256_broadcast_ss(&*a.add(r * s.row));
            for v in 0..NV {
                acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
            }
        }
    }
    for r in 0..MR {
        for v in 0..NV {
            _mm256_storeu_ps(c.add(r * n + 8 * v), acc[r][v]);
        }
    }
}

/// The last `n % 8` columns (selected by `mask`) of `MR` rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_masked<const MR: usize>(a: *const f32, s: Strides, k: usize, b: *const f32, n: usize, c: *mut f32, mask: __m256i, accumulate: bool) {
    let mut acc = [_mm256_setzero_ps(); MR];
    if accumulate {
        for r in 0..MR {
            acc[r] = _mm256_maskload_ps(c.add(r * n), mask);
        }
    }
    for p in 0..k {
        let bv = _mm256_maskload_ps(b.add(p * n), mask);
        let a = a.add(p * s.inner);
        for r in 0..MR {
            acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(&*a.add(r * s.row)), bv, acc[r]);
        }
    }
    for r in 0..MR {
        _mm256_maskstore_ps(c.add(r * n), mask, acc[r]);
    }
}

/// Rows of `m` split into `ceil(m / 6)` tiles of nearly equal height (8 rows as 4 + 4, not 6 + 2):
/// the row count of the `i`-th tile and the row it starts at.
#[inline(always)]
fn row_tiles(m: usize) -> impl Iterator<Item = (usize, usize)> {
    let tiles = m.div_ceil(6);
    (0..tiles).map(move |i| {
        let (start, end) = (i * m / tiles, (i + 1) * m / tiles);
        (start, end - start)
    })
}

/// All rows of one column block. A tile of up to 6 x 16 keeps 12 accumulators, 2 rows of `b` and a
/// broadcast in the 16 ymm registers (a 4 x 24 tile needs 17 and spills an accumulator onto the
/// critical path); balanced tile heights keep at least 8 independent FMA chains per tile when m >= 4.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn column_block<const NV: usize>(a: *const f32, s: Strides, m: usize, k: usize, b: *const f32, ldb: usize, c: *mut f32, n: usize, accumulate: bool, bias: *const f32) {
    for (r, rows) in row_tiles(m) {
        let (a, c) = (a.add(r * s.row), c.add(r * n));
        match rows {
            6 => tile::<6, NV>(a, s, k, b, ldb, c, n, accumulate, bias),
            5 => tile::<5, NV>(a, s, k, b, ldb, c, n, accumulate, bias),
            4 => tile::<4, NV>(a, s, k, b, ldb, c, n, accumulate, bias),
            3 => tile::<3, NV>(a, s, k, b, ldb, c, n, accumulate, bias),
            2 => tile::<2, NV>(a, s, k, b, ldb, c, n, accumulate, bias),
            1 => tile::<1, NV>(a, s, k, b, ldb, c, n, accumulate, bias),
            _ => {}
        }
    }
}

/// Rows of `a` per panel: a panel (at most 64 KiB of `a`) stays in cache while every column block
/// of `b` passes over it.
pub(super) const PANEL_BYTES: usize = 64 * 1024;

#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul(a: *const f32, m: usize, k: usize, b: *const f32, n: usize, c: *mut f32, accumulate: bool) {
    let panel = (PANEL_BYTES / (4 * k.max(1))).max(6) / 6 * 6;
    let s = Strides { row: k, inner: 1 };
    let mut r = 0;
    while r < m {
        let rows = panel.min(m - r);
        matmul_panel(a.add(r * k), s, rows, k, b, n, c.add(r * n), accumulate);
        r += rows;
    }
}

/// `c[m, n] (+)= a b` for row-major `a` `[m, k]` and `b` given as `n / 16` panels `[k, 16]`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn matmul_panels(a: *const f32, m: usize, k: usize, panels: *const f32, n: usize, c: *mut f32, accumulate: bool, bias: *const f32) {
    let panel_rows = (PANEL_BYTES / (4 * k.max(1))).max(6) / 6 * 6;
    let s = Strides { row: k, inner: 1 };
    let mut r = 0;
    while r < m {
        let rows = panel_rows.min(m - r);
        for j in 0..n / 16 {
            column_block::<2>(
                a.add(r * k),
                s,
                rows,
                k,
                panels.add(j * 16 * k),
                16,
                c.add(r * n + 16 * j),
                n,
                accumulate,
                if bias.is_null() { bias } else { bias.add(16 * j) },
            );
        }
        r += rows;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn matmul_panel(a: *const f32, s: Strides, m: usize, k: usize, b: *const f32, n: usize, c: *mut f32, accumulate: bool) {
    let mut j = 0;
    while j + 16 <= n {
        column_block::<2>(a, s, m, k, b.add(j), n, c.add(j), n, accumulate, std::ptr::null());
        j += 16;
    }
    if j + 8 <= n {
        column_block::<1>(a, s, m, k, b.add(j), n, c.add(j), n, accumulate, std::ptr::null());
        j += 8;
    }
    if j < n {
        let mask = tail_mask(n - j);
        let (b, c) = (b.add(j), c.add(j));
        let mut r = 0;
        while r + 4 <= m {
            tile_masked::<4>(a.add(r * s.row), s, k, b, n, c.add(r * n), mask, accumulate);
            r += 4;
        }
        while r < m {
            tile_masked::<1>(a.add(r * s.row), s, k, b, n, c.add(r * n), mask, accumulate);
            r += 1;
        }
    }
}


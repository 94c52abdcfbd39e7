//! The packed products of [`super::tiles::PackedB`] on 512-bit registers: tiles of up to 8 rows by two panels (or
//! 2 rows by four, for the one- and two-row products of single windows), each output accumulated in increasing `k`
//! by FMA, exactly as the AVX2 tiles do, so they give the same bits. Callers must have checked avx512f.

use std::arch::x86_64::*;

/// `MR` rows by `NP` panels of `c (+)= a b`, with `b` as panels `[k, 16]` `16 k` apart.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const MR: usize, const NP: usize>(a: *const f32, k: usize, b: *const f32, c: *mut f32, n: usize, accumulate: bool, bias: *const f32) {
    let mut acc = [[_mm512_setzero_ps(); NP]; MR];
    for (r, row) in acc.iter_mut().enumerate() {
        for (v, acc) in row.iter_mut().enumerate() {
            if !bias.is_null() {
                *acc = _mm512_loadu_ps(bias.add(16 * v));
            } else if accumulate {
                *acc = _mm512_loadu_ps(c.add(r * n + 16 * v));
            }
        }
    }
    for p in 0..k {
        let mut bv = [_mm512_setzero_ps(); NP];
        for (v, bv) in bv.iter_mut().enumerate() {
            *bv = _mm512_loadu_ps(b.add(v * 16 * k + p * 16));
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_ps(*a.add(r * k + p));
            for (acc, bv) in row.iter_mut().zip(&bv) {
                *acc = _mm512_fmadd_ps(x, *bv, *acc);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, acc) in row.iter().enumerate() {
            _mm512_storeu_ps(c.add(r * n + 16 * v), *acc);
        }
    }
}

/// All `m` rows of `NP` panels, in balanced tiles of at most 8 rows (`NP` = 4: at most 2).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn column_block<const NP: usize>(a: *const f32, m: usize, k: usize, b: *const f32, c: *mut f32, n: usize, accumulate: bool, bias: *const f32) {
    let tiles = m.div_ceil(if NP > 2 { 2 } else { 8 });
    for i in 0..tiles {
        let (start, end) = (i * m / tiles, (i + 1) * m / tiles);
        let (a, c) = (a.add(start * k), c.add(start * n));
        match end - start {
            8 => tile::<8, NP>(a, k, b, c, n, accumulate, bias),
            7 => tile::<7, NP>(a, k, b, c, n, accumulate, bias),
            6 => tile::<6, NP>(a, k, b, c, n, accumulate, bias),
            5 => tile::<5, NP>(a, k, b, c, n, accumulate, bias),
            4 => tile::<4, NP>(a, k, b, c, n, accumulate, bias),
            3 => tile::<3, NP>(a, k, b, c, n, accumulate, bias),
            2 => tile::<2, NP>(a, k, b, c, n, accumulate, bias),
            1 => tile::<1, NP>(a, k, b, c, n, accumulate, bias),
            _ => {}
        }
    }
}

/// `c[m, n] (+)= a b` (from `bias` rows when given) for row-major `a` `[m, k]` and `b` as `n / 16` panels.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub unsafe fn matmul_panels(a: *const f32, m: usize, k: usize, panels: *const f32, n: usize, c: *mut f32, accumulate: bool, bias: *const f32) {
    let panel_rows = (super::tiles_avx2::PANEL_BYTES / (4 * k.max(1))).max(8) / 8 * 8;
    let mut r = 0;
    while r < m {
        let rows = panel_rows.min(m - r);
        let (a, c) = (a.add(r * k), c.add(r * n));
        let mut j = 0;
        while j < n / 16 {
            let width = match n / 16 - j {
                left if left >= 4 && rows <= 2 => 4,
                left if left >= 2 => 2,
                _ => 1,
            };
            let (b, c, bias) = (panels.add(j * 16 * k), c.add(16 * j), if bias.is_null() { bias } else { bias.add(16 * j) });
            match width {
                4 => column_block::<4>(a, rows, k, b, c, n, accumulate, bias),
                2 => column_block::<2>(a, rows, k, b, c, n, accumulate, bias),
                _ => column_block::<1>(a, rows, k, b, c, n, accumulate, bias),
            }
            j += width;
        }
        r += rows;
    }
}

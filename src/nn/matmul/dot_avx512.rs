//! The AVX-512F forward dot products `y = bias + x w^T`, reading the row-major weight `w [out, in]` by rows (the
//! twin of [`super::dot_avx2`], with [`super::dot::matmul_nt_acc_columns`] as the scalar reference). Callers must
//! have checked avx512f.
//!
//! Every output is one 16-lane accumulator over `k` (lane `l` sums inputs `p = l mod 16` in order, the masked
//! tail last), whose lanes are summed in a fixed tree ([`lane_sums`]) and added to the bias: the same operations
//! whatever the tile, block or panel the output falls in, so a row gives the same bits alone or in any batch.
//! Only where the operands are read from depends on the rows:
//!
//! - fewer than [`PACK_MIN_ROWS`] read the weight in place, 16 rows at a time, each block serving every row tile;
//! - more take the weight in panels of as many columns as fit [`PANEL_FLOATS`], copied into an aligned buffer
//!   step by step (the 4 columns of a tile's step are one contiguous 256 bytes), and `x` in blocks of
//!   [`X_BLOCK_FLOATS`] that stay in L2 while every panel passes over them. In place, weight rows 2 KiB apart
//!   (512 inputs) fall into two L1 sets and evict each other before a block is reused, and every block of 16
//!   columns streams all of `x` again, from L3 once `x` outgrows L2.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;
use std::ops::Range;

use super::avx512_rows::{load, Dims, L};
use super::dot::column_blocks;

/// Where a tile reads lanes `p..p + 16` of its weight rows.
trait Columns: Copy {
    /// Lanes `p..p + 16` of weight row `c`, zero past `k` (`WHOLE`: all 16 lie within `k`).
    unsafe fn lanes<const WHOLE: bool>(self, c: usize, p: usize, k: usize) -> __m512;
    /// The rows from the `j`-th on.
    unsafe fn from(self, j: usize, k: usize) -> Self;
}

/// Weight rows as stored, `k` apart.
#[derive(Clone, Copy)]
struct InPlace(*const f32);

impl Columns for InPlace {
    #[inline(always)]
    unsafe fn lanes<const WHOLE: bool>(self, c: usize, p: usize, k: usize) -> __m512 {
        if WHOLE {
            _mm512_loadu_ps(self.0.add(c * k + p))
        } else {
            load(self.0.add(c * k), p, k)
        }
    }

    #[inline(always)]
    unsafe fn from(self, j: usize, k: usize) -> Self {
        InPlace(self.0.add(j * k))
    }
}

/// Weight rows packed by [`pack`]: step `s` of row `c` at `(s * width + c) * 16`, zero past `k`.
#[derive(Clone, Copy)]
struct Packed {
    lanes: *const f32,
    width: usize,
}

impl Columns for Packed {
    #[inline(always)]
    unsafe fn lanes<const WHOLE: bool>(self, c: usize, p: usize, _k: usize) -> __m512 {
        _mm512_load_ps(self.lanes.add((p / L * self.width + c) * L))
    }

    #[inline(always)]
    unsafe fn from(self, j: usize, _k: usize) -> Self {
        Packed { lanes: self.lanes.add(j * L), width: self.width }
    }
}

/// `y[r, c] = bias[c] + sum_p x[r, p] w[c, p]` for `R` rows of `x` and `C` weight rows.
#[inline(always)]
unsafe fn dot_tile<const R: usize, const C: usize>(x: *const f32, w: impl Columns, bias: *const f32, y: *mut f32, d: Dims) {
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    // Whole vectors first, with no tail test in the loop; then the masked tail, if any.
    let whole = d.k / L * L;
    let mut p = 0;
    while p < whole {
        dot_step::<R, C, true>(x, w, p, d, &mut acc);
        p += L;
    }
    if p < d.k {
        dot_step::<R, C, false>(x, w, p, d, &mut acc);
    }
    const { assert!(R * C <= 16) };
    let mut all = [_mm512_setzero_ps(); 16];
    for (r, acc) in acc.iter().enumerate() {
        all[r * C..(r + 1) * C].copy_from_slice(acc);
    }
    let mut sums = [0.0f32; 16];
    _mm512_storeu_ps(sums.as_mut_ptr(), lane_sums(&all));
    for r in 0..R {
        for c in 0..C {
            let b = if bias.is_null() { 0.0 } else { *bias.add(c) };
            let i = r * C + c;
            *y.add(r * d.n + c) = b + sums[i % 4 * 4 + i / 4];
        }
    }
}

/// The lane sums of 16 accumulators as one vector, each summed in a fixed tree (lanes `i` and `i + 8`, then
/// `i + 4`, `i + 2`, `i + 1`: the bits of `_mm512_reduce_add_ps` here) by one tree of 15 adds and 30 shuffles for
/// all 16, not one reduction each: lane `4 j + t` holds accumulator `4 t + j`'s sum.
#[inline(always)]
unsafe fn lane_sums(a: &[__m512; 16]) -> __m512 {
    // Halves of 256 bits: accumulators 2q and 2q + 1 in one vector, 8 lanes each.
    let mut h = [_mm512_setzero_ps(); 8];
    for (q, h) in h.iter_mut().enumerate() {
        let (x, y) = (a[2 * q], a[2 * q + 1]);
        *h = _mm512_add_ps(_mm512_shuffle_f32x4::<0b01_00_01_00>(x, y), _mm512_shuffle_f32x4::<0b11_10_11_10>(x, y));
    }
    // Quarters of 128 bits: accumulators 4q .. 4q + 3 in one vector, 4 lanes each.
    let mut f = [_mm512_setzero_ps(); 4];
    for (q, f) in f.iter_mut().enumerate() {
        let (x, y) = (h[2 * q], h[2 * q + 1]);
        *f = _mm512_add_ps(_mm512_shuffle_f32x4::<0b10_00_10_00>(x, y), _mm512_shuffle_f32x4::<0b11_01_11_01>(x, y));
    }
    // Within each quarter j: pairs, then single lanes, of accumulators j, 4 + j, 8 + j, 12 + j.
    let pairs = |x: __m512, y: __m512| _mm512_add_ps(_mm512_shuffle_ps::<0b01_00_01_00>(x, y), _mm512_shuffle_ps::<0b11_10_11_10>(x, y));
    let (p0, p1) = (pairs(f[0], f[1]), pairs(f[2], f[3]));
    _mm512_add_ps(_mm512_shuffle_ps::<0b10_00_10_00>(p0, p1), _mm512_shuffle_ps::<0b11_01_11_01>(p0, p1))
}

/// `acc[r][c] += x[r, p..p + 16] * w[c, p..p + 16]` lane by lane (`WHOLE`: no lane past `k`).
#[inline(always)]
unsafe fn dot_step<const R: usize, const C: usize, const WHOLE: bool>(x: *const f32, w: impl Columns, p: usize, d: Dims, acc: &mut [[__m512; C]; R]) {
    let mut wv = [_mm512_setzero_ps(); C];
    for (c, v) in wv.iter_mut().enumerate() {
        *v = w.lanes::<WHOLE>(c, p, d.k);
    }
    for (r, acc) in acc.iter_mut().enumerate() {
        let xv = if WHOLE { _mm512_loadu_ps(x.add(r * d.k + p)) } else { load(x.add(r * d.k), p, d.k) };
        for (a, v) in acc.iter_mut().zip(&wv) {
            *a = _mm512_fmadd_ps(xv, *v, *a);
        }
    }
}

/// Output columns `0..columns` (weight rows `w`) of one row tile: 4 at a time (8 for a single row, whose 8
/// independent accumulator chains keep both FMA ports busy where 4 rows x 4 columns have 16), then one by one.
#[inline(always)]
unsafe fn row_tile<const R: usize>(x: *const f32, w: impl Columns, columns: usize, bias: *const f32, y: *mut f32, d: Dims) {
    let column_bias = |j: usize| if bias.is_null() { bias } else { bias.add(j) };
    let mut j = 0;
    while R == 1 && j + 8 <= columns {
        dot_tile::<1, 8>(x, w.from(j, d.k), column_bias(j), y.add(j), d);
        j += 8;
    }
    while j + 4 <= columns {
        dot_tile::<R, 4>(x, w.from(j, d.k), column_bias(j), y.add(j), d);
        j += 4;
    }
    while j < columns {
        dot_tile::<R, 1>(x, w.from(j, d.k), column_bias(j), y.add(j), d);
        j += 1;
    }
}

/// Rows `rows` of `x` against output columns `0..columns` (weight rows `w`): row tiles of 4, then single rows.
#[inline(always)]
unsafe fn row_tiles(x: *const f32, rows: Range<usize>, w: impl Columns, columns: usize, bias: *const f32, y: *mut f32, d: Dims) {
    let mut r = rows.start;
    while r + 4 <= rows.end {
        row_tile::<4>(x.add(r * d.k), w, columns, bias, y.add(r * d.n), d);
        r += 4;
    }
    while r < rows.end {
        row_tile::<1>(x.add(r * d.k), w, columns, bias, y.add(r * d.n), d);
        r += 1;
    }
}

/// Weight rows per in-place block: 16 rows of 512 (32 KiB) serve every row tile of a few rows.
const COLUMN_BLOCK: usize = 16;
/// Rows from which the weight is packed into panels: below, the copy costs more than it saves (`time_the_kernels`:
/// 8 rows ran at two thirds of the in-place speed, 64 at par).
const PACK_MIN_ROWS: usize = 128;
/// Floats of one packed weight panel: 16 KiB, half of L1, beside the row tile of `x` it serves.
const PANEL_FLOATS: usize = 4096;
/// Floats of `x` per row block: 256 KiB stay in L2 while every weight panel passes over them.
const X_BLOCK_FLOATS: usize = 1 << 16;

#[repr(C, align(64))]
struct Panel {
    _lanes: [f32; PANEL_FLOATS],
}

/// Copies weight rows `0..columns` (`k` inputs each) into `panel` as [`Packed`] lays them out.
#[inline(always)]
unsafe fn pack(w: *const f32, columns: usize, k: usize, panel: *mut f32) {
    for c in 0..columns {
        let mut p = 0;
        while p < k {
            _mm512_store_ps(panel.add((p / L * columns + c) * L), load(w.add(c * k), p, k));
            p += L;
        }
    }
}

/// Columns `range` of `y[m, n] = bias + x[m, k] w[n, k]^T` (`bias` may be null: none).
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn forward(x: *const f32, m: usize, k: usize, w: *const f32, n: usize, range: Range<usize>, bias: *const f32, y: *mut f32) {
    let d = Dims { m, n, k };
    let column_bias = |j: usize| if bias.is_null() { bias } else { bias.add(j) };
    // Whole groups of 4 columns per panel; none when a group of 4 does not fit (more than 1,024 inputs).
    let panel_columns = PANEL_FLOATS / (k.div_ceil(L) * L) / 4 * 4;
    if m < PACK_MIN_ROWS || panel_columns == 0 {
        for (j, columns) in column_blocks(range, COLUMN_BLOCK) {
            row_tiles(x, 0..m, InPlace(w.add(j * k)), columns, column_bias(j), y.add(j), d);
        }
        return;
    }
    let mut panel = MaybeUninit::<Panel>::uninit();
    let lanes = panel.as_mut_ptr().cast::<f32>();
    let block_rows = (X_BLOCK_FLOATS / k).max(4) / 4 * 4;
    for r0 in (0..m).step_by(block_rows) {
        let rows = r0..m.min(r0 + block_rows);
        for (j, columns) in column_blocks(range.clone(), panel_columns) {
            pack(w.add(j * k), columns, k, lanes);
            row_tiles(x, rows.clone(), Packed { lanes, width: columns }, columns, column_bias(j), y.add(j), d);
        }
    }
}

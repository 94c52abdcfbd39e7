//! The AVX-512F backward kernels of a layer over at most [`super::MAX_ROWS`] rows: weight rows scaled by output
//! gradients accumulate into the input gradient (`dx = dy w`) and input rows scaled by output gradients into the
//! weight gradient (`dW += dy^T x`), tiling only over the rows there are, so that each call reads the weight once
//! and passes over its gradient once for all rows together. Callers must have checked avx512f.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::avx512_rows::{load, store, Dims, L};

/// Scratch for a strip of up to `STRIP_ROWS` rows of 64 lanes, 64-byte aligned: 16 KiB on the stack, left
/// uninitialised (only values copied in are read back). Strips of matrices whose rows lie 2 KiB apart alias
/// into a few L1 sets, so a strip that must stay in L1 while it is reused is copied here first.
const STRIP_ROWS: usize = 64;
const STRIP_LANES: usize = 4 * L;
const _: () = assert!(super::MAX_ROWS <= STRIP_ROWS);

#[repr(C, align(64))]
struct Strip {
    _lanes: [f32; STRIP_ROWS * STRIP_LANES],
}

/// Lanes `p..p + 16 V` of a row (zeros beyond `len`) into `out`.
#[inline(always)]
unsafe fn copy_strip<const V: usize>(row: *const f32, p: usize, len: usize, out: *mut f32) {
    for v in 0..V {
        _mm512_store_ps(out.add(v * L), load(row, p + v * L, len));
    }
}

/// `dw[c, p..p + 16 V] += sum_r dy[r, c] x[r, p..]` for `C` rows of `dw`, with `x`'s strip packed in `xs`.
#[inline(always)]
unsafe fn weight_grad_tile<const C: usize, const V: usize>(dy: *const f32, xs: *const f32, p: usize, dw: *mut f32, d: Dims) {
    let mut acc = [[_mm512_setzero_ps(); V]; C];
    for (c, acc) in acc.iter_mut().enumerate() {
        for (v, a) in acc.iter_mut().enumerate() {
            *a = load(dw.add(c * d.k), p + v * L, d.k);
        }
    }
    for r in 0..d.m {
        let mut xv = [_mm512_setzero_ps(); V];
        for (v, value) in xv.iter_mut().enumerate() {
            *value = _mm512_load_ps(xs.add((r * V + v) * L));
        }
        for (c, acc) in acc.iter_mut().enumerate() {
            let g = _mm512_set1_ps(*dy.add(r * d.n + c));
            for (a, x) in acc.iter_mut().zip(&xv) {
                *a = _mm512_fmadd_ps(g, *x, *a);
            }
        }
    }
    for (c, acc) in acc.iter().enumerate() {
        for (v, a) in acc.iter().enumerate() {
            store(dw.add(c * d.k), p + v * L, d.k, *a);
        }
    }
}

/// Columns `p..p + 16 V` of `dw` for all its rows: `x`'s strip stays in L1 while `dw` streams past once.
#[inline(always)]
unsafe fn weight_grad_strip<const V: usize>(dy: *const f32, x: *const f32, p: usize, dw: *mut f32, xs: *mut f32, d: Dims) {
    for r in 0..d.m {
        copy_strip::<V>(x.add(r * d.k), p, d.k, xs.add(r * V * L));
    }
    let mut j = 0;
    while j + 4 <= d.n {
        weight_grad_tile::<4, V>(dy.add(j), xs, p, dw.add(j * d.k), d);
        j += 4;
    }
    while j < d.n {
        weight_grad_tile::<1, V>(dy.add(j), xs, p, dw.add(j * d.k), d);
        j += 1;
    }
}

/// `dw[n, k] += dy[m, n]^T x[m, k]` for `m <= STRIP_ROWS`: one pass over `dw`.
#[target_feature(enable = "avx512f")]
pub unsafe fn weight_grad(dy: *const f32, m: usize, n: usize, x: *const f32, k: usize, dw: *mut f32) {
    let d = Dims { m, n, k };
    let mut strip = MaybeUninit::<Strip>::uninit();
    let xs = strip.as_mut_ptr().cast::<f32>();
    let mut p = 0;
    while p < k {
        if p + STRIP_LANES <= k {
            weight_grad_strip::<4>(dy, x, p, dw, xs, d);
            p += STRIP_LANES;
        } else {
            weight_grad_strip::<1>(dy, x, p, dw, xs, d);
            p += L;
        }
    }
}

/// Where an input-gradient tile reads weight row `j`'s lanes: `rows + j * stride`, from `offset`, `len` long.
#[derive(Clone, Copy)]
struct WeightRows {
    rows: *const f32,
    stride: usize,
    offset: usize,
    len: usize,
    count: usize,
}

/// `dx[r, p..p + 16 V] (+)= sum_j dy[r, j] w_j` for `R` rows over the weight rows `w`; the first chunk
/// (`first`) starts from zero, later ones from the partial sums in `dx`, so each output is summed over `j`
/// in order either way.
#[inline(always)]
unsafe fn input_grad_tile<const R: usize, const V: usize>(dy: *const f32, w: WeightRows, p: usize, dx: *mut f32, first: bool, d: Dims) {
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    if !first {
        for (r, acc) in acc.iter_mut().enumerate() {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = load(dx.add(r * d.k), p + v * L, d.k);
            }
        }
    }
    for j in 0..w.count {
        let mut wv = [_mm512_setzero_ps(); V];
        for (v, value) in wv.iter_mut().enumerate() {
            *value = load(w.rows.add(j * w.stride), w.offset + v * L, w.len);
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let g = _mm512_set1_ps(*dy.add(r * d.n + j));
            for (a, w) in acc.iter_mut().zip(&wv) {
                *a = _mm512_fmadd_ps(g, *w, *a);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (v, a) in acc.iter().enumerate() {
            store(dx.add(r * d.k), p + v * L, d.k, *a);
        }
    }
}

/// Row tiles sharing a packed weight chunk beyond this many rows: below it the strip is read in place.
const PACK_ABOVE_ROWS: usize = 8;

/// Columns `p..p + 16 V` of `dx`. With more than two row tiles, chunks of 64 weight rows are first packed
/// into L1 (`ws`) and used by every row tile, so the weight is read from memory once per call.
#[inline(always)]
unsafe fn input_grad_strip<const V: usize>(dy: *const f32, w: *const f32, p: usize, dx: *mut f32, ws: *mut f32, d: Dims) {
    let packed = d.m > PACK_ABOVE_ROWS;
    let mut j0 = 0;
    while j0 < d.n {
        let source = if packed {
            let count = STRIP_ROWS.min(d.n - j0);
            for j in 0..count {
                copy_strip::<V>(w.add((j0 + j) * d.k), p, d.k, ws.add(j * V * L));
            }
            WeightRows { rows: ws, stride: V * L, offset: 0, len: V * L, count }
        } else {
            WeightRows { rows: w, stride: d.k, offset: p, len: d.k, count: d.n }
        };
        let (dy, first) = (dy.add(j0), j0 == 0);
        let mut r = 0;
        while r + 4 <= d.m {
            input_grad_tile::<4, V>(dy.add(r * d.n), source, p, dx.add(r * d.k), first, d);
            r += 4;
        }
        while r < d.m {
            input_grad_tile::<1, V>(dy.add(r * d.n), source, p, dx.add(r * d.k), first, d);
            r += 1;
        }
        j0 += source.count;
    }
}

/// `dx[m, k] = dy[m, n] w[n, k]`.
#[target_feature(enable = "avx512f")]
pub unsafe fn input_grad(dy: *const f32, m: usize, n: usize, w: *const f32, k: usize, dx: *mut f32) {
    let d = Dims { m, n, k };
    let mut strip = MaybeUninit::<Strip>::uninit();
    let ws = strip.as_mut_ptr().cast::<f32>();
    let mut p = 0;
    while p < k {
        if p + STRIP_LANES <= k {
            input_grad_strip::<4>(dy, w, p, dx, ws, d);
            p += STRIP_LANES;
        } else {
            input_grad_strip::<1>(dy, w, p, dx, ws, d);
            p += L;
        }
    }
}

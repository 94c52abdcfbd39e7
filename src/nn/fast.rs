//! Hand-written kernels for the small, latency-bound work of a recurrent step: register-tiled products
//! for `[B, K] x [K, N]` shapes that are too small for a packing GEMM, and the vectorised exp behind
//! the gate activations.
//!
//! Every kernel has a plain scalar version and an AVX2+FMA version; [`path`] picks the AVX2 one only
//! after the CPU has been probed for both features, so no instruction the CPU lacks is ever run.
//! Results are deterministic for a given path: the order of every floating-point operation depends
//! only on the shapes, never on timing. In both products each output element is accumulated in
//! increasing `k`, so a row's result does not depend on how many other rows share the call.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::cell::Cell;
use std::ops::Range;

/// Which implementation the kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

thread_local! {
    /// Set on the threads of a forecaster created with `simdEnabled: false`.
    static SCALAR_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Forces (or stops forcing) the scalar kernels on the calling thread; for the start of a worker thread.
pub fn set_thread_simd(enabled: bool) {
    SCALAR_ONLY.set(!enabled);
}

/// Enables or disables the SIMD kernels on this thread until the guard is dropped (also on a panic),
/// then restores the previous setting.
#[must_use = "the setting lasts only while the guard lives"]
pub fn scoped_simd(enabled: bool) -> SimdScope {
    SimdScope(SCALAR_ONLY.replace(!enabled))
}

pub struct SimdScope(bool);

impl Drop for SimdScope {
    fn drop(&mut self) {
        SCALAR_ONLY.set(self.0);
    }
}

/// The fastest path this CPU supports (probed once by `crate::simd::detected`, then cached), or the
/// scalar one while this thread has SIMD disabled.
pub fn path() -> Path {
    if SCALAR_ONLY.get() {
        return Path::Scalar;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::detected() >= crate::simd::Isa::Avx2
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
        {
            return Path::Avx2;
        }
    }
    Path::Scalar
}

/// `c[m, n] += sum_p a[m, p] * b[p, n]` over contiguous row-major `a` `[m, k]`, `b` `[k, n]`, `c` `[m, n]`.
/// The layers multiply through [`PackedB`]; the plain-layout products are the reference it is tested against.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn matmul_acc(
    path: Path,
    a: &[f32],
    m: usize,
    k: usize,
    b: &[f32],
    n: usize,
    c: &mut [f32],
) {
    matmul_impl(path, a, m, k, b, n, c, true);
}

/// `c[m, n] = sum_p a[m, p] * b[p, n]`: [`matmul_acc`] onto zeros, without reading `c`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn matmul(
    path: Path,
    a: &[f32],
    m: usize,
    k: usize,
    b: &[f32],
    n: usize,
    c: &mut [f32],
) {
    matmul_impl(path, a, m, k, b, n, c, false);
}

#[allow(clippy::too_many_arguments)]
fn matmul_impl(
    path: Path,
    a: &[f32],
    m: usize,
    k: usize,
    b: &[f32],
    n: usize,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "matmul: operand too short"
    );
    match path {
        Path::Scalar => {
            if !accumulate {
                c[..m * n].fill(0.0);
            }
            matmul_acc_scalar(a, m, k, b, n, c)
        }
        // SAFETY: `Path::Avx2` is only produced after avx2 and fma were detected; the assert above
        // keeps every access inside the slices.
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe {
            avx2::matmul(a.as_ptr(), m, k, b.as_ptr(), n, c.as_mut_ptr(), accumulate)
        },
    }
}

/// `c[m, n] += sum_p a[m, p] * w[n, p]` (a product with a transposed row-major `w` `[n, k]`): every output is
/// a dot product, so `w` is read as stored, without a transposed copy, in blocks that serve pairs of rows
/// from L1. Each output is summed in an order fixed by `k` and its column, so a row gives the same bits
/// alone or among any others.
pub(crate) fn matmul_nt_acc(
    path: Path,
    a: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    c: &mut [f32],
) {
    assert!(c.len() >= m * n, "matmul_nt_acc: operand too short");
    // SAFETY: `c` is borrowed mutably for the call and holds every output.
    unsafe { matmul_nt_acc_columns(path, a, m, k, w, n, 0..n, c.as_mut_ptr()) }
}

/// [`matmul_nt_acc`] for output columns `columns` only (each output's bits as in the whole product), so that
/// threads may share one product by columns. `columns.start` must be a multiple of 4.
///
/// # Safety
/// `c` must point to `m x n` values that no one else reads or writes in columns `columns` during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul_nt_acc_columns(
    path: Path,
    a: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    columns: Range<usize>,
    c: *mut f32,
) {
    assert!(
        a.len() >= m * k && w.len() >= n * k && columns.end <= n && columns.start.is_multiple_of(4),
        "matmul_nt_acc: operand too short, or columns not starting on a group of 4"
    );
    match path {
        Path::Scalar => {
            for (i, a_row) in a.chunks_exact(k).take(m).enumerate() {
                for j in columns.clone() {
                    *c.add(i * n + j) += a_row.iter().zip(&w[j * k..(j + 1) * k]).map(|(x, y)| x * y).sum::<f32>();
                }
            }
        }
        // SAFETY: as in `matmul_acc`.
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => avx2::matmul_nt_acc(a.as_ptr(), m, k, w.as_ptr(), n, columns, c),
    }
}

fn matmul_acc_scalar(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
        for (&x, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            c_row.iter_mut().zip(b_row).for_each(|(c, y)| *c += x * y);
        }
    }
}

/// The right operand `b` `[k, n]` of repeated products (a weight matrix used at every timestep),
/// prepared once per pass. With `n` a multiple of 16 it is stored as `n / 16` column panels `[k, 16]`,
/// 64-byte aligned, so that each row of a panel is one cache line and a product streams a panel
/// sequentially: read with its own row stride of 1 KiB (`n` = 256), a column block of `b` falls into
/// 4 of the 64 sets of the L1 cache and is evicted between the row tiles that reuse it. Other widths
/// keep the row-major layout. The products give the same bits either way.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedB {
    data: Vec<f32>,
    offset: usize,
    k: usize,
    n: usize,
}

impl PackedB {
    fn panels(&self) -> bool {
        self.n.is_multiple_of(16)
    }

    /// A zeroed-on-growth buffer of `len` values starting at a 64-byte boundary; grows only.
    fn buffer(&mut self, k: usize, n: usize) -> &mut [f32] {
        let len = k * n;
        (self.k, self.n) = (k, n);
        if self.data.len() < len + 16 {
            self.data.resize(len + 16, 0.0);
        }
        let misalignment = (self.data.as_ptr() as usize / 4) % 16;
        self.offset = (16 - misalignment) % 16;
        &mut self.data[self.offset..self.offset + len]
    }

    fn as_slice(&self) -> &[f32] {
        &self.data[self.offset..self.offset + self.k * self.n]
    }

    /// `b = w` for a row-major `w` `[k, n]`.
    pub fn pack(&mut self, w: &[f32], k: usize, n: usize) {
        assert!(w.len() >= k * n, "pack: input too short");
        let panels = n.is_multiple_of(16);
        let out = self.buffer(k, n);
        if !panels {
            out.copy_from_slice(&w[..k * n]);
            return;
        }
        for (j, panel) in out.chunks_exact_mut(16 * k).enumerate() {
            for (p, row) in panel.chunks_exact_mut(16).enumerate() {
                row.copy_from_slice(&w[p * n + 16 * j..][..16]);
            }
        }
    }

    /// `b = w^T` for a row-major `w` `[n, k]`.
    pub fn pack_transposed(&mut self, path: Path, w: &[f32], n: usize, k: usize) {
        assert!(w.len() >= k * n, "pack_transposed: input too short");
        if !n.is_multiple_of(16) {
            let mut data = std::mem::take(&mut self.data);
            transpose(path, w, n, k, &mut data);
            self.data = data;
            (self.k, self.n, self.offset) = (k, n, 0);
            return;
        }
        let out = self.buffer(k, n);
        let done = match path {
            Path::Scalar => 0,
            // SAFETY: avx2 detected; `out` holds k * n values and `w` at least as many, and the
            // kernel touches only whole 8 x 8 blocks of both.
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => unsafe {
                avx2::pack_transposed_blocks(w.as_ptr(), n, k, out.as_mut_ptr());
                k / 8 * 8
            },
        };
        for (j, panel) in out.chunks_exact_mut(16 * k).enumerate() {
            for p in done..k {
                for c in 0..16 {
                    panel[p * 16 + c] = w[(16 * j + c) * k + p];
                }
            }
        }
    }

    /// `c[m, n] (+)= a[m, k] b`.
    pub fn matmul(&self, path: Path, a: &[f32], m: usize, c: &mut [f32], accumulate: bool) {
        self.product(path, a, m, c, accumulate, None);
    }

    /// `c[m, n] = bias + a[m, k] b` for a `bias` row of `n` values: the same bits as filling every row
    /// of `c` with `bias` and accumulating, without the separate pass over `c`.
    pub fn matmul_bias(&self, path: Path, a: &[f32], m: usize, c: &mut [f32], bias: &[f32]) {
        assert!(bias.len() >= self.n, "packed matmul: bias too short");
        self.product(path, a, m, c, true, Some(bias));
    }

    fn product(&self, path: Path, a: &[f32], m: usize, c: &mut [f32], accumulate: bool, bias: Option<&[f32]>) {
        let (k, n) = (self.k, self.n);
        assert!(
            a.len() >= m * k && c.len() >= m * n,
            "packed matmul: operand too short"
        );
        let fill_bias = |c: &mut [f32]| {
            if let Some(bias) = bias {
                c[..m * n].chunks_exact_mut(n).for_each(|row| row.copy_from_slice(&bias[..n]));
            }
        };
        if !self.panels() {
            fill_bias(c);
            return matmul_impl(path, a, m, k, self.as_slice(), n, c, accumulate);
        }
        let b = self.as_slice();
        match path {
            Path::Scalar => {
                fill_bias(c);
                if !accumulate {
                    c[..m * n].fill(0.0);
                }
                for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
                    for (c_block, panel) in c_row.chunks_exact_mut(16).zip(b.chunks_exact(16 * k)) {
                        for (&x, b_row) in a_row.iter().zip(panel.chunks_exact(16)) {
                            c_block.iter_mut().zip(b_row).for_each(|(c, y)| *c += x * y);
                        }
                    }
                }
            }
            // SAFETY: avx2 and fma detected; the asserts above and the packed length k * n keep
            // every access inside the slices (the bias row holds at least n values).
            // AVX-512 where present: the same sums in the same order, so the same bits.
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => unsafe {
                let bias = bias.map_or(std::ptr::null(), <[f32]>::as_ptr);
                if crate::simd::detected() >= crate::simd::Isa::Avx512 {
                    avx512::matmul_panels(a.as_ptr(), m, k, b.as_ptr(), n, c.as_mut_ptr(), accumulate, bias)
                } else {
                    avx2::matmul_panels(a.as_ptr(), m, k, b.as_ptr(), n, c.as_mut_ptr(), accumulate, bias)
                }
            },
        }
    }
}

/// `out[c, r] = m[r, c]` for a contiguous row-major `m` `[rows, cols]`.
pub(crate) fn transpose(path: Path, m: &[f32], rows: usize, cols: usize, out: &mut Vec<f32>) {
    assert!(m.len() >= rows * cols, "transpose: input too short");
    // Grow only: one buffer serves layers of different sizes without refilling it each time.
    if out.len() < rows * cols {
        out.resize(rows * cols, 0.0);
    }
    let (full_rows, full_cols) = match path {
        Path::Scalar => (0, 0),
        // SAFETY: avx2 detected; the kernel touches only whole 8 x 8 blocks inside both buffers.
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe {
            avx2::transpose_blocks(m.as_ptr(), rows, cols, out.as_mut_ptr());
            (rows / 8 * 8, cols / 8 * 8)
        },
    };
    // Whatever the 8 x 8 blocks left: the bottom rows, then the right columns.
    for r in full_rows..rows {
        for c in 0..cols {
            out[c * rows + r] = m[r * cols + c];
        }
    }
    for r in 0..full_rows {
        for c in full_cols..cols {
            out[c * rows + r] = m[r * cols + c];
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    //! The AVX2+FMA kernels. Every function here is `unsafe`: callers must have checked that the CPU
    //! supports avx2 and fma (see [`super::path`]) and that the pointers cover the shapes passed.
    // Register tiles are indexed [row][vector] on purpose: the loops unroll into named registers.
    #![allow(clippy::needless_range_loop)]

    use super::*;

    /// Lane mask selecting the first `len` (< 8) lanes, for maskload/maskstore.
    #[inline(always)]
    pub unsafe fn tail_mask(len: usize) -> __m256i {
        <__m256 as crate::nn::lanes::F32s>::mask(len)
    }

    /// 8 lanes of `hidden` columns from `j` on; lanes past `hidden` are masked off.
    pub(crate) type Lanes = crate::nn::lanes::Lanes<__m256>;

    pub(crate) use crate::nn::lanes::exp;

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
    unsafe fn tile<const MR: usize, const NV: usize>(
        a: *const f32,
        s: Strides,
        k: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        n: usize,
        accumulate: bool,
        bias: *const f32,
    ) {
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
    unsafe fn tile_masked<const MR: usize>(
        a: *const f32,
        s: Strides,
        k: usize,
        b: *const f32,
        n: usize,
        c: *mut f32,
        mask: __m256i,
        accumulate: bool,
    ) {
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
    unsafe fn column_block<const NV: usize>(
        a: *const f32,
        s: Strides,
        m: usize,
        k: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        n: usize,
        accumulate: bool,
        bias: *const f32,
    ) {
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
    pub unsafe fn matmul(
        a: *const f32,
        m: usize,
        k: usize,
        b: *const f32,
        n: usize,
        c: *mut f32,
        accumulate: bool,
    ) {
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
    pub unsafe fn matmul_panels(
        a: *const f32,
        m: usize,
        k: usize,
        panels: *const f32,
        n: usize,
        c: *mut f32,
        accumulate: bool,
        bias: *const f32,
    ) {
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

    /// Writes the transpose of the 8 x 8 block at `src` (row stride `src_stride`) to `dst` (row stride `dst_stride`).
    #[inline(always)]
    pub unsafe fn transpose8(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
        let row = |i: usize| _mm256_loadu_ps(src.add(i * src_stride));
        let (r0, r1, r2, r3, r4, r5, r6, r7) = (
            row(0),
            row(1),
            row(2),
            row(3),
            row(4),
            row(5),
            row(6),
            row(7),
        );
        let t0 = _mm256_unpacklo_ps(r0, r1);
        let t1 = _mm256_unpackhi_ps(r0, r1);
        let t2 = _mm256_unpacklo_ps(r2, r3);
        let t3 = _mm256_unpackhi_ps(r2, r3);
        let t4 = _mm256_unpacklo_ps(r4, r5);
        let t5 = _mm256_unpackhi_ps(r4, r5);
        let t6 = _mm256_unpacklo_ps(r6, r7);
        let t7 = _mm256_unpackhi_ps(r6, r7);
        let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let col = |i: usize, v: __m256| _mm256_storeu_ps(dst.add(i * dst_stride), v);
        col(0, _mm256_permute2f128_ps::<0x20>(s0, s4));
        col(1, _mm256_permute2f128_ps::<0x20>(s1, s5));
        col(2, _mm256_permute2f128_ps::<0x20>(s2, s6));
        col(3, _mm256_permute2f128_ps::<0x20>(s3, s7));
        col(4, _mm256_permute2f128_ps::<0x31>(s0, s4));
        col(5, _mm256_permute2f128_ps::<0x31>(s1, s5));
        col(6, _mm256_permute2f128_ps::<0x31>(s2, s6));
        col(7, _mm256_permute2f128_ps::<0x31>(s3, s7));
    }

    /// Panels of `w^T` for row-major `w` `[n, k]` (n a multiple of 16): panel `j` row `p` holds
    /// `w[16 j .. 16 j + 16, p]`. Whole 8 x 8 blocks only; the caller fills the last `k % 8` rows.
    #[target_feature(enable = "avx2")]
    pub unsafe fn pack_transposed_blocks(w: *const f32, n: usize, k: usize, out: *mut f32) {
        for j in 0..n / 16 {
            let panel = out.add(j * 16 * k);
            for half in 0..2 {
                let src = w.add((16 * j + 8 * half) * k);
                for p in (0..k / 8 * 8).step_by(8) {
                    transpose8(src.add(p), k, panel.add(p * 16 + 8 * half), 16);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn matmul_panel(
        a: *const f32,
        s: Strides,
        m: usize,
        k: usize,
        b: *const f32,
        n: usize,
        c: *mut f32,
        accumulate: bool,
    ) {
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

    /// Transposes every whole 8 x 8 block of `m` `[rows, cols]` into `out` `[cols, rows]`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn transpose_blocks(m: *const f32, rows: usize, cols: usize, out: *mut f32) {
        for r in (0..rows / 8 * 8).step_by(8) {
            for c in (0..cols / 8 * 8).step_by(8) {
                let row = |i: usize| _mm256_loadu_ps(m.add((r + i) * cols + c));
                let (r0, r1, r2, r3, r4, r5, r6, r7) = (
                    row(0),
                    row(1),
                    row(2),
                    row(3),
                    row(4),
                    row(5),
                    row(6),
                    row(7),
                );
                let t0 = _mm256_unpacklo_ps(r0, r1);
                let t1 = _mm256_unpackhi_ps(r0, r1);
                let t2 = _mm256_unpacklo_ps(r2, r3);
                let t3 = _mm256_unpackhi_ps(r2, r3);
                let t4 = _mm256_unpacklo_ps(r4, r5);
                let t5 = _mm256_unpackhi_ps(r4, r5);
                let t6 = _mm256_unpacklo_ps(r6, r7);
                let t7 = _mm256_unpackhi_ps(r6, r7);
                let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let col = |i: usize, v: __m256| _mm256_storeu_ps(out.add((c + i) * rows + r), v);
                col(0, _mm256_permute2f128_ps::<0x20>(s0, s4));
                col(1, _mm256_permute2f128_ps::<0x20>(s1, s5));
                col(2, _mm256_permute2f128_ps::<0x20>(s2, s6));
                col(3, _mm256_permute2f128_ps::<0x20>(s3, s7));
                col(4, _mm256_permute2f128_ps::<0x31>(s0, s4));
                col(5, _mm256_permute2f128_ps::<0x31>(s1, s5));
                col(6, _mm256_permute2f128_ps::<0x31>(s2, s6));
                col(7, _mm256_permute2f128_ps::<0x31>(s3, s7));
            }
        }
    }

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
    pub unsafe fn matmul_nt_acc(
        a: *const f32,
        m: usize,
        k: usize,
        w: *const f32,
        n: usize,
        range: std::ops::Range<usize>,
        c: *mut f32,
    ) {
        let full = k / 8 * 8;
        let mask = tail_mask(k - full);
        let d = NtDims { k, n, full, mask };
        let mut j0 = range.start;
        while j0 < range.end {
            // A multiple of 4 but in the last block, so the 4-column groups fall where a single row's do.
            let columns = NT_COLUMN_BLOCK.min(range.end - j0);
            let mut i = 0;
            while i + 2 <= m {
                nt_rows::<2>(a.add(i * k), w, j0, columns, c.add(i * n), d);
                i += 2;
            }
            if i < m {
                nt_rows::<1>(a.add(i * k), w, j0, columns, c.add(i * n), d);
            }
            j0 += columns;
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
    unsafe fn nt_rows<const R: usize>(
        a: *const f32,
        w: *const f32,
        j0: usize,
        columns: usize,
        c: *mut f32,
        d: NtDims,
    ) {
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
}

/// The packed products on 512-bit registers: tiles of up to 8 rows by two panels (or 2 rows by four, for the
/// one- and two-row products of single windows), each output accumulated in increasing `k` by FMA, exactly as
/// the AVX2 tiles do.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    /// `MR` rows by `NP` panels of `c (+)= a b`, with `b` as panels `[k, 16]` `16 k` apart.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const MR: usize, const NP: usize>(
        a: *const f32,
        k: usize,
        b: *const f32,
        c: *mut f32,
        n: usize,
        accumulate: bool,
        bias: *const f32,
    ) {
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
    unsafe fn column_block<const NP: usize>(
        a: *const f32,
        m: usize,
        k: usize,
        b: *const f32,
        c: *mut f32,
        n: usize,
        accumulate: bool,
        bias: *const f32,
    ) {
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
    pub unsafe fn matmul_panels(
        a: *const f32,
        m: usize,
        k: usize,
        panels: *const f32,
        n: usize,
        c: *mut f32,
        accumulate: bool,
        bias: *const f32,
    ) {
        let panel_rows = (super::avx2::PANEL_BYTES / (4 * k.max(1))).max(8) / 8 * 8;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_vec;

    /// The AVX-512 packed products give the AVX2 ones' bits (so a forecaster's results do not depend on which
    /// of the two a CPU runs), for row counts that exercise every tile height and width.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_packed_products_equal_the_avx2_ones() {
        if crate::simd::detected() < crate::simd::Isa::Avx512 {
            return;
        }
        for &(m, k, n) in &[(1, 64, 256), (2, 7, 64), (3, 64, 48), (9, 1, 16), (17, 33, 80), (32, 64, 256), (45, 300, 32)] {
            let (a, w, c0, bias) = (random_vec(m * k, 1), random_vec(k * n, 2), random_vec(m * n, 3), random_vec(n, 4));
            let mut packed = PackedB::default();
            packed.pack(&w, k, n);
            let b = packed.as_slice().as_ptr();
            for (accumulate, bias) in [(false, std::ptr::null()), (true, std::ptr::null()), (true, bias.as_ptr())] {
                let (mut wide, mut narrow) = (c0.clone(), c0.clone());
                // SAFETY: avx512f (and so avx2 and fma on every CPU that has it) detected; shapes match the slices.
                unsafe {
                    avx512::matmul_panels(a.as_ptr(), m, k, b, n, wide.as_mut_ptr(), accumulate, bias);
                    avx2::matmul_panels(a.as_ptr(), m, k, b, n, narrow.as_mut_ptr(), accumulate, bias);
                }
                assert_eq!(wide, narrow, "m={m} k={k} n={n} accumulate={accumulate}");
            }
        }
    }

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .for_each(|(x, y)| assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}"));
    }

    #[test]
    fn products_agree_with_naive_sums_on_every_path() {
        let mut paths = vec![Path::Scalar];
        if path() != Path::Scalar {
            paths.push(path());
        }
        for &(m, k, n) in &[
            (1, 1, 1),
            (1, 64, 256),
            (3, 5, 7),
            (4, 64, 24),
            (5, 13, 40),
            (32, 64, 256),
            (7, 9, 61),
            (2, 256, 64),
            (8, 64, 256),
            (13, 20, 17),
            (32, 184, 64),
            (16, 13, 48),
            (6, 256, 64),
            (9, 37, 70),
        ] {
            let a = random_vec(m * k, 1);
            let b = random_vec(k * n, 2);
            let c0 = random_vec(m * n, 3);
            let mut bt = Vec::new();
            transpose(Path::Scalar, &b, k, n, &mut bt);
            for &path in &paths {
                let mut fast_bt = Vec::new();
                transpose(path, &b, k, n, &mut fast_bt);
                assert_eq!(fast_bt, bt);
                assert!((0..k * n).all(|i| bt[(i % n) * k + i / n] == b[i]));
            }
            let expected: Vec<f32> = (0..m * n)
                .map(|idx| {
                    let (i, j) = (idx / n, idx % n);
                    c0[idx]
                        + (0..k)
                            .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                            .sum::<f64>() as f32
                })
                .collect();
            for &path in &paths {
                let mut c = c0.clone();
                matmul_acc(path, &a, m, k, &b, n, &mut c);
                close(&c, &expected, 1e-5);
                let mut c = c0.clone();
                matmul_nt_acc(path, &a, m, k, &bt, n, &mut c);
                close(&c, &expected, 1e-5);
                let mut c = vec![f32::NAN; m * n];
                matmul(path, &a, m, k, &b, n, &mut c);
                let product: Vec<f32> = expected.iter().zip(&c0).map(|(e, c)| e - c).collect();
                close(&c, &product, 1e-5);
            }
            for &path in &paths {
                let (mut packed, mut packed_t) = (PackedB::default(), PackedB::default());
                packed.pack(&b, k, n);
                packed_t.pack_transposed(path, &bt, n, k);
                let mut reference = c0.clone();
                matmul_acc(path, &a, m, k, &b, n, &mut reference);
                for packed in [&packed, &packed_t] {
                    let mut c = c0.clone();
                    packed.matmul(path, &a, m, &mut c, true);
                    assert_eq!(
                        c, reference,
                        "packed products give the bits of the plain ones"
                    );
                    let bias = random_vec(n, 4);
                    let mut filled: Vec<f32> = bias.iter().copied().cycle().take(m * n).collect();
                    matmul_acc(path, &a, m, k, &b, n, &mut filled);
                    let mut c = vec![f32::NAN; m * n];
                    packed.matmul_bias(path, &a, m, &mut c, &bias);
                    assert_eq!(c, filled, "bias-initialised products equal fill + accumulate");
                    let mut c = vec![f32::NAN; m * n];
                    packed.matmul(path, &a, m, &mut c, false);
                    let mut plain = vec![0.0; m * n];
                    matmul(path, &a, m, k, &b, n, &mut plain);
                    assert_eq!(c, plain);
                }
            }
            // Row independence: each row alone gives the same bits as within the whole call.
            let (mut all, mut all_nt) = (c0.clone(), c0.clone());
            matmul_acc(path(), &a, m, k, &b, n, &mut all);
            matmul_nt_acc(path(), &a, m, k, &bt, n, &mut all_nt);
            for i in 0..m {
                let mut row = c0[i * n..(i + 1) * n].to_vec();
                matmul_acc(path(), &a[i * k..(i + 1) * k], 1, k, &b, n, &mut row);
                assert_eq!(row, &all[i * n..(i + 1) * n]);
                let mut row = c0[i * n..(i + 1) * n].to_vec();
                matmul_nt_acc(path(), &a[i * k..(i + 1) * k], 1, k, &bt, n, &mut row);
                assert_eq!(row, &all_nt[i * n..(i + 1) * n]);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_exp_sigmoid_and_tanh_are_accurate() {
        if path() == Path::Scalar {
            return;
        }
        let xs: Vec<f32> = (-2000..=2000)
            .map(|i| i as f32 * 0.05)
            .chain([-1e30, -100.0, -87.0, 88.0, 1e30, 0.0, -0.0, 1e-6])
            .collect();
        for x in xs {
            // SAFETY: path() confirmed avx2 and fma.
            let (e, s, t) = unsafe {
                let v = _mm256_set1_ps(x);
                let f = |v: __m256| _mm256_cvtss_f32(v);
                (f(crate::nn::lanes::exp(v)), f(crate::nn::lanes::sigmoid(v)), f(crate::nn::lanes::tanh(v)))
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


//! The kernels behind [`Linear::forward`] and [`Linear::backward`]. gemm (matrixmultiply) packs both operands of
//! every product into 16 x 16 tiles: for a shard of 8 rows half of each tile is padding, for one row fifteen
//! sixteenths, and every product makes an extra pass over the weight to pack it (the forward pass's `W^T` is a
//! strided view whose packing gathers every column of `W`). For NBEATS' 512 x 512 layers that overhead dominated.
//!
//! The forward kernel depends on the CPU, the thread's SIMD setting and the layer's inputs, never on the rows, so
//! that a row gives the same bits alone or in any batch:
//!
//! | forward | AVX-512F | AVX2 + FMA | SIMD off |
//! | --- | --- | --- | --- |
//! | at least [`DOT_MIN_INPUTS`] inputs | AVX-512F dot products | [`Kernel::Dot`] | gemm |
//! | fewer inputs | [`Kernel::Tiles`] | [`Kernel::Tiles`] | gemm |
//!
//! Dot products read the row-major weight `w [out, in]` in place (`y = x w^T`), tiled over rows and columns so
//! that each block of weight rows serves every row from L1; below [`DOT_MIN_INPUTS`] inputs a product is too short
//! for its horizontal sum to pay off, and [`fast::PackedB`]'s register tiles over `W^T` (packed into a per-thread
//! buffer, at most `DOT_MIN_INPUTS x out` values) are faster. The backward pass, whose results are summed over the
//! rows anyway, is chosen by the rows:
//!
//! | backward | AVX-512F | AVX2 + FMA | SIMD off |
//! | --- | --- | --- | --- |
//! | up to [`TILED_BACKWARD_ROWS`] rows | AVX-512F | gemm dW, [`Kernel::Tiles`] dX | gemm |
//! | up to [`MAX_ROWS`] rows | AVX-512F | gemm | gemm |
//! | more rows | gemm | gemm | gemm |
//!
//! The AVX-512F backward kernels accumulate weight rows scaled by output gradients into the input gradient
//! (`dx = dy w`) and input rows scaled by output gradients into the weight gradient (`dW += dy^T x`), tiling only
//! over the rows there are: each call reads the weight once and passes over its gradient once, for all rows
//! together. `time_the_kernels` below measures every kernel on the layers of the models.
//!
//! Each output is summed in an order fixed by the kernel and the shapes, never by the other rows of the call, so
//! results are reproducible on a given CPU; kernels differ from each other, and from gemm, in the last bits.

use std::cell::RefCell;
use std::ops::Range;

use super::assist;
use super::error::{expect_len, NnError};
use super::fast::{self, PackedB, Path};
use super::gemm::{add_column_sums, fill_rows_with};
use super::linear::Linear;
use super::params::ParamStore;

/// The most rows the backward kernels take (the AVX-512F kernels' packed strips hold 64 rows); gemm takes larger
/// batches.
pub const MAX_ROWS: usize = 64;
/// The fewest inputs for which a forward pass takes dot products (AVX-512F or [`Kernel::Dot`]); below, the
/// horizontal sum of each short product costs more than packing `W^T` for [`Kernel::Tiles`].
pub const DOT_MIN_INPUTS: usize = 128;
/// Input gradients over at most this many rows take [`Kernel::Tiles`] (without AVX-512F).
pub const TILED_BACKWARD_ROWS: usize = 16;

/// The implementation a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// The AVX-512F kernels below.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// Forward only: [`fast::matmul_nt_acc`]'s AVX2 dot products, which read the weight as stored.
    Dot,
    /// [`fast`]'s register tiles: the forward pass over `W^T` packed into the thread's [`PackedB`], the input
    /// gradient over `W` as stored (with gemm's weight gradient).
    Tiles,
    /// matrixmultiply through [`super::gemm`].
    Gemm,
}

thread_local! {
    /// [`Kernel::Tiles`]' packed `W^T`: grows to the largest such layer the thread multiplies, then is reused.
    static PACKED: RefCell<PackedB> = RefCell::new(PackedB::default());
}

/// Whether the AVX-512F kernels may run on this thread.
fn avx512(path: Path) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{detected, Isa};
        path != Path::Scalar && detected() >= Isa::Avx512 && is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = path;
        false
    }
}

/// The forward kernel for a layer of `inputs` inputs on this CPU and thread: never chosen by the rows, so that
/// a row gives the same bits alone or in any batch (a window's forecast does not depend on the others').
fn forward_kernel(inputs: usize) -> Kernel {
    let path = fast::path();
    if path == Path::Scalar {
        return Kernel::Gemm;
    }
    if inputs < DOT_MIN_INPUTS {
        return Kernel::Tiles;
    }
    #[cfg(target_arch = "x86_64")]
    if avx512(path) {
        return Kernel::Avx512;
    }
    Kernel::Dot
}

/// The fastest backward kernel for `rows` rows on this CPU and thread.
fn backward_kernel(rows: usize) -> Kernel {
    let path = fast::path();
    if path == Path::Scalar || rows == 0 || rows > MAX_ROWS {
        return Kernel::Gemm;
    }
    #[cfg(target_arch = "x86_64")]
    if avx512(path) {
        return Kernel::Avx512;
    }
    if rows <= TILED_BACKWARD_ROWS {
        Kernel::Tiles
    } else {
        Kernel::Gemm
    }
}

/// The weight's values, checked against the layer's shape (a checkpoint could have replaced them).
fn weight_data<'p>(layer: &Linear, params: &'p ParamStore) -> Result<&'p [f32], NnError> {
    let weight = &params.get(layer.weight()).data;
    expect_len("Linear weight", layer.in_features() * layer.out_features(), weight.len())?;
    Ok(weight)
}

/// The bias's values, checked against the layer's shape.
fn bias_data<'p>(layer: &Linear, params: &'p ParamStore) -> Result<Option<&'p [f32]>, NnError> {
    let Some(id) = layer.bias() else { return Ok(None) };
    let bias = &params.get(id).data;
    expect_len("Linear bias", layer.out_features(), bias.len())?;
    Ok(Some(bias))
}

/// Layers of at least this many weights (512 KiB) share their output columns with [`assist`]'s second core when
/// the thread allows it: they stream from L3, where two cores read twice as fast as one.
const SHARED_MIN_WEIGHTS: usize = 1 << 17;
/// Output columns per shared chunk (a multiple of every column block, so chunks split no block): 32 columns of
/// 512 inputs are 64 KiB of weights, about half a microsecond.
const SHARED_CHUNK_COLUMNS: usize = 32;

/// A pointer that the chunks of one product share, each touching only its own columns.
#[derive(Clone, Copy)]
struct SharedPtr<T>(*const T);
// SAFETY: every user writes through it only the columns of its own chunk.
unsafe impl<T> Sync for SharedPtr<T> {}

impl<T> SharedPtr<T> {
    /// The pointer (a method, so that closures capture the whole `SharedPtr`, not its field).
    fn get(self) -> *const T {
        self.0
    }
}

/// Runs `columns` over the `n` output columns of a layer of `k` inputs: split into chunks with [`assist`] for large
/// layers, all at once otherwise.
fn over_columns(k: usize, n: usize, columns: &(dyn Fn(Range<usize>) + Sync)) {
    if k * n >= SHARED_MIN_WEIGHTS {
        assist::for_chunks(n, SHARED_CHUNK_COLUMNS, columns);
    } else {
        columns(0..n);
    }
}

/// [`Linear::forward`]: `output[rows, out] = input[rows, in] W^T + b`.
pub(super) fn forward(layer: &Linear, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32]) -> Result<(), NnError> {
    forward_with(forward_kernel(layer.in_features()), layer, params, input, rows, output)
}

fn forward_with(kernel: Kernel, layer: &Linear, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32]) -> Result<(), NnError> {
    let (k, n) = (layer.in_features(), layer.out_features());
    expect_len("Linear input", rows * k, input.len())?;
    expect_len("Linear output", rows * n, output.len())?;
    let (weight, bias) = (weight_data(layer, params)?, bias_data(layer, params)?);
    let path = fast::path();
    match kernel {
        Kernel::Gemm => return layer.gemm_forward(params, input, rows, output),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            if !avx512(path) {
                return layer.gemm_forward(params, input, rows, output);
            }
            let (bias, y) = (SharedPtr(bias.map_or(std::ptr::null(), <[f32]>::as_ptr)), SharedPtr(output.as_mut_ptr()));
            // SAFETY: AVX-512F is confirmed just above; the lengths checked above cover every element the
            // kernel touches, and each chunk of columns writes only its own outputs.
            over_columns(k, n, &|columns| unsafe { avx512::forward(input.as_ptr(), rows, k, weight.as_ptr(), n, columns, bias.get(), y.get().cast_mut()) });
        }
        Kernel::Dot => {
            match bias {
                Some(bias) => fill_rows_with(output, bias),
                None => output.fill(0.0),
            }
            let y = SharedPtr(output.as_mut_ptr());
            // SAFETY: `output` holds rows x n values (checked above) and each chunk of columns writes only its own.
            over_columns(k, n, &|columns| unsafe { fast::matmul_nt_acc_columns(path, input, rows, k, weight, n, columns, y.get().cast_mut()) });
        }
        Kernel::Tiles => PACKED.with_borrow_mut(|packed| {
            packed.pack_transposed(path, weight, n, k);
            match bias {
                Some(bias) => packed.matmul_bias(path, input, rows, output, bias),
                None => packed.matmul(path, input, rows, output, false),
            }
        }),
    }
    Ok(())
}

/// [`Linear::backward`]: accumulates dW and db into `grads` and writes d input into `d_input` if given.
pub(super) fn backward(
    layer: &Linear,
    params: &ParamStore,
    input: &[f32],
    d_output: &[f32],
    rows: usize,
    grads: &mut ParamStore,
    d_input: Option<&mut [f32]>,
) -> Result<(), NnError> {
    backward_with(backward_kernel(rows), layer, params, input, d_output, rows, grads, d_input)
}

#[allow(clippy::too_many_arguments)]
fn backward_with(
    kernel: Kernel,
    layer: &Linear,
    params: &ParamStore,
    input: &[f32],
    d_output: &[f32],
    rows: usize,
    grads: &mut ParamStore,
    d_input: Option<&mut [f32]>,
) -> Result<(), NnError> {
    let (k, n) = (layer.in_features(), layer.out_features());
    match kernel {
        Kernel::Gemm | Kernel::Dot => layer.gemm_backward(params, input, d_output, rows, grads, d_input),
        Kernel::Tiles => {
            let Some(d_input) = d_input else { return layer.gemm_backward(params, input, d_output, rows, grads, None) };
            expect_len("Linear input gradient", rows * k, d_input.len())?;
            layer.gemm_backward(params, input, d_output, rows, grads, None)?;
            fast::matmul(fast::path(), d_output, rows, n, weight_data(layer, params)?, k, d_input);
            Ok(())
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            // The strips hold MAX_ROWS rows.
            if !avx512(fast::path()) || rows > MAX_ROWS {
                return layer.gemm_backward(params, input, d_output, rows, grads, d_input);
            }
            expect_len("Linear input", rows * k, input.len())?;
            expect_len("Linear output gradient", rows * n, d_output.len())?;
            if let Some(d_input) = &d_input {
                expect_len("Linear input gradient", rows * k, d_input.len())?;
            }
            let weight = weight_data(layer, params)?.as_ptr();
            let d_weight = &mut grads.get_mut(layer.weight()).data;
            expect_len("Linear weight gradient", n * k, d_weight.len())?;
            // SAFETY: AVX-512F and at most MAX_ROWS rows are confirmed just above; the lengths checked above
            // cover every element the kernels touch.
            unsafe { avx512::weight_grad(d_output.as_ptr(), rows, n, input.as_ptr(), k, d_weight.as_mut_ptr()) };
            if let Some(bias) = layer.bias() {
                add_column_sums(d_output, &mut grads.get_mut(bias).data);
            }
            if let Some(d_input) = d_input {
                // SAFETY: as above.
                unsafe { avx512::input_grad(d_output.as_ptr(), rows, n, weight, k, d_input.as_mut_ptr()) };
            }
            Ok(())
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;
    use std::ops::Range;

    /// Lanes of one vector.
    const L: usize = 16;

    /// `m` rows, `n` outputs, `k` inputs: `x [m, k]`, `w [n, k]`, `y` and `dy [m, n]`.
    #[derive(Clone, Copy)]
    struct Dims {
        m: usize,
        n: usize,
        k: usize,
    }

    /// Loads lanes `p..p + 16` of a row, those at or beyond `len` as 0 (touching none of them).
    #[inline(always)]
    unsafe fn load(row: *const f32, p: usize, len: usize) -> __m512 {
        if p + L <= len {
            _mm512_loadu_ps(row.add(p))
        } else if p < len {
            _mm512_maskz_loadu_ps(tail_mask(len - p), row.add(p))
        } else {
            _mm512_setzero_ps()
        }
    }

    /// Stores lanes `p..p + 16` of a row, leaving those at or beyond `len` alone.
    #[inline(always)]
    unsafe fn store(row: *mut f32, p: usize, len: usize, value: __m512) {
        if p + L <= len {
            _mm512_storeu_ps(row.add(p), value)
        } else if p < len {
            _mm512_mask_storeu_ps(row.add(p), tail_mask(len - p), value)
        }
    }

    #[inline(always)]
    fn tail_mask(lanes: usize) -> __mmask16 {
        ((1u32 << lanes) - 1) as __mmask16
    }

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
        let mut j = range.start;
        while j < range.end {
            let columns = COLUMN_BLOCK.min(range.end - j);
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
            j += columns;
        }
    }

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
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::random_vec;
    use crate::nn::ParamInit;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
    }

    /// Every kernel this CPU runs (Dot and Tiles run everywhere, on the scalar path without AVX2).
    fn available_kernels() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Gemm, Kernel::Dot, Kernel::Tiles];
        #[cfg(target_arch = "x86_64")]
        if avx512(fast::path()) {
            kernels.push(Kernel::Avx512);
        }
        kernels
    }

    fn layer(k: usize, n: usize, bias: bool, seed: u64) -> (Linear, ParamStore) {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let layer = if bias { Linear::new(&mut init, k, n) } else { Linear::without_bias(&mut init, k, n) }.unwrap();
        (layer, params)
    }

    /// Every kernel, with every tile and tail combination, against gemm, forward and backward.
    #[test]
    fn products_match_gemm() {
        // Shapes with every tail: k around the 16- and 64-lane strips and the AVX-512F forward threshold, n
        // around the 4- and 8-column tiles, the 16-column panels and across several 64-row weight chunks, rows
        // around the 4-row tiles, the packing threshold and the other kernels' limits, up to MAX_ROWS.
        let shapes = [
            (1, 1, true),
            (15, 5, true),
            (16, 4, false),
            (17, 9, true),
            (24, 36, true),
            (70, 13, false),
            (130, 7, true),
            (64, 130, true),
            (81, 200, false),
            (128, 32, true),
            (137, 19, false),
        ];
        for (k, n, bias) in shapes {
            let (layer, params) = layer(k, n, bias, k as u64);
            for rows in [1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 63, MAX_ROWS, MAX_ROWS + 1] {
                let input = random_vec(rows * k, 1);
                let d_output = random_vec(rows * n, 2);
                let mut expected = vec![0.0; rows * n];
                layer.gemm_forward(&params, &input, rows, &mut expected).unwrap();
                let (mut grads_expected, mut d_expected) = (params.zeros_like(), vec![0.0; rows * k]);
                layer.gemm_backward(&params, &input, &d_output, rows, &mut grads_expected, Some(&mut d_expected)).unwrap();
                // Accumulating onto earlier gradients, as the models' layers do.
                let mut again_expected = grads_expected.clone();
                layer.gemm_backward(&params, &input, &d_output, rows, &mut again_expected, None).unwrap();
                for kernel in available_kernels() {
                    let mut actual = vec![9.0; rows * n];
                    forward_with(kernel, &layer, &params, &input, rows, &mut actual).unwrap();
                    assert!(close(&actual, &expected), "{kernel:?} forward k={k} n={n} rows={rows}");
                    let (mut grads, mut d_actual) = (params.zeros_like(), vec![9.0; rows * k]);
                    backward_with(kernel, &layer, &params, &input, &d_output, rows, &mut grads, Some(&mut d_actual)).unwrap();
                    assert!(close(&d_actual, &d_expected), "{kernel:?} input gradient k={k} n={n} rows={rows}");
                    backward_with(kernel, &layer, &params, &input, &d_output, rows, &mut grads, None).unwrap();
                    for ((name, a), (_, e)) in grads.iter().zip(again_expected.iter()) {
                        assert!(close(&a.data, &e.data), "{kernel:?} {name} k={k} n={n} rows={rows}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_gives_a_row_the_same_bits_in_any_batch() {
        for (k, n) in [(40, 50), (150, 48)] {
            let (layer, params) = layer(k, n, true, 2);
            let input = random_vec((MAX_ROWS + 6) * k, 1);
            for kernel in available_kernels() {
                let run = |rows: usize| {
                    let mut output = vec![0.0; rows * n];
                    forward_with(kernel, &layer, &params, &input[..rows * k], rows, &mut output).unwrap();
                    output[..n].to_vec()
                };
                let alone = run(1);
                assert!([2, 3, 4, 5, 20, MAX_ROWS + 6].into_iter().all(|rows| run(rows) == alone), "{kernel:?} k={k}");
            }
        }
    }

    #[test]
    fn a_large_layer_shared_with_the_assistant_keeps_its_bits() {
        // 530 outputs: chunks of 32 and a last one of 18, which ends in columns outside any group of 4.
        let (k, n) = (300, 530);
        assert!(k * n >= SHARED_MIN_WEIGHTS);
        let (layer, params) = layer(k, n, true, 5);
        let input = random_vec(5 * k, 6);
        for simd in [true, false] {
            let _simd = fast::scoped_simd(simd);
            for kernel in available_kernels() {
                for rows in [1, 3, 5] {
                    let run = |shared: bool| {
                        let _assist = assist::scoped(shared);
                        let mut output = vec![0.0; rows * n];
                        forward_with(kernel, &layer, &params, &input[..rows * k], rows, &mut output).unwrap();
                        output
                    };
                    let alone = run(false);
                    assert!((0..20).all(|_| run(true) == alone), "{kernel:?}, {rows} rows, SIMD {simd}");
                }
            }
        }
    }

    #[test]
    fn the_kernel_follows_the_inputs_the_rows_and_the_simd_setting() {
        assert_eq!((backward_kernel(MAX_ROWS + 1), backward_kernel(0)), (Kernel::Gemm, Kernel::Gemm));
        if fast::path() != Path::Scalar {
            assert_eq!(forward_kernel(DOT_MIN_INPUTS - 1), Kernel::Tiles);
            assert!(matches!(forward_kernel(DOT_MIN_INPUTS), Kernel::Dot) || avx512(fast::path()));
            #[cfg(target_arch = "x86_64")]
            if avx512(fast::path()) {
                assert_eq!((forward_kernel(DOT_MIN_INPUTS), backward_kernel(MAX_ROWS)), (Kernel::Avx512, Kernel::Avx512));
            } else {
                assert_eq!((backward_kernel(TILED_BACKWARD_ROWS), backward_kernel(TILED_BACKWARD_ROWS + 1)), (Kernel::Tiles, Kernel::Gemm));
            }
        }
        let _scalar = fast::scoped_simd(false);
        assert_eq!((forward_kernel(512), forward_kernel(24), backward_kernel(8)), (Kernel::Gemm, Kernel::Gemm, Kernel::Gemm));
    }

    #[test]
    fn checks_lengths() {
        let (layer, params) = layer(4, 3, true, 0);
        let mut grads = params.zeros_like();
        for kernel in available_kernels() {
            assert!(forward_with(kernel, &layer, &params, &[0.0; 7], 2, &mut [0.0; 6]).is_err());
            assert!(forward_with(kernel, &layer, &params, &[0.0; 8], 2, &mut [0.0; 5]).is_err());
            assert!(backward_with(kernel, &layer, &params, &[0.0; 8], &[0.0; 6], 2, &mut grads, Some(&mut [0.0; 7])).is_err());
            assert!(backward_with(kernel, &layer, &params, &[0.0; 8], &[0.0; 5], 2, &mut grads, Some(&mut [0.0; 8])).is_err());
        }
        // A checkpoint's weight of the wrong size.
        let mut params = params;
        params.get_mut(layer.weight()).data.pop();
        for kernel in available_kernels().into_iter().filter(|&kernel| kernel != Kernel::Gemm) {
            assert!(forward_with(kernel, &layer, &params, &[0.0; 8], 2, &mut [0.0; 6]).is_err(), "{kernel:?}");
        }
    }

    /// A chain of NBEATS' 512 x 512 layers on one row, alone and shared with the assistant (alternating, so that
    /// both see the same machine).
    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib nn::skinny -- --ignored --nocapture"]
    fn time_shared_layers() {
        use std::time::Instant;
        let (k, layers) = (512, 9);
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let chain: Vec<Linear> = (0..layers).map(|i| Linear::new(&mut init.pp(format!("l{i}")), k, k).unwrap()).collect();
        let x0 = random_vec(k, 4);
        let run = |shared: bool| {
            let _scope = assist::scoped(shared);
            let (mut x, mut y) = (x0.clone(), vec![0.0f32; k]);
            let started = Instant::now();
            for l in &chain {
                l.forward(&params, &x, 1, &mut y).unwrap();
                std::mem::swap(&mut x, &mut y);
            }
            (started.elapsed().as_secs_f64() * 1e6, x)
        };
        for idle in [0, 1000, 10_000] {
            let (mut alone, mut shared) = (vec![], vec![]);
            for _ in 0..if idle == 0 { 5000 } else { 300 } {
                std::thread::sleep(std::time::Duration::from_micros(idle));
                let (t, a) = run(false);
                alone.push(t);
                std::thread::sleep(std::time::Duration::from_micros(idle));
                let (t, b) = run(true);
                shared.push(t);
                assert_eq!(a, b);
            }
            for (name, t) in [("alone", &mut alone), ("shared", &mut shared)] {
                t.sort_by(f64::total_cmp);
                eprintln!("{idle} us idle before each, {name}: p10 {:.1} median {:.1} us", t[t.len() / 10], t[t.len() / 2]);
            }
        }
    }

    /// Each kernel's time (the 10th percentile of many calls, in us) for the layers of the models, the weights
    /// rotating through enough copies to come from L3 as in a model.
    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib nn::skinny -- --ignored --nocapture"]
    fn time_the_kernels() {
        use std::time::Instant;
        // NBEATS/NHITS (512), MLP (24 -> 1024 -> 1024 -> 12), TCN's decoder (64), the Transformer's (128, 32).
        for (k, n) in [(512, 512), (12, 512), (512, 36), (24, 1024), (1024, 1024), (1024, 12), (64, 64), (128, 128), (128, 32), (32, 128)] {
            let copies = ((8 << 20) / (4 * k * n)).clamp(1, 16);
            let mut params = ParamStore::new();
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            let mut init = ParamInit::new(&mut params, &mut rng);
            let layers: Vec<Linear> = (0..copies).map(|i| Linear::new(&mut init.pp(format!("l{i}")), k, n).unwrap()).collect();
            let mut grads = params.zeros_like();
            let calls = (1 << 29) / (k * n * 32).max(1);
            let time = |f: &mut dyn FnMut(&Linear)| {
                let mut times: Vec<f64> = (0..calls.clamp(20, 400))
                    .map(|i| {
                        let started = Instant::now();
                        f(&layers[i % copies]);
                        started.elapsed().as_secs_f64() * 1e6
                    })
                    .collect();
                times.sort_by(f64::total_cmp);
                times[times.len() / 10]
            };
            for rows in [1, 2, 4, 8, 16, 32, 64, 256] {
                let (x, dy) = (random_vec(rows * k, 9), random_vec(rows * n, 3));
                let (mut y, mut dx) = (vec![0.0; rows * n], vec![0.0; rows * k]);
                let mut line = format!("{k:4} x {n:4}, {rows:2} rows: forward");
                for kernel in available_kernels() {
                    let t = time(&mut |l| forward_with(kernel, l, &params, &x, rows, &mut y).unwrap());
                    line += &format!(" {kernel:?} {t:.1}");
                }
                line += &format!(" (chosen {:?}); backward", forward_kernel(k));
                for kernel in available_kernels().into_iter().filter(|&kernel| kernel != Kernel::Dot) {
                    let t = time(&mut |l| backward_with(kernel, l, &params, &x, &dy, rows, &mut grads, Some(&mut dx)).unwrap());
                    line += &format!(" {kernel:?} {t:.1}");
                }
                eprintln!("{line} (chosen {:?})", backward_kernel(rows));
            }
        }
    }
}

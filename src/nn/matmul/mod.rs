//! Dense products: the one entry point of [`Linear::forward`] and [`Linear::backward`] and its dispatch by shape and
//! instruction set, over the kernel families in this module's files, each beside its scalar twin:
//!
//! | file | what it holds |
//! | --- | --- |
//! | [`strided`] | [`gemm`] over strided views: nano-gemm for small products (no packing, no allocation), matrixmultiply for large packed ones |
//! | [`dot`], `dot_avx2`, `dot_avx512` | dot products `x W^T` over the weight's rows: as stored, or (AVX-512F, many rows) copied into panels |
//! | [`tiles`], `tiles_avx2`, `tiles_avx512` | register tiles `x B` (and `dY^T X`) and [`PackedB`], a weight packed into column panels |
//! | [`transpose`] | transposes (AVX2: 8 x 8 blocks) |
//! | `gradients_avx512`, `avx512_rows` | the AVX-512F weight and input gradients, and the masked row loads they share with `dot_avx512` |
//! | [`assist`] | the second core that shares the output columns of large layers |
//!
//! Which level runs is [`crate::simd::thread_isa`]: the CPU's, or scalar on a thread with SIMD turned off.
//!
//! gemm (matrixmultiply) packs both operands of every product into 16 x 16 tiles: for a shard of 8 rows half of each tile is padding, for one row fifteen
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
//! Dot products read the row-major weight `w [out, in]` by rows (`y = x w^T`), tiled over rows and columns so
//! that each block of weight rows serves every row from L1 (AVX-512F copies the blocks into aligned panels for
//! many rows and takes `x` in blocks that stay in L2: where operands are read from changes no bit); below
//! [`DOT_MIN_INPUTS`] inputs a product is too short for its horizontal sum to pay off, and [`PackedB`]'s register
//! tiles over `W^T` (packed into a per-thread buffer, at most `DOT_MIN_INPUTS x out` values) are faster. The
//! backward pass, whose results are summed over the rows anyway, is chosen by the rows:
//!
//! | backward | AVX-512F | AVX2 + FMA | SIMD off |
//! | --- | --- | --- | --- |
//! | up to [`TILED_BACKWARD_ROWS`] rows | AVX-512F | gemm dW, [`Kernel::Tiles`] dX | gemm |
//! | up to [`MAX_ROWS`] rows | AVX-512F | gemm; [`Kernel::Tiles`] where gemm would pack | gemm |
//! | more rows | AVX-512F (dW in blocks of [`MAX_ROWS`] rows) | gemm; [`Kernel::Tiles`] where gemm would pack | gemm |
//!
//! The AVX-512F backward kernels accumulate weight rows scaled by output gradients into the input gradient
//! (`dx = dy w`) and input rows scaled by output gradients into the weight gradient (`dW += dy^T x`), tiling only
//! over the rows there are: each call reads the weight once and passes over its gradient once, for all rows
//! together. Products that gemm would hand to matrixmultiply (see `strided::packs`), which allocates its packing
//! buffers on every call, take the register tiles on AVX2 instead (`dW += dY^T X` over blocks of rows transposed and
//! packed into per-thread buffers, `dY W` over `W` packed into panels), so that a
//! training step over a large batch in one pass (PatchTST's, under BatchNorm) allocates nothing.
//! `time_the_kernels` in the tests measures every kernel on the layers of the models.
//!
//! Each output is summed in an order fixed by the kernel and the shapes, never by the other rows of the call, so
//! results are reproducible on a given CPU; kernels differ from each other, and from gemm, in the last bits.


use std::cell::RefCell;
use std::ops::Range;

use super::error::{expect_len, NnError};
use super::linear::Linear;
use super::params::ParamStore;
use crate::simd::{thread_isa, Isa};

pub mod assist;
#[cfg(target_arch = "x86_64")]
mod avx512_rows;
mod dot;
#[cfg(target_arch = "x86_64")]
mod dot_avx2;
#[cfg(target_arch = "x86_64")]
mod dot_avx512;
#[cfg(target_arch = "x86_64")]
mod gradients_avx512;
mod strided;
mod tiles;
#[cfg(target_arch = "x86_64")]
mod tiles_avx2;
#[cfg(target_arch = "x86_64")]
mod tiles_avx512;
mod transpose;

pub(crate) use dot::matmul_nt_acc;
pub(crate) use strided::{add_column_sums, add_row_sums, fill_columns_with, fill_rows_with, gemm, Mat, MatMut};
pub(crate) use tiles::{matmul, PackedB};
use tiles::TnScratch;
pub(crate) use transpose::transpose;

/// The most rows the backward kernels take at once (the AVX-512F weight gradient's packed strips hold 64 rows):
/// AVX-512F takes larger batches in blocks, the other levels give them to gemm.
pub const MAX_ROWS: usize = 64;
/// The fewest inputs for which a forward pass takes dot products (AVX-512F or [`Kernel::Dot`]); below, the
/// horizontal sum of each short product costs more than packing `W^T` for [`Kernel::Tiles`].
pub const DOT_MIN_INPUTS: usize = 128;
/// Input gradients over at most this many rows take [`Kernel::Tiles`] (without AVX-512F).
pub const TILED_BACKWARD_ROWS: usize = 16;

/// The implementation a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// The AVX-512F kernels: `dot_avx512` forward, `gradients_avx512` backward.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// Forward only: [`dot::matmul_nt_acc_columns`]' AVX2 dot products, which read the weight as stored.
    Dot,
    /// [`tiles`]' register tiles: the forward pass over `W^T` packed into the thread's [`PackedB`], the input
    /// gradient over `W` as stored, the weight gradient `dY^T X` where gemm would pack it (gemm's below).
    Tiles,
    /// matrixmultiply (or nano-gemm) through [`strided::gemm`].
    Gemm,
}

thread_local! {
    /// [`Kernel::Tiles`]' packed `W^T` (or `W`, for a large input gradient): grows to the largest such layer the
    /// thread multiplies, then is reused.
    static PACKED: RefCell<PackedB> = RefCell::new(PackedB::default());
    /// [`Kernel::Tiles`]' blocks of a large weight gradient's operands, grown and reused likewise.
    static TN_SCRATCH: RefCell<TnScratch> = RefCell::new(TnScratch::default());
}

/// Heap bytes of this thread's packed weights and gradient blocks (a forecaster's `memoryStats` adds those of its
/// threads).
pub fn thread_buffer_bytes() -> usize {
    use crate::nn::heap_bytes::HeapBytes;
    let packed = PACKED.try_with(|packed| packed.try_borrow().map_or(0, |p| p.heap_bytes())).unwrap_or(0);
    packed + TN_SCRATCH.try_with(|scratch| scratch.try_borrow().map_or(0, |s| s.heap_bytes())).unwrap_or(0)
}

/// Frees this thread's packed weights and gradient blocks (`memoryPool: false`); the next product packs into fresh
/// ones.
pub fn release_thread_buffers() {
    let _ = PACKED.try_with(|packed| packed.try_borrow_mut().map(|mut p| *p = PackedB::default()));
    let _ = TN_SCRATCH.try_with(|scratch| scratch.try_borrow_mut().map(|mut s| *s = TnScratch::default()));
}

/// The forward kernel for a layer of `inputs` inputs on this CPU and thread: never chosen by the rows, so that
/// a row gives the same bits alone or in any batch (a window's forecast does not depend on the others').
fn forward_kernel(inputs: usize) -> Kernel {
    let isa = thread_isa();
    if isa < Isa::Avx2 {
        return Kernel::Gemm;
    }
    if inputs < DOT_MIN_INPUTS {
        return Kernel::Tiles;
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        return Kernel::Avx512;
    }
    Kernel::Dot
}

/// The fastest backward kernel for `rows` rows of a layer of `k` inputs and `n` outputs on this CPU and thread
/// that allocates nothing.
fn backward_kernel(rows: usize, k: usize, n: usize) -> Kernel {
    let isa = thread_isa();
    if isa < Isa::Avx2 || rows == 0 {
        return Kernel::Gemm;
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        return Kernel::Avx512;
    }
    if rows <= TILED_BACKWARD_ROWS || strided::packs(n, rows, k) || strided::packs(rows, n, k) {
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
    let isa = thread_isa();
    match kernel {
        Kernel::Gemm => return gemm_forward(layer, params, input, rows, output),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            if isa != Isa::Avx512 {
                return gemm_forward(layer, params, input, rows, output);
            }
            let (bias, y) = (SharedPtr(bias.map_or(std::ptr::null(), <[f32]>::as_ptr)), SharedPtr(output.as_mut_ptr()));
            // SAFETY: AVX-512F is confirmed just above; the lengths checked above cover every element the
            // kernel touches, and each chunk of columns writes only its own outputs.
            over_columns(k, n, &|columns| unsafe { dot_avx512::forward(input.as_ptr(), rows, k, weight.as_ptr(), n, columns, bias.get(), y.get().cast_mut()) });
        }
        Kernel::Dot => {
            match bias {
                Some(bias) => fill_rows_with(output, bias),
                None => output.fill(0.0),
            }
            let y = SharedPtr(output.as_mut_ptr());
            // SAFETY: `output` holds rows x n values (checked above) and each chunk of columns writes only its own.
            over_columns(k, n, &|columns| unsafe { dot::matmul_nt_acc_columns(isa, input, rows, k, weight, n, columns, y.get().cast_mut()) });
        }
        Kernel::Tiles => PACKED.with_borrow_mut(|packed| {
            packed.pack_transposed(isa, weight, n, k);
            match bias {
                Some(bias) => packed.matmul_bias(isa, input, rows, output, bias),
                None => packed.matmul(isa, input, rows, output, false),
            }
        }),
    }
    Ok(())
}

/// [`Linear::forward`] through gemm, whatever the rows.
fn gemm_forward(layer: &Linear, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32]) -> Result<(), NnError> {
    let (k, n) = (layer.in_features(), layer.out_features());
    expect_len("Linear input", rows * k, input.len())?;
    expect_len("Linear output", rows * n, output.len())?;
    let weight = &params.get(layer.weight()).data;
    match layer.bias() {
        Some(bias) => fill_rows_with(output, &params.get(bias).data),
        None => output.fill(0.0),
    }
    gemm(Mat::rows(input, rows, k), Mat::transposed(weight, n, k), 1.0, MatMut::rows(output, rows, n));
    Ok(())
}

/// The operands of one backward pass through a layer: `rows` rows of its input and of its output's gradient.
#[derive(Clone, Copy)]
pub(super) struct Backward<'a> {
    pub layer: &'a Linear,
    pub params: &'a ParamStore,
    pub input: &'a [f32],
    pub d_output: &'a [f32],
    pub rows: usize,
}

/// [`Linear::backward`]: accumulates dW and db into `grads` and writes d input into `d_input` if given.
pub(super) fn backward(pass: Backward<'_>, grads: &mut ParamStore, d_input: Option<&mut [f32]>) -> Result<(), NnError> {
    backward_with(backward_kernel(pass.rows, pass.layer.in_features(), pass.layer.out_features()), pass, grads, d_input)
}

fn backward_with(kernel: Kernel, pass: Backward<'_>, grads: &mut ParamStore, d_input: Option<&mut [f32]>) -> Result<(), NnError> {
    let Backward { layer, params, input, d_output, rows } = pass;
    let (k, n) = (layer.in_features(), layer.out_features());
    match kernel {
        Kernel::Gemm | Kernel::Dot => gemm_backward(pass, grads, d_input),
        Kernel::Tiles => {
            if let Some(d_input) = &d_input {
                expect_len("Linear input gradient", rows * k, d_input.len())?;
            }
            if strided::packs(n, rows, k) {
                tiled_weight_grad(pass, grads)?;
            } else {
                gemm_backward(pass, grads, None)?;
            }
            if let Some(d_input) = d_input {
                expect_len("Linear output gradient", rows * n, d_output.len())?;
                let (isa, weight) = (thread_isa(), weight_data(layer, params)?);
                if strided::packs(rows, n, k) {
                    // Enough rows to repay packing `W` into panels, which stream through L1 as its strided columns
                    // would not: the same bits.
                    PACKED.with_borrow_mut(|packed| {
                        packed.pack(weight, n, k);
                        packed.matmul(isa, d_output, rows, d_input, false);
                    });
                } else {
                    matmul(isa, d_output, rows, n, weight, k, d_input);
                }
            }
            Ok(())
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            if thread_isa() != Isa::Avx512 {
                return gemm_backward(pass, grads, d_input);
            }
            expect_len("Linear input", rows * k, input.len())?;
            expect_len("Linear output gradient", rows * n, d_output.len())?;
            if let Some(d_input) = &d_input {
                expect_len("Linear input gradient", rows * k, d_input.len())?;
            }
            let weight = weight_data(layer, params)?.as_ptr();
            let d_weight = &mut grads.get_mut(layer.weight()).data;
            expect_len("Linear weight gradient", n * k, d_weight.len())?;
            // SAFETY: AVX-512F is confirmed just above; the lengths checked above cover every element touched.
            unsafe { avx512_weight_grad(d_output, rows, n, input, k, d_weight) };
            if let Some(bias) = layer.bias() {
                add_column_sums(d_output, &mut grads.get_mut(bias).data);
            }
            if let Some(d_input) = d_input {
                // SAFETY: as above.
                unsafe { gradients_avx512::input_grad(d_output.as_ptr(), rows, n, weight, k, d_input.as_mut_ptr()) };
            }
            Ok(())
        }
    }
}

/// `gradients_avx512::weight_grad` over blocks of at most [`MAX_ROWS`] rows (its strips' size), added in order.
///
/// # Safety
/// AVX-512F must be available, and the slices hold at least `rows x n`, `rows x k` and `n x k` values.
#[cfg(target_arch = "x86_64")]
unsafe fn avx512_weight_grad(d_output: &[f32], rows: usize, n: usize, input: &[f32], k: usize, d_weight: &mut [f32]) {
    for start in (0..rows).step_by(MAX_ROWS) {
        let block = MAX_ROWS.min(rows - start);
        gradients_avx512::weight_grad(d_output.as_ptr().add(start * n), block, n, input.as_ptr().add(start * k), k, d_weight.as_mut_ptr());
    }
}

/// dW += dY^T X and db += colsum(dY) through the register tiles, for a product gemm would pack.
fn tiled_weight_grad(pass: Backward<'_>, grads: &mut ParamStore) -> Result<(), NnError> {
    let Backward { layer, input, d_output, rows, .. } = pass;
    let (k, n) = (layer.in_features(), layer.out_features());
    expect_len("Linear input", rows * k, input.len())?;
    expect_len("Linear output gradient", rows * n, d_output.len())?;
    let d_weight = &mut grads.get_mut(layer.weight()).data;
    expect_len("Linear weight gradient", n * k, d_weight.len())?;
    TN_SCRATCH.with_borrow_mut(|scratch| tiles::matmul_tn_acc(thread_isa(), d_output, rows, n, input, k, d_weight, scratch));
    if let Some(bias) = layer.bias() {
        add_column_sums(d_output, &mut grads.get_mut(bias).data);
    }
    Ok(())
}

/// [`Linear::backward`] through gemm, whatever the rows.
fn gemm_backward(pass: Backward<'_>, grads: &mut ParamStore, d_input: Option<&mut [f32]>) -> Result<(), NnError> {
    let Backward { layer, params, input, d_output, rows } = pass;
    let (k, n) = (layer.in_features(), layer.out_features());
    expect_len("Linear input", rows * k, input.len())?;
    expect_len("Linear output gradient", rows * n, d_output.len())?;
    gemm(
        Mat::transposed(d_output, rows, n),
        Mat::rows(input, rows, k),
        1.0,
        MatMut::rows(&mut grads.get_mut(layer.weight()).data, n, k),
    );
    if let Some(bias) = layer.bias() {
        add_column_sums(d_output, &mut grads.get_mut(bias).data);
    }
    if let Some(d_input) = d_input {
        expect_len("Linear input gradient", rows * k, d_input.len())?;
        gemm(Mat::rows(d_output, rows, n), Mat::rows(&params.get(layer.weight()).data, n, k), 0.0, MatMut::rows(d_input, rows, k));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! [`Linear`] products for a few rows (a shard of windows, or a single one) that read the row-major weight
//! `w [out, in]` in place, with AVX-512F.
//!
//! matrixmultiply packs both operands of every product and computes 16 x 16 tiles on this instruction set: for a
//! shard of 8 rows half of each tile is padding, for a single row fifteen sixteenths, and every product makes an
//! extra pass over the weight to pack it. For large layers (NBEATS' 512 x 512) that overhead dominated the pass.
//! Here the forward pass takes dot products of input rows with weight rows (`y = x w^T`), the input gradient
//! accumulates weight rows scaled by output gradients (`dx = dy w`) and the weight gradient accumulates input
//! rows scaled by output gradients (`dW += dy^T x`), tiling only over the rows there are. Each call reads the
//! weight once and passes over its gradient once, for all rows together.
//!
//! Without AVX-512F (or with SIMD disabled on the thread, or for more rows than [`MAX_ROWS`]) both functions
//! are [`Linear::forward`] and [`Linear::backward`]. Each output is summed in a fixed order that depends on the
//! shapes only (a row's result does not depend on the other rows), so results are reproducible; they differ
//! from gemm's in the last bits.

use super::error::{expect_len, NnError};
#[cfg(target_arch = "x86_64")]
use super::gemm::add_column_sums;
use super::linear::Linear;
use super::params::ParamStore;

/// The most rows the kernels take (their packed strips hold 64 rows); gemm takes larger batches.
pub const MAX_ROWS: usize = 64;

/// The implementation a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// The AVX-512F kernels below.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// A single row without AVX-512F but with AVX2: [`super::fast::matmul_nt_acc`]'s dot products, which read
    /// the weight once instead of packing it into a mostly empty 8-row tile (forward only).
    #[cfg(target_arch = "x86_64")]
    Avx2Row,
    /// [`Linear::forward`] and [`Linear::backward`].
    Gemm,
}

/// The fastest kernel for `rows` rows on this CPU and thread.
fn kernel(rows: usize) -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        use super::fast::{path, Path};
        use crate::simd::{detected, Isa};
        let path = path();
        if path != Path::Scalar && rows <= MAX_ROWS && detected() >= Isa::Avx512 && is_x86_feature_detected!("avx512f") {
            return Kernel::Avx512;
        }
        if path == Path::Avx2 && rows == 1 {
            return Kernel::Avx2Row;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = rows;
    Kernel::Gemm
}

/// The weight's values, checked against the layer's shape (a checkpoint could have replaced them).
#[cfg(target_arch = "x86_64")]
fn weight_data<'p>(layer: &Linear, params: &'p ParamStore) -> Result<&'p [f32], NnError> {
    let weight = &params.get(layer.weight()).data;
    expect_len("Linear weight", layer.in_features() * layer.out_features(), weight.len())?;
    Ok(weight)
}

/// The bias's values, checked against the layer's shape.
#[cfg(target_arch = "x86_64")]
fn bias_data<'p>(layer: &Linear, params: &'p ParamStore) -> Result<Option<&'p [f32]>, NnError> {
    let Some(id) = layer.bias() else { return Ok(None) };
    let bias = &params.get(id).data;
    expect_len("Linear bias", layer.out_features(), bias.len())?;
    Ok(Some(bias))
}

/// `output[rows, out] = input[rows, in] W^T + b`, as [`Linear::forward`].
pub fn linear_forward(layer: &Linear, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32]) -> Result<(), NnError> {
    forward_with(kernel(rows), layer, params, input, rows, output)
}

fn forward_with(kernel: Kernel, layer: &Linear, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32]) -> Result<(), NnError> {
    let (k, n) = (layer.in_features(), layer.out_features());
    match kernel {
        Kernel::Gemm => layer.forward(params, input, rows, output),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            expect_len("Linear input", rows * k, input.len())?;
            expect_len("Linear output", rows * n, output.len())?;
            let weight = weight_data(layer, params)?.as_ptr();
            let bias = bias_data(layer, params)?.map_or(std::ptr::null(), <[f32]>::as_ptr);
            // SAFETY: `kernel` confirmed AVX-512F; the lengths checked above cover every element the kernel
            // touches.
            unsafe { avx512::forward(input.as_ptr(), rows, k, weight, n, bias, output.as_mut_ptr()) };
            Ok(())
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2Row => {
            expect_len("Linear input", rows * k, input.len())?;
            expect_len("Linear output", rows * n, output.len())?;
            match bias_data(layer, params)? {
                Some(bias) => super::gemm::fill_rows_with(output, bias),
                None => output.fill(0.0),
            }
            super::fast::matmul_nt_acc(super::fast::Path::Avx2, input, rows, k, weight_data(layer, params)?, n, output);
            Ok(())
        }
    }
}

/// As [`Linear::backward`]: accumulates dW and db into `grads` and writes d input into `d_input` if given.
pub fn linear_backward(
    layer: &Linear,
    params: &ParamStore,
    input: &[f32],
    d_output: &[f32],
    rows: usize,
    grads: &mut ParamStore,
    d_input: Option<&mut [f32]>,
) -> Result<(), NnError> {
    #[cfg(target_arch = "x86_64")]
    if kernel(rows) == Kernel::Avx512 {
        let (k, n) = (layer.in_features(), layer.out_features());
        expect_len("Linear input", rows * k, input.len())?;
        expect_len("Linear output gradient", rows * n, d_output.len())?;
        if let Some(d_input) = &d_input {
            expect_len("Linear input gradient", rows * k, d_input.len())?;
        }
        let weight = weight_data(layer, params)?.as_ptr();
        let d_weight = &mut grads.get_mut(layer.weight()).data;
        expect_len("Linear weight gradient", n * k, d_weight.len())?;
        // SAFETY: as in `forward_with`.
        unsafe { avx512::weight_grad(d_output.as_ptr(), rows, n, input.as_ptr(), k, d_weight.as_mut_ptr()) };
        if let Some(bias) = layer.bias() {
            add_column_sums(d_output, &mut grads.get_mut(bias).data);
        }
        if let Some(d_input) = d_input {
            // SAFETY: as above.
            unsafe { avx512::input_grad(d_output.as_ptr(), rows, n, weight, k, d_input.as_mut_ptr()) };
        }
        return Ok(());
    }
    layer.backward(params, input, d_output, rows, grads, d_input)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

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
        let mut p = 0;
        while p < d.k {
            let mut wv = [_mm512_setzero_ps(); C];
            for (c, v) in wv.iter_mut().enumerate() {
                *v = load(w.add(c * d.k), p, d.k);
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let xv = load(x.add(r * d.k), p, d.k);
                for (a, v) in acc.iter_mut().zip(&wv) {
                    *a = _mm512_fmadd_ps(xv, *v, *a);
                }
            }
            p += L;
        }
        for (r, acc) in acc.iter().enumerate() {
            for (c, a) in acc.iter().enumerate() {
                let b = if bias.is_null() { 0.0 } else { *bias.add(c) };
                *y.add(r * d.n + c) = b + _mm512_reduce_add_ps(*a);
            }
        }
    }

    /// Output columns `0..columns` (weight rows at `w`) of one row tile.
    #[inline(always)]
    unsafe fn row_tile<const R: usize>(x: *const f32, w: *const f32, columns: usize, bias: *const f32, y: *mut f32, d: Dims) {
        let column_bias = |j: usize| if bias.is_null() { bias } else { bias.add(j) };
        let mut j = 0;
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

    /// `y[m, n] = bias + x[m, k] w[n, k]^T` (`bias` may be null: none).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn forward(x: *const f32, m: usize, k: usize, w: *const f32, n: usize, bias: *const f32, y: *mut f32) {
        let d = Dims { m, n, k };
        let mut j = 0;
        while j < n {
            let columns = COLUMN_BLOCK.min(n - j);
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

    fn available_kernels() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Gemm];
        #[cfg(target_arch = "x86_64")]
        {
            use crate::nn::fast::{path, Path};
            if path() == Path::Avx2 {
                kernels.push(Kernel::Avx2Row);
            }
            if kernel(1) == Kernel::Avx512 {
                kernels.push(Kernel::Avx512);
            }
        }
        kernels
    }

    /// Every tile and tail combination against gemm, for each kernel this CPU runs (the backward pass takes the
    /// AVX-512F kernels where they run, gemm elsewhere).
    #[test]
    fn products_match_gemm() {
        // Shapes with every tail: k around the 16- and 64-lane strips, n around the 4-column tiles and across
        // several 64-row weight chunks, rows around the 4-row tiles and the packing threshold, up to MAX_ROWS.
        let shapes = [(1, 1, true), (15, 5, true), (16, 4, false), (17, 9, true), (24, 36, true), (70, 13, false), (130, 7, true), (64, 130, true), (81, 200, false)];
        for (k, n, bias) in shapes {
            let mut params = ParamStore::new();
            let mut rng = ChaCha8Rng::seed_from_u64(k as u64);
            let mut init = ParamInit::new(&mut params, &mut rng);
            let layer = if bias { Linear::new(&mut init, k, n) } else { Linear::without_bias(&mut init, k, n) }.unwrap();
            for rows in [1, 2, 3, 4, 5, 8, 9, 32, 63, MAX_ROWS, MAX_ROWS + 1] {
                let input = random_vec(rows * k, 1);
                let d_output = random_vec(rows * n, 2);
                let mut expected = vec![0.0; rows * n];
                layer.forward(&params, &input, rows, &mut expected).unwrap();
                for kernel in available_kernels() {
                    let mut actual = vec![9.0; rows * n];
                    forward_with(kernel, &layer, &params, &input, rows, &mut actual).unwrap();
                    assert!(close(&actual, &expected), "{kernel:?} forward k={k} n={n} rows={rows}");
                }
                let (mut grads_expected, mut grads_actual) = (params.zeros_like(), params.zeros_like());
                let (mut d_expected, mut d_actual) = (vec![0.0; rows * k], vec![9.0; rows * k]);
                layer.backward(&params, &input, &d_output, rows, &mut grads_expected, Some(&mut d_expected)).unwrap();
                linear_backward(&layer, &params, &input, &d_output, rows, &mut grads_actual, Some(&mut d_actual)).unwrap();
                assert!(close(&d_actual, &d_expected), "input gradient k={k} n={n} rows={rows}");
                // Accumulating onto earlier gradients, as the model's blocks do.
                let (mut again_expected, mut again_actual) = (grads_expected.clone(), grads_actual.clone());
                layer.backward(&params, &input, &d_output, rows, &mut again_expected, None).unwrap();
                linear_backward(&layer, &params, &input, &d_output, rows, &mut again_actual, None).unwrap();
                for ((name, a), (_, e)) in again_actual.iter().zip(again_expected.iter()) {
                    assert!(close(&a.data, &e.data), "{name} k={k} n={n} rows={rows}");
                }
            }
        }
    }

    #[test]
    fn checks_lengths() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let layer = Linear::new(&mut ParamInit::new(&mut params, &mut rng), 4, 3).unwrap();
        assert!(linear_forward(&layer, &params, &[0.0; 7], 2, &mut [0.0; 6]).is_err());
        assert!(linear_forward(&layer, &params, &[0.0; 8], 2, &mut [0.0; 5]).is_err());
        let mut grads = params.zeros_like();
        assert!(linear_backward(&layer, &params, &[0.0; 8], &[0.0; 6], 2, &mut grads, Some(&mut [0.0; 7])).is_err());
        assert!(linear_backward(&layer, &params, &[0.0; 8], &[0.0; 5], 2, &mut grads, Some(&mut [0.0; 8])).is_err());
    }
}


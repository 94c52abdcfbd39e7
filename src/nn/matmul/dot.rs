//! Dot-product products `c (+)= a w^T` with a row-major `w [n, k]` read as stored, without a transposed copy: the
//! forward pass of a layer with many inputs, attention's scores, a recurrent step's hidden product for a few rows.
//! The scalar loop is the twin of the AVX2+FMA kernels in [`super::dot_avx2`] (the AVX-512F forward pass, in
//! [`super::dot_avx512`], sums in its own order and is chosen by [`super`]'s dispatch).

use std::ops::Range;

use crate::simd::Isa;
#[cfg(target_arch = "x86_64")]
use super::dot_avx2 as avx2;

/// `c[m, n] += sum_p a[m, p] * w[n, p]` (a product with a transposed row-major `w` `[n, k]`): every output is
/// a dot product, so `w` is read as stored, without a transposed copy, in blocks that serve pairs of rows
/// from L1. Each output is summed in an order fixed by `k` and its column, so a row gives the same bits
/// alone or among any others.
pub(crate) fn matmul_nt_acc(isa: Isa, a: &[f32], m: usize, k: usize, w: &[f32], n: usize, c: &mut [f32]) {
    assert!(c.len() >= m * n, "matmul_nt_acc: operand too short");
    // SAFETY: `c` is borrowed mutably for the call and holds every output.
    unsafe { matmul_nt_acc_columns(isa, a, m, k, w, n, 0..n, c.as_mut_ptr()) }
}

/// [`matmul_nt_acc`] for output columns `columns` only (each output's bits as in the whole product), so that
/// threads may share one product by columns. `columns.start` must be a multiple of 4.
///
/// # Safety
/// `c` must point to `m x n` values that no one else reads or writes in columns `columns` during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul_nt_acc_columns(isa: Isa, a: &[f32], m: usize, k: usize, w: &[f32], n: usize, columns: Range<usize>, c: *mut f32) {
    assert!(
        a.len() >= m * k && w.len() >= n * k && columns.end <= n && columns.start.is_multiple_of(4),
        "matmul_nt_acc: operand too short, or columns not starting on a group of 4"
    );
    match isa.available() {
        // SAFETY: avx2 and fma detected; the assert above keeps every access inside the slices.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => avx2::matmul_nt_acc(a.as_ptr(), m, k, w.as_ptr(), n, columns, c),
        _ => {
            for (i, a_row) in a.chunks_exact(k).take(m).enumerate() {
                for j in columns.clone() {
                    *c.add(i * n + j) += a_row.iter().zip(&w[j * k..(j + 1) * k]).map(|(x, y)| x * y).sum::<f32>();
                }
            }
        }
    }
}

/// The blocks of at most `block` columns that `range` splits into, in order: (first column, width).
#[cfg(target_arch = "x86_64")]
pub(super) fn column_blocks(range: Range<usize>, block: usize) -> impl Iterator<Item = (usize, usize)> {
    let end = range.end;
    range.step_by(block).map(move |j| (j, block.min(end - j)))
}

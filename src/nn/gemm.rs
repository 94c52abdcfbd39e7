//! A bounds-checked, stride-aware wrapper over `matrixmultiply::sgemm` (run-time dispatched
//! AVX/FMA kernels with a portable fallback). Strides let the layers multiply by transposes
//! (`W^T`, `dY^T`) without copying.

/// A read-only `rows x cols` matrix view: element (r, c) is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// A contiguous row-major matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a contiguous row-major `rows x cols` matrix, i.e. a `cols x rows` view.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat { data, rows: cols, cols: rows, row_stride: 1, col_stride: cols }
    }
}

/// A mutable contiguous row-major `rows x cols` matrix.
pub(crate) struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatMut<'a> {
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        MatMut { data, rows, cols }
    }
}

/// Index one past the last element a view touches (0 for an empty view).
fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + (cols - 1) * col_stride + 1
    }
}

/// `c = a * b + beta * c`. Panics on inconsistent shapes: callers validate user input first,
/// so a panic here is a bug in this crate, not bad input.
pub(crate) fn gemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) {
    assert_eq!(a.cols, b.rows, "gemm inner dimensions");
    assert_eq!((a.rows, b.cols), (c.rows, c.cols), "gemm output shape");
    assert!(extent(a.rows, a.cols, a.row_stride, a.col_stride) <= a.data.len(), "gemm: A out of bounds");
    assert!(extent(b.rows, b.cols, b.row_stride, b.col_stride) <= b.data.len(), "gemm: B out of bounds");
    assert!(c.rows * c.cols <= c.data.len(), "gemm: C out of bounds");
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    if a.cols == 0 {
        // An empty inner dimension makes a * b zero.
        let c = &mut c.data[..c.rows * c.cols];
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c.iter_mut().for_each(|v| *v *= beta);
        }
        return;
    }
    // SAFETY: the asserts above keep every index sgemm forms inside the three slices, and `c`
    // is a unique borrow, so it aliases neither input.
    unsafe {
        matrixmultiply::sgemm(
            a.rows,
            a.cols,
            b.cols,
            1.0,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.data.as_mut_ptr(),
            c.cols as isize,
            1,
        );
    }
}

/// `sums[j] += sum_r m[r, j]` over a contiguous row-major matrix with `sums.len()` columns: bias gradients.
pub(crate) fn add_column_sums(m: &[f32], sums: &mut [f32]) {
    for row in m.chunks_exact(sums.len()) {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
}

/// Writes `bias` into every row of the contiguous matrix `m`: the starting value of `x W^T + b`.
pub(crate) fn fill_rows_with(m: &mut [f32], bias: &[f32]) {
    m.chunks_exact_mut(bias.len()).for_each(|row| row.copy_from_slice(bias));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_by_a_transposed_view() {
        // a = [[1, 2], [3, 4]], w = [[1, 0], [1, 1], [0, 2]] (3x2): a * w^T = [[1, 3, 4], [3, 7, 8]].
        let a = [1.0, 2.0, 3.0, 4.0];
        let w = [1.0, 0.0, 1.0, 1.0, 0.0, 2.0];
        let mut c = [0.0; 6];
        gemm(Mat::rows(&a, 2, 2), Mat::transposed(&w, 3, 2), 0.0, MatMut::rows(&mut c, 2, 3));
        assert_eq!(c, [1.0, 3.0, 4.0, 3.0, 7.0, 8.0]);
    }
}

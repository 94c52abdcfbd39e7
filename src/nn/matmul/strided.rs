//! The general product [`gemm`]: bounds-checked and stride-aware, over two run-time dispatched crates: nano-gemm for small
//! products (AVX2/AVX-512 kernels, no packing buffers, so no heap allocation) and `matrixmultiply::sgemm` for
//! large ones. Strides let the layers multiply by transposes (`W^T`, `dY^T`) without copying.

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

    /// Any strided view, e.g. one kernel tap `W[:, :, j]` of a convolution weight `[out, in, k]`.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        Mat { data, rows, cols, row_stride, col_stride }
    }
}

/// A mutable `rows x cols` matrix view: element (r, c) is `data[r * row_stride + c * col_stride]`.
pub(crate) struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatMut<'a> {
    /// A contiguous row-major matrix.
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        MatMut { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// A strided view (a convolution weight's gradient, one tap at a time); its elements must be distinct.
    pub fn strided(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        MatMut { data, rows, cols, row_stride, col_stride }
    }

    fn for_each(&mut self, mut f: impl FnMut(&mut f32)) {
        for r in 0..self.rows {
            for c in 0..self.cols {
                f(&mut self.data[r * self.row_stride + c * self.col_stride]);
            }
        }
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

/// Whether no two elements of a non-empty strided view share a memory location (row-major-like or
/// column-major-like nesting of the strides).
fn elements_distinct(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    let nested = |outer: usize, outer_stride: usize, inner: usize, inner_stride: usize| {
        (inner == 1 || inner_stride >= 1) && (outer == 1 || outer_stride > (inner - 1) * inner_stride)
    };
    nested(rows, row_stride, cols, col_stride) || nested(cols, col_stride, rows, row_stride)
}

/// `c = a * b + beta * c`. Panics on inconsistent shapes: callers validate user input first,
/// so a panic here is a bug in this crate, not bad input.
pub(crate) fn gemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) {
    assert_eq!(a.cols, b.rows, "gemm inner dimensions");
    assert_eq!((a.rows, b.cols), (c.rows, c.cols), "gemm output shape");
    assert!(extent(a.rows, a.cols, a.row_stride, a.col_stride) <= a.data.len(), "gemm: A out of bounds");
    assert!(extent(b.rows, b.cols, b.row_stride, b.col_stride) <= b.data.len(), "gemm: B out of bounds");
    assert!(extent(c.rows, c.cols, c.row_stride, c.col_stride) <= c.data.len(), "gemm: C out of bounds");
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    assert!(elements_distinct(c.rows, c.cols, c.row_stride, c.col_stride), "gemm: C elements overlap");
    let mut c = c;
    if a.cols == 0 {
        // An empty inner dimension makes a * b zero.
        c.for_each(|v| *v = if beta == 0.0 { 0.0 } else { *v * beta });
        return;
    }
    if packs(a.rows, a.cols, b.cols) {
        packed_gemm(a, b, beta, c);
    } else {
        small_gemm(a, b, beta, c);
    }
}

/// Whether an `[m, k] x [k, n]` product goes to matrixmultiply, which allocates its packing buffers on every
/// call. Products whose row operand `A` fits in L2 go to nano-gemm: it rereads `A` once per column tile of `C` and
/// streams `B` and `C` once, without packing (so with no heap allocation: training steps and window forecasts at
/// the usual sizes allocate nothing). Larger ones go to matrixmultiply, whose cache blocking pays off there.
pub(super) fn packs(m: usize, k: usize, n: usize) -> bool {
    const L2_FLOATS: usize = 1 << 16;
    m * k > L2_FLOATS || k * n > 4 * L2_FLOATS
}

/// A view's element strides `(row, column)` as the products' pointer offsets.
fn offsets(row_stride: usize, col_stride: usize) -> (isize, isize) {
    (row_stride as isize, col_stride as isize)
}

/// nano-gemm works on column-major views and computes `dst = alpha dst + beta lhs rhs`: row-major `C = A B` is
/// column-major `C^T = B^T A^T`, the same memory read with the strides swapped.
fn small_gemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) {
    let (m, k, n) = (c.cols, a.cols, c.rows);
    let plan = nano_gemm::Plan::new_f32(m, n, k);
    let ((a_row, a_col), (b_row, b_col)) = (offsets(a.row_stride, a.col_stride), offsets(b.row_stride, b.col_stride));
    let (c_row, c_col) = offsets(c.row_stride, c.col_stride);
    // SAFETY: gemm's asserts keep every index formed from these shapes and strides inside the three slices and the
    // elements of `c` distinct; `c` is a unique borrow, so it aliases neither input.
    unsafe {
        let (c, b, a) = (c.data.as_mut_ptr(), b.data.as_ptr(), a.data.as_ptr());
        plan.execute_unchecked(m, n, k, c, c_col, c_row, b, b_col, b_row, a, a_col, a_row, beta, 1.0, false, false);
    }
}

fn packed_gemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) {
    let ((a_row, a_col), (b_row, b_col)) = (offsets(a.row_stride, a.col_stride), offsets(b.row_stride, b.col_stride));
    let (c_row, c_col) = offsets(c.row_stride, c.col_stride);
    let (m, k, n) = (a.rows, a.cols, b.cols);
    // SAFETY: as in small_gemm.
    unsafe {
        let (a, b, c) = (a.data.as_ptr(), b.data.as_ptr(), c.data.as_mut_ptr());
        matrixmultiply::sgemm(m, k, n, 1.0, a, a_row, a_col, b, b_row, b_col, beta, c, c_row, c_col);
    }
}

/// `sums[j] += sum_r m[r, j]` over a contiguous row-major matrix with `sums.len()` columns: bias gradients.
pub(crate) fn add_column_sums(m: &[f32], sums: &mut [f32]) {
    for row in m.chunks_exact(sums.len()) {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
}

/// `sums[i] += sum_c m[i, c]` over a contiguous row-major matrix with `sums.len()` rows: bias gradients of a
/// layer applied along the leading axis.
pub(crate) fn add_row_sums(m: &[f32], sums: &mut [f32]) {
    if let Some(cols) = row_length(m.len(), sums.len()) {
        sums.iter_mut().zip(m.chunks_exact(cols)).for_each(|(s, row)| *s += row.iter().sum::<f32>());
    }
}

/// Writes `bias[i]` into every element of row `i` of the contiguous matrix `m`: the starting value of `W x + b`.
pub(crate) fn fill_columns_with(m: &mut [f32], bias: &[f32]) {
    if let Some(cols) = row_length(m.len(), bias.len()) {
        m.chunks_exact_mut(cols).zip(bias).for_each(|(row, b)| row.fill(*b));
    }
}

/// The row length of a `len`-element matrix of `rows` rows; `None` when it has no elements.
fn row_length(len: usize, rows: usize) -> Option<usize> {
    len.checked_div(rows).filter(|&cols| cols > 0)
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

    #[test]
    fn writes_through_a_strided_output_view() {
        // The same product written into the even elements of a 2x6 buffer, column by column.
        let a = [1.0, 2.0, 3.0, 4.0];
        let w = [1.0, 0.0, 1.0, 1.0, 0.0, 2.0];
        let mut c = [-1.0; 12];
        gemm(Mat::rows(&a, 2, 2), Mat::strided(&w, 2, 3, 1, 2), 0.0, MatMut::strided(&mut c, 2, 3, 2, 4));
        assert_eq!(c, [1.0, -1.0, 3.0, -1.0, 3.0, -1.0, 7.0, -1.0, 4.0, -1.0, 8.0, -1.0]);
        assert!(!elements_distinct(2, 3, 1, 1));
        assert!(elements_distinct(1, 3, 0, 5) && !elements_distinct(3, 2, 5, 0));
    }

    /// `beta c + a b` element by element in f64.
    fn reference(a: Mat<'_>, b: Mat<'_>, beta: f32, c: &[f32], c_strides: (usize, usize)) -> Vec<f32> {
        let mut out = c.to_vec();
        for i in 0..a.rows {
            for j in 0..b.cols {
                let at = |m: Mat<'_>, r: usize, col: usize| f64::from(m.data[r * m.row_stride + col * m.col_stride]);
                let dot: f64 = (0..a.cols).map(|p| at(a, i, p) * at(b, p, j)).sum();
                let o = i * c_strides.0 + j * c_strides.1;
                out[o] = if beta == 0.0 { dot as f32 } else { (f64::from(beta) * f64::from(c[o]) + dot) as f32 };
            }
        }
        out
    }

    proptest::proptest! {
        /// Both kernels (nano-gemm below the size limit, matrixmultiply above it) agree with the definition for any
        /// shape, either operand transposed, and beta 0 (the old contents, NaN here, ignored) or not.
        #[test]
        fn both_kernels_match_the_definition(
            m in 1usize..80, k in 0usize..80, n in 1usize..80, scale in 1usize..12,
            a_t: bool, b_t: bool, c_t: bool, keep: bool, seed: u64,
        ) {
            let (m, k, n) = if scale > 9 { (m * 13, k * 11, n) } else { (m, k, n) };
            let values = |len: usize, salt: u64| -> Vec<f32> {
                (0..len).map(|i| (((i as u64 * 2654435761 + seed + salt) % 1000) as f32 - 500.0) / 250.0).collect()
            };
            let (a_data, b_data) = (values(m * k, 1), values(k * n, 2));
            let a = if a_t { Mat::transposed(&a_data, k, m) } else { Mat::rows(&a_data, m, k) };
            let b = if b_t { Mat::transposed(&b_data, n, k) } else { Mat::rows(&b_data, k, n) };
            let beta = if keep { 0.5 } else { 0.0 };
            let start = if keep { values(m * n, 3) } else { vec![f32::NAN; m * n] };
            let strides = if c_t { (1, m) } else { (n, 1) };
            let expected = reference(a, b, beta, &start, strides);
            let mut c = start.clone();
            gemm(a, b, beta, MatMut::strided(&mut c, m, n, strides.0, strides.1));
            for (got, want) in c.iter().zip(&expected) {
                proptest::prop_assert!((got - want).abs() <= 1e-4 * (1.0 + k as f32) * (1.0 + want.abs()), "{got} vs {want}");
            }
        }
    }
}

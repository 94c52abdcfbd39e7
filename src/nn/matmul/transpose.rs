//! Matrix transposes: a scalar loop, and its AVX2 twin that moves whole 8 x 8 blocks through registers (also
//! packing `W^T` into [`super::tiles::PackedB`]'s panels). Transposes move values without arithmetic, so every
//! level gives the same result.

use crate::simd::Isa;

/// `out[c, r] = m[r, c]` for a contiguous row-major `m` `[rows, cols]`.
pub(crate) fn transpose(isa: Isa, m: &[f32], rows: usize, cols: usize, out: &mut Vec<f32>) {
    assert!(m.len() >= rows * cols, "transpose: input too short");
    // Grow only: one buffer serves layers of different sizes without refilling it each time.
    if out.len() < rows * cols {
        out.resize(rows * cols, 0.0);
    }
    let (full_rows, full_cols) = match isa.available() {
        // SAFETY: avx2 detected; the kernel touches only whole 8 x 8 blocks inside both buffers.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe {
            avx2::transpose_blocks(m.as_ptr(), rows, cols, out.as_mut_ptr());
            (rows / 8 * 8, cols / 8 * 8)
        },
        _ => (0, 0),
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
    //! The 8 x 8 block transposes. Every function here is `unsafe`: callers must have checked avx2 and that the
    //! pointers cover the blocks.

    use std::arch::x86_64::*;

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

    /// Transposes every whole 8 x 8 block of `m` `[rows, cols]` into `out` `[cols, rows]`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn transpose_blocks(m: *const f32, rows: usize, cols: usize, out: *mut f32) {
        for r in (0..rows / 8 * 8).step_by(8) {
            for c in (0..cols / 8 * 8).step_by(8) {
                transpose8(m.add(r * cols + c), cols, out.add(c * rows + r), rows);
            }
        }
    }
}

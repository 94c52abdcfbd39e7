//! Register-tiled products `c (+)= a b` for shapes too small for a packing GEMM (the `[B, K] x [K, N]` products of
//! a recurrent step, attention's score and context products), and [`PackedB`], a weight packed once into column
//! panels for repeated products. The scalar loops are the twins of the AVX2+FMA tiles ([`tiles_avx2`]) and the
//! AVX-512F panel tiles ([`tiles_avx512`]); which runs is the [`Isa`] passed in (the thread's
//! [`crate::simd::thread_isa`] in the layers), capped at what the CPU has.
//!
//! Results are deterministic for a given level: the order of every floating-point operation depends only on the
//! shapes, never on timing. Each output element is accumulated in increasing `k`, so a row's result does not
//! depend on how many other rows share the call, and the AVX-512F tiles give the AVX2 ones' bits.

use crate::simd::Isa;

use super::transpose::{self, transpose};
#[cfg(target_arch = "x86_64")]
use super::{tiles_avx2 as avx2, tiles_avx512};

/// `c[m, n] += sum_p a[m, p] * b[p, n]` over contiguous row-major `a` `[m, k]`, `b` `[k, n]`, `c` `[m, n]`.
/// The layers multiply through [`PackedB`]; the plain-layout products are the reference it is tested against.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn matmul_acc(isa: Isa, a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    matmul_impl(isa, a, m, k, b, n, c, true);
}

/// `c[m, n] = sum_p a[m, p] * b[p, n]`: [`matmul_acc`] onto zeros, without reading `c`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn matmul(isa: Isa, a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    matmul_impl(isa, a, m, k, b, n, c, false);
}

#[allow(clippy::too_many_arguments)]
fn matmul_impl(isa: Isa, a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32], accumulate: bool) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "matmul: operand too short"
    );
    match isa.available() {
        // SAFETY: `available()` returns Avx2 or above only after avx2 and fma were detected; the assert above
        // keeps every access inside the slices.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe {
            avx2::matmul(a.as_ptr(), m, k, b.as_ptr(), n, c.as_mut_ptr(), accumulate)
        },
        _ => {
            if !accumulate {
                c[..m * n].fill(0.0);
            }
            matmul_acc_scalar(a, m, k, b, n, c)
        }
    }
}

fn matmul_acc_scalar(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
        for (&x, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            c_row.iter_mut().zip(b_row).for_each(|(c, y)| *c += x * y);
        }
    }
}

/// Inner rows per block of [`matmul_tn_acc`]: a 16-column panel of a block of `b` (16 KiB) stays in L1 while every
/// row tile of `c` passes over it.
const TN_BLOCK: usize = 256;

/// The scratch of [`matmul_tn_acc`]: a block of `a` transposed and one of `b` packed into panels, each grown to the
/// largest block, then reused.
#[derive(Debug, Clone, Default)]
pub(crate) struct TnScratch {
    transposed: Vec<f32>,
    packed: PackedB,
}
crate::nn::heap_bytes::heap_bytes!(TnScratch { transposed, packed });

/// `c[m, n] += a^T b` for row-major `a` `[k, m]` and `b` `[k, n]` (a weight gradient `dY^T X` over `k` batch rows),
/// in blocks of [`TN_BLOCK`] inner rows, each transposed and packed into `scratch` (no allocation once it has grown)
/// and accumulated onto `c` in turn: every element is summed over `p` in increasing order, the bits of
/// [`matmul_acc`] over the transpose of `a`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_tn_acc(isa: Isa, a: &[f32], k: usize, m: usize, b: &[f32], n: usize, c: &mut [f32], scratch: &mut TnScratch) {
    assert!(a.len() >= k * m && b.len() >= k * n && c.len() >= m * n, "matmul_tn_acc: operand too short");
    for start in (0..k).step_by(TN_BLOCK) {
        let block = TN_BLOCK.min(k - start);
        transpose(isa, &a[start * m..(start + block) * m], block, m, &mut scratch.transposed);
        scratch.packed.pack(&b[start * n..(start + block) * n], block, n);
        scratch.packed.matmul(isa, &scratch.transposed, m, c, true);
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
crate::nn::heap_bytes::heap_bytes!(PackedB { data, offset, k, n });

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
    pub fn pack_transposed(&mut self, isa: Isa, w: &[f32], n: usize, k: usize) {
        assert!(w.len() >= k * n, "pack_transposed: input too short");
        if !n.is_multiple_of(16) {
            let mut data = std::mem::take(&mut self.data);
            transpose(isa, w, n, k, &mut data);
            self.data = data;
            (self.k, self.n, self.offset) = (k, n, 0);
            return;
        }
        let out = self.buffer(k, n);
        let done = match isa.available() {
            // SAFETY: avx2 detected; `out` holds k * n values and `w` at least as many, and the
            // kernel touches only whole 8 x 8 blocks of both.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => unsafe {
                transpose::avx2::pack_transposed_blocks(w.as_ptr(), n, k, out.as_mut_ptr());
                k / 8 * 8
            },
            _ => 0,
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
    pub fn matmul(&self, isa: Isa, a: &[f32], m: usize, c: &mut [f32], accumulate: bool) {
        self.product(isa, a, m, c, accumulate, None);
    }

    /// `c[m, n] = bias + a[m, k] b` for a `bias` row of `n` values: the same bits as filling every row
    /// of `c` with `bias` and accumulating, without the separate pass over `c`.
    pub fn matmul_bias(&self, isa: Isa, a: &[f32], m: usize, c: &mut [f32], bias: &[f32]) {
        assert!(bias.len() >= self.n, "packed matmul: bias too short");
        self.product(isa, a, m, c, true, Some(bias));
    }

    fn product(&self, isa: Isa, a: &[f32], m: usize, c: &mut [f32], accumulate: bool, bias: Option<&[f32]>) {
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
            return matmul_impl(isa, a, m, k, self.as_slice(), n, c, accumulate);
        }
        let b = self.as_slice();
        match isa.available() {
            // SAFETY: avx2 and fma detected (and avx512f for Avx512); the asserts above and the packed length k * n
            // keep every access inside the slices (the bias row holds at least n values). AVX-512 where present: the
            // same sums in the same order, so the same bits.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe {
                let bias = bias.map_or(std::ptr::null(), <[f32]>::as_ptr);
                tiles_avx512::matmul_panels(a.as_ptr(), m, k, b.as_ptr(), n, c.as_mut_ptr(), accumulate, bias)
            },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe {
                let bias = bias.map_or(std::ptr::null(), <[f32]>::as_ptr);
                avx2::matmul_panels(a.as_ptr(), m, k, b.as_ptr(), n, c.as_mut_ptr(), accumulate, bias)
            },
            _ => {
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
        }
    }
}


#[cfg(test)]
#[path = "tiles_tests.rs"]
mod tests;

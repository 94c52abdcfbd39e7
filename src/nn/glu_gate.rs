//! `F.glu`'s element-wise part over rows `[a | b]` of `2 out` values: `y = a σ(b)`, and its gradients
//! `da = dy σ(b)`, `db = dy a σ(b) (1 - σ(b))` (σ recomputed, not stored). The vector path (AVX2 or AVX-512F, with
//! `simd::f32s`' sigmoid) masks each row's last vector, so every value takes the same arithmetic whatever the
//! other rows: a window's values are the same alone or in a batch.

use super::activation::{sigmoid, sigmoid_grad_from_output};
use crate::simd::{thread_isa, Isa};

/// `y[rows, out] = a σ(b)` from `projected` `[rows, 2 out]`.
pub struct GluForward<'a> {
    pub out: usize,
    pub projected: &'a [f32],
    pub y: &'a mut [f32],
}

/// `d_projected` `[rows, 2 out]` (`[da | db]`) from `projected` and `dy` `[rows, out]`.
pub struct GluBackward<'a> {
    pub out: usize,
    pub projected: &'a [f32],
    pub dy: &'a [f32],
    pub d_projected: &'a mut [f32],
}

pub fn glu_forward(pass: GluForward<'_>) {
    let GluForward { out, projected, y } = pass;
    assert!(out > 0 && projected.len() == 2 * y.len() && y.len() % out == 0, "glu_forward: shapes differ");
    match thread_isa() {
        // SAFETY: `thread_isa` returns Avx2 or above only after avx2 and fma were detected; the shapes are checked.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { vector::forward(GluForward { out, projected, y }) },
        _ => {
            for (y, ab) in y.chunks_exact_mut(out).zip(projected.chunks_exact(2 * out)) {
                let (a, b) = ab.split_at(out);
                y.iter_mut().zip(a).zip(b).for_each(|((y, a), b)| *y = a * sigmoid(*b));
            }
        }
    }
}

pub fn glu_backward(pass: GluBackward<'_>) {
    let GluBackward { out, projected, dy, d_projected } = pass;
    assert!(out > 0 && projected.len() == 2 * dy.len() && d_projected.len() == projected.len() && dy.len() % out == 0, "glu_backward: shapes differ");
    match thread_isa() {
        // SAFETY: as in `glu_forward`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { vector::backward(GluBackward { out, projected, dy, d_projected }) },
        _ => {
            for ((d_ab, ab), dy) in d_projected.chunks_exact_mut(2 * out).zip(projected.chunks_exact(2 * out)).zip(dy.chunks_exact(out)) {
                let (d_a, d_b) = d_ab.split_at_mut(out);
                for j in 0..out {
                    let gate = sigmoid(ab[out + j]);
                    d_a[j] = dy[j] * gate;
                    d_b[j] = dy[j] * ab[j] * sigmoid_grad_from_output(gate);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vector {
    use super::{GluBackward, GluForward};
    use crate::simd::f32s::{sigmoid, F32s, Lanes};

    crate::simd::f32s::widest!(pub unsafe fn forward(pass: GluForward<'_>) = forward_lanes);
    crate::simd::f32s::widest!(pub unsafe fn backward(pass: GluBackward<'_>) = backward_lanes);

    /// Caller: the width's instructions enabled, the shapes checked.
    #[inline(always)]
    unsafe fn forward_lanes<V: F32s>(pass: GluForward<'_>) {
        let out = pass.out;
        for r in 0..pass.y.len() / out {
            let (ab, y) = (pass.projected.as_ptr().add(2 * r * out), pass.y.as_mut_ptr().add(r * out));
            for j in (0..out).step_by(V::LANES) {
                let l = Lanes::<V>::new(out, j);
                l.store(y.add(j), l.load(ab.add(j)).mul(sigmoid(l.load(ab.add(out + j)))));
            }
        }
    }

    /// Caller: as above. The operations and their order are the scalar path's.
    #[inline(always)]
    unsafe fn backward_lanes<V: F32s>(pass: GluBackward<'_>) {
        let (out, one) = (pass.out, V::splat(1.0));
        for r in 0..pass.dy.len() / out {
            let ab = pass.projected.as_ptr().add(2 * r * out);
            let (dy, d_ab) = (pass.dy.as_ptr().add(r * out), pass.d_projected.as_mut_ptr().add(2 * r * out));
            for j in (0..out).step_by(V::LANES) {
                let l = Lanes::<V>::new(out, j);
                let (a, dy) = (l.load(ab.add(j)), l.load(dy.add(j)));
                let gate = sigmoid(l.load(ab.add(out + j)));
                l.store(d_ab.add(j), dy.mul(gate));
                l.store(d_ab.add(out + j), dy.mul(a).mul(gate.mul(one.sub(gate))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_vec;

    /// The vector path agrees with the scalar one to sigmoid's rounding, and a row's values do not depend on the
    /// rows around it (widths with and without a masked last vector).
    #[test]
    fn the_vector_path_matches_the_scalar_one_row_by_row() {
        for out in [1, 5, 8, 16, 19, 128] {
            let rows = 3;
            let projected: Vec<f32> = random_vec(rows * 2 * out, out as u64).iter().map(|v| 8.0 * v).collect();
            let dy = random_vec(rows * out, 7);
            let run = |simd, rows: usize| {
                let _path = crate::simd::scoped_simd(simd);
                let projected = &projected[..rows * 2 * out];
                let mut y = vec![0.0; rows * out];
                glu_forward(GluForward { out, projected, y: &mut y });
                let mut d = vec![0.0; rows * 2 * out];
                glu_backward(GluBackward { out, projected, dy: &dy[..rows * out], d_projected: &mut d });
                (y, d)
            };
            let ((y, d), (scalar_y, scalar_d)) = (run(true, rows), run(false, rows));
            assert!(y.iter().zip(&scalar_y).all(|(a, b)| (a - b).abs() <= 1e-6 * (1.0 + b.abs())), "{y:?} vs {scalar_y:?}");
            assert!(d.iter().zip(&scalar_d).all(|(a, b)| (a - b).abs() <= 1e-6 * (1.0 + b.abs())), "{d:?} vs {scalar_d:?}");
            let (first_y, first_d) = run(true, 1);
            assert_eq!(first_y[..], y[..out]);
            assert_eq!(first_d[..], d[..2 * out]);
        }
    }
}

//! Rolling-window statistics over "valid" windows: `out[i]` summarises `x[i..i + w]`, so the
//! output has `x.len() - w + 1` values.
//!
//! All four kernels are O(n) whatever the window, by van Herk/Gil-Werman block scans arranged by
//! window start: the starts are cut into blocks of `w`, and every window starting in block b is
//! the tail `x[i..e)` of that block plus the head `x[e..i + w)` of the next, e = (b + 1)·w. A
//! backward scan over the block gives every tail, a forward scan over the next block every
//! head, and each window combines its tail and head.
//!
//! The scans are sequential, so the work is spread over independent blocks. The SIMD version
//! gives each vector lane its own block (lane k scans block b + k: its loads and stores are
//! gathers and scatters, but every add, min and square root is a full-width vector operation)
//! and combines tail and head in registers during the head scan. A last group of at most half
//! as many blocks as lanes cuts each block's starts into runs, a lane each ([`SplitGroup`]), so
//! that a few leftover blocks (10k values at w = 1000: 10 blocks for 8 lanes) cost a fraction of
//! a group, not two. The scalar twin scans [`CHAINS`] blocks in lockstep and combines in a
//! separate pass.
//!
//! Each window is built only from partial results over its own elements, which gives the NaN
//! policy for free: a NaN affects exactly the windows that contain it. For the standard
//! deviation the partial results are sums of d = x − c and d² around the shift c = x[e − 1],
//! the last element of the block, which lies inside every window of the block: |d| is at most
//! the window's range, so M2 = Σd² − (Σd)²/w cannot cancel catastrophically however large the
//! offset of the data (and a non-finite c only turns windows that contain it into NaN).

use super::{check_len, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec, MAX_LANES};

/// Blocks the scalar twin scans in lockstep: enough independent chains to hide add latency
/// (8 run out of registers for the addressing and spill).
const CHAINS: usize = 4;

/// The SIMD scans for `x.len() - w + 1` windows: lane k of a vector scans block b + k. The
/// state of a scan is `K` vectors; `step(acc, values, shift)` folds in one value per lane
/// (`shift` holds each lane's x[e − 1]), and `combine(tail, head, consts)` gives a window's
/// result. (`step` and `combine` are meant to be `#[inline(always)]` fns: a closure the
/// optimiser leaves out of line loses the wrapper's target features, and every intrinsic in it
/// becomes a call.)
/// The tails of a group of blocks wait in `scratch` (at least K·L·w values) until the head
/// scan combines them. With fewer than L·w windows (most lanes would idle) it runs `fallback`
/// instead (and returns false), which bounds K·L·w by K times the number of windows.
#[inline(always)]
fn vector_scans<V: SimdVec, const K: usize>(
    x: &[V::Elem],
    w: usize,
    out: &mut [V::Elem],
    scratch: &mut [V::Elem],
    fallback: impl FnOnce(&[V::Elem], usize, &mut [V::Elem], &mut [V::Elem]),
    identity: [V; K],
    ops: FoldOps<impl Fn([V; K], V, V) -> [V; K], impl Fn([V; K], [V; K]) -> [V; K], impl Fn(V::Elem) -> V::Elem>,
    combine: impl Fn([V; K], [V; K], [V; 2]) -> V,
    consts: [V; 2],
) -> bool {
    let FoldOps { step, merge, neutral } = ops;
    let (n, l) = (x.len(), V::LANES);
    // Upholds the unchecked accesses below (callers have validated it with `check_window`).
    assert!(w >= 1 && out.len() + w == n + 1, "one output per window");
    let m = out.len();
    let blocks = m.div_ceil(w);
    if m < l * w {
        fallback(x, w, out, scratch);
        return false;
    }
    let tails = &mut scratch[..K * l * w];
    for b in (0..blocks).step_by(l) {
        let f0 = b * w;
        if (b + l) * w <= m {
            // A whole group: every lane's w window starts and w − 1 head values exist, so
            // lane k reads x[f0 + k·w + j] for j < 2w − 1, all below (b + l)·w + w − 1 ≤ n,
            // and writes out[f0 + k·w + j] for j < w, below (b + l)·w ≤ m.
            // SAFETY (both closures): the bounds just stated; checked indexing here costs
            // more integer work than the vector arithmetic.
            let load = |j: usize| V::from_fn(|k| unsafe { *x.get_unchecked(f0 + k * w + j) });
            let emit = |j: usize, r: V, out: &mut [V::Elem]| {
                r.for_each_lane(|k, v| unsafe { *out.get_unchecked_mut(f0 + k * w + j) = v })
            };
            scan_group(w, tails, &load, &emit, out, identity, &step, &combine, consts);
        } else if 2 * (blocks - b) <= l {
            let group = SplitGroup { x, w, first: f0, blocks: blocks - b, m };
            group.scan(out, tails, identity, &step, &merge, &neutral, &combine, consts);
        } else {
            // The last group: lanes past the last block repeat it, head reads past the end
            // are clamped, and only the windows that exist are written.
            let last = blocks - 1 - b;
            let pos = |k: usize, j: usize| f0 + k.min(last) * w + j;
            let load = |j: usize| V::from_fn(|k| x[pos(k, j).min(n - 1)]);
            let emit = |j: usize, r: V, out: &mut [V::Elem]| {
                r.for_each_lane(|k, v| {
                    if k <= last && pos(k, j) < m {
                        out[pos(k, j)] = v;
                    }
                })
            };
            scan_group(w, tails, &load, &emit, out, identity, &step, &combine, consts);
        }
    }
    true
}

/// How a fold runs: `step(state, values, shift)` folds one value per lane, `merge(a, b)` joins
/// the states of two adjacent runs of values (a before b), and `neutral(shift)` is a value that
/// `step` folds without changing the state.
struct FoldOps<S, M, N> {
    step: S,
    merge: M,
    neutral: N,
}

/// The last group of [`vector_scans`] when it has at most L/2 blocks. One lane per block would
/// leave most lanes idle while each scans 2w values; instead each block's window starts are cut
/// into `parts` = L / blocks runs of `c` = ⌈w / parts⌉ starts, a lane each. A lane folds its
/// run's part of the block's tail and of the next block's head (c values each). The other
/// parts reach it as carries: the tail of start i is the lane's fold from i to the end of its
/// part merged with the totals of the later parts of the block, and the head is the totals of
/// the earlier parts of the head merged with the lane's fold. About 3c vector steps instead
/// of 2w. Each window is still built only from its own elements (the NaN policy holds).
struct SplitGroup<'x, E> {
    x: &'x [E],
    w: usize,
    /// The first window start of the group's first block.
    first: usize,
    blocks: usize,
    /// The number of windows.
    m: usize,
}

impl<E: Float> SplitGroup<'_, E> {
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn scan<V: SimdVec<Elem = E>, const K: usize>(
        &self,
        out: &mut [E],
        tails: &mut [E],
        identity: [V; K],
        step: &impl Fn([V; K], V, V) -> [V; K],
        merge: &impl Fn([V; K], [V; K]) -> [V; K],
        neutral: &impl Fn(E) -> E,
        combine: &impl Fn([V; K], [V; K], [V; 2]) -> V,
        consts: [V; 2],
    ) {
        let (x, w, n, l) = (self.x, self.w, self.x.len(), V::LANES);
        let parts = l / self.blocks;
        let c = w.div_ceil(parts);
        // Lane k: part k % parts of block k / parts. Lanes past the last block repeat lane 0 and
        // write nothing (their states merge only among themselves).
        let used = self.blocks * parts;
        let block_of = |k: usize| self.first + if k < used { k / parts * w } else { 0 };
        let part_of = |k: usize| if k < used { k % parts } else { 0 };
        let lane = |f: &dyn Fn(usize, usize) -> usize| -> [usize; MAX_LANES] { std::array::from_fn(|k| f(block_of(k), block_of(k) + part_of(k) * c)) };
        // Per lane: its run of starts, the end of its tail part (within the block), its head part
        // (c values from e + part·c) and the end of its starts that exist.
        let run_start = lane(&|_, run| run);
        let tail_end = lane(&|block, run| (run + c).min(block + w));
        let head_start = lane(&|_, run| run + w);
        let last_start: [usize; MAX_LANES] = std::array::from_fn(|k| if k < used { tail_end[k].min(self.m) } else { 0 });
        // The block's shift (for the moments): its last element, inside every window of the block.
        let shifts: [E; MAX_LANES] = std::array::from_fn(|k| x[block_of(k) + w - 1]);
        let pads = shifts.map(neutral);
        let shift = V::from_fn(|k| shifts[k]);
        // Tail parts are whole below `whole` (only a block's last part can be shorter). Head reads
        // are clamped into x: a head value past its end is read only by a part whose starts do
        // not exist, and whose total no part with existing starts merges.
        let whole = (0..l).map(|k| tail_end[k].saturating_sub(run_start[k])).min().unwrap_or(0);
        let tail_value = |j: usize| {
            V::from_fn(|k| if j < whole || run_start[k] + j < tail_end[k] { x[run_start[k] + j] } else { pads[k] })
        };
        let head_value = |j: usize| V::from_fn(|k| x[(head_start[k] + j).min(n - 1)]);
        let tails = &mut tails[..K * l * c];

        let mut acc = identity;
        for (j, t) in tails.chunks_exact_mut(K * l).enumerate().rev() {
            acc = step(acc, tail_value(j), shift);
            for (a, t) in acc.iter().zip(t.chunks_exact_mut(l)) {
                a.store(t);
            }
        }
        let tail_totals = acc;
        let mut head_totals = identity;
        for j in 0..c {
            head_totals = step(head_totals, head_value(j), shift);
        }
        // Carries: the merged totals of the block's later tail parts and of its earlier head parts.
        let lanes_of = |v: [V; K]| {
            let mut lanes = [[E::ZERO; MAX_LANES]; K];
            v.iter().zip(&mut lanes).for_each(|(v, lanes)| v.store(lanes));
            lanes
        };
        let (tail_totals, head_totals) = (lanes_of(tail_totals), lanes_of(head_totals));
        let splat = |lanes: &[[E; MAX_LANES]; K], k: usize| -> [V; K] { std::array::from_fn(|i| V::splat(lanes[i][k])) };
        let mut tail_carry = [[E::ZERO; MAX_LANES]; K];
        let mut head_carry = [[E::ZERO; MAX_LANES]; K];
        for k in 0..l {
            let block = k - k % parts;
            let (later, earlier) = (k + 1..(block + parts).min(l), block..k);
            let t = later.fold(identity, |carry, q| merge(carry, splat(&tail_totals, q)));
            let h = earlier.fold(identity, |carry, q| merge(carry, splat(&head_totals, q)));
            let (t, h) = (lanes_of(t), lanes_of(h));
            for i in 0..K {
                (tail_carry[i][k], head_carry[i][k]) = (t[i][0], h[i][0]);
            }
        }
        let tail_carry: [V; K] = std::array::from_fn(|i| V::load(&tail_carry[i]));
        let head_carry: [V; K] = std::array::from_fn(|i| V::load(&head_carry[i]));

        let mut acc = identity;
        for (j, t) in tails.chunks_exact(K * l).enumerate() {
            let tail = merge(std::array::from_fn(|i| V::load(&t[i * l..])), tail_carry);
            let window = combine(tail, merge(head_carry, acc), consts);
            window.for_each_lane(|k, v| {
                if run_start[k] + j < last_start[k] {
                    out[run_start[k] + j] = v;
                }
            });
            acc = step(acc, head_value(j), shift);
        }
    }
}

/// One group of [`vector_scans`]: `load(j)` gathers offset j of every lane's block (j < 2w − 1
/// reaches into the next block for the heads), `emit(j, r, out)` scatters the results for the
/// windows starting at offset j.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn scan_group<V: SimdVec, const K: usize>(
    w: usize,
    tails: &mut [V::Elem],
    load: &impl Fn(usize) -> V,
    emit: &impl Fn(usize, V, &mut [V::Elem]),
    out: &mut [V::Elem],
    identity: [V; K],
    step: &impl Fn([V; K], V, V) -> [V; K],
    combine: &impl Fn([V; K], [V; K], [V; 2]) -> V,
    consts: [V; 2],
) {
    let l = V::LANES;
    let shift = load(w - 1);
    let mut acc = identity;
    for (j, t) in tails.chunks_exact_mut(K * l).enumerate().rev() {
        acc = step(acc, load(j), shift);
        for (c, a) in acc.iter().enumerate() {
            a.store(&mut t[c * l..]);
        }
    }
    let mut acc = identity;
    for (j, t) in tails.chunks_exact(K * l).enumerate() {
        if j > 0 {
            acc = step(acc, load(w + j - 1), shift);
        }
        emit(
            j,
            combine(std::array::from_fn(|c| V::load(&t[c * l..])), acc, consts),
            out,
        );
    }
}

/// Runs the tail and head folds of every block of window starts (see the module doc) for the
/// `x.len() - w + 1` windows over `x`. Each fold starts from `start(e)`; `emit(false, i, acc)`
/// receives the fold of the tail `x[i..e)` (i descending within a block), then
/// `emit(true, i, acc)` the fold of the head `x[e..i + w)` (i ascending). [`CHAINS`] blocks are
/// folded in lockstep while whole blocks remain. Every emitted index is below
/// `x.len() - w + 1`, which callers rely on to write unchecked.
#[inline(always)]
fn window_scans<T: Float, S: Copy>(
    x: &[T],
    w: usize,
    start: impl Fn(usize) -> S,
    step: impl Fn(S, T) -> S,
    mut emit: impl FnMut(bool, usize, S),
) {
    let m = x.len() + 1 - w;
    let mut b = 0;
    // Every block of the group is whole: its w window starts, and the w − 1 head elements
    // after it (up to (b + CHAINS)·w + w − 2 ≤ x.len() − 1), exist.
    while (b + CHAINS) * w <= m {
        let first: [usize; CHAINS] = std::array::from_fn(|k| (b + k) * w);
        let mut st = first.map(|f| start(f + w));
        for j in (0..w).rev() {
            for k in 0..CHAINS {
                // SAFETY: first[k] + j < (b + CHAINS)·w ≤ m ≤ x.len() (loop condition).
                st[k] = step(st[k], unsafe { *x.get_unchecked(first[k] + j) });
                emit(false, first[k] + j, st[k]);
            }
        }
        let mut st = first.map(|f| start(f + w));
        for k in 0..CHAINS {
            emit(true, first[k], st[k]);
        }
        for j in 1..w {
            for k in 0..CHAINS {
                // SAFETY: first[k] + w + j − 1 ≤ (b + CHAINS)·w + w − 2 ≤ m + w − 2 < x.len().
                st[k] = step(st[k], unsafe { *x.get_unchecked(first[k] + w + j - 1) });
                emit(true, first[k] + j, st[k]);
            }
        }
        b += CHAINS;
    }
    for f in (b * w..m).step_by(w) {
        // The block's last start is below m; its boundary e = f + w ≤ x.len() as f < m.
        let (e, last) = (f + w, m.min(f + w));
        let mut acc = start(e);
        for i in (f..e).rev() {
            acc = step(acc, x[i]);
            if i < last {
                emit(false, i, acc);
            }
        }
        let mut acc = start(e);
        emit(true, f, acc);
        for i in f + 1..last {
            acc = step(acc, x[i + w - 1]);
            emit(true, i, acc);
        }
    }
}

/// Scalar rolling fold of an associative `op` with `identity`, then `combine(tail, head)` per
/// window; the heads wait in `heads` (at least as long as `out`).
#[inline(always)]
fn scalar_fold<T: Float>(
    x: &[T],
    w: usize,
    identity: T,
    op: impl Fn(T, T) -> T,
    combine: impl Fn(T, T) -> T,
    out: &mut [T],
    heads: &mut [T],
) {
    // Upholds the unchecked writes below (callers have validated it with `check_window`).
    assert!(
        out.len() + w == x.len() + 1 && heads.len() >= out.len(),
        "one output per window"
    );
    window_scans(
        x,
        w,
        |_| identity,
        &op,
        |head, i, acc| {
            // SAFETY: `window_scans` emits only i < x.len() − w + 1 = out.len() ≤ heads.len()
            // (asserted above). Checked indexing would cost more than the fold itself.
            unsafe {
                *(if head {
                    heads.get_unchecked_mut(i)
                } else {
                    out.get_unchecked_mut(i)
                }) = acc;
            }
        },
    );
    for (o, &h) in out.iter_mut().zip(heads.iter()) {
        *o = combine(*o, h);
    }
}

/// (Σd, Σd²) with d = v − c folded into the state, c being the lane's or block's shift.
#[inline(always)]
fn moments_step<V: SimdVec>([s1, s2]: [V; 2], v: V, c: V) -> [V; 2] {
    let d = v.sub(c);
    [s1.add(d), d.mul_add(d, s2)]
}

/// M2 = Σd² − (Σd)²/w from tail and head sums, with consts [−1/w, unused].
#[inline(always)]
fn m2_combine<V: SimdVec>([t1, t2]: [V; 2], [h1, h2]: [V; 2], [neg_inv_w, _]: [V; 2]) -> V {
    let (s1, s2) = (t1.add(h1), t2.add(h2));
    s1.mul(neg_inv_w).mul_add(s1, s2)
}

/// std = √(max(M2, 0)/(w − ddof)) in place; the clamp removes the rounding residue of a zero
/// M2 and lets NaN through. (A separate pass: with the square root in the combine step the
/// optimiser left it out of line, without the wrapper's target features.)
#[inline(always)]
fn std_finish<V: SimdVec>(out: &mut [V::Elem], inv_dof: V::Elem) {
    let (inv_dof, zero) = (V::splat(inv_dof), V::splat(V::Elem::ZERO));
    let f = |v: V| v.max(zero).mul(inv_dof).sqrt();
    let mut chunks = out.chunks_exact_mut(V::LANES);
    for o in &mut chunks {
        f(V::load(o)).store(o);
    }
    let tail = chunks.into_remainder();
    f(V::load_partial(tail, V::Elem::ZERO)).store_partial(tail);
}

#[inline(always)]
fn sum_step<V: SimdVec>([a]: [V; 1], v: V, _: V) -> [V; 1] {
    [a.add(v)]
}

#[inline(always)]
fn sum_merge<V: SimdVec>([a]: [V; 1], [b]: [V; 1]) -> [V; 1] {
    [a.add(b)]
}

/// The moments of two runs around the same shift: their sums add.
#[inline(always)]
fn moments_merge<V: SimdVec>([a1, a2]: [V; 2], [b1, b2]: [V; 2]) -> [V; 2] {
    [a1.add(b1), a2.add(b2)]
}

#[inline(always)]
fn min_merge<V: SimdVec>([a]: [V; 1], [b]: [V; 1]) -> [V; 1] {
    [a.min(b)]
}

#[inline(always)]
fn max_merge<V: SimdVec>([a]: [V; 1], [b]: [V; 1]) -> [V; 1] {
    [a.max(b)]
}

/// Mean from tail and head sums, with consts [1/w, unused].
#[inline(always)]
fn mean_combine<V: SimdVec>([t]: [V; 1], [h]: [V; 1], [inv_w, _]: [V; 2]) -> V {
    t.add(h).mul(inv_w)
}

#[inline(always)]
fn min_step<V: SimdVec>([a]: [V; 1], v: V, _: V) -> [V; 1] {
    [v.min(a)]
}

#[inline(always)]
fn min_combine<V: SimdVec>([t]: [V; 1], [h]: [V; 1], _: [V; 2]) -> V {
    t.min(h)
}

#[inline(always)]
fn max_step<V: SimdVec>([a]: [V; 1], v: V, _: V) -> [V; 1] {
    [v.max(a)]
}

#[inline(always)]
fn max_combine<V: SimdVec>([t]: [V; 1], [h]: [V; 1], _: [V; 2]) -> V {
    t.max(h)
}

// The SIMD bodies take scratch from their callers: borrowing it here, inside the
// `#[target_feature]` wrappers, would put the kernel into a closure that does not inherit the
// features, and every intrinsic would become an out-of-line call.

#[inline(always)]
fn rolling_mean_body<V: SimdVec>(x: &[V::Elem], w: usize, out: &mut [V::Elem], scratch: &mut [V::Elem]) {
    let (zero, inv_w) = (V::splat(V::Elem::ZERO), V::splat(V::Elem::ONE / V::Elem::from_usize(w)));
    let ops = FoldOps { step: sum_step, merge: sum_merge, neutral: |_| V::Elem::ZERO };
    vector_scans(x, w, out, scratch, scalar::mean, [zero], ops, mean_combine, [inv_w, zero]);
}

#[inline(always)]
fn rolling_std_body<V: SimdVec>(
    x: &[V::Elem],
    w: usize,
    ddof: usize,
    out: &mut [V::Elem],
    scratch: &mut [V::Elem],
) {
    let neg_inv_w = V::splat(-(V::Elem::ONE / V::Elem::from_usize(w)));
    let fallback = |x: &[V::Elem], w, out: &mut [V::Elem], s: &mut [V::Elem]| scalar::std(x, w, ddof, out, s);
    let zero = V::splat(V::Elem::ZERO);
    let ops = FoldOps { step: moments_step, merge: moments_merge, neutral: |shift| shift };
    if vector_scans(x, w, out, scratch, fallback, [zero; 2], ops, m2_combine, [neg_inv_w, zero]) {
        std_finish::<V>(out, V::Elem::ONE / V::Elem::from_usize(w - ddof));
    }
}

#[inline(always)]
fn rolling_min_body<V: SimdVec>(x: &[V::Elem], w: usize, out: &mut [V::Elem], scratch: &mut [V::Elem]) {
    let inf = V::splat(V::Elem::INFINITY);
    let ops = FoldOps { step: min_step, merge: min_merge, neutral: |_| V::Elem::INFINITY };
    vector_scans(x, w, out, scratch, scalar::min, [inf], ops, min_combine, [inf; 2]);
}

#[inline(always)]
fn rolling_max_body<V: SimdVec>(x: &[V::Elem], w: usize, out: &mut [V::Elem], scratch: &mut [V::Elem]) {
    let ninf = V::splat(V::Elem::NEG_INFINITY);
    let ops = FoldOps { step: max_step, merge: max_merge, neutral: |_| V::Elem::NEG_INFINITY };
    vector_scans(x, w, out, scratch, scalar::max, [ninf], ops, max_combine, [ninf; 2]);
}

simd_dispatch!(fn mean_dispatch(x: &[T], w: usize, out: &mut [T], scratch: &mut [T])
    = rolling_mean_body | scalar::mean;);
simd_dispatch!(fn std_dispatch(x: &[T], w: usize, ddof: usize, out: &mut [T], scratch: &mut [T])
    = rolling_std_body | scalar::std;);
simd_dispatch!(fn min_dispatch(x: &[T], w: usize, out: &mut [T], scratch: &mut [T])
    = rolling_min_body | scalar::min;);
simd_dispatch!(fn max_dispatch(x: &[T], w: usize, out: &mut [T], scratch: &mut [T])
    = rolling_max_body | scalar::max;);

/// Plain-loop reference twins: lockstep scalar scans, then a combine pass. Each takes scratch
/// at least as long as `out`.
mod scalar {
    use super::{scalar_fold, window_scans};
    use crate::simd::Float;

    pub fn mean<T: Float>(x: &[T], w: usize, out: &mut [T], scratch: &mut [T]) {
        let inv_w = T::ONE / T::from_usize(w);
        scalar_fold(
            x,
            w,
            T::ZERO,
            |a, b| a + b,
            |t, h| (t + h) * inv_w,
            out,
            scratch,
        );
    }

    pub fn min<T: Float>(x: &[T], w: usize, out: &mut [T], scratch: &mut [T]) {
        scalar_fold(x, w, T::INFINITY, T::min_nan, T::min_nan, out, scratch);
    }

    pub fn max<T: Float>(x: &[T], w: usize, out: &mut [T], scratch: &mut [T]) {
        scalar_fold(x, w, T::NEG_INFINITY, T::max_nan, T::max_nan, out, scratch);
    }

    pub fn std<T: Float>(x: &[T], w: usize, ddof: usize, out: &mut [T], s1: &mut [T]) {
        // Upholds the unchecked writes below (callers have validated it with `check_window`).
        assert!(
            out.len() + w == x.len() + 1 && s1.len() >= out.len(),
            "one output per window"
        );
        let (inv_w, inv_dof) = (T::ONE / T::from_usize(w), T::ONE / T::from_usize(w - ddof));
        // State (c, Σd, Σd²) with d = v − c; Σd goes to `s1`, Σd² to `out`.
        let start = |e: usize| (x[e - 1], T::ZERO, T::ZERO);
        let step = |(c, a, b): (T, T, T), v: T| {
            let d = v - c;
            (c, a + d, b + d * d)
        };
        window_scans(x, w, start, step, |head, i, (_, a, b)| {
            // SAFETY: `window_scans` emits only i < x.len() − w + 1 = out.len() ≤ s1.len()
            // (asserted above).
            let (p1, p2) = unsafe { (s1.get_unchecked_mut(i), out.get_unchecked_mut(i)) };
            if head {
                *p1 += a;
                *p2 += b;
            } else {
                (*p1, *p2) = (a, b);
            }
        });
        for (o, &s) in out.iter_mut().zip(s1.iter()) {
            let m2 = *o - s * s * inv_w;
            *o = (m2.max_nan(T::ZERO) * inv_dof).sqrt();
        }
    }
}

/// Validates the window and output length; returns the number of windows.
fn check_window<T>(x: &[T], window: usize, out: &[T]) -> Result<usize, KernelError> {
    if window == 0 || window > x.len() {
        return Err(KernelError::Window {
            window,
            len: x.len(),
        });
    }
    let windows = x.len() - window + 1;
    check_len("out", windows, out.len())?;
    Ok(windows)
}

/// Rolling mean over windows of `window` values into `out` (length `x.len() - window + 1`).
pub fn rolling_mean<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_mean_with(active(), x, window, out)
}

/// [`rolling_mean`] at a chosen instruction-set level.
pub fn rolling_mean_with<T: Float>(
    isa: Isa,
    x: &[T],
    window: usize,
    out: &mut [T],
) -> Result<(), KernelError> {
    let windows = check_window(x, window, out)?;
    T::with_scratch(windows, |scratch| {
        mean_dispatch(isa, x, window, out, scratch)
    });
    Ok(())
}

/// Rolling standard deviation with `ddof` (0: population, 1: sample). Errors unless
/// `ddof < window`.
pub fn rolling_std<T: Float>(
    x: &[T],
    window: usize,
    ddof: usize,
    out: &mut [T],
) -> Result<(), KernelError> {
    rolling_std_with(active(), x, window, ddof, out)
}

/// [`rolling_std`] at a chosen instruction-set level.
pub fn rolling_std_with<T: Float>(
    isa: Isa,
    x: &[T],
    window: usize,
    ddof: usize,
    out: &mut [T],
) -> Result<(), KernelError> {
    check_window(x, window, out)?;
    if ddof >= window {
        return Err(KernelError::Ddof {
            ddof,
            count: window,
        });
    }
    // Two sums per window in the SIMD scans' scratch (see `vector_scans`), one in the scalar's.
    T::with_scratch(2 * out.len(), |scratch| {
        std_dispatch(isa, x, window, ddof, out, scratch)
    });
    Ok(())
}

/// Rolling minimum (NaN for windows containing a NaN).
pub fn rolling_min<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_min_with(active(), x, window, out)
}

/// [`rolling_min`] at a chosen instruction-set level.
pub fn rolling_min_with<T: Float>(
    isa: Isa,
    x: &[T],
    window: usize,
    out: &mut [T],
) -> Result<(), KernelError> {
    let windows = check_window(x, window, out)?;
    T::with_scratch(windows, |scratch| {
        min_dispatch(isa, x, window, out, scratch)
    });
    Ok(())
}

/// Rolling maximum (NaN for windows containing a NaN).
pub fn rolling_max<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_max_with(active(), x, window, out)
}

/// [`rolling_max`] at a chosen instruction-set level.
pub fn rolling_max_with<T: Float>(
    isa: Isa,
    x: &[T],
    window: usize,
    out: &mut [T],
) -> Result<(), KernelError> {
    let windows = check_window(x, window, out)?;
    T::with_scratch(windows, |scratch| {
        max_dispatch(isa, x, window, out, scratch)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    type Rolling = fn(Isa, &[f64], usize, &mut [f64]) -> Result<(), KernelError>;

    fn naive(x: &[f64], w: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        x.windows(w).map(f).collect()
    }

    fn naive_std(win: &[f64], ddof: usize) -> f64 {
        let m = win.iter().sum::<f64>() / win.len() as f64;
        (win.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (win.len() - ddof) as f64).sqrt()
    }

    fn run(f: Rolling, isa: Isa, x: &[f64], w: usize) -> Vec<f64> {
        let mut out = vec![0.0; x.len() - w + 1];
        f(isa, x, w, &mut out).unwrap();
        out
    }

    fn run_std(isa: Isa, x: &[f64], w: usize, ddof: usize) -> Vec<f64> {
        let mut out = vec![0.0; x.len() - w + 1];
        rolling_std_with(isa, x, w, ddof, &mut out).unwrap();
        out
    }

    /// Every level (scalar twin included) against the naive O(n·w) windows.
    fn check(x: &[f64], w: usize) {
        let scale = max_abs(x);
        let mean_want = naive(x, w, |s| s.iter().sum::<f64>() / w as f64);
        let min_want = naive(x, w, |s| s.iter().copied().reduce(f64::min_nan).unwrap());
        let max_want = naive(x, w, |s| s.iter().copied().reduce(f64::max_nan).unwrap());
        let ddof = usize::from(w > 1);
        let var_want: Vec<f64> = naive(x, w, |s| naive_std(s, ddof).powi(2));
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            let what = isa.name();
            assert_all_close(&run(rolling_mean_with, isa, x, w), &mean_want, scale, what);
            assert_eq!(run(rolling_min_with, isa, x, w), min_want, "min {what}");
            assert_eq!(run(rolling_max_with, isa, x, w), max_want, "max {what}");
            // Compare variances: sqrt near 0 would amplify harmless rounding.
            let var: Vec<f64> = run_std(isa, x, w, ddof).iter().map(|s| s * s).collect();
            assert_all_close(&var, &var_want, scale * scale * w as f64, what);
        }
    }

    /// Every count of blocks in the last group of lanes, at windows of 1 to 33 (33: the split last
    /// group's parts of 9 starts leave a shorter last part).
    #[test]
    fn last_groups_of_every_size_match_naive() {
        for w in [1usize, 2, 3, 7, 20, 33] {
            for m in 8 * w..16 * w {
                let x: Vec<f64> = (0..m + w - 1).map(|i| ((i * 7919 % 1009) as f64 - 500.0) * 0.37 + 1e3).collect();
                check(&x, w);
            }
        }
    }

    proptest! {
        #![proptest_config(config())]
        #[test]
        fn rolling_matches_naive((x, w) in vec_and_window()) { check(&x, w); }

        #[test]
        fn rolling_f32_simd_matches_scalar(x in vec_f32(), w in 1usize..50) {
            let w = w.min(x.len().max(1));
            if x.len() >= w {
                let m = x.len() - w + 1;
                let (mut std_want, mut mean_want, mut got) = (vec![0f32; m], vec![0f32; m], vec![0f32; m]);
                rolling_std_with(Isa::Scalar, &x, w, 0, &mut std_want).unwrap();
                rolling_mean_with(Isa::Scalar, &x, w, &mut mean_want).unwrap();
                for isa in simd_isas() {
                    rolling_std_with(isa, &x, w, 0, &mut got).unwrap();
                    assert_all_close(&got, &std_want, max_abs(&x), isa.name());
                    rolling_mean_with(isa, &x, w, &mut got).unwrap();
                    assert_all_close(&got, &mean_want, max_abs(&x), isa.name());
                }
            }
        }
    }

    #[test]
    fn rolling_nan_only_affects_its_windows() {
        let mut x: Vec<f64> = (0..50)
            .map(|i| (i as f64 * 0.7).sin() * 10.0 + 1e6)
            .collect();
        x[17] = f64::NAN;
        for w in [1, 3, 7, 16, 50] {
            for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
                let outs = [
                    run(rolling_mean_with, isa, &x, w),
                    run(rolling_min_with, isa, &x, w),
                    run(rolling_max_with, isa, &x, w),
                    run_std(isa, &x, w, 0),
                ];
                for out in outs {
                    for (i, v) in out.iter().enumerate() {
                        assert_eq!(
                            v.is_nan(),
                            (i..i + w).contains(&17),
                            "w {w} i {i} {}",
                            isa.name()
                        );
                    }
                }
            }
        }
    }

    /// A NaN anywhere in a last group split into parts (10 blocks: 2 past the full groups of 4 or
    /// 8 lanes), or just before it, reaches exactly the windows that contain it.
    #[test]
    fn a_nan_in_a_split_last_group_only_affects_its_windows() {
        let w = 20;
        let clean: Vec<f64> = (0..190 + w - 1).map(|i| (i as f64 * 0.3).cos() * 5.0 + 1e4).collect();
        for p in (150..clean.len()).step_by(3) {
            let mut x = clean.clone();
            x[p] = f64::NAN;
            for isa in simd_isas() {
                let outs = [run(rolling_mean_with, isa, &x, w), run(rolling_min_with, isa, &x, w), run(rolling_max_with, isa, &x, w), run_std(isa, &x, w, 1)];
                for out in outs {
                    for (i, v) in out.iter().enumerate() {
                        assert_eq!(v.is_nan(), (i..i + w).contains(&p), "NaN at {p}, window {i}, {}", isa.name());
                    }
                }
            }
        }
    }

    #[test]
    fn rolling_std_is_stable_for_large_offsets() {
        let x: Vec<f64> = (0..5000)
            .map(|i| 1e9 + ((i * 7919) % 13) as f64 * 0.1)
            .collect();
        for w in [5, 20, 1000] {
            let want = naive(&x, w, |s| naive_std(s, 1));
            for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
                let got = run_std(isa, &x, w, 1);
                for (g, v) in got.iter().zip(&want) {
                    assert!((g - v).abs() <= 1e-6 * v.max(0.1), "w {w}: {g} vs {v}");
                }
            }
        }
    }

    #[test]
    fn rolling_std_is_stable_after_a_jump() {
        // Zeros, then small noise on 1e9: a shift taken from outside a window (e.g. from the
        // zeros) would leave M2 = Σd² − (Σd)²/w to cancel at the scale of 1e18·w.
        let x: Vec<f64> = (0..400)
            .map(|i| {
                if i < 57 {
                    0.0
                } else {
                    1e9 + ((i * 7919) % 13) as f64 * 0.1
                }
            })
            .collect();
        for w in [3, 20, 100] {
            let want = naive(&x, w, |s| naive_std(s, 0));
            for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
                let got = run_std(isa, &x, w, 0);
                for (i, (g, v)) in got.iter().zip(&want).enumerate().filter(|(i, _)| *i >= 57) {
                    assert!(
                        (g - v).abs() <= 1e-6 * v.max(0.1),
                        "w {w} i {i}: {g} vs {v}"
                    );
                }
            }
        }
    }

    #[test]
    fn rolling_errors() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let mut out = [0.0; 4];
        let err = rolling_mean(&x, 0, &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "window must be between 1 and the input length 4, got 0"
        );
        assert!(rolling_min(&x, 5, &mut out).is_err());
        assert!(
            rolling_max(&x, 2, &mut out).is_err(),
            "out must have 3 values"
        );
        assert_eq!(
            rolling_std(&x, 2, 2, &mut out[..3]),
            Err(KernelError::Ddof { ddof: 2, count: 2 })
        );
        rolling_max(&x, 2, &mut out[..3]).unwrap();
        assert_eq!(out[..3], [2.0, 3.0, 4.0]);
        let e: [f32; 0] = [];
        assert!(rolling_mean(&e, 1, &mut []).is_err());
    }
}


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

/// Mean from tail and head sums, with consts [1/w, unused].
#[inline(always)]
fn mean_combine<V: SimdVec>([t]: [V; 1], [h]: [V; 1], [inv_w, _]: [V; 2]) -> V {
    t.add(h).mul(inv_w)
}

/// The lane-wise maximum of `a` and `b` if `MAX`, else the minimum (NaN where either is NaN).
#[inline(always)]
fn extreme<V: SimdVec, const MAX: bool>(a: V, b: V) -> V {
    if MAX {
        a.max(b)
    } else {
        a.min(b)
    }
}

#[inline(always)]
fn extreme_step<V: SimdVec, const MAX: bool>([a]: [V; 1], v: V, _: V) -> [V; 1] {
    [extreme::<V, MAX>(v, a)]
}

#[inline(always)]
fn extreme_merge<V: SimdVec, const MAX: bool>([a]: [V; 1], [b]: [V; 1]) -> [V; 1] {
    [extreme::<V, MAX>(a, b)]
}

#[inline(always)]
fn extreme_combine<V: SimdVec, const MAX: bool>([t]: [V; 1], [h]: [V; 1], _: [V; 2]) -> V {
    extreme::<V, MAX>(t, h)
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

/// Rolling maximum if `MAX`, else minimum: a fold from the identity −∞ (maximum) or +∞ (minimum).
#[inline(always)]
fn rolling_extreme_body<V: SimdVec, const MAX: bool>(x: &[V::Elem], w: usize, out: &mut [V::Elem], scratch: &mut [V::Elem]) {
    let identity = if MAX { V::Elem::NEG_INFINITY } else { V::Elem::INFINITY };
    let fallback = |x: &[V::Elem], w, out: &mut [V::Elem], s: &mut [V::Elem]| {
        if MAX {
            scalar::max(x, w, out, s)
        } else {
            scalar::min(x, w, out, s)
        }
    };
    let ops = FoldOps { step: extreme_step::<V, MAX>, merge: extreme_merge::<V, MAX>, neutral: |_| identity };
    let splat = V::splat(identity);
    vector_scans(x, w, out, scratch, fallback, [splat], ops, extreme_combine::<V, MAX>, [splat; 2]);
}

#[inline(always)]
fn rolling_min_body<V: SimdVec>(x: &[V::Elem], w: usize, out: &mut [V::Elem], scratch: &mut [V::Elem]) {
    rolling_extreme_body::<V, false>(x, w, out, scratch);
}

#[inline(always)]
fn rolling_max_body<V: SimdVec>(x: &[V::Elem], w: usize, out: &mut [V::Elem], scratch: &mut [V::Elem]) {
    rolling_extreme_body::<V, true>(x, w, out, scratch);
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

/// Checks the window and runs `dispatch`, a fold that keeps one value per window in its scratch
/// (a sum, a minimum or a maximum).
fn rolling_fold_with<T: Float>(
    isa: Isa,
    x: &[T],
    window: usize,
    out: &mut [T],
    dispatch: fn(Isa, &[T], usize, &mut [T], &mut [T]),
) -> Result<(), KernelError> {
    let windows = check_window(x, window, out)?;
    T::with_scratch(windows, |scratch| dispatch(isa, x, window, out, scratch));
    Ok(())
}

/// Rolling mean over windows of `window` values into `out` (length `x.len() - window + 1`).
pub fn rolling_mean<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_mean_with(active(), x, window, out)
}

/// [`rolling_mean`] at a chosen instruction-set level.
pub fn rolling_mean_with<T: Float>(isa: Isa, x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_fold_with(isa, x, window, out, mean_dispatch::<T>)
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
pub fn rolling_min_with<T: Float>(isa: Isa, x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_fold_with(isa, x, window, out, min_dispatch::<T>)
}

/// Rolling maximum (NaN for windows containing a NaN).
pub fn rolling_max<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_max_with(active(), x, window, out)
}

/// [`rolling_max`] at a chosen instruction-set level.
pub fn rolling_max_with<T: Float>(isa: Isa, x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_fold_with(isa, x, window, out, max_dispatch::<T>)
}

#[cfg(test)]
#[path = "rolling_tests.rs"]
mod tests;

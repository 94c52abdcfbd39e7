//! Tests of the droppable-heads scan: the JavaScript it replaces, transcribed, answers the same on any chunk.

use proptest::prelude::*;

use super::*;

/// `lib/distributed/frames.js`'s `droppable` transcribed (JavaScript reads `undefined`, never a safe integer nor
/// finite, past a column's end): what `droppable_heads` must answer, series by series.
fn reference(ds: &[f64], columns: &[&[f64]], rows: ChunkRows<'_>, counts: &[u32], keep: usize, step: f64) -> Vec<bool> {
    let safe = |value: Option<&f64>| value.is_some_and(|v| v.fract() == 0.0 && v.abs() <= MAX_SAFE_INTEGER);
    let row = |p: usize| match rows {
        ChunkRows::From(first) => first + p,
        ChunkRows::Listed(listed) => listed[p] as usize,
    };
    let mut at = 0;
    counts
        .iter()
        .map(|&count| {
            let end = at + count as usize;
            let droppable = count as usize > keep && {
                let to = end - keep;
                (at..to).all(|p| safe(ds.get(row(p))) && ds.get(row(p + 1)).is_some_and(|next| next - ds[row(p)] == step))
                    && safe(ds.get(row(to)))
                    && columns.iter().all(|column| (at..to).all(|p| column.get(row(p)).is_some_and(|v| v.is_finite())))
            };
            at = end;
            droppable
        })
        .collect()
}

/// One series of `ds` and `y`, the last `keep` rows kept.
fn one(ds: &[f64], y: &[f64], keep: usize, step: f64) -> bool {
    let counts = [ds.len() as u32];
    let answer = droppable_heads(ds, &[y], ChunkRows::From(0), &counts, keep, step).unwrap();
    assert_eq!(answer, reference(ds, &[y], ChunkRows::From(0), &counts, keep, step), "ds {ds:?}, y {y:?}");
    answer[0]
}

const MAX: f64 = MAX_SAFE_INTEGER;

#[test]
fn the_cases_of_the_javascript_test() {
    let y = [1.0, 2.0, 3.0, 4.0];
    assert!(!one(&[1.0, 2.0, 3.0, 4.0], &[1.0, f64::NAN, 3.0, 4.0], 2, 1.0), "NaN (JavaScript's null) in y");
    assert!(!one(&[1.0, 2.0, 3.0, 4.0], &[1.0, f64::INFINITY, 3.0, 4.0], 2, 1.0), "infinite y");
    assert!(!one(&[0.5, 1.5, 2.5, 3.5], &y, 2, 1.0), "fractional ds");
    assert!(one(&[1.0, 2.0, 3.0, 4.0], &[1e308, 1e308, 1e308, 4.0], 2, 1.0), "finite values whose sum overflows");
    assert!(one(&[2.0, 4.0, 6.0, 8.0], &y, 2, 2.0), "step 2");
    assert!(!one(&[2.0, 3.0, 5.0, 7.0], &y, 2, 2.0), "step 2 with a step of 1");
}

#[test]
fn only_safe_integers_step_apart_pass() {
    let y = [0.0; 4];
    // 1 − 1e-300 rounds to 1: the step alone would pass, the integer test does not.
    assert!(!one(&[1e-300, 1.0], &y[..2], 1, 1.0));
    assert!(one(&[-0.0, 1.0], &y[..2], 1, 1.0));
    assert!(one(&[-1.0, -0.0], &y[..2], 1, 1.0));
    assert!(one(&[MAX - 2.0, MAX - 1.0, MAX], &y[..3], 1, 1.0));
    assert!(!one(&[MAX - 1.0, MAX, MAX + 1.0], &y[..3], 1, 1.0), "the first kept ds is not safe");
    assert!(!one(&[-MAX - 1.0, -MAX + 1.0, -MAX + 2.0], &y[..3], 1, 1.0), "a dropped ds below the safe range");
    assert!(one(&[-MAX, -MAX + 1.0, -MAX + 2.0], &y[..3], 1, 1.0));
    assert!(one(&[-MAX, 0.0, MAX], &y[..3], 1, MAX), "the largest step");
    assert!(!one(&[1.0, 2.0, f64::NAN], &y[..3], 1, 1.0), "NaN in the first kept ds");
    assert!(one(&[1.0, 2.0, 3.0, f64::NAN], &y, 2, 1.0), "a later kept ds is the engine's to check");
    assert!(one(&[1.0, 2.0, 3.0, 4.0], &[0.0, 0.0, f64::NAN, f64::NAN], 2, 1.0), "kept values are the engine's to check");
    assert!(!one(&[f64::INFINITY, f64::INFINITY], &y[..2], 1, 1.0));
    assert!(!one(&[1.0, 2.0], &y[..2], 2, 1.0), "nothing to drop");
}

#[test]
fn one_wrong_value_anywhere_keeps_the_series_whole() {
    let n = 3 * LANES + 5;
    let ds: Vec<f64> = (0..n).map(|t| 1000.0 + 3.0 * t as f64).collect();
    let y = vec![1.5; n];
    assert!(one(&ds, &y, 2, 3.0));
    for at in 0..n {
        for wrong in [f64::NAN, ds[at] + 1.0, ds[at] + 0.5] {
            let mut bad = ds.clone();
            bad[at] = wrong;
            assert_eq!(one(&bad, &y, 2, 3.0), at >= n - 1, "ds[{at}] = {wrong}");
        }
        let mut bad = y.clone();
        bad[at] = f64::NEG_INFINITY;
        assert_eq!(one(&ds, &bad, 2, 3.0), at >= n - 2, "y[{at}] = -inf");
    }
}

#[test]
fn rows_past_a_column_end_are_never_dropped() {
    let ds = [1.0, 2.0, 3.0, 4.0, 5.0];
    let check = |ds: &[f64], y: &[f64], rows: ChunkRows<'_>, counts: &[u32]| {
        let answer = droppable_heads(ds, &[y], rows, counts, 2, 1.0).unwrap();
        assert_eq!(answer, reference(ds, &[y], rows, counts, 2, 1.0));
        answer
    };
    assert_eq!(check(&ds, &[0.0; 5], ChunkRows::From(0), &[5]), [true]);
    assert_eq!(check(&ds, &[0.0; 2], ChunkRows::From(0), &[5]), [false], "y too short");
    assert_eq!(check(&ds[..4], &[0.0; 5], ChunkRows::From(0), &[5]), [true], "the kept ds beyond the first are not read");
    assert_eq!(check(&ds[..3], &[0.0; 5], ChunkRows::From(0), &[5]), [false], "no first kept ds");
    assert_eq!(check(&ds, &[0.0; 5], ChunkRows::From(2), &[5]), [false], "rows from 2 run past the end");
    assert_eq!(check(&ds, &[0.0; 5], ChunkRows::From(usize::MAX), &[5]), [false]);
    assert_eq!(check(&ds, &[0.0; 5], ChunkRows::Listed(&[0, 1, 2, 3, 9]), &[5]), [true], "row 9 is kept beyond the first, not read");
    assert_eq!(check(&ds, &[0.0; 5], ChunkRows::Listed(&[0, 9, 2, 3, 4]), &[5]), [false]);
    assert_eq!(droppable_heads(&[], &[], ChunkRows::From(0), &[5, 1, 0], 2, 1.0).unwrap(), [false, false, false]);
}

#[test]
fn listed_rows_are_read_in_their_order() {
    // Two interleaved series: x at rows 0, 2, 4, 6 and y at 1, 3, 5, 7.
    let ds = [1.0, 10.0, 2.0, 11.0, 3.0, 13.0, 4.0, 14.0];
    let y = [0.0; 8];
    let rows = [0, 2, 4, 6, 1, 3, 5, 7];
    let answer = droppable_heads(&ds, &[&y], ChunkRows::Listed(&rows), &[4, 4], 1, 1.0).unwrap();
    assert_eq!(answer, [true, false]);
    assert_eq!(answer, reference(&ds, &[&y], ChunkRows::Listed(&rows), &[4, 4], 1, 1.0));
}

#[test]
fn arguments_no_chunk_can_have_are_errors() {
    let ds = [1.0, 2.0];
    let run = |rows, counts: &[u32], keep, step| droppable_heads(&ds, &[], rows, counts, keep, step);
    assert_eq!(run(ChunkRows::From(0), &[2], 0, 1.0), Err(TailError::NothingKept));
    for step in [0.0, 1.5, -1.0, f64::NAN, f64::INFINITY, MAX + 1.0] {
        assert!(matches!(run(ChunkRows::From(0), &[2], 1, step), Err(TailError::Step(s)) if s.to_bits() == step.to_bits()), "step {step}");
    }
    assert_eq!(run(ChunkRows::Listed(&[0, 1]), &[3], 1, 1.0), Err(TailError::Counts { counted: 3, listed: 2 }));
    assert_eq!(run(ChunkRows::Listed(&[0, 1]), &[u32::MAX, u32::MAX], 1, 1.0), Err(TailError::Counts { counted: 2 * u64::from(u32::MAX), listed: 2 }));
    assert_eq!(run(ChunkRows::From(0), &[], 1, 1.0), Ok(vec![]));
    assert_eq!(TailError::Step(1.5).to_string(), "step must be an integer between 1 and 2^53 - 1, got 1.5");
}

/// A ds value near `expected`: mostly it, sometimes off by a little, a lot, or not a number.
fn ds_value(expected: f64) -> impl Strategy<Value = f64> {
    prop_oneof![
        12 => Just(expected),
        1 => Just(expected + 1.0),
        1 => Just(expected + 0.5),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-expected),
        1 => Just(expected * (1.0 + f64::EPSILON)),
        1 => Just(1e-300),
    ]
}

fn chunk() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<u32>, usize, f64)> {
    let start = prop_oneof![Just(0.0), -1e6f64..1e6, Just(MAX - 40.0), Just(-MAX), Just(-MAX - 1.0)].prop_map(f64::trunc);
    let step = prop_oneof![Just(1.0), Just(2.0), Just(7.0), Just(2f64.powi(52))];
    let counts = prop::collection::vec(0u32..30, 0..6);
    (start, step, counts, 1usize..5).prop_flat_map(|(start, step, counts, keep)| {
        let n = counts.iter().sum::<u32>() as usize;
        // Each series' ds count up from `start`.
        let ds: Vec<_> = counts.iter().flat_map(|&count| (0..count).map(|t| ds_value(start + f64::from(t) * step))).collect();
        let y = prop::collection::vec(prop_oneof![20 => -1e3f64..1e3, 1 => Just(f64::NAN), 1 => Just(f64::NEG_INFINITY), 1 => Just(f64::MAX)], n);
        (ds, y, Just(counts), Just(keep), Just(step))
    })
}

proptest! {
    /// Any chunk, consecutive or listed, cut short or not: the answer of the JavaScript it replaces.
    #[test]
    fn answers_as_the_javascript_does((ds, y, counts, keep, step) in chunk(), shift in 0usize..3, cut in 0usize..3, seed in any::<u64>()) {
        let n = ds.len();
        let y = &y[..n.saturating_sub(cut)];
        let answer = droppable_heads(&ds, &[y, y], ChunkRows::From(shift), &counts, keep, step).unwrap();
        prop_assert_eq!(&answer, &reference(&ds, &[y, y], ChunkRows::From(shift), &counts, keep, step));
        let mut listed: Vec<u32> = (0..n as u32).collect();
        listed.sort_by_key(|&row| (u64::from(row) ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let answer = droppable_heads(&ds, &[y], ChunkRows::Listed(&listed), &counts, keep, step).unwrap();
        prop_assert_eq!(answer, reference(&ds, &[y], ChunkRows::Listed(&listed), &counts, keep, step));
    }
}

//! Which series of a distributed predict's chunk may travel as their last rows alone (`lib/distributed/frames.js`
//! stages only the points the checkpoint's models read). A series' earlier rows may be left out only where the
//! local call would accept them and forget them: integer ds (JavaScript's safe integers) each `step` before the
//! next up to the first kept row, finite values in every numeric column. The coordinator checks this for nearly
//! every row of the panel, so the scan runs here, over the columns' memory, in blocks the compiler vectorises.

use std::fmt;

/// JavaScript's `Number.MAX_SAFE_INTEGER`, 2^53 − 1: every integer up to it is an f64 of its own.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Values compared per block before an early exit; a multiple of every vector width.
const LANES: usize = 8;

/// Where a chunk's rows are in its columns.
#[derive(Clone, Copy, Debug)]
pub enum ChunkRows<'a> {
    /// Consecutive, from this row on.
    From(usize),
    /// Listed, series after series.
    Listed(&'a [u32]),
}

/// Arguments no chunk can have.
#[derive(Debug, Clone, PartialEq)]
pub enum TailError {
    /// `keep` is 0: the dropped ds are checked against the first kept one.
    NothingKept,
    /// The ds step is not an integer in 1..=2^53 − 1.
    Step(f64),
    /// The series' row counts add up to other than the rows listed.
    Counts { counted: u64, listed: usize },
}

impl fmt::Display for TailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TailError::NothingKept => write!(f, "keep must be at least 1 (the dropped ds are checked against the first kept one)"),
            TailError::Step(step) => write!(f, "step must be an integer between 1 and 2^53 - 1, got {step}"),
            TailError::Counts { counted, listed } => write!(f, "counts add up to {counted} rows but rows lists {listed}"),
        }
    }
}

impl std::error::Error for TailError {}

/// For each series of a chunk (`counts[s]` rows each, at `rows`), whether it may travel as its last `keep` rows:
/// false for a series of at most `keep` rows, and wherever a row it would drop, or the first row it keeps, is
/// missing from a column (the column is too short), as JavaScript reads `undefined` there.
pub fn droppable_heads(
    ds: &[f64],
    columns: &[&[f64]],
    rows: ChunkRows<'_>,
    counts: &[u32],
    keep: usize,
    step: f64,
) -> Result<Vec<bool>, TailError> {
    if keep == 0 {
        return Err(TailError::NothingKept);
    }
    if !((1.0..=MAX_SAFE_INTEGER).contains(&step) && step.fract() == 0.0) {
        return Err(TailError::Step(step));
    }
    if let ChunkRows::Listed(listed) = rows {
        let counted = counts.iter().map(|&count| u64::from(count)).sum::<u64>();
        if counted != listed.len() as u64 {
            return Err(TailError::Counts { counted, listed: listed.len() });
        }
    }
    let mut gathered = Vec::new();
    let mut at = 0usize;
    Ok(counts
        .iter()
        .map(|&count| {
            let (start, count) = (at, count as usize);
            at = at.saturating_add(count);
            let Some(dropped) = count.checked_sub(keep).filter(|&dropped| dropped > 0) else { return false };
            match rows {
                ChunkRows::From(first) => first.checked_add(start).is_some_and(|first| consecutive_droppable(ds, columns, first, dropped, step)),
                ChunkRows::Listed(listed) => listed_droppable(ds, columns, &listed[start..=start + dropped], step, &mut gathered),
            }
        })
        .collect())
}

/// [`droppable_heads`] for one series whose `dropped` rows from `first` on are dropped.
fn consecutive_droppable(ds: &[f64], columns: &[&[f64]], first: usize, dropped: usize, step: f64) -> bool {
    let Some(end) = first.checked_add(dropped) else { return false };
    let Some(ds) = ds.get(first..=end) else { return false };
    if !ds_by_step(ds, step) {
        return false;
    }
    columns.iter().all(|column| column.get(first..end).is_some_and(all_finite))
}

/// [`droppable_heads`] for one series whose dropped rows are `rows` but the last (the first kept row), through
/// `gathered`, a buffer reused from series to series.
fn listed_droppable(ds: &[f64], columns: &[&[f64]], rows: &[u32], step: f64, gathered: &mut Vec<f64>) -> bool {
    let (_, dropped) = rows.split_last().expect("a series that drops rows keeps one");
    gather(ds, rows, gathered) && ds_by_step(gathered, step) && columns.iter().all(|column| gather(column, dropped, gathered) && all_finite(gathered))
}

/// Puts `values[rows[k]]` into `out`; false when a row is past the end of `values`.
fn gather(values: &[f64], rows: &[u32], out: &mut Vec<f64>) -> bool {
    out.clear();
    for &row in rows {
        match values.get(row as usize) {
            Some(&value) => out.push(value),
            None => return false,
        }
    }
    true
}

/// Whether `ds` (at least two values) are safe integers each `step` before the next, JavaScript's
/// `Number.isSafeInteger(ds[i]) && ds[i + 1] - ds[i] === step` for each `i` and `Number.isSafeInteger` of the last.
/// That holds exactly when the last is a safe integer `l` and each `ds[i]` equals `l − (n − 1 − i)·step`, all of
/// which are then safe integers (so the first must be): one comparison per value, with no integer test.
fn ds_by_step(ds: &[f64], step: f64) -> bool {
    let (&last, head) = ds.split_last().expect("a series that drops rows keeps one");
    if !(last.fract() == 0.0 && last.abs() <= MAX_SAFE_INTEGER) {
        return false;
    }
    // Exact in i128: |last| < 2^53, head.len() < 2^61, step < 2^53.
    let first = last as i128 - head.len() as i128 * step as i128;
    if first < -(MAX_SAFE_INTEGER as i128) {
        return false;
    }
    arithmetic_from(head, first, step)
}

/// Whether `values[i] == first + i·step` for every `i`, where each of those is a safe integer. Every lane's next
/// expected value is its last plus `LANES·step`: a sum of two f64 integers whose exact result is a safe integer, so
/// exact (lanes past the end may round, and are never compared).
fn arithmetic_from(values: &[f64], first: i128, step: f64) -> bool {
    let mut expected: [f64; LANES] = std::array::from_fn(|lane| (first + lane as i128 * step as i128) as f64);
    let stride = LANES as f64 * step;
    let mut blocks = values.chunks_exact(LANES);
    for block in &mut blocks {
        let mut same = true;
        for lane in 0..LANES {
            same &= block[lane] == expected[lane];
            expected[lane] += stride;
        }
        if !same {
            return false;
        }
    }
    blocks.remainder().iter().zip(expected).all(|(&value, expected)| value == expected)
}

/// Whether every value is finite (JavaScript's `Number.isFinite`).
fn all_finite(values: &[f64]) -> bool {
    let mut blocks = values.chunks_exact(LANES);
    blocks.by_ref().all(|block| block.iter().fold(true, |finite, value| finite & value.is_finite())) && blocks.remainder().iter().all(|value| value.is_finite())
}

#[cfg(test)]
#[path = "tails_tests.rs"]
mod tests;

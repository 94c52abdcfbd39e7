//! Runs of equal consecutive ids: the series of a long-format panel whose rows come series after series, as the
//! distributed coordinator finds them (`lib/distributed/frames.js`'s `groupRows`) in integer id codes of tens of
//! millions of rows. Blocks without a change of id, nearly all of them, are passed over in one vector comparison.

/// Ids compared per block before it is passed over.
const LANES: usize = 16;

/// The lengths of the runs of equal consecutive `ids` (equal by `==`: each NaN is a run of its own, as under
/// JavaScript's `===`), in order; none for no ids.
pub fn run_lengths<T: Copy + PartialEq>(ids: &[T]) -> Vec<usize> {
    let mut lengths = Vec::new();
    if ids.is_empty() {
        return lengths;
    }
    let mut start = 0;
    // `next` starts each block of pairs (ids[i - 1], ids[i]) for i in next..next + LANES.
    let mut next = 1;
    while next < ids.len() {
        let end = (next + LANES).min(ids.len());
        let (before, after) = (&ids[next - 1..end - 1], &ids[next..end]);
        if !before.iter().zip(after).fold(true, |same, (a, b)| same & (a == b)) {
            for i in next..end {
                if ids[i] != ids[i - 1] {
                    lengths.push(i - start);
                    start = i;
                }
            }
        }
        next = end;
    }
    lengths.push(ids.len() - start);
    lengths
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop `groupRows` runs in JavaScript.
    fn reference<T: Copy + PartialEq>(ids: &[T]) -> Vec<usize> {
        let mut lengths = Vec::new();
        let mut start = 0;
        for i in 1..=ids.len() {
            if i < ids.len() && ids[i] == ids[i - 1] {
                continue;
            }
            lengths.push(i - start);
            start = i;
        }
        lengths
    }

    #[test]
    fn runs_of_every_length_at_every_offset() {
        for length in 0..3 * LANES + 2 {
            for changes in [vec![], vec![0], vec![length / 2], vec![1, 2, 3, LANES, LANES + 1], (0..length).step_by(3).collect()] {
                let mut ids = vec![0u32; length];
                for &at in changes.iter().filter(|&&at| at < length) {
                    ids[at..].iter_mut().for_each(|id| *id += 1);
                }
                assert_eq!(run_lengths(&ids), reference(&ids), "{ids:?}");
                assert_eq!(run_lengths(&ids).iter().sum::<usize>(), length);
            }
        }
    }

    #[test]
    fn equal_as_javascript_compares() {
        let ids = [1.0, 1.0, f64::NAN, f64::NAN, -0.0, 0.0, 2.0];
        assert_eq!(run_lengths(&ids), [2, 1, 1, 2, 1]);
        let ids: Vec<f64> = (0..40).map(|i| if i % 7 == 3 { f64::NAN } else { (i / 5) as f64 }).collect();
        assert_eq!(run_lengths(&ids), reference(&ids));
        assert_eq!(run_lengths::<i32>(&[]), Vec::<usize>::new());
        assert_eq!(run_lengths(&[-1i32, -1, 5]), [2, 1]);
    }
}

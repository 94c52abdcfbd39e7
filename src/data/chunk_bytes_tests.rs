//! Tests of the chunk bytes: the JavaScript encoder they replace, transcribed, gives the same bytes on any chunk.

use proptest::prelude::*;

use super::*;

/// `lib/distributed/frames.js`'s JavaScript path transcribed: `keptRows` lists the input rows staged (each
/// series' last `kept[s]`), `encodeChunk`'s `numbers` gathers each column's values at them and `encode` copies
/// those columns, one after the other, behind the header.
fn reference(head: &[u8], columns: &[&[f64]], rows: ChunkRows<'_>, counts: &[u32], kept: &[u32]) -> Vec<u8> {
    let row = |p: usize| match rows {
        ChunkRows::From(first) => first + p,
        ChunkRows::Listed(listed) => listed[p] as usize,
    };
    let mut staged = Vec::new();
    let mut at = 0;
    for (&count, &kept) in counts.iter().zip(kept) {
        let end = at + count as usize;
        staged.extend((end - kept as usize..end).map(row));
        at = end;
    }
    let mut out = head.to_vec();
    for column in columns {
        let gathered: Vec<f64> = staged.iter().map(|&row| column[row]).collect();
        out.extend(gathered.iter().flat_map(|value| value.to_le_bytes()));
    }
    out
}

fn values(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(8).map(|value| f64::from_le_bytes(value.try_into().unwrap())).collect()
}

#[test]
fn each_column_holds_the_last_kept_rows_of_each_series() {
    // Series a at rows 0..4, b at 4..6, c at 6..9; b keeps all its rows, a and c their last 2.
    let ds: Vec<f64> = (0..9).map(f64::from).collect();
    let y: Vec<f64> = (0..9).map(|i| 100.0 + f64::from(i)).collect();
    let bytes = chunk_bytes(b"head", &[&ds, &y], ChunkRows::From(0), &[4, 2, 3], &[2, 2, 2]).unwrap();
    assert_eq!(&bytes[..4], b"head");
    assert_eq!(values(&bytes[4..]), [2.0, 3.0, 4.0, 5.0, 7.0, 8.0, 102.0, 103.0, 104.0, 105.0, 107.0, 108.0]);
    // The same series interleaved: a at even rows, b and c at odd ones.
    let listed = [0, 2, 4, 6, 1, 3, 5, 7, 8];
    let bytes = chunk_bytes(&[], &[&ds], ChunkRows::Listed(&listed), &[4, 2, 3], &[1, 0, 3]).unwrap();
    assert_eq!(values(&bytes), [6.0, 5.0, 7.0, 8.0]);
    // From a later row on, nothing kept, no columns.
    assert_eq!(values(&chunk_bytes(&[], &[&ds], ChunkRows::From(5), &[2, 2], &[1, 2]).unwrap()), [6.0, 7.0, 8.0]);
    assert_eq!(chunk_bytes(b"h", &[&ds], ChunkRows::From(0), &[3], &[0]).unwrap(), b"h");
    assert_eq!(chunk_bytes(b"h", &[], ChunkRows::From(0), &[3], &[3]).unwrap(), b"h");
}

#[test]
fn values_travel_bit_for_bit() {
    let odd = [f64::NAN, -f64::NAN, f64::from_bits(0x7ff8_0000_dead_beef), -0.0, f64::INFINITY, f64::MIN_POSITIVE / 2.0, f64::MAX];
    let bytes = chunk_bytes(&[], &[&odd], ChunkRows::From(0), &[odd.len() as u32], &[odd.len() as u32]).unwrap();
    let expected: Vec<u8> = odd.iter().flat_map(|value| value.to_bits().to_le_bytes()).collect();
    assert_eq!(bytes, expected);
}

#[test]
fn arguments_no_chunk_can_have_are_errors() {
    let y = [1.0, 2.0, 3.0, 4.0];
    let run = |rows, counts: &[u32], kept: &[u32]| chunk_bytes(&[], &[&y, &y[..2]], rows, counts, kept);
    assert_eq!(run(ChunkRows::From(0), &[2], &[2, 0]), Err(ChunkBytesError::Series { counts: 1, kept: 2 }));
    assert_eq!(run(ChunkRows::From(0), &[1, 1], &[1, 2]), Err(ChunkBytesError::KeptMore { series: 1, kept: 2, count: 1 }));
    assert_eq!(run(ChunkRows::Listed(&[0, 1]), &[3], &[1]), Err(ChunkBytesError::Rows(TailError::Counts { counted: 3, listed: 2 })));
    // Rows are checked whether kept or not: the second column has 2 values.
    assert_eq!(run(ChunkRows::From(0), &[3], &[1]), Err(ChunkBytesError::PastEnd { column: 1, row: 2, len: 2 }));
    assert_eq!(run(ChunkRows::From(1), &[2], &[2]), Err(ChunkBytesError::PastEnd { column: 1, row: 2, len: 2 }));
    assert_eq!(run(ChunkRows::Listed(&[1, 0, 7]), &[3], &[1]), Err(ChunkBytesError::PastEnd { column: 0, row: 7, len: 4 }));
    assert_eq!(run(ChunkRows::From(usize::MAX), &[2], &[1]), Err(ChunkBytesError::PastEnd { column: 0, row: usize::MAX - 1, len: 4 }));
    assert_eq!(run(ChunkRows::From(usize::MAX), &[0], &[0]), Ok(vec![]), "an empty chunk reads no row");
    assert_eq!(
        ChunkBytesError::PastEnd { column: 1, row: 2, len: 2 }.to_string(),
        "columns[1] has 2 values, none at the chunk's row 2"
    );
    assert_eq!(ChunkBytesError::Rows(TailError::Counts { counted: 3, listed: 2 }).to_string(), "counts add up to 3 rows but rows lists 2");
}

fn chunk() -> impl Strategy<Value = (Vec<f64>, Vec<u32>, Vec<u32>)> {
    prop::collection::vec(0u32..30, 0..8).prop_flat_map(|counts| {
        let n = counts.iter().sum::<u32>() as usize;
        let kept = counts.iter().map(|&count| prop_oneof![Just(count), Just(count.min(4)), 0..=count]).collect::<Vec<_>>();
        let column = prop::collection::vec(prop_oneof![20 => -1e3f64..1e3, 1 => Just(f64::NAN), 1 => Just(-0.0), 1 => any::<f64>()], n + 3);
        (column, Just(counts), kept)
    })
}

proptest! {
    /// Any chunk, consecutive from any row or listed in any order: the bytes of the JavaScript it replaces.
    #[test]
    fn the_bytes_of_the_javascript_encoder((column, counts, kept) in chunk(), shift in 0usize..4, seed in any::<u64>(), head in prop::collection::vec(any::<u8>(), 0..20)) {
        let n = counts.iter().sum::<u32>() as usize;
        let reversed: Vec<f64> = column.iter().rev().copied().collect();
        let columns = [&column[..], &reversed[..n + shift]];
        let rows = ChunkRows::From(shift);
        prop_assert_eq!(chunk_bytes(&head, &columns, rows, &counts, &kept).unwrap(), reference(&head, &columns, rows, &counts, &kept));
        let mut listed: Vec<u32> = (0..n as u32).collect();
        listed.sort_by_key(|&row| (u64::from(row) ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let rows = ChunkRows::Listed(&listed);
        prop_assert_eq!(chunk_bytes(&head, &columns, rows, &counts, &kept).unwrap(), reference(&head, &columns, rows, &counts, &kept));
    }
}

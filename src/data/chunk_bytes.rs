//! The bytes of a distributed run's chunk (`lib/distributed/frames.js`'s `encodeChunk`): its header, then the
//! rows it stages of each numeric column as little-endian f64, column after column, each series' last rows
//! (all of them, or the last `inputSize` where the earlier ones may be dropped, see `tails`). The coordinator
//! stages every kept row of the panel this way, so the values go from the panel's columns straight into the one
//! buffer that travels, with no row index or column copy in between.

use std::fmt;

use super::tails::{ChunkRows, TailError};

/// Arguments no chunk can have.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkBytesError {
    /// The rows listed are not the ones the counts add up to.
    Rows(TailError),
    /// `kept` names another number of series than `counts`.
    Series { counts: usize, kept: usize },
    /// A series keeps more rows than it has.
    KeptMore { series: usize, kept: u32, count: u32 },
    /// A column has no value at one of the chunk's rows.
    PastEnd { column: usize, row: usize, len: usize },
    /// The chunk would not fit in memory.
    TooLarge,
}

impl fmt::Display for ChunkBytesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkBytesError::Rows(e) => e.fmt(f),
            ChunkBytesError::Series { counts, kept } => write!(f, "kept has {kept} series but counts has {counts}"),
            ChunkBytesError::KeptMore { series, kept, count } => write!(f, "kept[{series}] is {kept} but series {series} has {count} rows"),
            ChunkBytesError::PastEnd { column, row, len } => write!(f, "columns[{column}] has {len} values, none at the chunk's row {row}"),
            ChunkBytesError::TooLarge => write!(f, "the chunk is too large to hold in memory"),
        }
    }
}

impl std::error::Error for ChunkBytesError {}

/// `head` followed by, for each of `columns` in turn, the last `kept[s]` of the `counts[s]` rows of each series
/// of the chunk (at `rows`) as little-endian f64 values. Every row of the chunk must lie within every column.
pub fn chunk_bytes(head: &[u8], columns: &[&[f64]], rows: ChunkRows<'_>, counts: &[u32], kept: &[u32]) -> Result<Vec<u8>, ChunkBytesError> {
    if kept.len() != counts.len() {
        return Err(ChunkBytesError::Series { counts: counts.len(), kept: kept.len() });
    }
    if let Some(series) = kept.iter().zip(counts).position(|(kept, count)| kept > count) {
        return Err(ChunkBytesError::KeptMore { series, kept: kept[series], count: counts[series] });
    }
    let total = counts.iter().map(|&count| u64::from(count)).sum::<u64>();
    // One past the chunk's last row: every column must have a value before it.
    let past_last = match rows {
        ChunkRows::From(_) if total == 0 => 0,
        ChunkRows::From(first) => first.saturating_add(usize::try_from(total).unwrap_or(usize::MAX)),
        ChunkRows::Listed(listed) => {
            if total != listed.len() as u64 {
                return Err(ChunkBytesError::Rows(TailError::Counts { counted: total, listed: listed.len() }));
            }
            listed.iter().max().map_or(0, |&row| row as usize + 1)
        }
    };
    if let Some((column, len)) = columns.iter().map(|column| column.len()).enumerate().find(|&(_, len)| len < past_last) {
        return Err(ChunkBytesError::PastEnd { column, row: past_last - 1, len });
    }
    let values = kept.iter().map(|&kept| kept as usize).sum::<usize>();
    let bytes = values.checked_mul(8 * columns.len()).and_then(|bytes| bytes.checked_add(head.len())).ok_or(ChunkBytesError::TooLarge)?;
    let mut out = Vec::new();
    out.try_reserve_exact(bytes).map_err(|_| ChunkBytesError::TooLarge)?;
    out.extend_from_slice(head);
    out.resize(bytes, 0);
    // Written in place, 8 bytes a value, into the zeroed buffer: one pass over the kept rows of each column.
    let mut at = head.len();
    for column in columns {
        let mut start = 0;
        for (&count, &kept) in counts.iter().zip(kept) {
            let (from, end) = (start + (count - kept) as usize, start + count as usize);
            start = end;
            if from == end {
                // Nothing to read (`first` may then lie past the columns' ends).
                continue;
            }
            let slots = out[at..at + 8 * (end - from)].chunks_exact_mut(8);
            match rows {
                ChunkRows::From(first) => slots.zip(&column[first + from..first + end]).for_each(|(slot, value)| slot.copy_from_slice(&value.to_le_bytes())),
                ChunkRows::Listed(listed) => slots.zip(&listed[from..end]).for_each(|(slot, &row)| slot.copy_from_slice(&column[row as usize].to_le_bytes())),
            }
            at += 8 * (end - from);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "chunk_bytes_tests.rs"]
mod tests;

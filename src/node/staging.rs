//! The distributed coordinator's work over a whole panel (`lib/distributed/frames.js`): `runLengths` finds the
//! series (`data::runs`), `droppableHeads` which of them may travel as their last rows (`data::tails`) and
//! `chunkBytes` writes a chunk's kept rows into the bytes that travel (`data::chunk_bytes`). Typed arrays are
//! read where they lie, not copied: each call covers nearly every row.

use std::borrow::Cow;

use napi::bindgen_prelude::{Float64Array, Uint8Array, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

use super::args::{self, with_js_errors, ArgError, ArgResult};
use crate::data::runs;
use crate::data::tails::{self, ChunkRows};

const FLOAT64: &str = "a Float64Array";

/// For each series of a chunk (`counts[s]` rows each), 1 where it may travel as its last `keep` rows (integer ds
/// `step` apart up to the first kept row, finite numeric `columns` before it), else 0. `rows`: the chunk's rows
/// listed series after series, or the index of the first when they are consecutive.
#[napi(
    catch_unwind,
    ts_args_type = "ds: Float64Array, columns: Float64Array[], counts: Uint32Array, keep: number, step: number, rows: Uint32Array | number",
    ts_return_type = "Uint8Array"
)]
// Positional like the core function it binds (frames.js is its one caller); napi adds `env`.
#[allow(clippy::too_many_arguments)]
pub fn droppable_heads(env: Env, ds: Unknown<'_>, columns: Unknown<'_>, counts: Unknown<'_>, keep: Unknown<'_>, step: Unknown<'_>, rows: Unknown<'_>) -> napi::Result<Uint8Array> {
    with_js_errors(&env, "droppableHeads", || {
        // Everything through which JavaScript can run is read before any typed array is lent.
        let keep = args::integer(&keep, "keep", 0, u32::MAX as usize)?;
        let step = args::number(&step, "step")?;
        let rows = RowsArgument::read(rows)?;
        let counts = args::copied::<u32>(&counts, "counts", "a Uint32Array")?;
        let columns = args::each_element(&columns, "columns", "Float64Arrays", |column, _| Ok(*column))?;
        let ds = args::lent::<f64>(&ds, "ds", FLOAT64)?;
        let columns = lent_columns(&columns)?;
        let rows = rows.lend()?;
        let columns: Vec<&[f64]> = columns.iter().map(|column| &column[..]).collect();
        let droppable = tails::droppable_heads(&ds, &columns, rows.chunk_rows(), &counts, keep, step).map_err(|e| ArgError::Range(e.to_string()))?;
        Ok(Uint8Array::new(droppable.into_iter().map(u8::from).collect()))
    })
}

/// A chunk's bytes: `head` (its header, written in frames.js) followed by each of `columns` in turn at the rows the
/// chunk stages, the last `kept[s]` of the `counts[s]` rows of each series, as little-endian Float64 values.
/// `rows` as in `droppableHeads`.
#[napi(
    catch_unwind,
    ts_args_type = "head: Uint8Array, columns: Float64Array[], counts: Uint32Array, kept: Uint32Array, rows: Uint32Array | number",
    ts_return_type = "Uint8Array"
)]
pub fn chunk_bytes(env: Env, head: Unknown<'_>, columns: Unknown<'_>, counts: Unknown<'_>, kept: Unknown<'_>, rows: Unknown<'_>) -> napi::Result<Uint8Array> {
    with_js_errors(&env, "chunkBytes", || {
        // Everything through which JavaScript can run is read before any typed array is lent.
        let rows = RowsArgument::read(rows)?;
        let counts = args::copied::<u32>(&counts, "counts", "a Uint32Array")?;
        let kept = args::copied::<u32>(&kept, "kept", "a Uint32Array")?;
        let columns = args::each_element(&columns, "columns", "Float64Arrays", |column, _| Ok(*column))?;
        let head = args::lent::<u8>(&head, "head", "a Uint8Array or Buffer")?;
        let columns = lent_columns(&columns)?;
        let rows = rows.lend()?;
        let columns: Vec<&[f64]> = columns.iter().map(|column| &column[..]).collect();
        let bytes = crate::data::chunk_bytes(&head, &columns, rows.chunk_rows(), &counts, &kept).map_err(|e| ArgError::Range(e.to_string()))?;
        // The Vec becomes the array's memory: no copy.
        Ok(Uint8Array::new(bytes))
    })
}

/// Each of `columns` (a Float64Array), lent.
fn lent_columns<'a>(columns: &[Unknown<'a>]) -> ArgResult<Vec<Cow<'a, [f64]>>> {
    columns.iter().enumerate().map(|(k, column)| args::lent::<f64>(column, &format!("columns[{k}]"), FLOAT64)).collect()
}

/// A chunk's `rows` argument as read before any typed array is lent: the index of its first row, or the array
/// that lists its rows.
enum RowsArgument<'a> {
    From(usize),
    Listed(Unknown<'a>),
}

impl<'a> RowsArgument<'a> {
    fn read(rows: Unknown<'a>) -> ArgResult<Self> {
        Ok(match rows.get_type()? {
            ValueType::Number => RowsArgument::From(args::integer(&rows, "rows", 0, MAX_SAFE_INDEX)?),
            _ => RowsArgument::Listed(rows),
        })
    }

    /// The rows with a listing lent, with the other typed arrays.
    fn lend(self) -> ArgResult<LentRows<'a>> {
        Ok(match self {
            RowsArgument::From(first) => LentRows::From(first),
            RowsArgument::Listed(rows) => LentRows::Listed(args::lent::<u32>(&rows, "rows", "a Uint32Array or the index of the first row")?),
        })
    }
}

enum LentRows<'a> {
    From(usize),
    Listed(Cow<'a, [u32]>),
}

impl LentRows<'_> {
    fn chunk_rows(&self) -> ChunkRows<'_> {
        match self {
            LentRows::From(first) => ChunkRows::From(*first),
            LentRows::Listed(rows) => ChunkRows::Listed(rows),
        }
    }
}

/// The largest row index JavaScript can name exactly (2^53 − 1).
const MAX_SAFE_INDEX: usize = (1 << 53) - 1;

/// The lengths of the runs of equal consecutive `ids` (as JavaScript's `===` compares them).
#[napi(catch_unwind, ts_args_type = "ids: Uint32Array | Int32Array | Float64Array", ts_return_type = "Float64Array")]
pub fn run_lengths(env: Env, ids: Unknown<'_>) -> napi::Result<Float64Array> {
    use napi::sys::TypedarrayType as Kind;
    const IDS: &str = "a Uint32Array, Int32Array or Float64Array";
    with_js_errors(&env, "runLengths", || {
        let lengths = match args::typed_kind(&ids)? {
            Some(Kind::int32_array) => runs::run_lengths(&args::lent::<i32>(&ids, "ids", IDS)?),
            Some(Kind::float64_array) => runs::run_lengths(&args::lent::<f64>(&ids, "ids", IDS)?),
            _ => runs::run_lengths(&args::lent::<u32>(&ids, "ids", IDS)?),
        };
        Ok(Float64Array::new(lengths.into_iter().map(|length| length as f64).collect()))
    })
}

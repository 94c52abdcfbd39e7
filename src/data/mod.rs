//! The data layer: NeuralForecast's long format (`unique_id`, `ds`, `y`) validated into a
//! [`Panel`] of contiguous series, with frequencies.
//! Nothing here panics on bad input; every error names the series and row at fault.

pub mod chunk_bytes;
pub mod csv;
pub mod ds;
pub mod error;
pub mod freq;
pub mod panel;
pub mod runs;
pub mod tails;
#[cfg(test)]
mod test_data;

pub use chunk_bytes::{chunk_bytes, ChunkBytesError};
pub use ds::{
    check_uniform_kind, ds_from_epoch_millis, ds_from_numbers, format_ds_column, parse_ds_column,
    Ds,
};
pub use csv::{read_csv, CsvError, CsvErrorKind, CsvOptions, IdColumn};
pub use error::DataError;
pub use freq::{advance, infer_frequency, Frequency};
pub use panel::{Column, Panel, Series};
pub use tails::{droppable_heads, ChunkRows, TailError};
#[cfg(test)]
mod fuzz_tests;

//! neuro-divergent: neural time-series forecasting.
//!
//! Everything here except [`node`] is plain Rust, usable and testable with `cargo test`;
//! `node` (feature `node`) is the napi-rs binding layer: it converts, validates and delegates.

pub mod data;
pub mod engine;
pub mod kernels;
pub mod models;
pub mod nn;
pub mod pool;
pub mod simd;

#[cfg(feature = "node")]
mod node;

//! The napi-rs binding layer: converts JS values, validates them into typed JS errors, and delegates to the
//! napi-free core. No numerics live here.

mod args;
mod data;
mod forecaster;
mod models;
mod ops;

//! The napi-rs binding layer: converts JS values, validates them into typed JS errors, and delegates to the
//! napi-free core. No numerics live here.

mod args;
mod arrays;
mod conformal;
mod csv;
mod data;
mod dataset;
mod forecaster;
mod guard;
mod models;
mod ops;
mod staging;

/// The version of the crate this addon was built from (Cargo.toml's `version`). The package entry point compares
/// it with package.json's `version` and refuses to run a binary from another release.
#[napi_derive::napi]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

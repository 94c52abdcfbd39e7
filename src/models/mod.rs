//! Forecasting models built from [`crate::nn`] modules, matching NeuralForecast's architectures.

pub mod gru;
pub mod lstm;
pub mod mlp;
pub mod nbeats;
pub mod nbeats_basis;
pub mod nbeats_stack;
pub mod nbeatsx;
pub mod model;
pub mod options;
pub mod recurrent_forecaster;

pub use gru::Gru;
pub use model::{ExogSizes, Model, WindowBatch};
pub use options::{ModelOptions, OptionError};
pub use lstm::Lstm;
pub use recurrent_forecaster::{ForecasterCache, RecurrentConfig, RecurrentForecaster};

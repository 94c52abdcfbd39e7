//! Forecasting models built from [`crate::nn`] modules, matching NeuralForecast's architectures.

pub mod gru;
pub mod lstm;
pub mod recurrent_forecaster;

pub use gru::Gru;
pub use lstm::Lstm;
pub use recurrent_forecaster::{ForecasterCache, RecurrentConfig, RecurrentForecaster};

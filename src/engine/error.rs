//! The engine's error type: why a fit, forecast or checkpoint call was refused, and which JS error class it maps to.

use std::fmt;

use crate::data::DataError;
use crate::nn::NnError;

/// Why the engine refused a call. Messages name the model, series or file at fault.
#[derive(Debug)]
pub enum EngineError {
    /// An option or argument of the wrong type (a JS TypeError).
    Type(String),
    /// A value of the right type that is out of range or inconsistent (a JS RangeError).
    Range(String),
    /// Invalid data (names the series and row).
    Data(DataError),
    /// A model could not be built.
    Model(NnError),
    /// predict or forecastWindow before fit.
    NotFitted,
    /// A checkpoint that is not ours, damaged, or does not fit the models.
    Checkpoint(String),
    Io { path: String, error: std::io::Error },
    /// A cross-validation window's fit or forecast failed (`window` counts from 0).
    InWindow { window: usize, n_windows: usize, error: Box<EngineError> },
}

/// Which JS error class the binding should throw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Type,
    Range,
    Other,
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Type(_) => ErrorKind::Type,
            EngineError::Range(_) | EngineError::Data(_) | EngineError::Model(_) => ErrorKind::Range,
            EngineError::NotFitted | EngineError::Checkpoint(_) | EngineError::Io { .. } => ErrorKind::Other,
            EngineError::InWindow { error, .. } => error.kind(),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Type(m) | EngineError::Range(m) => f.write_str(m),
            EngineError::Data(e) => write!(f, "{e}"),
            EngineError::Model(e) => write!(f, "{e}"),
            EngineError::NotFitted => f.write_str("the forecaster is not fitted: call fit() (or load a checkpoint) first"),
            EngineError::Checkpoint(m) => write!(f, "invalid checkpoint: {m}"),
            EngineError::Io { path, error } => write!(f, "{path}: {error}"),
            EngineError::InWindow { window, n_windows, error } => write!(f, "window {} of {n_windows}: {error}", window + 1),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<DataError> for EngineError {
    fn from(e: DataError) -> Self {
        EngineError::Data(e)
    }
}

impl From<NnError> for EngineError {
    fn from(e: NnError) -> Self {
        EngineError::Model(e)
    }
}

//! The error type of the nn core: every public constructor and pass validates sizes and returns this
//! instead of panicking, so the binding layer can turn it into a JS error.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum NnError {
    /// A size that must be at least 1 was 0.
    ZeroSize { what: &'static str },
    /// A buffer or tensor had the wrong number of elements.
    LengthMismatch { what: &'static str, expected: usize, actual: usize },
    /// A hyper-parameter outside its valid range.
    InvalidValue { what: &'static str, reason: String },
    /// Two parameter stores that must have the same names and shapes (parameters and gradients) differ.
    LayoutMismatch { reason: String },
}

impl fmt::Display for NnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NnError::ZeroSize { what } => write!(f, "{what} must be at least 1, got 0"),
            NnError::LengthMismatch { what, expected, actual } => {
                write!(f, "{what}: expected {expected} elements, got {actual}")
            }
            NnError::InvalidValue { what, reason } => write!(f, "invalid {what}: {reason}"),
            NnError::LayoutMismatch { reason } => write!(f, "parameter layout mismatch: {reason}"),
        }
    }
}

impl std::error::Error for NnError {}

/// Errors with [`NnError::ZeroSize`] when `value` is 0.
pub(crate) fn nonzero(what: &'static str, value: usize) -> Result<usize, NnError> {
    if value == 0 {
        Err(NnError::ZeroSize { what })
    } else {
        Ok(value)
    }
}

/// Errors with [`NnError::LengthMismatch`] when `actual != expected`.
pub(crate) fn expect_len(what: &'static str, expected: usize, actual: usize) -> Result<(), NnError> {
    if expected == actual {
        Ok(())
    } else {
        Err(NnError::LengthMismatch { what, expected, actual })
    }
}

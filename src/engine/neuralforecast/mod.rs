//! NeuralForecast's own model directories (`nf.save(dir)` / `NeuralForecast.load(dir)`, nf_format "2"):
//! reading one into a forecaster that predicts from the history it is given, and writing a forecaster in that
//! format so that NeuralForecast loads it and predicts the same.

mod hyper_parameters;
mod read;
mod tensor_names;
mod write;

use std::path::Path;

use super::{Engine, EngineError};

pub use read::is_neuralforecast_dir;

/// The directory format NeuralForecast 3.x writes and this library reads and writes.
const NF_FORMAT: &str = "2";

impl Engine {
    /// A forecaster from a directory NeuralForecast saved. It keeps no series: `predict` takes the history.
    pub fn load_neuralforecast(dir: &Path) -> Result<Engine, EngineError> {
        read::load(dir)
    }

    /// Writes NeuralForecast's format into `dir`, atomically: a sibling temporary directory renamed into place.
    /// An existing `dir` is refused unless `overwrite` (NeuralForecast's `save(overwrite=)`).
    pub fn save_neuralforecast(&self, dir: &Path, overwrite: bool) -> Result<(), EngineError> {
        write::save(self, dir, overwrite)
    }
}

/// Errors about one directory, naming it, the file, and the `nf_format` read (once it is known).
struct Failure {
    dir: String,
    format: Option<String>,
}

impl Failure {
    fn new(dir: &Path) -> Failure {
        Failure { dir: dir.display().to_string(), format: None }
    }

    /// The same directory, its `nf_format` read.
    fn read_format(&self, format: &str) -> Failure {
        Failure { dir: self.dir.clone(), format: Some(format.to_string()) }
    }

    fn message(&self, message: impl std::fmt::Display) -> EngineError {
        match &self.format {
            Some(format) => EngineError::Checkpoint(format!("NeuralForecast directory {} (nf_format \"{format}\"): {message}", self.dir)),
            None => EngineError::Checkpoint(format!("NeuralForecast directory {}: {message}", self.dir)),
        }
    }

    fn at(&self, file: &str, message: impl std::fmt::Display) -> EngineError {
        self.message(format_args!("{file}: {message}"))
    }
}

#[cfg(test)]
mod tests;

//! Forecasting models built from [`crate::nn`] modules, matching NeuralForecast's architectures.

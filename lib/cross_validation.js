'use strict'
// `crossValidation` (NeuralForecast's `cross_validation`) runs in the Rust engine; main.js holds its JS wrapper.
// This module keeps the path the command line requires it from.

module.exports = { crossValidation: require('../main.js').crossValidation }

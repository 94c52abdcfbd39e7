'use strict'
// The package entry point: the addon as loaded by the generated `index.js`, with its errors and results
// re-created in the caller's JavaScript realm (lib/realm.js says why).

const native = require('./lib/load.js').load()
const { errorInThisRealm, inThisRealm, callNative, awaitNative } = require('./lib/realm.js')
const fs = require('node:fs')
const nodePath = require('node:path')
const { createEnsemble, FILE: ENSEMBLE_FILE } = require('./lib/ensemble.js')

function wrapFunction(fn) {
  return function (...args) {
    let result
    try {
      result = fn.apply(this, args)
    } catch (err) {
      throw errorInThisRealm(err)
    }
    return result && typeof result.then === 'function'
      ? result.then(inThisRealm, (err) => Promise.reject(errorInThisRealm(err)))
      : inThisRealm(result)
  }
}

function wrapNamespace(namespace) {
  const wrapped = {}
  for (const [name, value] of Object.entries(namespace)) {
    wrapped[name] = typeof value === 'function' ? wrapFunction(value) : value
  }
  return Object.freeze(wrapped)
}

/**
 * A native forecast frame as the public `{ unique_id: string[], ds: (string | number)[], <alias>: Float64Array, … }`
 * (with `cutoff` as `ds` when present):
 * native code packs the ids (one label per series with its row count) and integer steps (a Float64Array), because
 * setting 120,000 array elements one napi call at a time costs more than forecasting 10,000 series.
 */
function unpackFrame(frame) {
  const { labels, counts } = frame.unique_id
  const ids = new Array(counts.reduce((rows, count) => rows + count, 0))
  for (let s = 0, row = 0; s < labels.length; s++) for (let k = 0; k < counts[s]; k++) ids[row++] = labels[s]
  const result = { ...frame, unique_id: ids, ds: ArrayBuffer.isView(frame.ds) ? plainArray(frame.ds) : frame.ds }
  if (ArrayBuffer.isView(frame.cutoff)) result.cutoff = plainArray(frame.cutoff)
  return result
}

/** A typed array's values as an Array (an indexed loop: several times faster than Array.from here). */
function plainArray(typed) {
  const values = new Array(typed.length)
  for (let i = 0; i < typed.length; i++) values[i] = typed[i]
  return values
}

/** One class per model type (`models.LSTM`, …): its instances hold the validated options, defaults filled in. */
function modelClass(type) {
  const named = {
    [type]: class {
      constructor(options = {}) {
        Object.assign(this, callNative(() => native.resolveModelOptions(type, options)))
      }
    },
  }
  return named[type]
}

/** The forecaster and model index each Auto model instance was last given to (for `results()` and `bestConfig`). */
const autoPlaces = new WeakMap()

/**
 * One class per Auto model type (`models.AutoNHITS`, …): its instances hold the search's validated options; after
 * the fit of a forecaster they were given to, `results()` lists its trials and `bestConfig` holds the winner's.
 */
function autoModelClass(type) {
  const named = {
    [type]: class {
      constructor(options = {}) {
        Object.assign(this, callNative(() => native.resolveModelOptions(type, options)))
      }

      /** The search at the forecaster's last fit: `{ rows, bestConfig, stopped, skipped }`, or null before it. */
      searchResults() {
        const place = autoPlaces.get(this)
        if (place === undefined) throw new Error(`${type}: give this model to a NeuralForecaster and fit it first`)
        return callNative(() => natives.get(place.forecaster).searchResults(place.index))
      }

      /** One row per trial run: `{ trial, config, validLoss, steps, seconds, pruned, stoppedByBudget, error? }` ([] before fit). */
      results() {
        return this.searchResults()?.rows ?? []
      }

      /** The winning trial's sampled options (undefined before fit). */
      get bestConfig() {
        return this.searchResults()?.bestConfig ?? undefined
      }
    },
  }
  return named[type]
}

const modelClasses = Object.fromEntries(native.modelTypes().map((type) => [type, modelClass(type)]))
for (const type of native.autoModelTypes()) modelClasses[type] = autoModelClass(type)
const autoClasses = new Set(native.autoModelTypes().map((type) => modelClasses[type]))

/**
 * Search-space entries for Auto models' `config` (Ray Tune's): `choice(values)`, `uniform(low, high)`,
 * `loguniform(low, high)`, `randint(low, high)` (high excluded), `quniform(low, high, q)`.
 */
const auto = Object.freeze({
  choice: (values) => ({ sample: 'choice', values }),
  uniform: (low, high) => ({ sample: 'uniform', low, high }),
  loguniform: (low, high) => ({ sample: 'loguniform', low, high }),
  randint: (low, high) => ({ sample: 'randint', low, high }),
  quniform: (low, high, q) => ({ sample: 'quniform', low, high, q }),
})
// NeuralForecast also calls VanillaTransformer `Transformer`.
if (modelClasses.VanillaTransformer) modelClasses.Transformer = modelClasses.VanillaTransformer

/** How often `onProgress` is called during fit, at most. */
const PROGRESS_INTERVAL_MS = 100

const natives = new WeakMap()

function fromNative(nativeForecaster) {
  const forecaster = Object.create(NeuralForecaster.prototype)
  natives.set(forecaster, nativeForecaster)
  return forecaster
}

function checkHooks(what, onProgress, signal) {
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TypeError(`${what}: options.onProgress must be a function, got ${typeof onProgress}`)
  }
  if (signal !== undefined && !(signal && typeof signal.addEventListener === 'function' && 'aborted' in signal)) {
    throw new TypeError(`${what}: options.signal must be an AbortSignal`)
  }
}

function abortError(signal, what) {
  if (signal.reason !== undefined) return signal.reason
  const err = new Error(`${what} was aborted`)
  err.name = 'AbortError'
  return err
}

/**
 * Runs `call(control)`, a native call that trains through `control` (a FitControl), to its result: `onProgress`
 * gets the latest step from `latest(control)` (a `[key, progress]` pair, or nothing) at most every 100 ms; any of
 * `signals` aborting (those `call` adds included) or `onProgress` throwing stops the training. A result that
 * `stopped(result)` says was stopped by a signal rejects with the AbortError.
 */
async function runControlled(what, { onProgress, signals, latest, stopped }, call) {
  const aborted = () => signals.find((signal) => signal.aborted)
  if (aborted()) throw abortError(aborted(), what)
  const control = new native.FitControl()
  const pending = callNative(() => call(control))
  const onAbort = () => control.abort()
  for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true })
  if (aborted()) control.abort()
  let callbackError
  let lastKey
  const report = () => {
    const step = latest(control)
    if (!step || !onProgress) return
    const [key, progress] = step
    if (key === lastKey) return
    lastKey = key
    try {
      onProgress(inThisRealm(progress))
    } catch (err) {
      callbackError = err
      control.abort()
    }
  }
  const timer = onProgress ? setInterval(report, PROGRESS_INTERVAL_MS) : undefined
  try {
    const result = await awaitNative(pending)
    if (callbackError === undefined) report()
    if (callbackError !== undefined) throw callbackError
    if (stopped(result) && aborted()) throw abortError(aborted(), what)
    return result
  } finally {
    clearInterval(timer)
    for (const signal of signals) signal.removeEventListener('abort', onAbort)
  }
}

/** A fit's latest step. */
function fitStep(control) {
  const progress = control.progress()
  return progress && [`${progress.model}:${progress.step}`, progress]
}

/** A cross-validation's latest step: `{ fit, window, …a fit's progress }`. */
function crossValidationStep(control) {
  const latest = control.crossValidationProgress()
  if (!latest) return undefined
  const { fit, window, progress } = latest
  return [`${fit}:${progress.model}:${progress.step}`, { fit, window, ...inThisRealm(progress) }]
}

/**
 * Neural forecasting models over long-format data (`unique_id`, `ds`, `y`). Heavy work runs off the JS thread:
 * fit, predict, save and load return Promises. See index.d.ts / main.d.ts for the options.
 */
class NeuralForecaster {
  constructor(options) {
    // `models: 'auto'` or an AutoEnsemble: a forecaster over one forecaster per family (lib/ensemble.js).
    const ensemble = ensembles.ensembleOf(options)
    if (ensemble !== undefined) return new ensembles.EnsembleForecaster(ensemble)
    natives.set(this, callNative(() => new native.NeuralForecaster(options)))
    options.models.forEach((model, index) => {
      if (model !== null && typeof model === 'object' && autoClasses.has(model.constructor)) autoPlaces.set(model, { forecaster: this, index })
    })
  }

  get isFitted() {
    return natives.get(this).isFitted
  }

  /** Trains the models; `onProgress` is called with the latest step at most every 100 ms, `signal` aborts. */
  async fit(data, options = {}) {
    const { onProgress, signal, ...fitOptions } = options ?? {}
    checkHooks('NeuralForecaster.fit', onProgress, signal)
    const hooks = { onProgress, signals: signal ? [signal] : [], latest: fitStep, stopped: (report) => report.aborted }
    return runControlled('NeuralForecaster.fit', hooks, (control) => natives.get(this).fit(data, fitOptions, control))
  }

  /** The members of an AutoEnsemble forecaster (lib/ensemble.js); this forecaster has none. */
  ensembleMembers() {
    return []
  }

  /** The search of an AutoEnsemble forecaster; this forecaster has none. */
  ensembleResults() {
    return null
  }

  /** Forecasts every series after its history (or after `options.data`). */
  async predict(options) {
    return unpackFrame(await awaitNative(callNative(() => natives.get(this).predict(options))))
  }

  /**
   * Forecasts the fitted data window after window, `stepSize` [1] points apart (NeuralForecast's
   * `predict_insample`): `{ unique_id, ds, cutoff, y, <model column>… }`.
   */
  async predictInsample(options) {
    return unpackFrame(await awaitNative(callNative(() => natives.get(this).predictInsample(options))))
  }

  /**
   * A TFT's interpretability outputs over the fitted series' last windows (NeuralForecast's `feature_importances`
   * and `attention_weights`): `{ model, static, past, future, attention }`.
   */
  async featureImportances(options) {
    return awaitNative(callNative(() => natives.get(this).featureImportances(options)))
  }

  /** Appends new observations to fitted series (synchronous); the next forecast starts after them, no refit. */
  update(data) {
    return callNative(() => natives.get(this).update(data))
  }

  /** The next `horizon` [h] `{ unique_id, ds }` rows of every fitted series, to fill with future exogenous values. */
  futureFrame(horizon) {
    return unpackFrame(callNative(() => natives.get(this).futureFrame(horizon)))
  }

  /** Synchronous forecast of some fitted series (one id or an array): the per-bar path after `update`. */
  forecastSeries(ids, options) {
    return unpackFrame(callNative(() => natives.get(this).forecastSeries(ids, options)))
  }

  /** Synchronous forecast of one window of the last `inputSize` values: the low-latency path. */
  forecastWindow(window, options) {
    return callNative(() => natives.get(this).forecastWindow(window, options))
  }

  /** Bytes of reusable buffers the forecaster holds between calls: `{ scratchBytes, threadBytes, totalBytes }`. */
  memoryStats() {
    return callNative(() => natives.get(this).memoryStats())
  }

  /** Forecasts n windows at once (n × inputSize values, window after window) off the JS thread: n × h values. */
  async forecastWindows(windows, options) {
    return awaitNative(callNative(() => natives.get(this).forecastWindows(windows, options)))
  }

  /** Writes a safetensors checkpoint atomically, or NeuralForecast's model directory (`{ format: 'neuralforecast' }`). */
  async save(path, options) {
    return awaitNative(callNative(() => natives.get(this).save(path, options)))
  }

  /** The checkpoint as a Buffer. */
  async toBuffer() {
    return awaitNative(callNative(() => natives.get(this).toBuffer()))
  }

  static async load(path, options) {
    if (typeof path === 'string' && fs.existsSync(nodePath.join(path, ENSEMBLE_FILE))) return ensembles.EnsembleForecaster.load(path, options)
    return fromNative(await awaitNative(callNative(() => native.NeuralForecaster.load(path, options))))
  }

  static async fromBuffer(buffer, options) {
    return fromNative(await awaitNative(callNative(() => native.NeuralForecaster.fromBuffer(buffer, options))))
  }
}

/** The native `Dataset` with its errors re-created in this realm; instances are the native class's. */
class Dataset {
  constructor() {
    throw new TypeError('Dataset: use Dataset.fromColumns(data) or readCsv(path) to make one')
  }

  static fromColumns(data, frequency) {
    return callNative(() => native.Dataset.fromColumns(data, frequency))
  }

  static [Symbol.hasInstance](value) {
    return value instanceof native.Dataset
  }
}

/**
 * Reads a long-format CSV file into a `Dataset` off the JS thread (no JS object per row); `fit`, `predict({ data })`
 * and `update` accept it in place of columns.
 */
async function readCsv(path, options) {
  return awaitNative(callNative(() => native.readCsvFile(path, options)))
}

/** The native forecaster that cross-validation copies: a factory's forecaster, or one made from options. */
async function crossValidationForecaster(forecaster, options) {
  if (typeof forecaster === 'function') {
    if (options?.horizon === undefined) throw new TypeError('crossValidation: with a forecaster factory, options.horizon is required')
    const forecasterMade = await forecaster()
    if (forecasterMade instanceof ensembles.EnsembleForecaster) return forecasterMade
    const made = natives.get(forecasterMade)
    if (made === undefined) throw new TypeError('crossValidation: the forecaster factory must return a NeuralForecaster')
    return made
  }
  if (forecaster === null || typeof forecaster !== 'object') {
    throw new TypeError('crossValidation: forecasterOptions must be NeuralForecaster options or a function returning a forecaster')
  }
  if (!Array.isArray(forecaster.models) || forecaster.models.length === 0) {
    throw new TypeError('crossValidation: forecasterOptions.models must be a non-empty array of models')
  }
  return callNative(() => new native.NeuralForecaster(forecaster))
}

/**
 * NeuralForecast's `cross_validation`, run in the Rust engine off the JS thread (see main.d.ts): forecasts of the
 * last `nWindows` windows of every series, each from the history before it, beside the actual values.
 * `fitOptions` (an object, or a function of the fit and window index) may hold an `onProgress` and `signal` of
 * each fit.
 */
async function crossValidation(forecasterOptions, data, options) {
  const what = 'crossValidation'
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new TypeError(`${what}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`)
  }
  const { onProgress, signal, fitOptions, ...windows } = options ?? {}
  checkHooks(what, onProgress, signal)
  // An AutoEnsemble's cross-validation runs over its forecasters in lib/ensemble.js.
  const ensemble = typeof forecasterOptions === 'function' ? undefined : ensembles.ensembleOf(forecasterOptions)
  if (ensemble !== undefined) return ensembles.EnsembleForecaster.crossValidation(() => new ensembles.EnsembleForecaster(ensemble), data, options)
  const forecaster = await crossValidationForecaster(forecasterOptions, options)
  if (forecaster instanceof ensembles.EnsembleForecaster) return ensembles.EnsembleForecaster.crossValidation(forecasterOptions, data, options, forecaster)
  const signals = signal ? [signal] : []
  const fitHooks = []
  const optionsOfFit = (fit, window) => {
    const given = typeof fitOptions === 'function' ? fitOptions(fit, window) : fitOptions
    if (given === null || typeof given !== 'object') return given
    const { onProgress: fitProgress, signal: fitSignal, ...rest } = given
    checkHooks(`${what}: fitOptions`, fitProgress, fitSignal)
    fitHooks[fit] = fitProgress
    if (fitSignal) signals.push(fitSignal)
    return rest
  }
  const report = (progress) => {
    onProgress?.(progress)
    fitHooks[progress.fit]?.(progress)
  }
  const hooks = { onProgress: report, signals, latest: crossValidationStep, stopped: (frame) => frame === null }
  const nativeOptions = { ...windows, fitOptions: fitOptions === undefined ? undefined : optionsOfFit }
  const frame = await runControlled(what, hooks, (control) => forecaster.crossValidation(data, nativeOptions, control))
  return unpackFrame(frame)
}

const ensembles = createEnsemble({ models: modelClasses, NeuralForecaster, crossValidation, fs, path: nodePath })
modelClasses.AutoEnsemble = ensembles.AutoEnsemble
const models = Object.freeze(modelClasses)

module.exports = {
  ops: wrapNamespace(native.ops),
  models,
  auto,
  NeuralForecaster,
  Dataset,
  readCsv,
  crossValidation,
  /** The sampled options of each trial of an Auto model's search, in trial order (trial k's: the seed and k alone). */
  autoTrialConfigs: wrapFunction(native.autoTrialConfigs),
}
Object.assign(module.exports, {
  evaluate: require('./lib/evaluate.js').evaluate,
  coverage: require('./lib/evaluate.js').coverage,
  calendarFeatures: require('./lib/calendar.js').calendarFeatures,
  plotForecast: require('./lib/plot.js').plotForecast,
})

'use strict'
// Cross-validation as NeuralForecast's `NeuralForecast.cross_validation`: forecasts over `nWindows` windows at
// the end of every series, `stepSize` points apart, the last window ending at the series' last point. Each
// window's forecast is made from the history up to its cutoff (the last point before the window) and is
// returned beside the actual values.
//
// refit false: the models are fitted once, on each series without its last `horizon + stepSize·(nWindows − 1)`
// points (the data before the first window), and every window is forecast from its own history with
// `predict({ data })`, no refit. refit true: a fresh forecaster is fitted on each window's history. refit k (a
// positive integer): refitted every k windows, as NeuralForecast's integer `refit`.

const { toColumns, groupSeries, formatDs } = require('./long_format.js')
const { checkOptions } = require('./options.js')

function positiveInteger(value, name, min = 1) {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`crossValidation: ${name} must be an integer >= ${min}, got ${typeof value === 'string' ? JSON.stringify(value) : value}`)
  }
  return value
}

/** The models' common horizon `h` from the forecaster options (models.* instances or plain `{ type, h }`). */
function modelsHorizon(forecasterOptions) {
  const list = forecasterOptions && forecasterOptions.models
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError('crossValidation: forecasterOptions.models must be a non-empty array of models')
  }
  const hs = list.map((m) => (m && (m.h ?? m.horizon)))
  if (hs.some((h) => !Number.isInteger(h))) throw new TypeError('crossValidation: every model needs an integer h')
  return Math.min(...hs)
}

function withContext(err, context) {
  if (err && typeof err === 'object' && typeof err.message === 'string' && err.name !== 'AbortError') {
    err.message = `${context}: ${err.message}`
  }
  return err
}

/**
 * @param {object | (() => object | Promise<object>)} forecasterOptions NeuralForecaster options, or a function
 *   returning a new unfitted forecaster (or a Promise of one); a function needs `options.horizon`
 * @param {object} data long-format data (columns, rows or one series of numbers)
 * @param {{ nWindows?: number, stepSize?: number, refit?: boolean | number, horizon?: number, level?: number[],
 *   fitOptions?: object | ((fitIndex: number, window: number) => object) }} [options] `level` adds interval
 *   columns (Prophet's own; the neural models need `fitOptions.predictionIntervals` or a multi-quantile loss)
 * @returns {Promise<{ unique_id: string[], ds: Array<string|number>, cutoff: Array<string|number>, y: Float64Array, [model: string]: any }>}
 */
async function crossValidation(forecasterOptions, data, options) {
  options = checkOptions(options, ['nWindows', 'stepSize', 'refit', 'horizon', 'level', 'fitOptions'], 'crossValidation')
  const factory = typeof forecasterOptions === 'function'
  let createForecaster
  let h
  if (factory) {
    createForecaster = forecasterOptions
    if (options.horizon === undefined) throw new TypeError('crossValidation: with a forecaster factory, options.horizon is required')
    h = options.horizon
  } else {
    if (forecasterOptions === null || typeof forecasterOptions !== 'object') {
      throw new TypeError('crossValidation: forecasterOptions must be NeuralForecaster options or a function returning a forecaster')
    }
    h = modelsHorizon(forecasterOptions)
    createForecaster = () => {
      const { NeuralForecaster } = require('../main.js')
      return new NeuralForecaster(forecasterOptions)
    }
  }
  const horizon = positiveInteger(options.horizon ?? h, 'horizon')
  if (horizon > h) throw new RangeError(`crossValidation: horizon ${horizon} is larger than the models' h ${h}`)
  const nWindows = positiveInteger(options.nWindows ?? 1, 'nWindows')
  const stepSize = positiveInteger(options.stepSize ?? 1, 'stepSize')
  const refit = options.refit ?? false
  let refitEvery
  if (refit === false) refitEvery = Infinity
  else if (refit === true) refitEvery = 1
  else refitEvery = positiveInteger(refit, 'refit (false, true or a number of windows)')
  const fitOptionsFor = typeof options.fitOptions === 'function' ? options.fitOptions : () => options.fitOptions ?? {}

  const columns = toColumns(data, 'crossValidation')
  const groups = groupSeries(columns.unique_id)
  const testSize = horizon + stepSize * (nWindows - 1)
  for (const [id, rows] of groups) {
    if (rows.length <= testSize) {
      throw new RangeError(
        `crossValidation: series '${id}' has ${rows.length} points; ${nWindows} window(s) of horizon ${horizon}, ` +
          `${stepSize} apart, need ${testSize} of them plus some history before the first window`,
      )
    }
  }

  /** Each series up to (and including) its row `cutoff(length)`. */
  const historyUpTo = (lastIndex) => {
    const out = { unique_id: [], ds: [], y: [] }
    for (const [id, rows] of groups) {
      const last = lastIndex(rows.length)
      for (let k = 0; k <= last; k++) {
        const r = rows[k]
        out.unique_id.push(id)
        out.ds.push(columns.ds[r])
        out.y.push(columns.y[r])
      }
    }
    out.y = Float64Array.from(out.y)
    return out
  }
  const cutoffIndex = (length, w) => length - testSize + w * stepSize - 1

  const windows = []
  let forecaster
  let fits = 0
  for (let w = 0; w < nWindows; w++) {
    const history = historyUpTo((length) => cutoffIndex(length, w))
    const context = `crossValidation window ${w + 1} of ${nWindows}`
    try {
      if (w % refitEvery === 0 || forecaster === undefined) {
        forecaster = await createForecaster()
        await forecaster.fit(history, fitOptionsFor(fits, w))
        fits++
      }
      windows.push(await forecaster.predict({ data: history, horizon, ...(options.level ? { level: options.level } : {}) }))
    } catch (err) {
      throw withContext(err, context)
    }
  }

  const modelColumns = Object.keys(windows[0]).filter((k) => k !== 'unique_id' && k !== 'ds')
  // Rows of each window's forecast by series, in order.
  const byWindow = windows.map((forecast) => {
    const rowsOf = groupSeries(forecast.unique_id)
    return { forecast, rowsOf }
  })
  const out = { unique_id: [], ds: [], cutoff: [], y: [] }
  const values = Object.fromEntries(modelColumns.map((m) => [m, []]))
  for (const [id, rows] of groups) {
    for (let w = 0; w < nWindows; w++) {
      const { forecast, rowsOf } = byWindow[w]
      const frows = rowsOf.get(id)
      if (!frows || frows.length !== horizon) {
        throw new Error(`crossValidation: the forecast of window ${w + 1} has ${frows ? frows.length : 0} rows for series '${id}', expected ${horizon}`)
      }
      const c = cutoffIndex(rows.length, w)
      const cutoff = formatDs(columns.ds[rows[c]])
      for (let k = 0; k < horizon; k++) {
        const fr = frows[k]
        out.unique_id.push(id)
        out.ds.push(forecast.ds[fr])
        out.cutoff.push(cutoff)
        out.y.push(columns.y[rows[c + 1 + k]])
        for (const m of modelColumns) values[m].push(forecast[m][fr])
      }
    }
  }
  out.y = Float64Array.from(out.y)
  for (const m of modelColumns) out[m] = Float64Array.from(values[m])
  return out
}

module.exports = { crossValidation }

'use strict'
// Forecast accuracy per series and overall, as utilsforecast's `evaluate` (the companion of NeuralForecast's
// cross_validation): MAE, MSE, RMSE, sMAPE and MASE, and on request the CRPS and NeuralForecast's sCRPS of the
// quantile columns.
//
//   mae   mean |y − ŷ|
//   mse   mean (y − ŷ)²
//   rmse  √mse (per series; "overall" is the mean of the per-series values, as every metric)
//   smape mean 200·|y − ŷ| / (|y| + |ŷ|), in percent (0 to 200; a point with y = ŷ = 0 counts 0)
//   mase  mae / mean |y_t − y_{t−m}| over the series' training data (`options.train`), m = `options.seasonality`
//   crps  2 · mean over points and quantiles of the pinball loss of the model's quantile columns (`-median`,
//         `-lo-<level>`, `-hi-<level>`, `_ql<q>`; the model's own column is the median when it has no `-median`):
//         the quantile approximation of the CRPS, and the MAE for a point forecast alone
//   scaledCrps  NeuralForecast's sCRPS: 2 · Σ points mean over quantiles of the pinball loss / (Σ |y| + 1e-5)
//
// "overall" is the mean over series of the per-series values (utilsforecast's agg_fn='mean'). A NaN actual or
// forecast makes the metrics it enters NaN.

const { columnValues, toColumns, groupSeries } = require('./long_format.js')
const { checkOptions } = require('./options.js')

const METRICS = ['mae', 'mse', 'rmse', 'smape', 'mase', 'crps', 'scaledCrps']
/** The metrics computed when none are named (crps and scaledCrps only on request). */
const DEFAULT_METRICS = ['mae', 'mse', 'rmse', 'smape', 'mase']
const RESERVED = new Set(['unique_id', 'ds', 'cutoff', 'y'])
/** NeuralForecast's interval bound columns (`LSTM-lo-80`, `LSTM-hi-80`) are not point forecasts; a multi-quantile
 * model's `-median` is its point forecast. */
const INTERVAL = /-(lo|hi)-(\d+(\.\d+)?)$/

function metricNames(metrics, haveTrain) {
  if (metrics === undefined) return haveTrain ? DEFAULT_METRICS : DEFAULT_METRICS.filter((m) => m !== 'mase')
  const list = typeof metrics === 'string' ? metrics.split(',') : metrics
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('evaluate: metrics must be a non-empty array of metric names')
  return list.map((m) => {
    const name = METRICS.find((metric) => metric.toLowerCase() === String(m).trim().toLowerCase())
    if (!name) throw new RangeError(`evaluate: unknown metric ${JSON.stringify(m)}; available: ${METRICS.join(', ')}`)
    if (name === 'mase' && !haveTrain) throw new TypeError('evaluate: mase needs the training data as options.train (its scale is the in-sample seasonal naive error)')
    return name
  })
}

/** Mean |y_t − y_{t−m}| of each training series. */
function maseScales(train, seasonality) {
  const columns = toColumns(train, 'evaluate: options.train')
  const scales = new Map()
  for (const [id, rows] of groupSeries(columns.unique_id)) {
    let sum = 0
    let count = 0
    for (let k = seasonality; k < rows.length; k++) {
      sum += Math.abs(columns.y[rows[k]] - columns.y[rows[k - seasonality]])
      count++
    }
    scales.set(id, count ? sum / count : NaN)
  }
  return scales
}

/** The quantile a column suffix stands for: `-median`, `-lo-<level>`, `-hi-<level>`, `_ql<q>` (else undefined). */
function suffixQuantile(suffix) {
  if (suffix === '-median') return 0.5
  const bound = /^-(lo|hi)-(\d+(?:\.\d+)?)$/.exec(suffix)
  if (bound) return bound[1] === 'lo' ? (100 - Number(bound[2])) / 200 : (100 + Number(bound[2])) / 200
  const ql = /^_ql(0?\.\d+)$/.exec(suffix)
  return ql ? Number(ql[1]) : undefined
}

/** The quantile columns of `model` among `source`'s keys as `[q, values]`, with the model's own column as the
 * median when it has no `-median` one. */
function quantileColumns(source, model, point) {
  // A quantile model's point forecast is its `-median` column; its bounds are named after the model.
  const base = model.endsWith('-median') ? model.slice(0, -'-median'.length) : model
  const columns = []
  for (const key of Object.keys(source)) {
    if (!key.startsWith(base) || key === base || key === model) continue
    const q = suffixQuantile(key.slice(base.length))
    if (q !== undefined) columns.push([q, columnValues(source[key], `evaluate: ${key}`, true)])
  }
  if (!columns.some(([q]) => q === 0.5)) columns.push([0.5, point])
  return columns
}

/** Σ over `rows` of the mean pinball loss over the quantile columns. */
function pinballSum(y, quantiles, rows) {
  let sum = 0
  for (const r of rows) {
    let point = 0
    for (const [q, values] of quantiles) {
      const e = y[r] - values[r]
      point += Math.max(q * e, (q - 1) * e)
    }
    sum += point / quantiles.length
  }
  return sum
}

function seriesMetric(name, y, f, rows, scale, quantiles) {
  const n = rows.length
  if (name === 'crps') return (2 * pinballSum(y, quantiles, rows)) / n
  if (name === 'scaledCrps') {
    let norm = 0
    for (const r of rows) norm += Math.abs(y[r])
    return (2 * pinballSum(y, quantiles, rows)) / (norm + 1e-5)
  }
  let acc = 0
  for (const r of rows) {
    const e = y[r] - f[r]
    switch (name) {
      case 'mae':
      case 'mase':
        acc += Math.abs(e)
        break
      case 'mse':
      case 'rmse':
        acc += e * e
        break
      case 'smape': {
        const denom = Math.abs(y[r]) + Math.abs(f[r])
        acc += denom === 0 ? (e === 0 ? 0 : NaN) : (200 * Math.abs(e)) / denom
        break
      }
    }
  }
  const mean = acc / n
  if (name === 'rmse') return Math.sqrt(mean)
  if (name === 'mase') return mean / scale
  return mean
}

/**
 * @param {{ y: ArrayLike<number>, unique_id?: ArrayLike<string|number>, forecasts?: Record<string, ArrayLike<number>>,
 *   [model: string]: unknown }} result a cross-validation result (columns `unique_id, ds, cutoff, y, <model>…`),
 *   or `{ y, forecasts: { <model>: values }, unique_id? }`
 * @param {string[] | string} [metrics] names among mae, mse, rmse, smape, mase [all but mase; all with options.train]
 * @param {{ train?: object, seasonality?: number, models?: string[] }} [options]
 */
function evaluate(result, metrics, options) {
  options = checkOptions(options, ['train', 'seasonality', 'models'], 'evaluate')
  if (result === null || typeof result !== 'object') {
    throw new TypeError('evaluate: expected a cross-validation result or { y, forecasts }, with a y column of actual values')
  }
  // Each column is read once and copied: a getter could change it between two reads.
  const y = columnValues(result.y, 'evaluate: y', true)
  const n = y.length
  let forecasts
  if (result.forecasts !== undefined) {
    if (result.forecasts === null || typeof result.forecasts !== 'object') throw new TypeError('evaluate: forecasts must be an object of model columns')
    forecasts = result.forecasts
  } else {
    forecasts = {}
    for (const [key, value] of Object.entries(result)) {
      if (RESERVED.has(key) || INTERVAL.test(key)) continue
      if (value && typeof value.length === 'number' && (ArrayBuffer.isView(value) || typeof value[0] === 'number')) forecasts[key] = value
    }
  }
  const models = options.models ?? Object.keys(forecasts)
  if (models.length === 0) throw new TypeError('evaluate: no forecast columns found')
  const columns = {}
  const quantiles = {}
  for (const m of models) {
    const column = forecasts[m]
    if (!column) throw new RangeError(`evaluate: no forecast column ${JSON.stringify(m)}`)
    columns[m] = columnValues(column, `evaluate: forecast column ${m}`, true)
    if (columns[m].length !== n) throw new RangeError(`evaluate: forecast column ${m} has ${columns[m].length} values, y has ${n}`)
  }
  const names = metricNames(metrics, options.train !== undefined)
  if (names.includes('crps') || names.includes('scaledCrps')) {
    for (const m of models) {
      quantiles[m] = quantileColumns(result.forecasts ?? result, m, columns[m])
      const short = quantiles[m].find(([, values]) => values.length !== n)
      if (short) throw new RangeError(`evaluate: a quantile column of ${m} has ${short[1].length} values, y has ${n}`)
    }
  }
  const givenIds = result.unique_id === undefined ? undefined : columnValues(result.unique_id, 'evaluate: unique_id').map(String)
  if (givenIds !== undefined && givenIds.length !== n) {
    throw new RangeError(`evaluate: unique_id has ${givenIds.length} values, y has ${n}`)
  }
  const seasonality = options.seasonality ?? 1
  if (!Number.isInteger(seasonality) || seasonality < 1) throw new RangeError(`evaluate: seasonality must be an integer >= 1, got ${seasonality}`)
  const scales = names.includes('mase') ? maseScales(options.train, seasonality) : new Map()

  const ids = givenIds ?? y.map(() => 'series')
  const groups = groupSeries(ids)
  const perSeries = { unique_id: [], metric: [] }
  for (const m of models) perSeries[m] = []
  for (const [id, rows] of groups) {
    if (names.includes('mase') && !scales.has(id)) throw new RangeError(`evaluate: series '${id}' is missing from options.train (needed for mase)`)
    for (const name of names) {
      perSeries.unique_id.push(id)
      perSeries.metric.push(name)
      for (const m of models) perSeries[m].push(seriesMetric(name, y, columns[m], rows, scales.get(id), quantiles[m]))
    }
  }
  for (const m of models) perSeries[m] = Float64Array.from(perSeries[m])

  const overall = {}
  const nSeries = groups.size
  for (let j = 0; j < names.length; j++) {
    overall[names[j]] = {}
    for (const m of models) {
      let sum = 0
      for (let s = 0; s < nSeries; s++) sum += perSeries[m][s * names.length + j]
      overall[names[j]][m] = sum / nSeries
    }
  }
  return { models, metrics: names, perSeries, overall }
}

/**
 * The share of actual values inside each prediction interval of a cross-validation result: for every pair of
 * columns `<model>-lo-<level>` and `<model>-hi-<level>`, `{ [model]: { [level]: share } }` (a nominal 80 %
 * interval should cover about 0.8).
 */
function coverage(result) {
  if (result === null || typeof result !== 'object') throw new TypeError('coverage: expected a cross-validation result with a y column')
  const y = columnValues(result.y, 'coverage: y', true)
  const out = {}
  for (const key of Object.keys(result)) {
    const match = /^(.*)-lo-(\d+(\.\d+)?)$/.exec(key)
    const highKey = match && `${match[1]}-hi-${match[2]}`
    if (!match || !result[highKey]) continue
    const [low, high] = [key, highKey].map((column) => columnValues(result[column], `coverage: ${column}`, true))
    let inside = 0
    for (let i = 0; i < y.length; i++) if (low[i] <= y[i] && y[i] <= high[i]) inside++
    out[match[1]] = { ...out[match[1]], [match[2]]: inside / y.length }
  }
  return out
}

module.exports = { evaluate, coverage, METRICS, DEFAULT_METRICS }

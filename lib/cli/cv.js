'use strict'
// `neuro-divergent cv`: cross-validation as NeuralForecast's cross_validation, then a table of metrics (and
// interval coverage) per model, averaged over series, and optionally the cross-validation rows as CSV.

const { DEFAULTS, FIT_OPTIONS, integerOption, parse, dataFileArgument, modelTypes, forecasterOptions } = require('./args.js')
const { loadData, withFileLine } = require('./data.js')
const { UsageError, InputError, firstLine, interruptible } = require('./errors.js')
const { help } = require('./help.js')
const { formatValue, checkOutputPaths, writeFileChecked, progressFor } = require('./output.js')
const { columnsToCsv } = require('../csv.js')
const { crossValidation } = require('../../main.js')
const { evaluate, coverage, METRICS, DEFAULT_METRICS } = require('../evaluate.js')
const { dsToNumber, groupSeries } = require('../long_format.js')
const { formatTable } = require('../table.js')

/** Seasonal period from the spacing of the first series' ds (for MASE): 12 monthly, 4 quarterly, … */
function seasonOf(data) {
  const rows = groupSeries(data.unique_id).values().next().value
  if (!rows || rows.length < 2) return 1
  const a = dsToNumber(data.ds[rows[rows.length - 2]])
  const b = dsToNumber(data.ds[rows[rows.length - 1]])
  if (typeof data.ds[rows[0]] === 'number' || !Number.isFinite(a) || !Number.isFinite(b)) return 1
  const days = (b - a) / 86400000
  if (days >= 360) return 1
  if (days >= 88) return 4
  if (days >= 28) return 12
  if (days >= 6.9) return 52
  if (days >= 0.99) return 7
  if (days >= 1 / 24 - 1e-9) return Math.round(1 / days) // 24 hourly, 48 half-hourly, …
  return 1
}

async function commandCv(lib, argv, io) {
  const command = 'cv'
  const { values, positionals } = parse(command, argv, {
    ...FIT_OPTIONS,
    'n-windows': { type: 'string' },
    'step-size': { type: 'string' },
    refit: { type: 'boolean' },
    metrics: { type: 'string' },
    season: { type: 'string' },
    'per-series': { type: 'boolean' },
    out: { type: 'string', short: 'o' },
    redis: { type: 'string' },
  })
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  const file = dataFileArgument(positionals, command)
  io.quiet = values.quiet
  const loaded = loadData(file, values)
  const { options, types, maxSteps, horizon, levels, fitOptions: intervalOptions } = forecasterOptions(lib, values, command, groupSeries(loaded.data.unique_id).size)
  const nWindows = integerOption(values, 'n-windows', { command }) ?? DEFAULTS.nWindows
  const stepSize = integerOption(values, 'step-size', { command }) ?? horizon
  const metrics = values.metrics === undefined ? DEFAULT_METRICS : values.metrics.split(',').map((m) => {
    const name = METRICS.find((metric) => metric.toLowerCase() === m.trim().toLowerCase())
    if (!name) throw new UsageError(`unknown metric ${JSON.stringify(m)}; available: ${METRICS.join(', ')}`, command)
    return name
  })
  checkOutputPaths(values)
  const season = integerOption(values, 'season', { command }) ?? seasonOf(loaded.data)
  const fits = values.refit ? nWindows : 1
  io.note(
    `cross-validating ${types.join(', ')} on ${loaded.name}: ${nWindows} window(s) of ${horizon} steps, ${stepSize} apart, ` +
      `${values.refit ? 'refit per window' : 'fitted once'}`,
  )
  let progress
  let result
  if (values.redis !== undefined) {
    if (levels !== undefined) throw new UsageError('--level is not available with --redis (its calibration fit does not travel to the workers)', command)
    result = await crossValidateOnWorkers(io, values.redis, loaded, { forecasterOptions: options, nWindows, stepSize, horizon, refit: Boolean(values.refit) })
  } else try {
    result = await interruptible((signal) =>
      crossValidation(options, loaded.data, {
        nWindows,
        stepSize,
        horizon,
        refit: Boolean(values.refit),
        level: levels,
        fitOptions: (fit) => {
          progress?.done()
          progress = progressFor(io, values, types, maxSteps, fits > 1 ? `fit ${fit + 1}/${fits}` : undefined, intervalOptions)
          return { ...intervalOptions, onProgress: progress.onProgress, signal }
        },
      }),
    )
  } catch (err) {
    progress?.done()
    throw withFileLine(err, loaded)
  }
  progress?.done()

  // MASE scale from each series before the first window.
  const testSize = horizon + stepSize * (nWindows - 1)
  const train = { unique_id: [], ds: [], y: [] }
  for (const [id, rows] of groupSeries(loaded.data.unique_id)) {
    for (const r of rows.slice(0, rows.length - testSize)) {
      train.unique_id.push(id)
      train.ds.push(loaded.data.ds[r])
      train.y.push(loaded.data.y[r])
    }
  }
  const scores = evaluate(result, metrics, { train, seasonality: season })
  const label = (m) => (m === 'smape' ? 'sMAPE %' : m === 'mase' ? `MASE (m=${season})` : m.toUpperCase())
  const rows = scores.metrics.map((m) => [label(m), ...scores.models.map((model) => formatValue(scores.overall[m][model]))])
  // Interval coverage: the share of actuals inside each model's intervals.
  const covered = coverage(result)
  for (const level of levels ?? []) {
    rows.push([`coverage ${level}%`, ...scores.models.map((model) => (covered[model]?.[level] === undefined ? '' : formatValue(covered[model][level])))])
  }
  const nSeries = groupSeries(result.unique_id).size
  io.stdout.write(`${loaded.name}: ${nWindows} window(s) × ${horizon} steps, ${nSeries} series${nSeries > 1 ? ' (mean over series)' : ''}\n`)
  io.stdout.write(formatTable(['metric', ...scores.models], rows) + '\n')
  if (values['per-series']) {
    const per = scores.perSeries
    const perRows = per.unique_id.map((id, i) => [id, label(per.metric[i]), ...scores.models.map((m) => formatValue(per[m][i]))])
    io.stdout.write('\n' + formatTable(['unique_id', 'metric', ...scores.models], perRows) + '\n')
  }
  if (values.out !== undefined) {
    writeFileChecked(values.out, columnsToCsv(result))
    io.note(`wrote ${values.out}`)
  }
  return 0
}

/** `cv --redis`: the cross-validation's fits run by the workers of a Redis server, with a progress line. */
async function crossValidateOnWorkers(io, connection, loaded, options) {
  const distributed = require('../distributed/index.js')
  let lastLine = 0
  const onProgress = ({ chunksDone, chunks }) => {
    const now = Date.now()
    if (chunksDone < chunks && now - lastLine < 1000) return
    lastLine = now
    io.note(`${loaded.name}: ${chunksDone}/${chunks} fits done`)
  }
  try {
    return await interruptible((signal) => distributed.crossValidation({ ...options, data: loaded.data, connection, signal, onProgress }))
  } catch (err) {
    if (err instanceof InputError) throw err
    throw new InputError(firstLine(err))
  }
}

module.exports = { commandCv }

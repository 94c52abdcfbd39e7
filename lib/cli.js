'use strict'
// The `neuro-divergent` command: forecast, cv, predict, bench, info. `main(argv)` runs one command and
// resolves to its exit status; bin/neuro-divergent.js is the executable around it.
//
// Output conventions: results (forecast tables, metric tables, bench tables, info) go to stdout; progress, notes
// and errors go to stderr. An error is one line, `neuro-divergent: <what is wrong>`, and a non-zero status:
// 2 for a bad command line, 1 for anything else (bad data, failed fit, unwritable file). Set
// NEURO_DIVERGENT_DEBUG=1 to see stack traces.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { parseArgs } = require('node:util')

const { readLongFormat, columnsToCsv } = require('./csv.js')
const { airPassengers, AIR_PASSENGERS } = require('./datasets.js')
const { plotForecast } = require('./plot.js')
const { createProgress, formatSeconds } = require('./progress.js')
const { formatTable } = require('./table.js')
const { crossValidation } = require('./cross_validation.js')
const { evaluate, coverage, METRICS } = require('./evaluate.js')
const { dsToNumber, groupSeries } = require('./long_format.js')

const PROGRAM = 'neuro-divergent'

/** A bad command line: exit status 2. */
class UsageError extends Error {
  constructor(message, command) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/** A problem with the input or environment the user can fix: exit status 1, no stack trace. */
class InputError extends Error {
  constructor(message) {
    super(message)
    this.name = 'InputError'
  }
}

// Defaults of the command line. They differ from the library's model defaults (NeuralForecast's: 128/200
// units, robust scaling, 1000 steps) so that the built-in example gives a good forecast in well under a second
// of training: AirPassengers, h 12 → LSTM MAE about 15 on the 1960 hold-out in ~0.6 s on 2 cores.
const DEFAULTS = {
  model: 'lstm',
  horizon: 12,
  maxSteps: 300,
  hiddenSize: 64,
  batchSize: 32,
  scaler: 'standard',
  seed: 1,
  nWindows: 3,
}

const DATA_OPTIONS = {
  'id-col': { type: 'string' },
  'time-col': { type: 'string' },
  'target-col': { type: 'string' },
  delimiter: { type: 'string' },
}
const MODEL_OPTIONS = {
  model: { type: 'string', short: 'm', multiple: true },
  horizon: { type: 'string', short: 'H' },
  'input-size': { type: 'string' },
  freq: { type: 'string' },
  'max-steps': { type: 'string' },
  'hidden-size': { type: 'string' },
  scaler: { type: 'string' },
  'learning-rate': { type: 'string' },
  'batch-size': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  level: { type: 'string' },
}
const COMMON = { help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean', short: 'q' } }

const DATA_HELP = `Data (CSV, long format: one row per observation; RFC 4180 quoting, LF or CRLF):
  --id-col NAME        series id column [unique_id]; without one the file is one series
  --time-col NAME      time column [ds]: YYYY-MM-DD[ HH:MM[:SS]], ISO 8601, or integer steps
  --target-col NAME    target column [y], numeric
  --delimiter CHAR     field delimiter [,]
Without a data file the built-in example is used: AirPassengers (1949–1960, monthly).`

const MODEL_HELP = (models) => `Model:
  -m, --model NAME     ${models.map((m) => m.toLowerCase()).join(', ')} [${DEFAULTS.model}]; repeat it or list several
                       (--model lstm,gru) for one forecast column per model
  -H, --horizon N      steps to forecast [${DEFAULTS.horizon}]
  --input-size N       input window length [2 × horizon]
  --freq ALIAS         pandas frequency alias (D, B, W, MS, ME, QS, YS, h, 30min, …) [inferred]
  --max-steps N        training steps [${DEFAULTS.maxSteps}]
  --hidden-size N      encoder and decoder units [${DEFAULTS.hiddenSize}]
  --scaler NAME        window scaler: identity, standard, robust, minmax [${DEFAULTS.scaler}]
  --learning-rate X    Adam learning rate [1e-3]
  --batch-size N       windows per training step [${DEFAULTS.batchSize}]
  --seed N             random seed [${DEFAULTS.seed}]
  --threads N          worker threads [all cores]; results are the same for any value
  --level 80,95        prediction intervals at these levels (%): conformal for the neural models (calibrated
                       on each series' last windows, an extra fit), Prophet's own for prophet`

function help(command, models) {
  const m = models
  switch (command) {
    case 'forecast':
      return `Usage: ${PROGRAM} forecast [data.csv] [options]

Fits the models on every series and forecasts the next --horizon steps. Prints the forecast table on stdout;
progress and notes go to stderr.

${MODEL_HELP(m)}

Output:
  --out FILE           write the forecast as CSV (unique_id, ds, one column per model); - for stdout
  --plot FILE          write an SVG plot (history, forecasts, train/forecast split)
  --save FILE          save the fitted models as a safetensors checkpoint (see: ${PROGRAM} predict --load)
  -q, --quiet          no progress or notes on stderr
  -h, --help           this help

${DATA_HELP}

Example:
  ${PROGRAM} forecast --out forecast.csv --plot forecast.svg
  ${PROGRAM} forecast sales.csv --id-col store --time-col date --target-col units --horizon 7 --model lstm,gru
`
    case 'cv':
      return `Usage: ${PROGRAM} cv [data.csv] [options]

Cross-validation as NeuralForecast's cross_validation: --n-windows forecasts of --horizon steps at the end of
every series, --step-size apart, each made from the history up to its cutoff. The models are fitted once on
the data before the first window (or per window with --refit). Prints MAE, MSE, RMSE, sMAPE (%) and MASE per
model, averaged over series.

Cross-validation:
  --n-windows N        windows per series [${DEFAULTS.nWindows}]
  --step-size N        points between window starts [the horizon]
  --refit              fit a fresh model for every window
  --metrics LIST       among ${METRICS.join(', ')} [all]
  --season N           seasonal period of the MASE scale [from the frequency: 12 monthly, 4 quarterly, …]
  --per-series         also print the metrics of every series
  --out FILE           write the cross-validation rows (unique_id, ds, cutoff, y, models) as CSV

${MODEL_HELP(m)}
  -q, --quiet          no progress or notes on stderr
  -h, --help           this help

${DATA_HELP}
`
    case 'predict':
      return `Usage: ${PROGRAM} predict --load model.safetensors [data.csv] [options]

Forecasts with saved models (from ${PROGRAM} forecast --save, or NeuralForecaster.save). Without a data file
the forecast continues the series the models were fitted on; with one, it starts after each series' last
point in the file (no refit).

Options:
  --load FILE          the checkpoint (required)
  -H, --horizon N      steps to forecast, at most the models' h [h]
  --out FILE           write the forecast as CSV; - for stdout
  --plot FILE          write an SVG plot
  -q, --quiet          no notes on stderr
  -h, --help           this help

${DATA_HELP.replace(/\nWithout a data file.*$/s, '')}
`
    case 'bench':
      return `Usage: ${PROGRAM} bench [options]

A quick self-benchmark on AirPassengers at the configuration of the project's baselines (inputSize 24, h 12,
2×64 encoder, 64×2 decoder, standard scaling, batch 32, 200 steps): fit time, time per training step,
predict latency, single-window latency, 32-window batch throughput, and the MAE on the 1960 hold-out.

Options:
  -m, --model NAME     models to run [all: ${m.map((x) => x.toLowerCase()).join(', ')}]
  --threads N          worker threads [2]
  --full               more repeats (3 fits, 20,000 window calls), as npm run bench
  --compare            add NeuralForecast's figures from the reference machine (2 vCPU Zen 5)
  -h, --help           this help
`
    case 'info':
      return `Usage: ${PROGRAM} info

Prints the package version, the native addon's SIMD path (detected and in use), the threads available, the
models in this build and the built-in example data.
`
    default:
      return `Usage: ${PROGRAM} <command> [options]

Neural time-series forecasting (NeuralForecast's ${m.join(', ')}) on a Rust core.

Commands:
  forecast [data.csv]   fit and forecast; the built-in AirPassengers example without a file
  cv [data.csv]         cross-validation with a metrics table per model
  predict --load FILE   forecast with saved models
  bench                 quick self-benchmark
  info                  version, SIMD path, threads

Run ${PROGRAM} <command> --help for a command's options. --version prints the version.

Example:
  ${PROGRAM} forecast --out forecast.csv --plot forecast.svg
`
  }
}

// ---------------------------------------------------------------------------------------------------------
// Argument helpers

function integerOption(values, name, { min = 1, command } = {}) {
  const raw = values[name]
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!/^\s*[+-]?\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer ${min === 1 ? '>= 1' : `>= ${min}`}, got ${JSON.stringify(raw)}`, command)
  }
  return n
}

function numberOption(values, name, { command, positive = true } = {}) {
  const raw = values[name]
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || (positive && n <= 0)) {
    throw new UsageError(`--${name} must be a ${positive ? 'positive ' : ''}number, got ${JSON.stringify(raw)}`, command)
  }
  return n
}

function parse(command, argv, options, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true })
  } catch (err) {
    const opt = /option '([^']+)'/i.exec(err.message)
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && opt) throw new UsageError(`unknown option ${opt[1].split(' ')[0]}`, command)
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && opt) {
      const name = opt[1].split(' ').find((s) => s.startsWith('--')) ?? opt[1]
      throw new UsageError(`option ${name} ${/argument missing/.test(err.message) ? 'needs a value' : 'takes no value'}`, command)
    }
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${JSON.stringify(/'([^']*)'/.exec(err.message)?.[1] ?? '')}`, command)
    throw new UsageError(err.message.split('\n')[0], command)
  }
}

/** Model classes by lower-case name, read from the library so new models appear here by themselves. */
/** The model types of this build, without aliases (models.Transformer is models.VanillaTransformer). */
function modelTypes(lib) {
  return Object.keys(lib.models).filter((type) => lib.models[type].name === type)
}

function resolveModelNames(lib, values, command) {
  const types = modelTypes(lib)
  const names = (values.model ?? [DEFAULTS.model]).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean)
  if (names.length === 0) throw new UsageError('--model needs a model name', command)
  const seen = new Set()
  return names.map((name) => {
    const type = name.toLowerCase() === 'transformer' ? 'VanillaTransformer' : types.find((t) => t.toLowerCase() === name.toLowerCase())
    if (!type) throw new UsageError(`unknown model ${JSON.stringify(name)}; available models: ${types.map((t) => t.toLowerCase()).join(', ')}`, command)
    if (seen.has(type)) throw new UsageError(`--model ${name} is given twice`, command)
    seen.add(type)
    return type
  })
}

/** The --level list: percentages strictly between 0 and 100 (undefined without --level). */
function levelOption(values, command) {
  if (values.level === undefined) return undefined
  const levels = values.level.split(',').map((part) => part.trim())
  return levels.map((text) => {
    const level = Number(text)
    if (text === '' || !Number.isFinite(level) || level <= 0 || level >= 100) {
      throw new UsageError(`--level needs percentages between 0 and 100 separated by commas, got ${JSON.stringify(values.level)}`, command)
    }
    return level
  })
}

/** The fit options that prediction intervals at `levels` need: conformal calibration for the neural models. */
function intervalFitOptions(levels, types) {
  return levels && types.some((type) => type !== 'Prophet') ? { predictionIntervals: { nWindows: 2 } } : {}
}

/** What --hidden-size sets for each model type: the width of its layers, NeuralForecast's option names. */
function hiddenSizeOptions(type, n) {
  switch (type) {
    case 'MLP':
    case 'VanillaTransformer':
      return { hiddenSize: n }
    case 'NBEATS':
    case 'NBEATSx':
    case 'NHITS':
      return { mlpUnits: [[n, n], [n, n], [n, n]] }
    default:
      return { encoderHiddenSize: n, decoderHiddenSize: n }
  }
}

/** The NeuralForecaster options of a fitting command (forecast, cv) from its arguments. */
function forecasterOptions(lib, values, command) {
  const levels = levelOption(values, command)
  const types = resolveModelNames(lib, values, command)
  const horizon = integerOption(values, 'horizon', { command }) ?? DEFAULTS.horizon
  const inputSize = integerOption(values, 'input-size', { command }) ?? 2 * horizon
  const maxSteps = integerOption(values, 'max-steps', { command }) ?? DEFAULTS.maxSteps
  const hidden = integerOption(values, 'hidden-size', { command }) ?? DEFAULTS.hiddenSize
  const batchSize = integerOption(values, 'batch-size', { command }) ?? DEFAULTS.batchSize
  const learningRate = numberOption(values, 'learning-rate', { command })
  const seed = integerOption(values, 'seed', { min: 0, command }) ?? DEFAULTS.seed
  const numThreads = integerOption(values, 'threads', { command })
  const scaler = values.scaler ?? DEFAULTS.scaler
  const scalers = ['identity', 'standard', 'robust', 'minmax']
  if (!scalers.includes(scaler)) throw new UsageError(`--scaler must be one of ${scalers.join(', ')}, got ${JSON.stringify(scaler)}`, command)
  const models = types.map((type) => {
    // Prophet, a local statistical model, has no window, steps or layers.
    if (type === 'Prophet') return new lib.models.Prophet({ h: horizon, randomSeed: seed })
    const options = { h: horizon, inputSize, maxSteps, ...hiddenSizeOptions(type, hidden), scalerType: scaler, randomSeed: seed, batchSize }
    if (learningRate !== undefined) options.learningRate = learningRate
    return new lib.models[type](options)
  })
  const options = { models, seed }
  if (values.freq !== undefined) options.frequency = values.freq
  if (numThreads !== undefined) options.numThreads = numThreads
  return { options, horizon, inputSize, maxSteps, types, levels, fitOptions: intervalFitOptions(levels, types) }
}

// ---------------------------------------------------------------------------------------------------------
// Data

/** Reads the data file of a command, or the built-in example. */
function loadData(file, values) {
  if (file === undefined) {
    for (const flag of ['id-col', 'time-col', 'target-col', 'delimiter']) {
      if (values[flag] !== undefined) {
        throw new UsageError(`--${flag} applies to a data file; without one the built-in AirPassengers example (unique_id, ds, y) is used`)
      }
    }
    return { data: airPassengers(), name: 'AirPassengers', source: path.basename(AIR_PASSENGERS), lines: null }
  }
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if (err.code === 'ENOENT') throw new InputError(`file not found: ${file}`)
    if (err.code === 'EISDIR') throw new InputError(`${file} is a directory, not a CSV file`)
    throw new InputError(`cannot read ${file}: ${err.message}`)
  }
  const source = path.basename(file)
  if (values.delimiter !== undefined && values.delimiter.length !== 1) {
    throw new UsageError(`--delimiter must be one character, got ${JSON.stringify(values.delimiter)}`)
  }
  let parsed
  try {
    parsed = readLongFormat(text, {
      idCol: values['id-col'],
      timeCol: values['time-col'],
      targetCol: values['target-col'],
      delimiter: values.delimiter,
      defaultId: source.replace(/\.[^.]*$/, '') || 'series',
      source,
    })
  } catch (err) {
    if (err.name === 'CsvError') throw new InputError(err.message)
    throw err
  }
  const { lines, ...data } = parsed
  return { ...sortedByTime(data, lines), name: source, source }
}

/**
 * Rows ordered by series (in order of first appearance) and time, as NeuralForecast sorts its input; files in
 * that order already are returned as they are. ds values that do not parse leave the order to the library's
 * checks (which then name the row and, through `lines`, the file line).
 */
function sortedByTime(data, lines) {
  const t = data.ds.map(dsToNumber)
  if (t.some(Number.isNaN)) return { data, lines }
  const order = []
  for (const rows of groupSeries(data.unique_id).values()) order.push(...rows.sort((a, b) => t[a] - t[b] || a - b))
  if (order.every((r, i) => r === i)) return { data, lines }
  return {
    data: {
      unique_id: order.map((r) => data.unique_id[r]),
      ds: order.map((r) => data.ds[r]),
      y: Float64Array.from(order, (r) => data.y[r]),
    },
    lines: order.map((r) => lines[r]),
  }
}

/** A library error about data row r, with the file line added. */
function withFileLine(err, loaded) {
  if (!loaded || !loaded.lines || !err || typeof err.message !== 'string') return err
  err.message = err.message.replace(/\brows? (\d+)(?: and (\d+))?\b/, (match, a, b) => {
    const la = loaded.lines[Number(a)]
    const lb = b === undefined ? undefined : loaded.lines[Number(b)]
    if (la === undefined || (b !== undefined && lb === undefined)) return match
    return `${match} (${loaded.source} ${b === undefined ? `line ${la}` : `lines ${la} and ${lb}`})`
  })
  return err
}

// ---------------------------------------------------------------------------------------------------------
// Output

function formatValue(v) {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a !== 0 && (a >= 1e9 || a < 1e-4)) return v.toExponential(4)
  if (a >= 1000) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(4)
}

function forecastTable(forecast) {
  const models = Object.keys(forecast).filter((k) => k !== 'unique_id' && k !== 'ds')
  const rows = forecast.ds.map((ds, i) => [forecast.unique_id[i], ds, ...models.map((m) => formatValue(forecast[m][i]))])
  return formatTable(['unique_id', 'ds', ...models], rows)
}

/** Fails before any work when an output file's directory does not exist. */
function checkOutputPaths(values) {
  for (const flag of ['out', 'plot', 'save']) {
    const file = values[flag]
    if (file === undefined || file === '-') continue
    const dir = path.dirname(path.resolve(file))
    let stat
    try {
      stat = fs.statSync(dir)
    } catch {
      throw new InputError(`cannot write ${file}: directory ${dir} does not exist`)
    }
    if (!stat.isDirectory()) throw new InputError(`cannot write ${file}: ${dir} is not a directory`)
  }
}

function writeFileChecked(file, content) {
  try {
    fs.writeFileSync(file, content)
  } catch (err) {
    throw new InputError(`cannot write ${file}: ${err.code === 'ENOENT' ? 'no such directory' : err.message}`)
  }
}

function writeForecastOutputs(io, values, forecast, history, title) {
  if (values.out !== undefined) {
    const csv = columnsToCsv(forecast)
    if (values.out === '-') io.stdout.write(csv)
    else {
      writeFileChecked(values.out, csv)
      io.note(`wrote ${values.out}`)
    }
  }
  if (values.plot !== undefined) {
    const horizon = groupSeries(forecast.unique_id).values().next().value?.length ?? 1
    const svg = plotForecast(history, forecast, { title, historyPoints: Math.max(240, 10 * horizon) })
    writeFileChecked(values.plot, svg)
    const nSeries = groupSeries(forecast.unique_id).size
    io.note(`wrote ${values.plot}${nSeries > 6 ? ` (the first 6 of ${nSeries} series)` : ''}`)
  }
}

/** Progress over every training step: a neural model's steps (twice with conformal calibration), one for Prophet. */
function progressFor(io, values, types, maxSteps, label, fitOptions = {}) {
  const passes = fitOptions.predictionIntervals ? 2 : 1
  const totalSteps = types.reduce((sum, type) => sum + (type === 'Prophet' ? passes : passes * maxSteps), 0)
  return createProgress({ stream: io.stderr, quiet: values.quiet, label, totalSteps })
}

/** Runs fit with progress and Ctrl-C handling. */
async function fitWithProgress(io, forecaster, data, progress, fitOptions = {}) {
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  try {
    return await forecaster.fit(data, { ...fitOptions, onProgress: progress.onProgress, signal: controller.signal })
  } catch (err) {
    progress.done()
    if (err && err.name === 'AbortError') {
      const interrupted = new InputError('interrupted')
      interrupted.exitCode = 130
      throw interrupted
    }
    throw err
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

function fitSummaryLine(summary) {
  return summary.models
    .map((m) => `${m.alias}: ${m.steps} steps, final loss ${m.trainLoss.length ? m.trainLoss[m.trainLoss.length - 1].toFixed(4) : '?'}`)
    .join('; ') + ` (${formatSeconds(summary.elapsedMs / 1000)})`
}

// ---------------------------------------------------------------------------------------------------------
// Commands

async function commandForecast(lib, argv, io) {
  const command = 'forecast'
  const { values, positionals } = parse(command, argv, {
    ...COMMON,
    ...MODEL_OPTIONS,
    ...DATA_OPTIONS,
    out: { type: 'string', short: 'o' },
    plot: { type: 'string' },
    save: { type: 'string' },
  })
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  if (positionals.length > 1) throw new UsageError(`one data file at most, got ${positionals.length}`, command)
  io.quiet = values.quiet
  const { options, types, maxSteps, horizon, levels, fitOptions } = forecasterOptions(lib, values, command)
  checkOutputPaths(values)
  const loaded = loadData(positionals[0], values)
  const forecaster = new lib.NeuralForecaster(options)
  io.note(`fitting ${types.join(', ')} on ${loaded.name} (${loaded.data.y.length} rows, ${groupSeries(loaded.data.unique_id).size} series), horizon ${horizon}`)
  if (fitOptions.predictionIntervals) io.note('calibrating conformal prediction intervals on the last 2 windows of each series first')
  const progress = progressFor(io, values, types, maxSteps, undefined, fitOptions)
  let summary
  try {
    summary = await fitWithProgress(io, forecaster, loaded.data, progress, fitOptions)
  } catch (err) {
    throw withFileLine(err, loaded)
  }
  progress.done(`fitted ${fitSummaryLine(summary)}`)
  const forecast = await forecaster.predict(levels ? { level: levels } : undefined)
  if (values.out !== '-') io.stdout.write(forecastTable(forecast) + '\n')
  writeForecastOutputs(io, values, forecast, loaded.data, `${loaded.name}: ${horizon}-step forecast`)
  if (values.save !== undefined) {
    try {
      await forecaster.save(values.save)
    } catch (err) {
      throw new InputError(`cannot save ${values.save}: ${firstLine(err)}`)
    }
    io.note(`saved ${values.save}`)
  }
  return 0
}

async function commandPredict(lib, argv, io) {
  const command = 'predict'
  const { values, positionals } = parse(command, argv, {
    ...COMMON,
    ...DATA_OPTIONS,
    load: { type: 'string' },
    horizon: { type: 'string', short: 'H' },
    out: { type: 'string', short: 'o' },
    plot: { type: 'string' },
  })
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  if (values.load === undefined) throw new UsageError('--load model.safetensors is required', command)
  if (positionals.length > 1) throw new UsageError(`one data file at most, got ${positionals.length}`, command)
  io.quiet = values.quiet
  const horizon = integerOption(values, 'horizon', { command })
  checkOutputPaths(values)
  if (!fs.existsSync(values.load)) throw new InputError(`file not found: ${values.load}`)
  let forecaster
  try {
    forecaster = await lib.NeuralForecaster.load(values.load)
  } catch (err) {
    throw new InputError(`cannot load ${values.load}: ${firstLine(err)}`)
  }
  const loaded = positionals.length ? loadData(positionals[0], values) : null
  const options = {}
  if (horizon !== undefined) options.horizon = horizon
  if (loaded) options.data = loaded.data
  let forecast
  try {
    forecast = await forecaster.predict(options)
  } catch (err) {
    throw withFileLine(err, loaded)
  }
  if (values.out !== '-') io.stdout.write(forecastTable(forecast) + '\n')
  writeForecastOutputs(io, values, forecast, loaded ? loaded.data : null, `${loaded ? loaded.name : path.basename(values.load)}: forecast`)
  return 0
}

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
    ...COMMON,
    ...MODEL_OPTIONS,
    ...DATA_OPTIONS,
    'n-windows': { type: 'string' },
    'step-size': { type: 'string' },
    refit: { type: 'boolean' },
    metrics: { type: 'string' },
    season: { type: 'string' },
    'per-series': { type: 'boolean' },
    out: { type: 'string', short: 'o' },
  })
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  if (positionals.length > 1) throw new UsageError(`one data file at most, got ${positionals.length}`, command)
  io.quiet = values.quiet
  const { options, types, maxSteps, horizon, levels, fitOptions: intervalOptions } = forecasterOptions(lib, values, command)
  const nWindows = integerOption(values, 'n-windows', { command }) ?? DEFAULTS.nWindows
  const stepSize = integerOption(values, 'step-size', { command }) ?? horizon
  const metrics = values.metrics === undefined ? METRICS : values.metrics.split(',').map((m) => m.trim().toLowerCase())
  for (const m of metrics) {
    if (!METRICS.includes(m)) throw new UsageError(`unknown metric ${JSON.stringify(m)}; available: ${METRICS.join(', ')}`, command)
  }
  checkOutputPaths(values)
  const loaded = loadData(positionals[0], values)
  const season = integerOption(values, 'season', { command }) ?? seasonOf(loaded.data)
  const fits = values.refit ? nWindows : 1
  io.note(
    `cross-validating ${types.join(', ')} on ${loaded.name}: ${nWindows} window(s) of ${horizon} steps, ${stepSize} apart, ` +
      `${values.refit ? 'refit per window' : 'fitted once'}`,
  )
  let progress
  let result
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  try {
    result = await crossValidation(options, loaded.data, {
      nWindows,
      stepSize,
      horizon,
      refit: Boolean(values.refit),
      level: levels,
      fitOptions: (fit) => {
        progress?.done()
        progress = progressFor(io, values, types, maxSteps, fits > 1 ? `fit ${fit + 1}/${fits}` : undefined, intervalOptions)
        return { ...intervalOptions, onProgress: progress.onProgress, signal: controller.signal }
      },
    })
  } catch (err) {
    progress?.done()
    if (err && err.name === 'AbortError') {
      const interrupted = new InputError('interrupted')
      interrupted.exitCode = 130
      throw interrupted
    }
    throw withFileLine(err, loaded)
  } finally {
    process.removeListener('SIGINT', onSigint)
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

async function commandBench(lib, argv, io) {
  const command = 'bench'
  const { values, positionals } = parse(command, argv, {
    help: COMMON.help,
    model: MODEL_OPTIONS.model,
    threads: MODEL_OPTIONS.threads,
    full: { type: 'boolean' },
    compare: { type: 'boolean' },
  }, false)
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  void positionals
  const { NEURALFORECAST, benchType, BENCH_HEADER, benchRow } = require('./bench.js')
  const types = values.model ? resolveModelNames(lib, values, command) : modelTypes(lib)
  const numThreads = integerOption(values, 'threads', { command }) ?? 2
  const options = values.full ? { fits: 3, windowCalls: 20000, batchCalls: 200, numThreads } : { fits: 1, windowCalls: 2000, batchCalls: 20, numThreads }
  const simd = lib.ops.simdInfo()
  io.stdout.write(`neuro-divergent ${version()} self-benchmark (${values.full ? 'full' : 'quick'}), SIMD ${simd.active}, ${numThreads} threads, ${os.cpus()[0]?.model ?? 'unknown CPU'}\n`)
  const rows = []
  for (const type of types) {
    io.note(`benchmarking ${type}…`)
    rows.push(benchRow(type, 'neuro-divergent', await benchType(type, options)))
    if (values.compare && NEURALFORECAST[type]) rows.push(benchRow(type, 'NeuralForecast*', NEURALFORECAST[type]))
  }
  io.stdout.write(formatTable(BENCH_HEADER, rows) + '\n')
  io.stdout.write('fit: 200 steps on 132 months; step: engine time per step; b32: predict({ data }) over 32 series; MAE: 1960 hold-out.\n')
  if (values.compare) io.stdout.write('* NeuralForecast 3.3 (torch, 2 threads) measured on a 2-vCPU Zen 5 reference machine, not here.\n')
  return 0
}

function version() {
  return require('../package.json').version
}

async function commandInfo(lib, argv, io) {
  const command = 'info'
  const { values } = parse(command, argv, { help: COMMON.help }, false)
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  const simd = lib.ops.simdInfo()
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  const rows = [
    ['version', version()],
    ['node', `${process.version} (${process.platform}-${process.arch})`],
    ['SIMD in use', `${simd.active}${simd.enabled ? '' : ' (SIMD disabled)'}`],
    ['SIMD detected', simd.detected],
    ['threads', `${cores} available; training and batch prediction use all of them unless --threads is given`],
    ['CPU', os.cpus()[0]?.model ?? 'unknown'],
    ['models', modelTypes(lib).join(', ')],
    ['example data', `${AIR_PASSENGERS} (AirPassengers, 144 months)`],
  ]
  io.stdout.write(rows.map(([k, v]) => `${k.padEnd(14)} ${v}`).join('\n') + '\n')
  return 0
}

const COMMANDS = { forecast: commandForecast, cv: commandCv, predict: commandPredict, bench: commandBench, info: commandInfo }

function firstLine(err) {
  const message = err && typeof err.message === 'string' ? err.message : String(err)
  return message.split('\n')[0]
}

/**
 * Runs one command line.
 * @param {string[]} argv the arguments after the program name
 * @param {{ stdout?: NodeJS.WritableStream, stderr?: NodeJS.WritableStream }} [streams]
 * @returns {Promise<number>} exit status
 */
async function main(argv, streams = {}) {
  const io = {
    stdout: streams.stdout ?? process.stdout,
    stderr: streams.stderr ?? process.stderr,
    quiet: false,
    note(message) {
      if (!this.quiet) this.stderr.write(`${message}\n`)
    },
  }
  const [command, ...rest] = argv
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      const lib = require('../main.js')
      const topic = command === 'help' ? rest[0] : undefined
      if (topic !== undefined && !COMMANDS[topic]) throw new UsageError(`unknown command ${JSON.stringify(topic)}`)
      io.stdout.write(help(topic, modelTypes(lib)))
      return command === undefined ? 2 : 0
    }
    if (command === '--version' || command === '-v' || command === 'version') {
      io.stdout.write(`${version()}\n`)
      return 0
    }
    const run = COMMANDS[command]
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}; commands: ${Object.keys(COMMANDS).join(', ')}`)
    let lib
    try {
      lib = require('../main.js')
    } catch (err) {
      throw new InputError(`cannot load the native addon: ${firstLine(err)}`)
    }
    return (await run(lib, rest, io)) === 2 ? 2 : 0
  } catch (err) {
    if (process.env.NEURO_DIVERGENT_DEBUG && err && err.stack) io.stderr.write(`${err.stack}\n`)
    if (err instanceof UsageError) {
      if (err.command === undefined && COMMANDS[command]) err.command = command
      const hint = err.command ? ` (see ${PROGRAM} ${err.command} --help)` : ` (see ${PROGRAM} --help)`
      io.stderr.write(`${PROGRAM}: ${firstLine(err)}${hint}\n`)
      return 2
    }
    io.stderr.write(`${PROGRAM}: ${firstLine(err)}\n`)
    return err && Number.isInteger(err.exitCode) ? err.exitCode : 1
  }
}

module.exports = { main, help, DEFAULTS, UsageError, InputError, seasonOf, formatValue }

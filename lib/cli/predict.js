'use strict'
// `neuro-divergent predict`: forecasts with models saved by `forecast --save` (or NeuralForecaster.save) or by
// NeuralForecast's `nf.save` (a model directory), after the series they were fitted on or after the series of a
// data file.

const fs = require('node:fs')
const path = require('node:path')

const { COMMON, DATA_OPTIONS, integerOption, parse, dataFileArgument, modelTypes } = require('./args.js')
const { loadData, withFileLine } = require('./data.js')
const { UsageError, InputError, firstLine, interruptible } = require('./errors.js')
const { help } = require('./help.js')
const { forecastTable, checkOutputPaths, writeForecastOutputs } = require('./output.js')

async function commandPredict(lib, argv, io) {
  const command = 'predict'
  const { values, positionals } = parse(command, argv, {
    ...COMMON,
    ...DATA_OPTIONS,
    load: { type: 'string' },
    horizon: { type: 'string', short: 'H' },
    out: { type: 'string', short: 'o' },
    plot: { type: 'string' },
    redis: { type: 'string' },
    'chunk-series': { type: 'string' },
  })
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  if (values.load === undefined) throw new UsageError('--load model.safetensors is required (or --load nf_dir, a NeuralForecast model directory)', command)
  const file = dataFileArgument(positionals, command)
  if (file === undefined && fs.statSync(values.load, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${values.load} is a NeuralForecast model directory, which holds no series: give the data file to forecast from`, command)
  }
  io.quiet = values.quiet
  const horizon = integerOption(values, 'horizon', { command })
  checkOutputPaths(values)
  if (!fs.existsSync(values.load)) throw new InputError(`file not found: ${values.load}`)
  if (values.redis !== undefined) return predictOnWorkers(values, file, horizon, io)
  if (values['chunk-series'] !== undefined) throw new UsageError('--chunk-series applies with --redis', command)
  let forecaster
  try {
    forecaster = await lib.NeuralForecaster.load(values.load)
  } catch (err) {
    throw new InputError(`cannot load ${values.load}: ${firstLine(err)}`)
  }
  const loaded = file === undefined ? null : loadData(file, values)
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

/** `predict --redis`: the forecast made by the workers of a Redis server, chunk by chunk, with a progress line. */
async function predictOnWorkers(values, file, horizon, io) {
  const command = 'predict'
  if (file === undefined) throw new UsageError('--redis needs the data file to forecast from', command)
  if (fs.statSync(values.load).isDirectory()) throw new UsageError('--redis needs a checkpoint file (convert a NeuralForecast directory with: neuro-divergent convert)', command)
  const chunkSeries = integerOption(values, 'chunk-series', { command })
  const loaded = loadData(file, values)
  const { predict } = require('../distributed/index.js')
  let lastLine = 0
  const onProgress = ({ chunksDone, chunks }) => {
    const now = Date.now()
    if (chunksDone < chunks && now - lastLine < 1000) return
    lastLine = now
    io.note(`${loaded.name}: ${chunksDone}/${chunks} chunks forecast`)
  }
  const options = { checkpoint: values.load, data: loaded.data, connection: values.redis, onProgress }
  if (horizon !== undefined) options.horizon = horizon
  if (chunkSeries !== undefined) options.chunkSeries = chunkSeries
  let forecast
  try {
    forecast = await interruptible((signal) => predict({ ...options, signal }))
  } catch (err) {
    if (err instanceof InputError) throw err
    throw new InputError(firstLine(err))
  }
  if (values.out !== '-') io.stdout.write(forecastTable(forecast) + '\n')
  writeForecastOutputs(io, values, forecast, loaded.data, `${loaded.name}: forecast`)
  return 0
}

module.exports = { commandPredict }

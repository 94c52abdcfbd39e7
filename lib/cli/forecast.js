'use strict'
// `neuro-divergent forecast`: fits the models on every series and forecasts the next --horizon steps; prints the
// forecast table and writes the CSV, the plot and the checkpoint asked for.

const { FIT_OPTIONS, parse, dataFileArgument, modelTypes, forecasterOptions } = require('./args.js')
const { loadData, withFileLine } = require('./data.js')
const { InputError, firstLine, interruptible } = require('./errors.js')
const { help } = require('./help.js')
const { forecastTable, checkOutputPaths, writeForecastOutputs, progressFor, fitSummaryLine, searchTable, trialLine, ensembleTable } = require('./output.js')
const { groupSeries } = require('../long_format.js')

async function commandForecast(lib, argv, io) {
  const command = 'forecast'
  const { values, positionals } = parse(command, argv, {
    ...FIT_OPTIONS,
    out: { type: 'string', short: 'o' },
    plot: { type: 'string' },
    save: { type: 'string' },
  })
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  const file = dataFileArgument(positionals, command)
  io.quiet = values.quiet
  const loaded = loadData(file, values)
  const { options, types, maxSteps, horizon, levels, fitOptions } = forecasterOptions(lib, values, command, groupSeries(loaded.data.unique_id).size)
  checkOutputPaths(values)
  const forecaster = new lib.NeuralForecaster(options)
  io.note(`fitting ${types.join(', ')} on ${loaded.name} (${loaded.data.y.length} rows, ${groupSeries(loaded.data.unique_id).size} series), horizon ${horizon}`)
  if (fitOptions.predictionIntervals) io.note('calibrating conformal prediction intervals on the last 2 windows of each series first')
  // An ensemble reports each trial on a line of its own; other models a progress bar over their steps.
  const ensemble = types[0] === 'AutoEnsemble'
  const progress = ensemble ? { onProgress: undefined, done: (line) => line && io.note(line) } : progressFor(io, values, types, maxSteps, undefined, fitOptions)
  const trials = ensemble ? { onTrial: (t) => io.note(trialLine(t)) } : {}
  let summary
  try {
    summary = await interruptible((signal) => forecaster.fit(loaded.data, { ...fitOptions, ...trials, onProgress: progress.onProgress, signal }))
  } catch (err) {
    progress.done()
    throw withFileLine(err, loaded)
  }
  progress.done(`fitted ${fitSummaryLine(summary)}`)
  if (ensemble) io.note(ensembleTable(forecaster.ensembleResults()))
  else for (const model of options.models.filter((m) => typeof m.results === 'function')) io.note(searchTable(model))
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

module.exports = { commandForecast }

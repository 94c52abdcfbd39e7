#!/usr/bin/env node
// The cross-family ensemble (`models: 'auto'`, a 60 s budget) against each of its families at their defaults and
// seasonal naive, on visnights (20 quarterly series): cross-validation, 4 windows of h = 4 (stepSize 4, the last
// 16 quarters), one fit before the first window (NeuralForecast's refit=False); MAE over every forecast point.
// Usage: `node bench/ensemble.js [--budget 60] [--threads 2] [--ensemble-only]` (--ensemble-only: without the single
// models). The budget is wall time: on a loaded machine fewer trials run, so the trial count is printed. Each row
// is printed as it is measured (quickest first), then the table.
'use strict'

const { NeuralForecaster, models, crossValidation } = require('..')
const { formatTable } = require('../lib/table.js')
const { visnights } = require('./visnights.js')

const argument = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}
const budget = argument('budget', 60)
const numThreads = argument('threads', 2)
const H = 4
const SEASON = 4
const WINDOWS = { nWindows: 4, stepSize: H }

const mae = (cv, column) => cv.y.reduce((sum, y, i) => sum + Math.abs(y - cv[column][i]), 0) / cv.y.length

/** Seasonal naive on the same windows: each point is the value one season before it. */
function seasonalNaive(data, cv) {
  const values = new Map()
  data.unique_id.forEach((id, row) => values.set(`${id}|${data.ds[row]}`, data.y[row]))
  const byId = new Map()
  data.unique_id.forEach((id, row) => (byId.get(id) ?? byId.set(id, []).get(id)).push(data.ds[row]))
  return cv.y.map((_, i) => {
    const ds = byId.get(cv.unique_id[i])
    const at = ds.indexOf(cv.ds[i])
    const cutoff = ds.indexOf(cv.cutoff[i])
    // The value a whole number of seasons back, at or before the cutoff.
    let back = at - SEASON
    while (back > cutoff) back -= SEASON
    return values.get(`${cv.unique_id[i]}|${ds[back]}`)
  })
}

async function main() {
  const data = visnights()
  const rows = []
  const row = (...cells) => {
    rows.push(cells)
    console.log(cells.join('  '))
  }
  const started = Date.now()
  let trials = 0
  let stopped = 0
  let failed = 0
  let forecaster
  const make = () => (forecaster = new NeuralForecaster({ models: 'auto', h: H, auto: { timeBudget: budget, seed: 1 }, numThreads }))
  const cv = await crossValidation(make, data, { ...WINDOWS, horizon: H, fitOptions: {
      onTrial: (t) => {
        if (t.stoppedByBudget) stopped += 1
        else if (t.validLoss === null) failed += 1
        else trials += 1
        const outcome = t.stoppedByBudget ? `stopped by the budget at step ${t.steps}` : t.validLoss === null ? `failed: ${t.error}` : `valid loss ${t.validLoss.toFixed(4)}`
        console.error(`trial ${t.n}/${t.total} ${t.family} ${outcome} (best so far ${t.bestSoFar?.toFixed(4)}, ${t.bestFamily}) ${((Date.now() - started) / 1000).toFixed(0)} s`)
      },
    },
  })
  const seconds = (Date.now() - started) / 1000
  const members = forecaster.ensembleMembers().map((m) => m.family).join(', ')
  row('AutoEnsemble', mae(cv, 'AutoEnsemble').toFixed(4), `${trials} trials finished, ${stopped} stopped by the budget, ${failed} failed, in ${seconds.toFixed(0)} s; median of ${members}`)
  const naive = seasonalNaive(data, cv)
  row('SeasonalNaive', (cv.y.reduce((sum, y, i) => sum + Math.abs(y - naive[i]), 0) / cv.y.length).toFixed(4), `season ${SEASON}`)
  // The single models, the quickest at their defaults first.
  const singles = process.argv.includes('--ensemble-only') ? [] : ['NLinear', 'DLinear', 'LSTM', 'TCN', 'TiDE', 'MLP', 'NHITS', 'NBEATS']
  for (const family of singles) {
    const model = new models[family]({ h: H, ...(['LSTM', 'TCN'].includes(family) ? {} : { inputSize: 2 * H }) })
    const t = Date.now()
    const single = await crossValidation({ models: [model], numThreads }, data, WINDOWS)
    console.error(`${family}: ${((Date.now() - t) / 1000).toFixed(0)} s`)
    row(family, mae(single, family).toFixed(4), `defaults, inputSize ${model.inputSize}, ${((Date.now() - t) / 1000).toFixed(0)} s`)
  }
  console.log(`visnights, cross-validation 4 windows of h ${H} (stepSize ${H}), one fit before the first window; ${numThreads} threads, budget ${budget} s`)
  console.log(formatTable(['model', 'MAE', 'notes'], rows))
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}

module.exports = { seasonalNaive }

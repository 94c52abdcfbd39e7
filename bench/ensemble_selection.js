#!/usr/bin/env node
// How well each family's trials, chosen by validation loss alone, generalise on visnights (bench/ensemble.js's
// protocol: cross-validation of 4 windows of h = 4, one fit before the first window): every trial of each family's
// search (the training part of the first window, its last valSize points for validation), then that configuration
// cross-validated; then the AutoEnsemble's selection rules, which see only validation losses, scored on the windows.
// `--inner` runs the same protocol on the series without their last 16 quarters (windows the ensemble never sees).
// Usage: node bench/ensemble_selection.js [--inner] [--families NLinear,DLinear] [--samples 20] [--val-size 4]
//   [--config spaces.json (search spaces by family)] [--threads 2]
'use strict'

const fs = require('node:fs')
const { NeuralForecaster, models, crossValidation } = require('..')
const { withoutLast } = require('../lib/ensemble.js')
const { visnights } = require('./visnights.js')
const { seasonalNaive } = require('./ensemble.js')

const argument = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : process.argv[at + 1]
}
const families = argument('families', 'NLinear,DLinear').split(',')
const numSamples = Number(argument('samples', 20))
const valSize = Number(argument('val-size', 4))
const spaces = argument('config') ? JSON.parse(fs.readFileSync(argument('config'), 'utf8')) : {}
const numThreads = Number(argument('threads', 2))
const WINDOWS = { nWindows: 4, stepSize: 4 }

const median = (values) => {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function main() {
  const data = process.argv.includes('--inner') ? withoutLast(visnights(), 16) : visnights()
  const training = withoutLast(data, 16)
  const trials = []
  let cv
  for (const family of families) {
    const model = new models[`Auto${family}`]({ h: 4, numSamples, seed: 1, valSize, ...(spaces[family] ? { config: spaces[family] } : {}) })
    await new NeuralForecaster({ models: [model], numThreads }).fit(training)
    for (const row of model.results().filter((r) => r.validLoss !== null)) {
      cv = await crossValidation({ models: [new models[family]({ h: 4, ...row.config, alias: 'trial' })], numThreads }, data, WINDOWS)
      trials.push({ family, validLoss: row.validLoss, forecast: cv.trial })
    }
  }
  const mae = (forecast) => cv.y.reduce((sum, y, i) => sum + Math.abs(y - forecast[i]), 0) / cv.y.length
  const combined = (members) => cv.y.map((_, i) => median(members.map((t) => t.forecast[i])))
  const ranked = [...trials].sort((a, b) => a.validLoss - b.validLoss)
  const winners = families.map((f) => ranked.find((t) => t.family === f)).filter(Boolean).sort((a, b) => a.validLoss - b.validLoss)
  const rows = [['seasonal naive', mae(seasonalNaive(data, cv))]]
  for (const k of [1, 3, 5, 10].filter((k) => k < trials.length)) rows.push([`median of the best ${k} trials`, mae(combined(ranked.slice(0, k)))])
  rows.push(['median of each family\'s winner (best 3)', mae(combined(winners.slice(0, 3)))])
  rows.push([`median of all ${trials.length} trials`, mae(combined(trials))])
  for (const [name, value] of rows) console.log(`${name}: ${value.toFixed(4)}`)
  // Validation loss against test MAE, trial by trial (the best validated first).
  console.log(ranked.map((t) => `${t.family} ${t.validLoss.toFixed(3)}/${mae(t.forecast).toFixed(3)}`).join('\n'))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

'use strict'
// Calibration of the distribution losses (issue #17): visnights (20 quarterly series), cross-validation over the
// last 4 windows of h=4 (stepSize 4, one fit), a model (MLP, hiddenSize 64, 300 steps, robust scaler unless told) trained three ways: DistributionLoss(StudentT) (intervals
// from its draws), MQLoss (quantile outputs) and MAE with conformal intervals (predictionIntervals). Prints the
// empirical coverage of the 80 % (and 90 %) intervals, the CRPS (2 × mean pinball loss over each model's median
// and interval bounds) and NeuralForecast's sCRPS, averaged over the series, for each seed and their mean.
//     node bench/calibration.js [seeds] [--model MLP] [--steps 300] [--hidden 64] [--scaler robust]

const { models, crossValidation, evaluate, coverage } = require('../main.js')
const { visnights } = require('./visnights.js')

const args = process.argv.slice(2)
const flag = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback)
const seeds = Number(args.find((a, i) => /^\d+$/.test(a) && !args[i - 1]?.startsWith('--')) ?? 3)
const MODEL = flag('model', 'MLP')
const STEPS = Number(flag('steps', 300))
const HIDDEN = Number(flag('hidden', 64))
const SCALER = flag('scaler', 'robust')
const LEVELS = [80, 90]

const WIDTH = { MLP: 'hiddenSize', LSTM: 'encoderHiddenSize', GRU: 'encoderHiddenSize', NHITS: null, TCN: 'encoderHiddenSize' }
const mlp = (alias, seed, loss) =>
  new models[MODEL]({ h: 4, inputSize: 12, ...(WIDTH[MODEL] ? { [WIDTH[MODEL]]: HIDDEN } : {}), maxSteps: STEPS, scalerType: SCALER, randomSeed: seed, alias, loss })

const SETUPS = [
  ['StudentT', (seed) => mlp('StudentT', seed, { type: 'DistributionLoss', distribution: 'StudentT', level: LEVELS }), {}],
  ['MQLoss', (seed) => mlp('MQLoss', seed, { type: 'MQLoss', level: LEVELS }), {}],
  ['Conformal', (seed) => mlp('Conformal', seed, 'MAE'), { level: LEVELS, fitOptions: { predictionIntervals: { nWindows: 4 } } }],
]

async function main() {
  const data = visnights()
  const totals = {}
  for (let seed = 1; seed <= seeds; seed++) {
    for (const [name, make, options] of SETUPS) {
      const started = process.hrtime.bigint()
      const cv = await crossValidation({ models: [make(seed)], frequency: 'QS', numThreads: 2 }, data, { nWindows: 4, stepSize: 4, ...options })
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const point = name === 'MQLoss' ? 'MQLoss-median' : name
      const scores = evaluate(cv, ['mae', 'crps', 'scaledCrps'], { models: [point] })
      const covered = coverage(cv)[name]
      const row = { mae: scores.overall.mae[point], crps: scores.overall.crps[point], scaledCrps: scores.overall.scaledCrps[point], ...Object.fromEntries(LEVELS.map((l) => [`coverage${l}`, covered[l]])) }
      totals[name] = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, (totals[name]?.[k] ?? 0) + v / seeds]))
      console.log(`seed ${seed} ${name.padEnd(9)} ${Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}  (${seconds.toFixed(1)} s)`)
    }
  }
  console.log(`\n${MODEL} width ${HIDDEN}, ${STEPS} steps, ${SCALER} scaler; mean over ${seeds} seeds:`)
  for (const [name, row] of Object.entries(totals)) console.log(`${name.padEnd(9)} ${Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})

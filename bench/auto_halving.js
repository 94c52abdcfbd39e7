// AutoMLP on AirPassengers (train on 132 months, test on the last 12), a small space with maxSteps 200 or 400, 2
// threads: random search without and with successive halving (gracePeriod 25, reductionFactor 2), and TPE, one
// after another in one process. Prints wall time, test MAE, total steps, pruned trials and the lowest validation loss.
//
// Run: node bench/auto_halving.js
const fs = require('node:fs')
const { NeuralForecaster, models, auto } = require('../main.js')
const rows = fs.readFileSync(require('node:path').join(__dirname, '..', 'data', 'air_passengers.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','))
const cols = (p) => ({ unique_id: p.map((r) => r[0]), ds: p.map((r) => r[1]), y: p.map((r) => Number(r[2])) })
const train = cols(rows.slice(0, 132)), test = rows.slice(132).map((r) => Number(r[2]))
async function run(extra) {
  const base = { config: { inputSize: auto.choice([12, 24, 36]), hiddenSize: auto.choice([32, 64]), numLayers: 2, learningRate: auto.loguniform(1e-4, 1e-1), scalerType: auto.choice(['identity', 'robust', 'standard']), windowsBatchSize: 128, randomSeed: auto.randint(1, 20), valCheckSteps: 25 } }
  const config = { ...base.config, maxSteps: auto.choice([200, 400]) }
  const model = new models.AutoMLP({ h: 12, numSamples: 16, seed: 1, config, ...extra })
  const f = new NeuralForecaster({ models: [model], frequency: 'MS', numThreads: 2 })
  const t = process.hrtime.bigint()
  await f.fit(train)
  const fc = await f.predict()
  const wall = Number(process.hrtime.bigint() - t) / 1e9
  const mae = test.reduce((s, y, k) => s + Math.abs(fc.AutoMLP[k] - y), 0) / 12
  const r = model.results()
  console.log(JSON.stringify({ extra, wall: +wall.toFixed(1), mae: +mae.toFixed(2), steps: r.reduce((s, x) => s + x.steps, 0), pruned: r.filter((x) => x.pruned).length, best: Math.min(...r.map((x) => x.validLoss)) }))
}
;(async () => {
  await run({})
  await run({ scheduler: 'successiveHalving', gracePeriod: 25, reductionFactor: 2 })
  await run({ searchAlg: 'tpe' })
  await run({ searchAlg: 'tpe', numSamples: 32 })
  await run({ numSamples: 32 })
})()

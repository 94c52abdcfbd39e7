// Our AutoNHITS (numSamples 20, NeuralForecast's default space, 2 threads) on AirPassengers: trained on the first
// 132 months, forecasting the last 12. Prints the wall time of fit + predict, the test MAE and the best trials: our
// side of BENCHMARKS.md's Auto row (bench/auto_nhits_neuralforecast.py measures NeuralForecast's).
//
// Run: node bench/auto_nhits.js [seed] [searchAlg: random | tpe] [scheduler: fifo | successiveHalving]
const fs = require('node:fs')
const path = require('node:path')
const { NeuralForecaster, models } = require('../main.js')

async function main() {
  const seed = Number(process.argv[2] ?? 1)
  const lines = fs.readFileSync(path.join(__dirname, '..', 'data', 'air_passengers.csv'), 'utf8').trim().split('\n').slice(1)
  const rows = lines.map((line) => line.split(','))
  const columns = (part) => ({ unique_id: part.map((r) => r[0]), ds: part.map((r) => r[1]), y: part.map((r) => Number(r[2])) })
  const train = columns(rows.slice(0, 132))
  const test = rows.slice(132).map((r) => Number(r[2]))
  const searchAlg = process.argv[3] ?? 'random'
  const scheduler = process.argv[4] ?? 'fifo'
  const model = new models.AutoNHITS({ h: 12, numSamples: 20, seed, searchAlg, scheduler })
  const forecaster = new NeuralForecaster({ models: [model], frequency: 'MS', numThreads: 2 })
  const started = process.hrtime.bigint()
  await forecaster.fit(train)
  const forecast = await forecaster.predict()
  const wall = Number(process.hrtime.bigint() - started) / 1e9
  const mae = test.reduce((sum, y, k) => sum + Math.abs(forecast.AutoNHITS[k] - y), 0) / test.length
  const steps = model.results().reduce((sum, r) => sum + r.steps, 0)
  const pruned = model.results().filter((r) => r.pruned).length
  console.log(
    `neuro-divergent AutoNHITS numSamples=20 numThreads=2 seed=${seed} searchAlg=${searchAlg} scheduler=${scheduler} wall_s=${wall.toFixed(1)} test_mae=${mae.toFixed(2)} steps=${steps} pruned=${pruned}`,
  )
  const trials = model.results().filter((r) => r.validLoss !== null).sort((a, b) => a.validLoss - b.validLoss)
  for (const r of trials.slice(0, 3)) console.log(`  trial ${r.trial}: validLoss ${r.validLoss.toFixed(3)}, ${r.steps} steps, ${r.seconds.toFixed(1)} s, ${JSON.stringify(r.config)}`)
  const failed = model.results().filter((r) => r.error)
  if (failed.length > 0) console.log(`  ${failed.length} trial(s) failed: ${failed[0].error}`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

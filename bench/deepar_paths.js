// DeepAR's one-window forecast from JS at NeuralForecast's defaults (h=12, inputSize=24, 2 x 128 LSTM, StudentT,
// trajectorySamples=100): ancestral sample paths (the default) and NeuralForecast 3.3's mean feed-back, the median
// of `repeats` synchronous forecastWindow calls on a model fitted for a few steps, and the FLOPs of the products run.
//   node bench/deepar_paths.js [repeats] [numThreads]
const fs = require('node:fs')
const path = require('node:path')
const { NeuralForecaster, models } = require('../main.js')

const repeats = Number(process.argv[2] ?? 200)
const numThreads = Number(process.argv[3] ?? 1)
const [, ...lines] = fs.readFileSync(path.join(__dirname, '..', 'data', 'air_passengers.csv'), 'utf8').trim().split('\n')
const rows = lines.slice(0, 132).map((line) => line.trim().split(','))
const train = { unique_id: rows.map((r) => r[0]), ds: rows.map((r) => r[1]), y: rows.map((r) => Number(r[2])) }
const [h, inputSize, hidden, layers, paths] = [12, 24, 128, 2, 100]

// Multiply-adds of one LSTM step of one row (input 1, then hidden), times 2 FLOPs, and of the linear decoder (3 outputs).
const lstmStep = 2 * 4 * hidden * (1 + hidden) + (layers - 1) * 2 * 4 * hidden * (2 * hidden)
const decoder = 2 * hidden * 3
const encoder = (inputSize + 1) * lstmStep + decoder
const ancestralFlops = encoder + paths * (h - 1) * (lstmStep + decoder)
const meanFlops = encoder + (h - 1) * (lstmStep + decoder)
// The bound: each path re-runs the whole sequence (inputSize + 1 + h - 1 steps) through the LSTM.
const recomputeFlops = paths * ((inputSize + h) * lstmStep + h * decoder)

const median = (values) => values.sort((a, b) => a - b)[values.length >> 1]
const time = async (sampling) => {
  const nf = new NeuralForecaster({ models: [new models.DeepAR({ h, inputSize, maxSteps: 5, sampling })], numThreads })
  await nf.fit(train)
  const window = train.y.slice(132 - inputSize - 1)
  for (let i = 0; i < 10; i++) nf.forecastWindow(window)
  const times = []
  for (let i = 0; i < repeats; i++) {
    const started = process.hrtime.bigint()
    nf.forecastWindow(window)
    times.push(Number(process.hrtime.bigint() - started) / 1e6)
  }
  return median(times)
}

;(async () => {
  const ancestralMs = await time('ancestral')
  const meanMs = await time('mean')
  console.log(`DeepAR one-window forecast, h=${h}, inputSize=${inputSize}, ${numThreads} thread(s), median of ${repeats}:`)
  console.log(`  ancestral, ${paths} paths: ${ancestralMs.toFixed(3)} ms, ${(ancestralFlops / 1e9).toFixed(3)} GFLOP run -> ${(ancestralFlops / ancestralMs / 1e6).toFixed(2)} GFLOP/s`)
  console.log(`  mean feed-back:            ${meanMs.toFixed(3)} ms, ${(meanFlops / 1e6).toFixed(2)} MFLOP run`)
  console.log(`  recompute-every-path bound: ${(recomputeFlops / 1e9).toFixed(3)} GFLOP a window (${(recomputeFlops / ancestralFlops).toFixed(2)}x the FLOPs run)`)
})()

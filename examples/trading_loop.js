// A trading-style loop: train once on the DAX closes of EuStockMarkets, then walk forward bar by bar,
// forecasting the next close from the latest window with the synchronous single-window path.
//   node examples/trading_loop.js            (EXAMPLE_STEPS=20 for a quick run)
const { NeuralForecaster, models } = require('neuro-divergent')
const { readLongCsv } = require('./read_csv.js')

async function main() {
  const all = readLongCsv('eustockmarkets.csv')
  const dax = all.y.filter((_, i) => all.unique_id[i] === 'DAX')
  const train = dax.slice(0, 1500)
  const inputSize = 30
  const nf = new NeuralForecaster({
    models: [new models.LSTM({ h: 1, inputSize, encoderHiddenSize: 32, decoderHiddenSize: 32, scalerType: 'standard', maxSteps: Number(process.env.EXAMPLE_STEPS || 300) })],
    seed: 1,
  })
  await nf.fit(train)
  let modelError = 0
  let naiveError = 0
  const bars = 200
  const started = process.hrtime.bigint()
  for (let t = 1500; t < 1500 + bars; t++) {
    const window = dax.slice(t - inputSize, t) // the latest bars, as a live loop holds them
    const [next] = nf.forecastWindow(window)
    modelError += Math.abs(next - dax[t])
    naiveError += Math.abs(dax[t - 1] - dax[t])
  }
  const microseconds = Number(process.hrtime.bigint() - started) / 1e3 / bars
  console.log(`walk-forward over ${bars} bars: model MAE ${(modelError / bars).toFixed(2)}, last-close MAE ${(naiveError / bars).toFixed(2)}, ${microseconds.toFixed(0)} µs per forecast`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

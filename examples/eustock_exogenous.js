// A rolling DAX forecast with the other three indices of EuStockMarkets (SMI, CAC, FTSE) as historical exogenous
// variables: train once, then each bar forecast the next close with forecastSeries() and append the bar with
// update(), without refitting.
//   node examples/eustock_exogenous.js        (EXAMPLE_STEPS=20 for a quick run)
const { NeuralForecaster, models } = require('neuro-divergent')
const { readLongCsv } = require('./read_csv.js')

async function main() {
  const all = readLongCsv('eustockmarkets.csv')
  const closes = (id) => all.y.filter((_, i) => all.unique_id[i] === id)
  const [dax, smi, cac, ftse] = ['DAX', 'SMI', 'CAC', 'FTSE'].map(closes)
  const bar = (from, to) => ({
    unique_id: dax.slice(from, to).map(() => 'DAX'),
    ds: dax.slice(from, to).map((_, k) => from + k),
    y: dax.slice(from, to),
    SMI: smi.slice(from, to),
    CAC: cac.slice(from, to),
    FTSE: ftse.slice(from, to),
  })
  const trained = 1500
  const nhits = new models.NHITS({
    h: 1,
    inputSize: 30,
    histExogList: ['SMI', 'CAC', 'FTSE'],
    mlpUnits: [[64, 64], [64, 64], [64, 64]],
    scalerType: 'standard',
    batchSize: 64,
    maxSteps: Number(process.env.EXAMPLE_STEPS || 400),
  })
  const nf = new NeuralForecaster({ models: [nhits], seed: 1 })
  await nf.fit(bar(0, trained))
  let modelError = 0
  let naiveError = 0
  const bars = 200
  const started = process.hrtime.bigint()
  for (let t = trained; t < trained + bars; t++) {
    const [next] = nf.forecastSeries('DAX').NHITS // the next close, from the bars so far
    modelError += Math.abs(next - dax[t])
    naiveError += Math.abs(dax[t - 1] - dax[t])
    nf.update(bar(t, t + 1)) // the bar closes: append it, no refit
  }
  const microseconds = Number(process.hrtime.bigint() - started) / 1e3 / bars
  console.log(
    `DAX with SMI, CAC and FTSE over ${bars} bars: model MAE ${(modelError / bars).toFixed(2)}, last-close MAE ${(naiveError / bars).toFixed(2)}, ` +
      `${microseconds.toFixed(0)} µs per bar (forecast + update)`,
  )
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

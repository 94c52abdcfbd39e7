// One global model over the 20 quarterly series of the visnights panel: hold out the last 8 quarters of each,
// forecast them all at once and score the forecasts per series.
//   node examples/visnights_global.js        (EXAMPLE_STEPS=20 for a quick run)
const { NeuralForecaster, models, evaluate } = require('neuro-divergent')
const { readLongCsv } = require('./read_csv.js')

async function main() {
  const data = readLongCsv('visnights.csv')
  const h = 8
  const ids = [...new Set(data.unique_id)]
  const train = { unique_id: [], ds: [], y: [] }
  const actual = new Map(ids.map((id) => [id, []]))
  for (const id of ids) {
    const rows = data.unique_id.flatMap((u, i) => (u === id ? [i] : []))
    for (const [k, i] of rows.entries()) {
      if (k < rows.length - h) {
        train.unique_id.push(id)
        train.ds.push(data.ds[i])
        train.y.push(data.y[i])
      } else actual.get(id).push(data.y[i])
    }
  }
  const nf = new NeuralForecaster({
    models: [new models.GRU({ h, inputSize: 16, encoderHiddenSize: 32, decoderHiddenSize: 32, scalerType: 'standard', maxSteps: Number(process.env.EXAMPLE_STEPS || 300) })],
    frequency: 'QS',
    seed: 1,
  })
  await nf.fit(train)
  const forecast = await nf.predict()
  const y = forecast.unique_id.map((id, row) => actual.get(id)[row % h])
  const scores = evaluate({ unique_id: forecast.unique_id, y, forecasts: { GRU: forecast.GRU } }, ['mae', 'smape'])
  console.log(`${ids.length} series, ${forecast.unique_id.length} forecasts: MAE ${scores.overall.mae.GRU.toFixed(3)}, sMAPE ${scores.overall.smape.GRU.toFixed(1)} %`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

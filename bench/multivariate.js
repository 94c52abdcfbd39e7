'use strict'
// neuro-divergent's side of bench/neuralforecast_multivariate.py: the multivariate models on visnights (20 aligned
// quarterly series), cross-validated MAE over five seeds with NeuralForecast's protocol there (h=4, inputSize=12,
// nSeries=20, the model's defaults but maxSteps=300, nWindows=4, stepSize=4, one fit), then the median training
// step and single-window forecast (all 20 series) from JS.
//     node bench/multivariate.js [seeds] [--models TSMixer,TSMixerx,iTransformer]

const { NeuralForecaster, models, crossValidation } = require('../main.js')
const { visnights } = require('./visnights.js')

const args = process.argv.slice(2)
const seeds = Number(args.find((a) => /^\d+$/.test(a)) ?? 5)
const modelsArg = args.indexOf('--models')
const selected = modelsArg >= 0 ? args[modelsArg + 1].split(',') : ['TSMixer', 'iTransformer']

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const data = visnights()
  const nSeries = new Set(data.unique_id).size
  for (const type of selected) {
    const maes = []
    for (let seed = 1; seed <= seeds; seed++) {
      const options = { h: 4, inputSize: 12, nSeries, maxSteps: 300, randomSeed: seed }
      const started = process.hrtime.bigint()
      const cv = await crossValidation({ models: [new models[type](options)], frequency: 'QS', numThreads: 2 }, data, { nWindows: 4, stepSize: 4 })
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      let sum = 0
      for (let i = 0; i < cv.y.length; i++) sum += Math.abs(cv[type][i] - cv.y[i])
      maes.push(sum / cv.y.length)
      console.log(`${type} seed ${seed}: CV MAE ${maes[maes.length - 1].toFixed(4)}, cross-validation ${seconds.toFixed(2)} s`)
    }
    const nf = new NeuralForecaster({ models: [new models[type]({ h: 4, inputSize: 12, nSeries, maxSteps: 200 })], frequency: 'QS', numThreads: 2 })
    const report = await nf.fit(data)
    const stepMs = report.elapsedMs / report.models[0].steps
    const window = new Float64Array(nSeries * 12)
    const bySeries = [...new Set(data.unique_id)]
    bySeries.forEach((id, s) => {
      const ys = data.y.filter((_, i) => data.unique_id[i] === id)
      window.set(ys.slice(-12), s * 12)
    })
    for (let i = 0; i < 1000; i++) nf.forecastWindow(window)
    const us = []
    for (let i = 0; i < 20000; i++) {
      const started = process.hrtime.bigint()
      nf.forecastWindow(window)
      us.push(Number(process.hrtime.bigint() - started) / 1e3)
    }
    const mean = maes.reduce((a, b) => a + b, 0) / maes.length
    console.log(
      `${type}: mean CV MAE ${mean.toFixed(4)} over ${seeds} seeds (min ${Math.min(...maes).toFixed(4)}, max ${Math.max(...maes).toFixed(4)}); ` +
        `training step ${stepMs.toFixed(3)} ms (fit incl. setup), one window of ${nSeries} series ${median(us).toFixed(1)} us`,
    )
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

// Type tests of the ES module entry (`import … from 'neuro-divergent'`, typed by main.d.mts): the named exports and
// the default export are the CommonJS entry's.
import neuroDivergent, { NeuralForecaster, models, ops, type Forecast, type FitSummary } from 'neuro-divergent'

const nf: NeuralForecaster = new neuroDivergent.NeuralForecaster({ models: [new models.GRU({ h: 3 })] })
const same: typeof NeuralForecaster = neuroDivergent.NeuralForecaster
const summary: FitSummary = await nf.fit([1, 2, 3, 4, 5, 6], { maxSteps: 1 })
const forecast: Forecast = await nf.predict()
const mean: Float64Array = ops.rollingMean([1, 2, 3], 2)
const sameOps: typeof ops = neuroDivergent.ops
console.log(same, summary.elapsedMs, forecast.unique_id, mean, sameOps)

// @ts-expect-error: there is no such export
import { LSTM } from 'neuro-divergent'
// @ts-expect-error: horizon is a number
new models.LSTM({ h: '12' })
console.log(LSTM)

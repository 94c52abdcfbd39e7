// NeuralForecast's training losses from JS: each trains a small model to finite forecasts that differ from MAE's,
// keeps its parameters through a checkpoint, trains the same on any thread count, and names bad parameters.
const { NeuralForecaster, models } = require('../main.js')
const { sinePanel } = require('./sine_panel')

const panel = sinePanel(2, 80)

/** A small MLP trained with `loss` (batches of several shards, so sharded losses are exercised). */
const mlp = (loss) => new models.MLP({ h: 6, inputSize: 24, hiddenSize: 16, maxSteps: 25, batchSize: 32, learningRate: 0.01, randomSeed: 3, ...(loss && { loss }) })

/** Each loss, the options it writes back, and the forecast columns it gives. */
const LOSSES = [
  ['RMSE', { type: 'RMSE' }, ['MLP']],
  ['MAPE', { type: 'MAPE' }, ['MLP']],
  ['SMAPE', { type: 'SMAPE' }, ['MLP']],
  [{ type: 'MASE', seasonality: 12 }, { type: 'MASE', seasonality: 12 }, ['MLP']],
  ['relMSE', { type: 'relMSE' }, ['MLP']],
  [{ type: 'HuberQLoss', q: 0.75, delta: 0.5 }, { type: 'HuberQLoss', q: 0.75, delta: 0.5 }, ['MLP']],
  [
    { type: 'HuberMQLoss', level: [80] },
    { type: 'HuberMQLoss', quantiles: [0.5, expect.closeTo(0.1, 6), expect.closeTo(0.9, 6)], delta: 1 },
    ['MLP-median', 'MLP-lo-80', 'MLP-hi-80'],
  ],
]

async function fitted(loss, options = {}) {
  const nf = new NeuralForecaster({ models: [mlp(loss)], ...options })
  await nf.fit(panel)
  return nf
}

let maeForecast
beforeAll(async () => {
  maeForecast = (await (await fitted(undefined)).predict()).MLP
})

describe.each(LOSSES)('loss %j', (loss, written, columns) => {
  test('trains to finite forecasts unlike MAE, under its NeuralForecast columns, and survives a checkpoint', async () => {
    const model = mlp(loss)
    expect(model.loss).toEqual(written)
    const nf = new NeuralForecaster({ models: [model] })
    await nf.fit(panel)
    const forecast = await nf.predict()
    expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', ...columns])
    for (const column of columns) {
      expect(forecast[column]).toHaveLength(12)
      for (const value of forecast[column]) expect(Number.isFinite(value)).toBe(true)
    }
    expect(forecast[columns[0]]).not.toEqual(maeForecast)
    const loaded = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect(await loaded.predict()).toEqual(forecast)
  })
})

test('RMSE and relMSE, finished once per batch, and MASE train the same on 1 and 3 threads', async () => {
  for (const loss of ['RMSE', 'relMSE', { type: 'MASE', seasonality: 12 }]) {
    const one = await (await fitted(loss, { numThreads: 1 })).predict()
    const three = await (await fitted(loss, { numThreads: 3 })).predict()
    expect(three).toEqual(one)
  }
})

test('RMSE reports the root of the batch MSE: its first loss is the root of MSE’s', async () => {
  const firstLoss = async (loss) => (await new NeuralForecaster({ models: [mlp(loss)] }).fit(panel, { maxSteps: 1 })).models[0].trainLoss[0]
  expect(await firstLoss('RMSE')).toBeCloseTo(Math.sqrt(await firstLoss('MSE')), 5)
})

test.each([
  ['MASE without seasonality', 'MASE', TypeError, /loss\.seasonality is missing/],
  ['MASE seasonality not below inputSize', { type: 'MASE', seasonality: 24 }, RangeError, /MASE seasonality.*less than the input size 24/],
  ['MASE seasonality 0', { type: 'MASE', seasonality: 0 }, RangeError, /loss\.seasonality/],
  ['HuberQLoss without q', 'HuberQLoss', TypeError, /loss\.q is missing/],
  ['HuberQLoss q out of range', { type: 'HuberQLoss', q: 1.5 }, RangeError, /quantile.*1\.5/],
  ['HuberQLoss delta not positive', { type: 'HuberQLoss', q: 0.5, delta: 0 }, RangeError, /loss\.delta/],
  ['HuberMQLoss level out of range', { type: 'HuberMQLoss', level: [100] }, RangeError, /HuberMQLoss level/],
  ['HuberMQLoss level and quantiles', { type: 'HuberMQLoss', level: [80], quantiles: [0.5] }, TypeError, /level or quantiles/],
  ['an option of another loss', { type: 'RMSE', q: 0.5 }, TypeError, /unknown option 'q'/],
  ['relMSE given y_train', { type: 'relMSE', yTrain: [1] }, TypeError, /unknown option 'yTrain'/],
  ['IQLoss', 'IQLoss', RangeError, /IQLoss is not supported/],
  ['an unknown loss lists the losses', 'RMSLE', RangeError, /unknown loss 'RMSLE'.*'SMAPE'.*HuberMQLoss/],
])('%s is rejected', (_, loss, type, message) => {
  expect(() => mlp(loss)).toThrow(type)
  expect(() => mlp(loss)).toThrow(message)
})

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
  // NeuralForecast's output_names: QuantileLoss `_ql{q}`, HuberQLoss `_q{q}_d{delta}` (Python floats).
  [{ type: 'QuantileLoss', q: 0.3 }, { type: 'QuantileLoss', q: expect.closeTo(0.3, 6) }, ['MLP_ql0.3']],
  [{ type: 'HuberQLoss', q: 0.75, delta: 0.5 }, { type: 'HuberQLoss', q: 0.75, delta: 0.5 }, ['MLP_q0.75_d0.5']],
  [{ type: 'HuberQLoss', q: 0.75 }, { type: 'HuberQLoss', q: 0.75, delta: 1 }, ['MLP_q0.75_d1.0']],
  [{ type: 'HuberMQLoss', level: [80] }, { type: 'HuberMQLoss', level: [80], delta: 1 }, ['MLP-median', 'MLP-lo-80', 'MLP-hi-80']],
  // Quantiles given as such keep their order and are named by np.round(100 - 200 q, 2), a float, as
  // NeuralForecast's quantiles_to_outputs names them.
  [
    { type: 'MQLoss', quantiles: [0.1, 0.3, 0.5, 0.9] },
    { type: 'MQLoss', quantiles: [0.1, 0.3, 0.5, 0.9].map((q) => expect.closeTo(q, 6)) },
    ['MLP-lo-80.0', 'MLP-lo-40.0', 'MLP-median', 'MLP-hi-80.0'],
  ],
  ['TukeyLoss', { type: 'TukeyLoss', c: expect.closeTo(4.685, 5), normalize: true }, ['MLP']],
  [{ type: 'TukeyLoss', c: 2, normalize: false }, { type: 'TukeyLoss', c: 2, normalize: false }, ['MLP']],
  ['IQLoss', { type: 'IQLoss', cosEmbeddingDim: 64, concentration0: 1, concentration1: 1 }, ['MLP_ql0.5']],
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

test('RMSE and relMSE, finished once per batch, MASE and TukeyLoss (a mean over masked points too) train the same on 1 and 3 threads', async () => {
  for (const loss of ['RMSE', 'relMSE', { type: 'MASE', seasonality: 12 }, { type: 'TukeyLoss', c: 2, normalize: false }]) {
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
  ['TukeyLoss c 0', { type: 'TukeyLoss', c: 0 }, RangeError, /loss\.c must be a finite number greater than 0/],
  ['TukeyLoss normalize not a boolean', { type: 'TukeyLoss', normalize: 'yes' }, TypeError, /loss\.normalize/],
  ['HuberIQLoss', 'HuberIQLoss', RangeError, /HuberIQLoss is not supported/],
  ['IQLoss cosEmbeddingDim 0', { type: 'IQLoss', cosEmbeddingDim: 0 }, RangeError, /cosEmbeddingDim/],
  ['IQLoss concentration0 not positive', { type: 'IQLoss', concentration0: -1 }, RangeError, /loss\.concentration0/],
  ['IQLoss concentration1 not a number', { type: 'IQLoss', concentration1: 'high' }, TypeError, /loss\.concentration1/],
  ['IQLoss with another validLoss', null, RangeError, /validLoss to IQLoss/],
  ['an unknown loss lists the losses', 'RMSLE', RangeError, /unknown loss 'RMSLE'.*'SMAPE'.*HuberMQLoss/],
])('%s is rejected', (_, loss, type, message) => {
  const build = () => (loss === null ? new models.MLP({ h: 6, inputSize: 24, loss: 'IQLoss', validLoss: 'MAE' }) : mlp(loss))
  expect(build).toThrow(type)
  expect(build).toThrow(message)
})

describe('IQLoss', () => {
  test('forecasts each asked quantile, higher ones higher on average, the median at 0.5 in forecastWindow', async () => {
    const nf = await fitted('IQLoss')
    const median = (await nf.predict())['MLP_ql0.5']
    const forecast = await nf.predict({ quantiles: [0.9, 0.1, 0.5] })
    expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', 'MLP_ql0.1', 'MLP_ql0.5', 'MLP_ql0.9'])
    const mean = (column) => column.reduce((a, b) => a + b, 0) / column.length
    for (const column of ['MLP_ql0.1', 'MLP_ql0.5', 'MLP_ql0.9']) {
      for (const value of forecast[column]) expect(Number.isFinite(value)).toBe(true)
    }
    expect(mean(forecast['MLP_ql0.9'])).toBeGreaterThan(mean(forecast['MLP_ql0.1']))
    const levels = await nf.predict({ level: [80] })
    expect(Object.keys(levels)).toEqual(['unique_id', 'ds', 'MLP-lo-80', 'MLP-hi-80'])
    expect(levels['MLP-lo-80']).toEqual(forecast['MLP_ql0.1'])
    const window = nf.forecastWindow(panel.y.slice(80 - 24, 80))
    expect(Array.from(window)).toEqual(Array.from(median.slice(0, 6)))
  })

  test('trains the same on 1 and 2 threads, and a checkpoint keeps its head', async () => {
    const one = await fitted('IQLoss', { numThreads: 1 })
    const two = await fitted('IQLoss', { numThreads: 2 })
    const asked = { quantiles: [0.2, 0.8] }
    expect(await two.predict(asked)).toEqual(await one.predict(asked))
    const loaded = await NeuralForecaster.fromBuffer(await one.toBuffer())
    expect(await loaded.predict(asked)).toEqual(await one.predict(asked))
  })

  test('quantiles are rejected by name for other losses and out of range', async () => {
    const nf = await fitted(undefined)
    await expect(nf.predict({ quantiles: [0.5] })).rejects.toThrow(/quantiles apply to IQLoss models only; model 'MLP'/)
    const iq = await fitted('IQLoss')
    await expect(iq.predict({ quantiles: [1.5] })).rejects.toThrow(/options\.quantiles/)
    await expect(iq.predict({ quantiles: [0.5], level: [80] })).rejects.toThrow(/level or quantiles/)
  })
})

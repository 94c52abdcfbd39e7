// NeuralForecast's DLinear, NLinear and RNN through the public API, as users call them: fit and predict, the same
// weights and forecasts on 1 and 2 threads, a checkpoint round trip, MQLoss, conformal intervals, and the error
// for exogenous lists these models do not take.
const { NeuralForecaster, models } = require('..')
const { sinePanel, sineValue, sineForecastMae, weightBytes } = require('./sine_panel.js')

/** Two sines of period 12 (sinePanel's), 96 points each, and their continuation. */
const panel = sinePanel(2, 96)
const truth = sineValue

/** Small, quick configurations; `limit` is the MAE they must beat on the next 6 steps (predicting the mean scores about 0.64). */
const MODELS = [
  ['DLinear', (extra = {}) => new models.DLinear({ h: 6, inputSize: 24, movingAvgWindow: 5, maxSteps: 300, windowsBatchSize: 32, learningRate: 0.01, ...extra }), 0.3],
  ['NLinear', (extra = {}) => new models.NLinear({ h: 6, inputSize: 24, maxSteps: 300, windowsBatchSize: 32, learningRate: 0.01, ...extra }), 0.2],
  ['RNN', (extra = {}) => new models.RNN({ h: 6, inputSize: 24, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01, ...extra }), 0.3],
]

/** The models without exogenous inputs (NeuralForecast's EXOGENOUS_* all False). */
const WITHOUT_EXOGENOUS = ['DLinear', 'NLinear']

const mae = (forecast, column) => sineForecastMae(forecast, column, 96, 6)


async function fitted(create, numThreads, fitOptions) {
  const nf = new NeuralForecaster({ models: [create()], numThreads })
  await nf.fit(panel, fitOptions)
  return nf
}

describe.each(MODELS)('%s', (type, create, limit) => {
  const two = fitted(create, 2)

  test('forecasts the continuation of the sines', async () => {
    const forecast = await (await two).predict()
    expect(forecast[type]).toBeInstanceOf(Float64Array)
    expect(mae(forecast, type)).toBeLessThan(limit)
  })

  test('1 and 2 threads train the same weights and forecasts, bit for bit', async () => {
    const one = await fitted(create, 1)
    expect(weightBytes(await one.toBuffer()).equals(weightBytes(await (await two).toBuffer()))).toBe(true)
    expect((await one.predict())[type]).toEqual((await (await two).predict())[type])
  })

  test('a checkpoint gives the same forecasts, a window alone as in predict', async () => {
    const nf = await two
    const again = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    const forecast = await nf.predict()
    expect((await again.predict())[type]).toEqual(forecast[type])
    expect(Array.from(again.forecastWindow(panel.y.slice(96 - 24, 96)))).toEqual(Array.from(forecast[type].slice(0, 6)))
  })

  test('MQLoss forecasts a median between its interval columns', async () => {
    const nf = await fitted(() => create({ loss: { type: 'MQLoss', level: [80] } }), 2)
    const f = await nf.predict()
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', `${type}-median`, `${type}-lo-80`, `${type}-hi-80`])
    expect(mae(f, `${type}-median`)).toBeLessThan(2 * limit)
    // On average over the points (a linear model's quantiles may touch at a point of the noiseless sines).
    const mean = (column) => f[column].reduce((a, b) => a + b) / f[column].length
    expect(mean(`${type}-lo-80`)).toBeLessThan(mean(`${type}-median`))
    expect(mean(`${type}-median`)).toBeLessThan(mean(`${type}-hi-80`))
  })

  test('conformal intervals come from fit({ predictionIntervals })', async () => {
    const nf = await fitted(create, 2, { predictionIntervals: { nWindows: 3 } })
    const f = await nf.predict({ level: [80] })
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', type, `${type}-lo-80`, `${type}-hi-80`])
    for (let i = 0; i < 12; i++) {
      expect(f[`${type}-lo-80`][i]).toBeLessThanOrEqual(f[type][i])
      expect(f[type][i]).toBeLessThanOrEqual(f[`${type}-hi-80`][i])
    }
  })

  if (WITHOUT_EXOGENOUS.includes(type)) test('exogenous lists are refused naming the model and the list', () => {
    const forecaster = (lists) => new NeuralForecaster({ models: [create(lists)] })
    expect(() => forecaster({ histExogList: ['temperature'] })).toThrow(new RegExp(`model '${type}'.*${type} takes no exogenous variables; remove histExogList`))
    expect(() => forecaster({ futrExogList: ['a'], statExogList: ['b'] })).toThrow(/remove futrExogList, statExogList/)
  })
})

test('RNN takes exogenous inputs, which change the forecast; encoderActivation is tanh only, as NeuralForecast builds it', async () => {
  const data = sinePanel(1, 60)
  data.trend = data.y.map((_, t) => (t / 60) ** 2)
  const rnn = (extra) => new models.RNN({ h: 4, inputSize: 12, encoderHiddenSize: 8, decoderHiddenSize: 8, maxSteps: 20, ...extra })
  expect(rnn({}).encoderActivation).toBe('tanh')
  const forecasts = []
  for (const extra of [{}, { histExogList: ['trend'] }]) {
    const nf = new NeuralForecaster({ models: [rnn(extra)] })
    await nf.fit(data)
    forecasts.push((await nf.predict()).RNN)
  }
  expect(forecasts[1]).not.toEqual(forecasts[0])
  expect(() => rnn({ encoderActivation: 'relu' })).toThrow(/encoderActivation is accepted as 'tanh' only/)
})

test('DLinear refuses an even movingAvgWindow by name', () => {
  expect(() => new models.DLinear({ h: 6, inputSize: 24, movingAvgWindow: 4 })).toThrow(/movingAvgWindow/)
})

test('DLinear and NLinear keep NeuralForecast defaults', () => {
  const dlinear = new models.DLinear({ h: 12, inputSize: 24 })
  expect([dlinear.movingAvgWindow, dlinear.learningRate, dlinear.maxSteps, dlinear.scalerType]).toEqual([25, 1e-4, 5000, 'identity'])
  expect([dlinear.windowsBatchSize, dlinear.inferenceWindowsBatchSize]).toEqual([1024, 1024])
  const nlinear = new models.NLinear({ h: 12, inputSize: 24 })
  expect([nlinear.learningRate, nlinear.maxSteps]).toEqual([1e-4, 5000])
  expect(() => new models.NLinear({ h: 12 })).toThrow(/inputSize/)
})

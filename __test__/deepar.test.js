// NeuralForecast's DeepAR through the public API: defaults and option checks, fit and predict on AirPassengers,
// the forecast columns, bit-identical results on 1 and 2 threads, a window forecast of inputSize + 1 values, and
// future exogenous variables.
const fs = require('node:fs')
const path = require('node:path')
const { NeuralForecaster, models } = require('../main.js')
const { weightBytes } = require('./sine_panel.js')
const { linearExogPanel } = require('./linear_exog_panel.js')

const [, ...lines] = fs.readFileSync(path.join(__dirname, 'fixtures', 'air_passengers.csv'), 'utf8').trim().split('\n')
const rows = lines.map((line) => line.trim().split(','))
const air = { unique_id: rows.map((r) => r[0]), ds: rows.map((r) => r[1]), y: rows.map((r) => Number(r[2])) }
const train = { unique_id: air.unique_id.slice(0, 132), ds: air.ds.slice(0, 132), y: air.y.slice(0, 132) }
const test12 = air.y.slice(132, 144)

const small = (extra = {}) =>
  new models.DeepAR({ h: 12, inputSize: 24, lstmHiddenSize: 32, scalerType: 'standard', maxSteps: 150, learningRate: 0.005, windowsBatchSize: 64, loss: 'MAE', ...extra })
const maeOf = (values) => values.reduce((sum, v, i) => sum + Math.abs(v - test12[i]), 0) / values.length

test('DeepAR holds NeuralForecast 3.3 defaults and validates its options', () => {
  expect(new models.DeepAR({ h: 12 })).toMatchObject({
    type: 'DeepAR', inputSize: 36, lstmNLayers: 2, lstmHiddenSize: 128, lstmDropout: 0.1, decoderHiddenLayers: 0,
    decoderHiddenSize: 0, trajectorySamples: 100, hTrain: 1, scalerType: 'identity', numLrDecays: 3,
    windowsBatchSize: 1024, learningRate: 1e-3, maxSteps: 1000,
  })
  expect(() => new models.DeepAR({ h: 12, lstmDropout: 1 })).toThrow(/lstmDropout/)
  expect(() => new models.DeepAR({ h: 12, decoderHiddenLayers: 1 })).toThrow(/decoderHiddenSize/)
  expect(() => new models.DeepAR({ h: 12, hTrain: 0 })).toThrow(/hTrain/)
  expect(() => new models.DeepAR({ h: 12, loss: 'MAE', trajectorySamples: 10 })).toThrow(/trajectorySamples.*DistributionLoss/)
  expect(() => new models.DeepAR({ h: 12, encoderHiddenSize: 8 })).toThrow(/encoderHiddenSize/)
  expect(() => new models.DeepAR({ h: 12, sampling: 'paths' })).toThrow(/sampling/)
  expect(() => new models.DeepAR({ h: 12, loss: 'MAE', sampling: 'ancestral' })).toThrow(/sampling.*point loss/)
  const returnParams = { type: 'DistributionLoss', distribution: 'StudentT', returnParams: true }
  expect(() => new models.DeepAR({ h: 12, loss: returnParams })).toThrow(/sampling.*'mean'/)
  expect(new models.DeepAR({ h: 12, loss: returnParams, sampling: 'mean' })).toMatchObject({ sampling: 'mean' })
  expect(new models.DeepAR({ h: 12, loss: 'MAE', sampling: 'mean' })).toMatchObject({ sampling: 'mean' })
})

test('DeepAR trains with NeuralForecast 3.3\'s default DistributionLoss(StudentT, level [80, 90]) and has its 199,297 parameters with MAE', async () => {
  const byDefault = new NeuralForecaster({ models: [new models.DeepAR({ h: 12, inputSize: 24, maxSteps: 1, windowsBatchSize: 32 })] })
  // 199,560 in NeuralForecast, which counts the loss's 5 quantiles.
  expect((await byDefault.fit(train)).models[0].parameters).toBe(199555)
  expect(Object.keys(await byDefault.predict())).toEqual(['unique_id', 'ds', 'DeepAR', 'DeepAR-median', 'DeepAR-lo-90', 'DeepAR-lo-80', 'DeepAR-hi-80', 'DeepAR-hi-90'])
  const mae = new NeuralForecaster({ models: [new models.DeepAR({ h: 12, inputSize: 24, maxSteps: 1, windowsBatchSize: 32, loss: 'MAE' })] })
  expect((await mae.fit(train)).models[0].parameters).toBe(199297)
})

describe('DeepAR on AirPassengers', () => {
  const fit = async (numThreads, extra) => {
    const nf = new NeuralForecaster({ models: [small(extra)], numThreads })
    await nf.fit(train)
    return { nf, forecast: await nf.predict() }
  }
  const two = fit(2)

  test('forecasts the 12 held-out months autoregressively', async () => {
    const { forecast } = await two
    expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', 'DeepAR'])
    expect(forecast.DeepAR).toHaveLength(12)
    expect(forecast.DeepAR.every(Number.isFinite)).toBe(true)
    // The naive forecast (the last observed value) has MAE 73 here; a trained DeepAR does much better.
    expect(maeOf(forecast.DeepAR)).toBeLessThan(60)
  })

  test('numThreads 1 and 2 give the same weights and forecasts', async () => {
    const one = await fit(1)
    const { nf, forecast } = await two
    expect(one.forecast.DeepAR).toEqual(forecast.DeepAR)
    expect(weightBytes(await one.nf.toBuffer()).equals(weightBytes(await nf.toBuffer()))).toBe(true)
  })

  test('a window of inputSize + 1 values forecasts as predict does; a checkpoint round trip keeps the forecast', async () => {
    const { nf, forecast } = await two
    const window = nf.forecastWindow(train.y.slice(132 - 25))
    expect(window).toHaveLength(12)
    window.forEach((v, i) => expect(v).toBeCloseTo(forecast.DeepAR[i], 3))
    expect(() => nf.forecastWindow(train.y.slice(132 - 24))).toThrow(/25/)
    const copy = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect((await copy.predict()).DeepAR).toEqual(forecast.DeepAR)
  })

  test('MQLoss gives median and interval columns, hTrain 3 trains on three steps per window', async () => {
    const { forecast } = await fit(2, { loss: { type: 'MQLoss', level: [80] }, maxSteps: 60 })
    expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', 'DeepAR-median', 'DeepAR-lo-80', 'DeepAR-hi-80'])
    expect(forecast['DeepAR-median'].every(Number.isFinite)).toBe(true)
    const one = (await fit(2, { maxSteps: 40 })).forecast.DeepAR
    const three = (await fit(2, { maxSteps: 40, hTrain: 3 })).forecast.DeepAR
    expect(three).not.toEqual(one)
    expect(three.every(Number.isFinite)).toBe(true)
  })
})

test('DistributionLoss(StudentT): mean, median and interval columns, 199,555 trainable parameters, 1 vs 2 threads', async () => {
  const loss = { type: 'DistributionLoss', distribution: 'StudentT', level: [80] }
  expect((await new NeuralForecaster({ models: [new models.DeepAR({ h: 12, inputSize: 24, maxSteps: 1, loss })] }).fit(train)).models[0].parameters).toBe(199555)
  const run = async (numThreads) => {
    const nf = new NeuralForecaster({ models: [small({ loss, maxSteps: 80, trajectorySamples: 200 })], numThreads })
    await nf.fit(train)
    return nf.predict()
  }
  const [one, two] = [await run(1), await run(2)]
  expect(Object.keys(two)).toEqual(['unique_id', 'ds', 'DeepAR', 'DeepAR-median', 'DeepAR-lo-80', 'DeepAR-hi-80'])
  expect(one).toEqual(two)
  for (let i = 0; i < 12; i++) {
    expect(Number.isFinite(two.DeepAR[i])).toBe(true)
    expect(two['DeepAR-lo-80'][i]).toBeLessThan(two['DeepAR-median'][i])
    expect(two['DeepAR-median'][i]).toBeLessThan(two['DeepAR-hi-80'][i])
  }
})

test('ancestral sample paths (the default) vs NeuralForecast 3.3\'s mean feed-back; a series alone forecasts as in a panel', async () => {
  const loss = { type: 'DistributionLoss', distribution: 'StudentT', level: [80, 90] }
  const twice = { unique_id: [...train.unique_id, ...train.unique_id.map(() => 'double')], ds: [...train.ds, ...train.ds], y: [...train.y, ...train.y.map((v) => 2 * v)] }
  const fitted = async (sampling, numThreads) => {
    const nf = new NeuralForecaster({ models: [small({ loss, maxSteps: 40, trajectorySamples: 50, ...(sampling && { sampling }) })], numThreads })
    await nf.fit(twice)
    return nf
  }
  const [ancestral, ancestralOne, mean] = [await fitted(undefined, 2), await fitted('ancestral', 1), await fitted('mean', 2)]
  const paths = await ancestral.predict()
  expect(await ancestralOne.predict()).toEqual(paths)
  const columns = ['DeepAR-lo-90', 'DeepAR-lo-80', 'DeepAR-median', 'DeepAR-hi-80', 'DeepAR-hi-90']
  for (let i = 0; i < 24; i++) {
    const values = columns.map((c) => paths[c][i])
    expect(values.every(Number.isFinite) && Number.isFinite(paths.DeepAR[i])).toBe(true)
    values.slice(1).forEach((v, k) => expect(v).toBeGreaterThanOrEqual(values[k]))
  }
  // Same weights (same seed and data), other forecast: each path feeds back its own draws.
  const means = await mean.predict()
  expect(weightBytes(await mean.toBuffer()).equals(weightBytes(await ancestral.toBuffer()))).toBe(true)
  expect(means.DeepAR.slice(0, 12)).not.toEqual(paths.DeepAR.slice(0, 12))
  // The first step's distribution is the same for both: the same seeded draws.
  expect(means['DeepAR-median'][0]).toBeCloseTo(paths['DeepAR-median'][0], 3)
  const alone = ancestral.forecastSeries('double')
  expect(alone.DeepAR).toEqual(paths.DeepAR.slice(12))
  expect(alone['DeepAR-hi-90']).toEqual(paths['DeepAR-hi-90'].slice(12))
})

describe('exogenous variables', () => {
  const { data, future, errorOf } = linearExogPanel()
  const options = { h: 6, inputSize: 12, lstmHiddenSize: 16, lstmDropout: 0, scalerType: 'standard', maxSteps: 300, windowsBatchSize: 64, learningRate: 0.01, loss: 'MAE' }

  test('future variables of the step being forecast reach the LSTM input', async () => {
    const withX = new NeuralForecaster({ models: [new models.DeepAR({ ...options, futrExogList: ['x'] })] })
    const plain = new NeuralForecaster({ models: [new models.DeepAR(options)] })
    await withX.fit(data)
    await plain.fit(data)
    expect(errorOf(await withX.predict({ futrData: future }), 'DeepAR')).toBeLessThanOrEqual(0.5 * errorOf(await plain.predict(), 'DeepAR'))
  })

  test('historic variables are read for the past steps only', async () => {
    const nf = new NeuralForecaster({ models: [new models.DeepAR({ ...options, histExogList: ['x'], maxSteps: 20 })] })
    await nf.fit(data)
    const forecast = await nf.predict()
    expect(forecast.DeepAR.every(Number.isFinite)).toBe(true)
  })
})

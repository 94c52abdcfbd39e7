// predictInsample (NeuralForecast's predict_insample), excludeInsampleY on every model that has it in
// NeuralForecast, and `frequency` as a number (NeuralForecast's freq=1), through the public API.
const { NeuralForecaster, Dataset, models } = require('../main.js')
const { airPassengers } = require('../lib/datasets.js')

jest.setTimeout(120000)

const air = airPassengers()
const H = 12

function mlp(extra = {}) {
  return new models.MLP({ h: H, inputSize: 24, numLayers: 1, hiddenSize: 32, scalerType: 'standard', maxSteps: 30, randomSeed: 1, ...extra })
}

async function fitted(options = {}) {
  const nf = new NeuralForecaster({ models: [mlp()], frequency: 'MS', ...options })
  await nf.fit(air)
  return nf
}

/** NeuralForecast's rows per series (core.py `_insample_times` on the series trimmed by `forefront_offset`):
 * floor((n - h) / stepSize) + 1 windows of h rows each. */
function expectedRows(n, h, stepSize) {
  return (Math.floor((n - h) / stepSize) + 1) * h
}

describe('predictInsample', () => {
  let nf
  beforeAll(async () => {
    nf = await fitted()
  })

  test.each([1, 3, 5])('stepSize %i: NeuralForecast columns, one row per window step, y at each ds', async (stepSize) => {
    const insample = await nf.predictInsample({ stepSize })
    expect(Object.keys(insample)).toEqual(['unique_id', 'ds', 'cutoff', 'y', 'MLP'])
    const n = air.y.length
    const rows = expectedRows(n, H, stepSize)
    for (const key of Object.keys(insample)) expect(insample[key]).toHaveLength(rows)
    expect(new Set(insample.unique_id)).toEqual(new Set(['AirPassengers']))
    const yAt = new Map(air.ds.map((ds, i) => [ds, air.y[i]]))
    insample.ds.forEach((ds, row) => expect(insample.y[row]).toBe(yAt.get(ds)))
    expect(insample.MLP.every(Number.isFinite)).toBe(true)
    // Window k covers the h points from offset + k·stepSize on; its cutoff is the month before.
    const offset = (n - H) % stepSize
    for (let k = 0; k < rows / H; k++) {
      const start = offset + k * stepSize
      expect(insample.ds.slice(k * H, (k + 1) * H)).toEqual(air.ds.slice(start, start + H))
      const cutoff = start > 0 ? air.ds[start - 1] : '1948-12-01'
      expect(insample.cutoff.slice(k * H, (k + 1) * H)).toEqual(Array(H).fill(cutoff))
    }
    expect(insample.ds[rows - 1]).toBe(air.ds[n - 1])
  })

  test('stepSize defaults to 1', async () => {
    const insample = await nf.predictInsample()
    expect(insample.ds).toHaveLength(expectedRows(air.y.length, H, 1))
    expect(insample).toEqual(await nf.predictInsample({ stepSize: 1 }))
  })

  test('the last window is the forecast predict would make from the data before it', async () => {
    const insample = await nf.predictInsample({ stepSize: H })
    const history = { unique_id: air.unique_id.slice(0, -H), ds: air.ds.slice(0, -H), y: air.y.slice(0, -H) }
    const forecast = await nf.predict({ data: history })
    expect(Array.from(insample.MLP.slice(-H))).toEqual(Array.from(forecast.MLP))
  })

  test('the same numbers on 1 and 2 threads', async () => {
    const one = await (await fitted({ numThreads: 1 })).predictInsample({ stepSize: 1 })
    const two = await (await fitted({ numThreads: 2 })).predictInsample({ stepSize: 1 })
    expect(Array.from(two.MLP)).toEqual(Array.from(one.MLP))
  })

  test('every series of a panel, multi-quantile columns named as predict names them', async () => {
    const short = { unique_id: air.unique_id.slice(0, 50).map(() => 'short'), ds: air.ds.slice(0, 50), y: air.y.slice(0, 50) }
    const panel = { unique_id: [...air.unique_id, ...short.unique_id], ds: [...air.ds, ...short.ds], y: [...air.y, ...short.y] }
    const model = mlp({ loss: { type: 'MQLoss', level: [80] } })
    const forecaster = new NeuralForecaster({ models: [model], frequency: 'MS' })
    await forecaster.fit(panel)
    const insample = await forecaster.predictInsample({ stepSize: 2 })
    const predicted = await forecaster.predict()
    expect(Object.keys(insample)).toEqual(['unique_id', 'ds', 'cutoff', 'y', ...Object.keys(predicted).slice(2)])
    const rows = { AirPassengers: expectedRows(144, H, 2), short: expectedRows(50, H, 2) }
    expect(insample.unique_id.filter((id) => id === 'AirPassengers')).toHaveLength(rows.AirPassengers)
    expect(insample.unique_id.filter((id) => id === 'short')).toHaveLength(rows.short)
    expect(insample['MLP-median'].every(Number.isFinite)).toBe(true)
  })

  test('Prophet gives its fitted values at each row', async () => {
    const forecaster = new NeuralForecaster({ models: [new models.Prophet({ h: H, seasonalityMode: 'multiplicative' })], frequency: 'MS' })
    await forecaster.fit(air)
    const insample = await forecaster.predictInsample({ stepSize: H })
    expect(insample.Prophet).toHaveLength(expectedRows(144, H, H))
    const errors = Array.from(insample.Prophet, (v, i) => Math.abs(v - insample.y[i]) / insample.y[i])
    expect(errors.reduce((a, b) => a + b) / errors.length).toBeLessThan(0.1)
  })

  test('errors: before fit, after loading a checkpoint, bad stepSize, unknown option', async () => {
    const unfitted = new NeuralForecaster({ models: [mlp()], frequency: 'MS' })
    await expect(unfitted.predictInsample()).rejects.toThrow(/fit/)
    const loaded = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    await expect(loaded.predictInsample()).rejects.toThrow(/fit\(\) first/)
    await expect(nf.predictInsample({ stepSize: 0 })).rejects.toThrow(RangeError)
    await expect(nf.predictInsample({ stepSize: 1.5 })).rejects.toThrow(RangeError)
    await expect(nf.predictInsample({ stepSize: '2' })).rejects.toThrow(TypeError)
    await expect(nf.predictInsample({ step_size: 2 })).rejects.toThrow(/step_size/)
  })
})

describe('excludeInsampleY', () => {
  // y follows a known-in-advance exogenous variable x (a sine); the models read x as futrExogList.
  const n = 120
  const x = Array.from({ length: n }, (_, t) => Math.sin(t / 3))
  const data = { unique_id: Array(n).fill('s'), ds: x.map((_, t) => t), y: x.map((v) => 10 + 5 * v), x }
  const futrData = { unique_id: Array(H).fill('s'), ds: Array.from({ length: H }, (_, k) => n + k), x: Array.from({ length: H }, (_, k) => Math.sin((n + k) / 3)) }
  const options = (exclude, extra = {}) => ({
    h: H, inputSize: 24, futrExogList: ['x'], excludeInsampleY: exclude, maxSteps: 60, learningRate: 1e-2, randomSeed: 3, ...extra,
  })
  const small = {
    MLP: { numLayers: 1, hiddenSize: 32 },
    NHITS: { mlpUnits: [[32, 32], [32, 32], [32, 32]] },
    LSTM: { encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'identity' },
  }

  test.each(['GRU', 'LSTM', 'MLP', 'NBEATSx', 'NHITS', 'VanillaTransformer'])('%s accepts it', (type) => {
    expect(new models[type]({ h: H, inputSize: 24, excludeInsampleY: true }).excludeInsampleY).toBe(true)
    expect(new models[type]({ h: H, inputSize: 24 }).excludeInsampleY).toBe(false)
  })

  test.each(['NBEATS', 'TCN'])('%s, which has no such option in NeuralForecast, rejects it', (type) => {
    expect(() => new models[type]({ h: H, inputSize: 24, excludeInsampleY: true })).toThrow(/excludeInsampleY/)
  })

  test.each(['MLP', 'NHITS', 'LSTM'])('%s: changes the forecast, ignores y and still trains on the exogenous variable', async (type) => {
    const forecast = async (exclude, history) => {
      const nf = new NeuralForecaster({ models: [new models[type](options(exclude, small[type]))], frequency: 1 })
      const report = await nf.fit(data)
      return { report, forecast: (await nf.predict({ futrData, ...(history && { data: history }) }))[type] }
    }
    const withY = await forecast(false)
    const without = await forecast(true)
    expect(Array.from(without.forecast)).not.toEqual(Array.from(withY.forecast))
    const losses = without.report.models[0].trainLoss
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 2)
    // The identity window scaler leaves nothing of y that the model could read.
    const shifted = { ...data, y: data.y.map((v, t) => v + ((t * 7) % 5)) }
    const fromShifted = await forecast(true, shifted)
    expect(Array.from(fromShifted.forecast)).toEqual(Array.from(without.forecast))
  })
})

describe('frequency as a number', () => {
  const steps = (n, step) => Array.from({ length: n }, (_, t) => t * step)

  test('frequency: 1 for integer ds, as NeuralForecast freq=1', async () => {
    const nf = new NeuralForecaster({ models: [mlp({ maxSteps: 5 })], frequency: 1 })
    await nf.fit({ unique_id: air.unique_id, ds: steps(144, 1), y: air.y })
    const forecast = await nf.predict()
    expect(forecast.ds).toEqual(steps(H, 1).map((t) => 144 + t))
    const insample = await nf.predictInsample({ stepSize: H })
    expect(insample.cutoff[0]).toBe(-1)
  })

  test('any positive integer step, in the constructor, Dataset.fromColumns and readCsv', async () => {
    const columns = { unique_id: air.unique_id, ds: steps(144, 2), y: air.y }
    const nf = new NeuralForecaster({ models: [mlp({ maxSteps: 5 })], freq: 2 })
    await nf.fit(columns)
    expect((await nf.predict()).ds.slice(0, 2)).toEqual([288, 290])
    expect(Dataset.fromColumns(columns, 2).frequency).toBe('2')
    expect(() => Dataset.fromColumns(columns, 1)).toThrow(RangeError)
    const { readCsv } = require('../main.js')
    const fs = require('node:fs')
    const os = require('node:os')
    const path = require('node:path')
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nd-freq-')), 'steps.csv')
    fs.writeFileSync(file, 'unique_id,ds,y\n' + Array.from(columns.y, (y, t) => `a,${columns.ds[t]},${y}`).join('\n'))
    expect((await readCsv(file, { frequency: 2 })).frequency).toBe('2')
    await expect(readCsv(file, { frequency: 0.5 })).rejects.toThrow(RangeError)
  })

  test.each([0, -1, 1.5, NaN, Infinity])('frequency: %p is a RangeError', (frequency) => {
    expect(() => new NeuralForecaster({ models: [mlp()], frequency })).toThrow(RangeError)
    expect(() => Dataset.fromColumns({ unique_id: ['a'], ds: [0], y: [1] }, frequency)).toThrow(RangeError)
  })

  test('a value neither string nor number is a TypeError', () => {
    expect(() => new NeuralForecaster({ models: [mlp()], frequency: true })).toThrow(TypeError)
  })
})

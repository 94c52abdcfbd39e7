// Every model family through the public API, as users call it: fit and predict with assertions on the values,
// a save/load round trip, prediction intervals, and cross-validation.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { NeuralForecaster, models, crossValidation, coverage } = require('..')

/** Two monthly sines (period 12) with a slow trend, 96 points each: a yearly season for Prophet. */
function monthlyPanel(length = 96) {
  const data = { unique_id: [], ds: [], y: [] }
  for (const [s, id] of ['a', 'b'].entries()) {
    for (let t = 0; t < length; t++) {
      data.unique_id.push(id)
      data.ds.push(`${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}-01`)
      data.y.push(20 + 5 * s + 0.05 * t + 3 * Math.sin((2 * Math.PI * t) / 12 + s))
    }
  }
  return data
}

const panel = monthlyPanel()
const truth = (s, t) => 20 + 5 * s + 0.05 * t + 3 * Math.sin((2 * Math.PI * t) / 12 + s)

/** Small, quick configurations of each family; `limit` is the MAE they must beat on the next 6 months. */
const FAMILIES = [
  ['LSTM', () => new models.LSTM({ h: 6, inputSize: 24, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01 }), 1.0],
  ['GRU', () => new models.GRU({ h: 6, inputSize: 24, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01 }), 1.0],
  ['MLP', () => new models.MLP({ h: 6, inputSize: 24, hiddenSize: 32, scalerType: 'standard', maxSteps: 200, windowsBatchSize: 32, learningRate: 0.01 }), 1.0],
  ['TCN', () => new models.TCN({ h: 6, inputSize: 24, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01 }), 1.0],
  ['NBEATS', () => new models.NBEATS({ h: 6, inputSize: 24, mlpUnits: [[32, 32], [32, 32], [32, 32]], scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.005 }), 1.0],
  ['NBEATSx', () => new models.NBEATSx({ h: 6, inputSize: 24, mlpUnits: [[32, 32], [32, 32], [32, 32]], scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.005 }), 1.0],
  ['NHITS', () => new models.NHITS({ h: 6, inputSize: 24, mlpUnits: [[32, 32], [32, 32], [32, 32]], scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.005 }), 1.0],
  ['VanillaTransformer', () => new models.Transformer({ h: 6, inputSize: 24, hiddenSize: 16, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.005 }), 1.0],
  ['Prophet', () => new models.Prophet({ h: 6, uncertaintySamples: 300 }), 0.5],
]

/** A fresh model of the family `type`. */
const make = (type) => FAMILIES.find(([t]) => t === type)[1]()

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-models-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

function mae(forecast, alias) {
  let sum = 0
  for (let i = 0; i < forecast.unique_id.length; i++) {
    const s = forecast.unique_id[i] === 'a' ? 0 : 1
    sum += Math.abs(forecast[alias][i] - truth(s, 96 + (i % 6)))
  }
  return sum / forecast.unique_id.length
}

describe.each(FAMILIES)('%s', (type, create, limit) => {
  const fitted = (async () => {
    const nf = new NeuralForecaster({ models: [create()], numThreads: 2 })
    await nf.fit(panel)
    return nf
  })()

  test('forecasts the continuation of the sines', async () => {
    const forecast = await (await fitted).predict()
    expect(forecast.unique_id).toEqual([...Array(6).fill('a'), ...Array(6).fill('b')])
    expect(forecast.ds.slice(0, 2)).toEqual(['2008-01-01', '2008-02-01'])
    expect(forecast[type]).toBeInstanceOf(Float64Array)
    expect(mae(forecast, type)).toBeLessThan(limit)
  })

  test('save and load give the same forecast', async () => {
    const nf = await fitted
    const file = path.join(tmp, `${type}.safetensors`)
    await nf.save(file)
    const again = await NeuralForecaster.load(file)
    expect((await again.predict())[type]).toEqual((await nf.predict())[type])
    const copy = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect((await copy.predict({ horizon: 3 }))[type]).toEqual((await nf.predict({ horizon: 3 }))[type])
  })

  test('the same seed gives the same forecast', async () => {
    const other = new NeuralForecaster({ models: [create()], numThreads: 1 })
    await other.fit(panel)
    expect((await other.predict())[type]).toEqual((await (await fitted).predict())[type])
  })
})

describe('prediction intervals', () => {
  test('Prophet gives its own nested intervals at the requested levels', async () => {
    const nf = new NeuralForecaster({ models: [new models.Prophet({ h: 6 })] })
    await nf.fit(panel)
    const f = await nf.predict({ level: [80, 95] })
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', 'Prophet', 'Prophet-lo-95', 'Prophet-lo-80', 'Prophet-hi-80', 'Prophet-hi-95'])
    for (let i = 0; i < 12; i++) {
      expect(f['Prophet-lo-95'][i]).toBeLessThan(f['Prophet-lo-80'][i])
      expect(f['Prophet-lo-80'][i]).toBeLessThan(f.Prophet[i])
      expect(f.Prophet[i]).toBeLessThan(f['Prophet-hi-80'][i])
      expect(f['Prophet-hi-80'][i]).toBeLessThan(f['Prophet-hi-95'][i])
    }
  })

  test('conformal intervals come from fit({ predictionIntervals }) and survive a checkpoint', async () => {
    const nf = new NeuralForecaster({ models: [make('TCN')] })
    await expect(nf.fit(panel, { predictionIntervals: { nWindows: 1 } })).rejects.toThrow(RangeError)
    await nf.fit(panel, { predictionIntervals: { nWindows: 4, stepSize: 2 } })
    const f = await nf.predict({ level: [80] })
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', 'TCN', 'TCN-lo-80', 'TCN-hi-80'])
    for (let i = 0; i < 12; i++) {
      expect(f['TCN-lo-80'][i]).toBeLessThanOrEqual(f.TCN[i])
      expect(f.TCN[i]).toBeLessThanOrEqual(f['TCN-hi-80'][i])
    }
    const again = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect(await again.predict({ level: [80] })).toEqual(f)
    await expect(nf.predict({ level: [120] })).rejects.toThrow(RangeError)
  })

  test('a point model without calibration says how to get intervals', async () => {
    const nf = new NeuralForecaster({ models: [make('MLP')] })
    await nf.fit(panel, { maxSteps: 5 })
    await expect(nf.predict({ level: 80 })).rejects.toThrow(/MLP.*no prediction intervals.*predictionIntervals/)
  })

  test('MQLoss gives a median and interval columns under NeuralForecast names', async () => {
    const gru = new models.GRU({ h: 6, inputSize: 24, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01, loss: { type: 'MQLoss', level: [80] } })
    expect(gru.loss).toEqual({ type: 'MQLoss', level: [80] })
    const nf = new NeuralForecaster({ models: [gru] })
    await nf.fit(panel)
    const f = await nf.predict()
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', 'GRU-median', 'GRU-lo-80', 'GRU-hi-80'])
    expect(mae(f, 'GRU-median')).toBeLessThan(1.2)
    for (let i = 0; i < 12; i++) expect(f['GRU-lo-80'][i]).toBeLessThan(f['GRU-hi-80'][i])
    const window = nf.forecastWindow(panel.y.slice(96 - 24, 96))
    expect(window).toHaveLength(6 * 3) // h × (median, lo, hi)
    expect(window[0]).toBeCloseTo(f['GRU-median'][0], 4)
  })
})

test('crossValidation of several families with intervals, and their coverage', async () => {
  const options = { models: [make('Prophet'), make('MLP')] }
  const cv = await crossValidation(options, panel, { nWindows: 2, stepSize: 6, level: [80], fitOptions: { predictionIntervals: { nWindows: 3 } } })
  expect(Object.keys(cv)).toEqual(['unique_id', 'ds', 'cutoff', 'y', 'Prophet', 'Prophet-lo-80', 'Prophet-hi-80', 'MLP', 'MLP-lo-80', 'MLP-hi-80'])
  expect(cv.y).toHaveLength(2 * 2 * 6)
  const shares = coverage(cv)
  expect(Object.keys(shares)).toEqual(['Prophet', 'MLP'])
  for (const share of [shares.Prophet['80'], shares.MLP['80']]) expect(share).toBeGreaterThanOrEqual(0)
})

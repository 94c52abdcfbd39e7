'use strict'
const { NeuralForecaster, models, crossValidation } = require('..')
const { evaluate } = require('../lib/evaluate.js')

const H = 4
const options = () => ({
  models: [new models.LSTM({ h: H, inputSize: 8, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard', maxSteps: 15 })],
  frequency: 'D',
  numThreads: 1,
  seed: 3,
})

/** Two daily series of different lengths (NeuralForecast aligns windows on each series' end). */
function panel() {
  const data = { unique_id: [], ds: [], y: [] }
  for (const [id, n, start] of [['a', 40, Date.UTC(2021, 0, 1)], ['b', 36, Date.UTC(2021, 0, 10)]]) {
    for (let t = 0; t < n; t++) {
      data.unique_id.push(id)
      data.ds.push(new Date(start + t * 86400000).toISOString().slice(0, 10))
      data.y.push(10 + 3 * Math.sin(t / 2) + (id === 'b' ? 5 : 0) + t * 0.05)
    }
  }
  return data
}

/** Each series of `data` without its last `drop` points. */
function dropLast(data, drop) {
  const count = {}
  for (const id of data.unique_id) count[id] = (count[id] ?? 0) + 1
  const seen = {}
  const out = { unique_id: [], ds: [], y: [] }
  data.unique_id.forEach((id, r) => {
    seen[id] = (seen[id] ?? 0) + 1
    if (seen[id] <= count[id] - drop) {
      out.unique_id.push(id)
      out.ds.push(data.ds[r])
      out.y.push(data.y[r])
    }
  })
  return out
}

describe('crossValidation', () => {
  const data = panel()

  test('refit false: one fit on the data before the first window, each window forecast from its history', async () => {
    const cv = await crossValidation(options(), data, { nWindows: 3, stepSize: 2 })
    expect(Object.keys(cv)).toEqual(['unique_id', 'ds', 'cutoff', 'y', 'LSTM'])
    expect(cv.y).toBeInstanceOf(Float64Array)
    expect(cv.LSTM).toBeInstanceOf(Float64Array)
    expect(cv.unique_id).toHaveLength(2 * 3 * H)
    // series a (40 points, 2021-01-01 … 2021-02-09): test size 4 + 2·2 = 8, cutoffs at points 31, 33, 35
    const a = cv.unique_id.map((id, i) => i).filter((i) => cv.unique_id[i] === 'a')
    expect([...new Set(a.map((i) => cv.cutoff[i]))]).toEqual(['2021-02-01', '2021-02-03', '2021-02-05'])
    expect(a.slice(0, H).map((i) => cv.ds[i])).toEqual(['2021-02-02', '2021-02-03', '2021-02-04', '2021-02-05'])
    expect(a.slice(-H).map((i) => cv.ds[i])).toEqual(['2021-02-06', '2021-02-07', '2021-02-08', '2021-02-09'])
    expect(a.slice(0, H).map((i) => cv.y[i])).toEqual(data.y.slice(32, 36))
    // series b ends on 2021-02-14
    const b = cv.unique_id.map((id, i) => i).filter((i) => cv.unique_id[i] === 'b')
    expect(cv.ds[b[b.length - 1]]).toBe('2021-02-14')
    expect(cv.cutoff[b[0]]).toBe('2021-02-06')

    // the same numbers as doing it by hand: fit on the data before the first window, predict each window
    const nf = new NeuralForecaster(options())
    await nf.fit(dropLast(data, 8))
    const byHand = []
    for (const w of [0, 1, 2]) byHand.push(await nf.predict({ data: dropLast(data, 8 - 2 * w) }))
    // cv rows are by series, then window: series a's window w is rows w*H … w*H+H-1
    for (const w of [0, 1, 2]) {
      const hand = byHand[w]
      const ia = hand.unique_id.map((id, i) => i).filter((i) => hand.unique_id[i] === 'a')
      expect(a.slice(w * H, (w + 1) * H).map((i) => cv.LSTM[i])).toEqual(ia.map((i) => hand.LSTM[i]))
      expect(a.slice(w * H, (w + 1) * H).map((i) => cv.ds[i])).toEqual(ia.map((i) => hand.ds[i]))
    }
  })

  test('refit true: a fresh fit per window; the last window equals a fit on everything before it', async () => {
    const cv = await crossValidation(options(), data, { nWindows: 2, stepSize: H, refit: true })
    expect(cv.unique_id).toHaveLength(2 * 2 * H)
    const nf = new NeuralForecaster(options())
    const history = dropLast(data, H)
    await nf.fit(history)
    const f = await nf.predict()
    const last = cv.unique_id.map((id, i) => i).filter((i) => cv.unique_id[i] === 'b').slice(-H)
    const fb = f.unique_id.map((id, i) => i).filter((i) => f.unique_id[i] === 'b')
    expect(last.map((i) => cv.LSTM[i])).toEqual(fb.map((i) => f.LSTM[i]))
  })

  test('horizon shorter than h, rows and bare arrays, fitOptions per fit', async () => {
    const rows = data.ds.map((ds, i) => ({ unique_id: data.unique_id[i], ds, y: data.y[i] }))
    const calls = []
    const cv = await crossValidation(options(), rows, { nWindows: 1, horizon: 2, fitOptions: (fit, w) => (calls.push([fit, w]), { maxSteps: 5 }) })
    expect(cv.unique_id).toEqual(['a', 'a', 'b', 'b'])
    expect(calls).toEqual([[0, 0]])
    const bare = await crossValidation({ ...options(), frequency: undefined }, Float64Array.from(data.y.slice(0, 40)), { nWindows: 2, stepSize: 1 })
    expect(bare.ds).toEqual([35, 36, 37, 38, 36, 37, 38, 39])
    expect(bare.cutoff).toEqual([34, 34, 34, 34, 35, 35, 35, 35])
  })

  test('a forecaster factory, as a NeuralForecaster method would pass itself', async () => {
    const cv = await crossValidation(() => new NeuralForecaster(options()), data, { horizon: H })
    expect(cv.LSTM).toHaveLength(2 * H)
    await expect(crossValidation(() => new NeuralForecaster(options()), data, {})).rejects.toThrow(/options.horizon is required/)
  })

  test('bad options and too-short series are clear errors', async () => {
    await expect(crossValidation(options(), data, { nWindows: 0 })).rejects.toThrow('crossValidation: nWindows must be an integer >= 1, got 0')
    await expect(crossValidation(options(), data, { horizon: 5 })).rejects.toThrow("horizon 5 is larger than the models' h 4")
    await expect(crossValidation(options(), data, { refit: 'yes' })).rejects.toThrow(/refit/)
    await expect(crossValidation(options(), data, { nWindows: 9, stepSize: 4 })).rejects.toThrow(
      "crossValidation: series 'b' has 36 points; 9 window(s) of horizon 4, 4 apart, need 36 of them plus some history before the first window",
    )
    await expect(crossValidation({ models: [] }, data)).rejects.toThrow(TypeError)
    // library errors say which window they came from
    await expect(crossValidation(options(), data, { nWindows: 8, stepSize: 4 })).rejects.toThrow(/^crossValidation window 1 of 8: /)
  })
})

describe('evaluate', () => {
  test('metrics by hand', () => {
    const result = { unique_id: ['s', 's', 's', 's'], y: [1, 2, 3, 4], M: new Float64Array([1, 3, 3, 2]) }
    const r = evaluate(result, undefined, { train: { unique_id: ['s', 's', 's', 's'], y: [1, 2, 4, 7] } })
    expect(r.metrics).toEqual(['mae', 'mse', 'rmse', 'smape', 'mase'])
    expect(r.models).toEqual(['M'])
    expect(r.overall.mae.M).toBeCloseTo(0.75, 12)
    expect(r.overall.mse.M).toBeCloseTo(1.25, 12)
    expect(r.overall.rmse.M).toBeCloseTo(Math.sqrt(1.25), 12)
    expect(r.overall.smape.M).toBeCloseTo((200 / 5 + 400 / 6) / 4, 12)
    expect(r.overall.mase.M).toBeCloseTo(0.75 / 2, 12) // in-sample naive error (1 + 2 + 3) / 3
    expect(r.perSeries.metric).toEqual(r.metrics)
    expect(Array.from(r.perSeries.M)).toEqual(r.metrics.map((m) => r.overall[m].M))
  })

  test('per series and the mean over series; seasonal MASE; interval columns are not models', () => {
    const result = {
      unique_id: ['a', 'a', 'b', 'b'],
      ds: [1, 2, 1, 2],
      cutoff: [0, 0, 0, 0],
      y: new Float64Array([10, 10, 0, 0]),
      A: new Float64Array([11, 9, 0, 0]),
      B: new Float64Array([10, 10, 2, 2]),
      'A-lo-80': new Float64Array([0, 0, 0, 0]),
      'A-hi-80': new Float64Array([20, 20, 20, 20]),
    }
    const train = { unique_id: ['a', 'a', 'a', 'b', 'b', 'b'], y: [1, 5, 3, 0, 4, 8] }
    const r = evaluate(result, ['mae', 'rmse', 'smape', 'mase'], { train, seasonality: 2 })
    expect(r.models).toEqual(['A', 'B'])
    expect(r.perSeries.unique_id).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'])
    const at = (id, metric, model) => r.perSeries[model][r.perSeries.unique_id.findIndex((u, i) => u === id && r.perSeries.metric[i] === metric)]
    expect(at('a', 'mae', 'A')).toBe(1)
    expect(at('b', 'mae', 'B')).toBe(2)
    expect(at('b', 'smape', 'A')).toBe(0) // y = ŷ = 0 counts 0
    expect(at('b', 'smape', 'B')).toBe(200)
    expect(at('a', 'mase', 'A')).toBeCloseTo(1 / 2, 12) // |3 − 1| over season 2
    expect(at('b', 'mase', 'B')).toBeCloseTo(2 / 8, 12)
    expect(r.overall.mae).toEqual({ A: 0.5, B: 1 })
    expect(r.overall.rmse.B).toBeCloseTo(1, 12)
  })

  test('{ y, forecasts } input and errors', () => {
    const r = evaluate({ y: [1, 2], forecasts: { naive: [1, 1] } }, 'mae,mse')
    expect(r.overall).toEqual({ mae: { naive: 0.5 }, mse: { naive: 0.5 } })
    expect(r.perSeries.unique_id).toEqual(['series', 'series'])
    expect(() => evaluate({ y: [1] }, ['mae'])).toThrow('evaluate: no forecast columns found')
    expect(() => evaluate({ y: [1], M: [1] }, ['mape'])).toThrow('evaluate: unknown metric "mape"; available: mae, mse, rmse, smape, mase')
    expect(() => evaluate({ y: [1], M: [1] }, ['mase'])).toThrow(/mase needs the training data as options.train/)
    expect(() => evaluate({ y: [1, 2], forecasts: { M: [1] } })).toThrow('evaluate: forecast column M has 1 values, y has 2')
    expect(() => evaluate({ unique_id: ['x'], y: [1], M: [1] }, ['mase'], { train: { unique_id: ['z', 'z'], y: [1, 2] } })).toThrow(
      "series 'x' is missing from options.train",
    )
    expect(evaluate({ y: [1, NaN], M: [1, 1] }, ['mae']).overall.mae.M).toBeNaN()
  })

  test('evaluates a cross-validation result end to end', async () => {
    const cv = await crossValidation(options(), panel(), { nWindows: 2, stepSize: H })
    const r = evaluate(cv, undefined, { train: dropLast(panel(), 2 * H), seasonality: 7 })
    for (const m of r.metrics) expect(Number.isFinite(r.overall[m].LSTM)).toBe(true)
    const maeByHand = Array.from(cv.y, (y, i) => Math.abs(y - cv.LSTM[i])).reduce((s, v) => s + v, 0) / cv.y.length
    expect(r.overall.mae.LSTM).toBeCloseTo(maeByHand, 10) // equal-length series: mean of means = overall mean
  })
})

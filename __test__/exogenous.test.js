// Exogenous variables and live updates through the public API: future, historic and static variables are used
// (accuracy drops without them), their errors name the column, series and ds, and update() continues a series
// exactly as giving the whole history would.
const { NeuralForecaster, models } = require('..')

/** A seeded uniform generator in [0, 1) (a small LCG), so the data are the same on every run. */
function random(seed) {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length

/** MAE of a model column against `truth(id, step)` over every row of a forecast. */
function maeOf(forecast, column, truth) {
  const rows = forecast.unique_id.map((id, i) => Math.abs(forecast[column][i] - truth(id, i % 6)))
  return mean(rows)
}

/** Rows `from..to` (exclusive) of every series of long-format columns. */
function slice(data, from, to, length) {
  const out = Object.fromEntries(Object.keys(data).map((k) => [k, []]))
  for (let i = 0; i < data.y.length; i++) {
    const t = i % length
    if (t >= from && t < to) for (const k of Object.keys(data)) out[k].push(data[k][i])
  }
  return out
}

describe('future exogenous variables', () => {
  // y_t = 10 + 3 x_t + a little noise, x_t known in advance: only a model that sees x can forecast y.
  const length = 240
  const next = random(7)
  const all = { unique_id: [], ds: [], y: [], x: [] }
  for (const id of ['a', 'b', 'c']) {
    for (let t = 0; t < length + 6; t++) {
      const x = next()
      all.unique_id.push(id)
      all.ds.push(t)
      all.x.push(x)
      all.y.push(10 + 3 * x + 0.05 * next())
    }
  }
  const train = slice(all, 0, length, length + 6)
  const future = slice(all, length, length + 6, length + 6)
  const truth = (id, k) => future.y[['a', 'b', 'c'].indexOf(id) * 6 + k]
  const futrData = { unique_id: future.unique_id, ds: future.ds, x: future.x }
  const mlp = (extra) => new models.MLP({ h: 6, inputSize: 12, hiddenSize: 32, scalerType: 'standard', maxSteps: 300, windowsBatchSize: 64, learningRate: 0.005, ...extra })

  test('a model with futrExogList forecasts with half the error or less', async () => {
    const withX = new NeuralForecaster({ models: [mlp({ futrExogList: ['x'] })] })
    const without = new NeuralForecaster({ models: [mlp({})] })
    await withX.fit(train)
    await without.fit(train)
    const maeWith = maeOf(await withX.predict({ futrData }), 'MLP', truth)
    const maeWithout = maeOf(await without.predict(), 'MLP', truth)
    expect(maeWith).toBeLessThanOrEqual(0.5 * maeWithout)
    // Rows as well as columns, and extra rows are ignored.
    const rows = future.unique_id.map((id, i) => ({ unique_id: id, ds: future.ds[i], x: future.x[i] }))
    expect(await withX.predict({ futrData: [...rows, { unique_id: 'z', ds: 0, x: 1 }] })).toEqual(await withX.predict({ futrData }))
  })

  // Every family that takes exogenous variables, small and quick.
  const families = [
    ['LSTM', { encoderHiddenSize: 16, decoderHiddenSize: 16 }],
    ['GRU', { encoderHiddenSize: 16, decoderHiddenSize: 16 }],
    ['TCN', { encoderHiddenSize: 16, decoderHiddenSize: 16 }],
    ['NHITS', { mlpUnits: [[32, 32], [32, 32], [32, 32]] }],
    ['NBEATSx', { stackTypes: ['identity', 'exogenous'], nBlocks: [1, 1], mlpUnits: [[32, 32], [32, 32]] }, { stackTypes: ['identity', 'identity'] }],
    ['VanillaTransformer', { hiddenSize: 16, maxSteps: 150 }],
  ]
  test.each(families)('%s uses them too', async (type, architecture, without = {}) => {
    const options = { h: 6, inputSize: 12, scalerType: 'standard', maxSteps: 300, windowsBatchSize: 64, learningRate: 0.005, ...architecture }
    const withX = new NeuralForecaster({ models: [new models[type]({ ...options, futrExogList: ['x'] })] })
    const plain = new NeuralForecaster({ models: [new models[type]({ ...options, ...without })] })
    await withX.fit(train)
    await plain.fit(train)
    expect(maeOf(await withX.predict({ futrData }), type, truth)).toBeLessThanOrEqual(0.5 * maeOf(await plain.predict(), type, truth))
  })

  test('missing future values are errors that name the column, the series and the ds', async () => {
    const nf = new NeuralForecaster({ models: [mlp({ futrExogList: ['x'], maxSteps: 5 })] })
    await nf.fit(train)
    await expect(nf.predict()).rejects.toThrow(/MLP.*future exogenous variables \(x\).*futrData/)
    const short = { unique_id: futrData.unique_id.slice(1), ds: futrData.ds.slice(1), x: futrData.x.slice(1) }
    await expect(nf.predict({ futrData: short })).rejects.toThrow(/futrData has no row for series 'a' at ds 240/)
    await expect(nf.predict({ futrData: { unique_id: ['a'], ds: [240], price: [1] } })).rejects.toThrow(/futrData has no column 'x'/)
    await expect(nf.predict({ futrData: { ...futrData, x: futrData.x.map(() => NaN) } })).rejects.toThrow(RangeError)
    const unknown = new NeuralForecaster({ models: [mlp({ futrExogList: ['price'], maxSteps: 5 })] })
    await expect(unknown.fit(train)).rejects.toThrow(/futrExogList column 'price' is not in the temporal data \(its temporal columns: x\)/)
  })
})

describe('historic exogenous variables', () => {
  // y_t = 5 + 2 z_{t-1} + noise: the last z of the window says where y goes next.
  const length = 300
  const next = random(11)
  const data = { unique_id: [], ds: [], y: [], z: [] }
  for (const id of ['a', 'b']) {
    let previous = next()
    for (let t = 0; t < length; t++) {
      const z = next()
      data.unique_id.push(id)
      data.ds.push(t)
      data.y.push(5 + 2 * previous + 0.05 * next())
      data.z.push(z)
      previous = z
    }
  }

  test('permuting the historic variable makes the forecasts worse', async () => {
    const model = new models.MLP({ h: 1, inputSize: 8, hiddenSize: 32, maxSteps: 300, windowsBatchSize: 64, learningRate: 0.005, histExogList: ['z'] })
    const nf = new NeuralForecaster({ models: [model] })
    await nf.fit(data)
    // Forecast each of the last 40 points from the history before it, with z as it was and shuffled.
    const errors = { kept: [], permuted: [] }
    const shuffle = random(3)
    for (let cut = length - 40; cut < length; cut++) {
      const history = slice(data, 0, cut, length)
      const permuted = { ...history, z: [...history.z].sort(() => shuffle() - 0.5) }
      for (const [kind, input] of [['kept', history], ['permuted', permuted]]) {
        const f = await nf.predict({ data: input })
        f.unique_id.forEach((id, i) => errors[kind].push(Math.abs(f.MLP[i] - data.y[(id === 'a' ? 0 : length) + cut])))
      }
    }
    expect(mean(errors.kept)).toBeLessThan(0.5 * mean(errors.permuted))
  })
})

describe('static exogenous variables', () => {
  // Each series drifts by its own static `drift` per step; with a 2-point window only the static value tells it.
  const length = 120
  const next = random(5)
  const drifts = { a: 1, b: -1, c: 0.5, d: -0.5 }
  const data = { unique_id: [], ds: [], y: [] }
  for (const [id, drift] of Object.entries(drifts)) {
    for (let t = 0; t < length; t++) {
      data.unique_id.push(id)
      data.ds.push(t)
      data.y.push(drift * t + 2 * (next() - 0.5))
    }
  }
  const staticData = { unique_id: Object.keys(drifts), drift: Object.values(drifts) }
  const truth = (id, k) => drifts[id] * (length + k)

  test('permuting the static variable makes the forecasts worse', async () => {
    const model = new models.MLP({ h: 6, inputSize: 2, hiddenSize: 32, maxSteps: 400, windowsBatchSize: 64, learningRate: 0.005, statExogList: ['drift'] })
    const nf = new NeuralForecaster({ models: [model] })
    await nf.fit(data, { staticData })
    const kept = maeOf(await nf.predict({ data, staticData }), 'MLP', truth)
    const permuted = { unique_id: staticData.unique_id, drift: [-1, 1, -0.5, 0.5] }
    const swapped = maeOf(await nf.predict({ data, staticData: permuted }), 'MLP', truth)
    expect(kept).toBeLessThan(0.5 * swapped)
    expect((await nf.predict()).MLP).toEqual((await nf.predict({ data, staticData })).MLP)
    await expect(nf.fit(data, { staticData: { unique_id: ['a', 'b'], drift: [1, -1] } })).rejects.toThrow(/static data has no row for series 'c'/)
  })
})

describe('live updates', () => {
  const length = 120
  const series = (t, s) => 20 + s + 3 * Math.sin((2 * Math.PI * t) / 12 + s) + 0.02 * t
  const full = { unique_id: [], ds: [], y: [] }
  for (const [s, id] of ['a', 'b'].entries()) {
    for (let t = 0; t < length; t++) {
      full.unique_id.push(id)
      full.ds.push(t)
      full.y.push(series(t, s))
    }
  }
  const cut = length - 10
  const history = slice(full, 0, cut, length)
  const gru = () => new models.GRU({ h: 6, inputSize: 24, encoderHiddenSize: 16, decoderHiddenSize: 16, scalerType: 'standard', maxSteps: 60, windowsBatchSize: 32 })
  let nf
  beforeAll(async () => {
    nf = new NeuralForecaster({ models: [gru()] })
    await nf.fit(history)
  })

  test('bar by bar, update() then forecastSeries() equals a forecast from the whole history', async () => {
    const saved = await nf.toBuffer()
    const loaded = await NeuralForecaster.fromBuffer(saved)
    for (let t = cut; t < length; t++) {
      const bar = { unique_id: ['a', 'b'], ds: [t, t], y: [series(t, 0), series(t, 1)] }
      nf.update(bar)
      loaded.update(bar)
    }
    const fromHistory = await nf.predict({ data: full })
    const updated = nf.forecastSeries(['a', 'b'])
    expect(updated.ds).toEqual(fromHistory.ds)
    expect(updated.GRU).toEqual(fromHistory.GRU)
    expect((await nf.predict()).GRU).toEqual(fromHistory.GRU)
    // save → load → update → predict matches the twin that was never saved.
    expect((await loaded.predict()).GRU).toEqual(fromHistory.GRU)
    expect(nf.forecastSeries('b').GRU).toEqual(fromHistory.GRU.slice(6))
  })

  test('bad updates are refused and change nothing', async () => {
    const before = (await nf.predict()).GRU
    const next = (await nf.predict()).ds[0]
    expect(() => nf.update({ unique_id: ['a'], ds: [next + 1], y: [1] })).toThrow(/series 'a' continues at \d+ after its last ds \d+, but the new rows start at \d+/)
    expect(() => nf.update({ unique_id: ['a', 'z'], ds: [next, 0], y: [1, 1] })).toThrow(/series 'z' was not fitted/)
    expect(() => nf.update({ unique_id: ['a'], ds: [next], y: [NaN] })).toThrow(RangeError)
    expect((await nf.predict()).GRU).toEqual(before)
    expect(() => nf.forecastSeries('nope')).toThrow(/series 'nope' was not fitted/)
    expect(() => new NeuralForecaster({ models: [gru()] }).update(history)).toThrow(/not fitted/)
  })

  test('fit({ warmStart: false }) starts again from the seeded weights; the default continues', async () => {
    const fresh = new NeuralForecaster({ models: [gru()] })
    await fresh.fit(history)
    const first = (await fresh.predict()).GRU
    await fresh.fit(history, { maxSteps: 60 })
    const continued = (await fresh.predict()).GRU
    expect(continued).not.toEqual(first)
    await fresh.fit(history, { warmStart: false })
    expect((await fresh.predict()).GRU).toEqual(first)
  })
})

describe('calendar features and the future frame', () => {
  const { calendarFeatures } = require('..')

  test('Fourier and one-hot terms of dates', () => {
    const f = calendarFeatures(['2024-01-01', '2024-04-01', new Date(Date.UTC(2024, 6, 1))], { features: ['month', 'quarter'], harmonics: 2 })
    expect(Object.keys(f)).toEqual(['month_sin1', 'month_cos1', 'month_sin2', 'month_cos2', 'quarter_sin1', 'quarter_cos1', 'quarter_sin2', 'quarter_cos2'])
    expect(Array.from(f.month_sin1)).toEqual([0, Math.sin((2 * Math.PI * 3) / 12), Math.sin((2 * Math.PI * 6) / 12)])
    expect(f.quarter_cos1[2]).toBeCloseTo(-1, 12)
    const onehot = calendarFeatures(['2024-03-04 10:00', '2024-03-10'], { features: ['dayofweek'], encoding: 'onehot' })
    expect(Array.from(onehot.dayofweek_0)).toEqual([1, 0]) // a Monday
    expect(Array.from(onehot.dayofweek_6)).toEqual([0, 1]) // a Sunday
    expect(() => calendarFeatures([3], {})).toThrow(TypeError)
    expect(() => calendarFeatures(['2024-01-01'], { features: ['fortnight'] })).toThrow(/unknown feature "fortnight"/)
  })

  test('a model with calendar features as future variables, fed through futureFrame()', async () => {
    // Daily data with a weekday effect only the calendar explains (no trend, no noise).
    const ds = Array.from({ length: 120 }, (_, t) => new Date(Date.UTC(2024, 0, 1 + t)).toISOString().slice(0, 10))
    const weekday = calendarFeatures(ds, { features: ['dayofweek'], encoding: 'onehot' })
    const data = { unique_id: ds.map(() => 'shop'), ds, y: ds.map((_, t) => (weekday.dayofweek_5[t] || weekday.dayofweek_6[t] ? 20 : 10)), ...weekday }
    const futrExogList = Object.keys(weekday)
    const nf = new NeuralForecaster({ models: [new models.MLP({ h: 7, inputSize: 14, hiddenSize: 32, maxSteps: 300, windowsBatchSize: 32, learningRate: 0.01, futrExogList })] })
    await nf.fit(data)
    const frame = nf.futureFrame()
    expect(frame.ds).toEqual(['2024-04-30', '2024-05-01', '2024-05-02', '2024-05-03', '2024-05-04', '2024-05-05', '2024-05-06'])
    const f = await nf.predict({ futrData: { ...frame, ...calendarFeatures(frame.ds, { features: ['dayofweek'], encoding: 'onehot' }) } })
    const expected = [10, 10, 10, 10, 20, 20, 10]
    expect(mean(Array.from(f.MLP, (v, i) => Math.abs(v - expected[i])))).toBeLessThan(1)
  })
})

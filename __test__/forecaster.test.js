// NeuralForecaster through the public API, as users call it.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { NeuralForecaster, models } = require('..')
const { tensors } = require('./checkpoint_tensors.js')

const AIR_PASSENGERS = path.join(__dirname, 'fixtures', 'air_passengers.csv')

/** Reads a long-format CSV (unique_id,ds,y; no quoting in these files) into columns. */
function readLongCsv(file) {
  const [header, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n')
  expect(header.trim()).toBe('unique_id,ds,y')
  const rows = lines.map((line) => line.trim().split(','))
  return { unique_id: rows.map((r) => r[0]), ds: rows.map((r) => r[1]), y: rows.map((r) => Number(r[2])) }
}

function slice(columns, start, end) {
  return { unique_id: columns.unique_id.slice(start, end), ds: columns.ds.slice(start, end), y: columns.y.slice(start, end) }
}

const air = readLongCsv(AIR_PASSENGERS)
const airTrain = slice(air, 0, 132)
const airTest = air.y.slice(132)

/** The baselines' configuration (../shared/reference/baselines.md). */
function referenceModel(type, extra = {}) {
  return new models[type]({
    h: 12,
    inputSize: 24,
    encoderNLayers: 2,
    encoderHiddenSize: 64,
    decoderHiddenSize: 64,
    decoderLayers: 2,
    scalerType: 'standard',
    learningRate: 1e-3,
    maxSteps: 200,
    windowsBatchSize: 32,
    randomSeed: 1,
    ...extra,
  })
}

const mae = (forecast, actual) => forecast.reduce((s, f, i) => s + Math.abs(f - actual[i]), 0) / actual.length

const { sinePanel } = require('./sine_panel.js')

function smallModel(type = 'LSTM', extra = {}) {
  return new models[type]({ h: 6, inputSize: 12, encoderHiddenSize: 16, decoderHiddenSize: 16, maxSteps: 20, ...extra })
}

describe('models', () => {
  test('model classes hold NeuralForecast defaults and the parameter names of the options', () => {
    const lstm = new models.LSTM({ h: 12 })
    expect(lstm).toMatchObject({ type: 'LSTM', alias: 'LSTM', h: 12, inputSize: 36, encoderNLayers: 2 })
    const gru = new models.GRU({ h: 4, inputSize: 8, alias: 'fast' })
    expect(gru).toMatchObject({ type: 'GRU', alias: 'fast', h: 4, inputSize: 8 })
  })
})

describe('AirPassengers at the baselines configuration', () => {
  test.each(['LSTM', 'GRU'])('%s: seeded fit and 12-month forecast has MAE < 30', async (type) => {
    const nf = new NeuralForecaster({ models: [referenceModel(type)], frequency: 'MS' })
    const report = await nf.fit(airTrain)
    expect(report.models[0].steps).toBe(200)
    const forecast = await nf.predict()
    expect(forecast.unique_id).toEqual(Array(12).fill('AirPassengers'))
    expect(forecast.ds[0]).toBe('1960-01-01')
    expect(forecast.ds[11]).toBe('1960-12-01')
    const error = mae(Array.from(forecast[type]), airTest)
    expect(error).toBeLessThan(30) // seasonal naive: 47.83
  })

  test('numThreads 1 and 2 give bit-identical weights and forecasts', async () => {
    const fitWith = async (numThreads) => {
      const nf = new NeuralForecaster({ models: [referenceModel('LSTM', { maxSteps: 20 })], numThreads })
      await nf.fit(airTrain)
      return { forecast: await nf.predict(), weights: tensors(await nf.toBuffer()) }
    }
    const one = await fitWith(1)
    const two = await fitWith(2)
    expect(Buffer.from(two.forecast.LSTM.buffer)).toEqual(Buffer.from(one.forecast.LSTM.buffer))
    expect(Object.keys(two.weights)).toEqual(Object.keys(one.weights))
    for (const name of Object.keys(one.weights)) expect(two.weights[name].equals(one.weights[name])).toBe(true)
  })
})

describe('fit and predict', () => {
  test('fit runs off the JS thread: a timer keeps firing while it trains', async () => {
    const nf = new NeuralForecaster({ models: [referenceModel('LSTM', { maxSteps: 100 })] })
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const started = Date.now()
    await nf.fit(airTrain)
    clearInterval(timer)
    const elapsed = Date.now() - started
    // A blocked event loop would leave ticks at 0 or 1.
    expect(ticks).toBeGreaterThan(Math.min(5, elapsed / 20))
  })

  test('onProgress reports steps and losses; the report has the loss curve', async () => {
    const events = []
    const nf = new NeuralForecaster({ models: [smallModel('GRU', { maxSteps: 30 })] })
    const report = await nf.fit(sinePanel(), { onProgress: (p) => events.push(p) })
    expect(events.length).toBeGreaterThan(0)
    const last = events[events.length - 1]
    expect(last).toMatchObject({ model: 0, alias: 'GRU', step: 30, maxSteps: 30 })
    expect(Number.isFinite(last.trainLoss)).toBe(true)
    expect(report.models[0].trainLoss).toHaveLength(30)
    expect(report.aborted).toBe(false)
  })

  test('forecastWindow on the last window equals predict', async () => {
    const data = sinePanel(1)
    const nf = new NeuralForecaster({ models: [smallModel()] })
    await nf.fit(data)
    const forecast = await nf.predict()
    const window = data.y.slice(-12)
    const single = nf.forecastWindow(window)
    expect(single).toBeInstanceOf(Float64Array)
    expect(Array.from(single)).toEqual(Array.from(forecast.LSTM))
  })

  test('forecastWindows forecasts many windows at once, as forecastWindow does one by one', async () => {
    const nf = new NeuralForecaster({ models: [smallModel(), smallModel('GRU')] })
    await nf.fit(sinePanel(2))
    const windows = Float64Array.from({ length: 5 * 12 }, (_, i) => 10 + Math.sin(i / 3) * (1 + Math.floor(i / 12)))
    const batch = await nf.forecastWindows(windows, { model: 'GRU' })
    expect(batch).toBeInstanceOf(Float64Array)
    expect(batch).toHaveLength(5 * 6)
    for (let w = 0; w < 5; w++) {
      const single = nf.forecastWindow(windows.subarray(w * 12, (w + 1) * 12), { model: 'GRU' })
      single.forEach((v, k) => expect(batch[w * 6 + k]).toBeCloseTo(v, 5))
    }
    await expect(nf.forecastWindows(windows.subarray(0, 13))).rejects.toThrow(/whole number of windows/)
    await expect(nf.forecastWindows([1, 2, NaN, ...new Array(9).fill(1)])).rejects.toThrow(RangeError)
  })

  test('epochs trains whole passes over the series instead of maxSteps', async () => {
    const nf = new NeuralForecaster({ models: [smallModel()] })
    // 5 series, 2 a step: 3 steps an epoch, whatever the windows a step.
    const report = await nf.fit(sinePanel(5), { epochs: 2, batchSize: 2, windowsBatchSize: 32 })
    expect(report.models[0].steps).toBe(6)
    await expect(nf.fit(sinePanel(2), { epochs: 2, maxSteps: 5 })).rejects.toThrow(/maxSteps or epochs/)
  })

  test('predict with new data forecasts from that history without refitting', async () => {
    const nf = new NeuralForecaster({ models: [smallModel()] })
    await nf.fit(sinePanel(2))
    const shifted = sinePanel(3, 60)
    const forecast = await nf.predict({ data: shifted })
    expect(forecast.unique_id).toHaveLength(3 * 6)
    expect(forecast.ds.slice(0, 6)).toEqual([60, 61, 62, 63, 64, 65])
    const last = await nf.predict({ data: shifted, horizon: 3 })
    expect(last.unique_id).toHaveLength(3 * 3)
  })

  test('an AbortSignal stops fit; the forecaster stays unfitted', async () => {
    const nf = new NeuralForecaster({ models: [referenceModel('LSTM', { maxSteps: 100000 })] })
    const controller = new AbortController()
    const fit = nf.fit(airTrain, { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await expect(fit).rejects.toMatchObject({ name: 'AbortError' })
    expect(nf.isFitted).toBe(false)
    await expect(nf.predict()).rejects.toThrow(/fit/)
  })

  test('predict while fit runs is rejected with a clear error', async () => {
    const nf = new NeuralForecaster({ models: [smallModel('LSTM', { maxSteps: 200 })] })
    const fit = nf.fit(sinePanel())
    expect(() => nf.forecastWindow(new Array(12).fill(1))).toThrow(/while fit\(\) is running/)
    await expect(nf.predict()).rejects.toThrow(/while fit\(\) is running/)
    await fit
    await expect(nf.predict()).resolves.toHaveProperty('LSTM')
  })
})

describe('checkpoints', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-test-'))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  test('save → load → predict gives identical numbers; toBuffer → fromBuffer too', async () => {
    const nf = new NeuralForecaster({ models: [smallModel('LSTM'), smallModel('GRU')], frequency: '1' })
    await nf.fit(sinePanel())
    const before = await nf.predict()
    const file = path.join(dir, 'model.safetensors')
    await nf.save(file)
    const loaded = await NeuralForecaster.load(file)
    expect(loaded.isFitted).toBe(true)
    const after = await loaded.predict()
    expect(after).toEqual(before)
    const fromBytes = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect(await fromBytes.predict()).toEqual(before)
    expect(fromBytes.forecastWindow(new Array(12).fill(10), { model: 'GRU' })).toEqual(
      nf.forecastWindow(new Array(12).fill(10), { model: 'GRU' }),
    )
  })

  test('load and fromBuffer with { numThreads }: the saved thread count replaced, forecasts identical', async () => {
    const nf = new NeuralForecaster({ models: [smallModel('LSTM')], frequency: '1', numThreads: 2 })
    await nf.fit(sinePanel(40))
    const before = await nf.predict()
    const bytes = await nf.toBuffer()
    const file = path.join(dir, 'threads.safetensors')
    await nf.save(file)
    for (const loaded of [await NeuralForecaster.fromBuffer(bytes, { numThreads: 1 }), await NeuralForecaster.load(file, { numThreads: 3 })]) {
      expect(await loaded.predict()).toEqual(before)
    }
    await expect(NeuralForecaster.fromBuffer(bytes, { numThreads: 0 })).rejects.toThrow(RangeError)
    await expect(NeuralForecaster.fromBuffer(bytes, { numThreads: 0 })).rejects.toThrow(/options\.numThreads must be an integer between 1 and 1024, got 0/)
    await expect(NeuralForecaster.load(file, { threads: 2 })).rejects.toThrow(TypeError)
  })

  test('truncated, random and missing files give clear errors', async () => {
    const nf = new NeuralForecaster({ models: [smallModel()] })
    await nf.fit(sinePanel())
    const bytes = await nf.toBuffer()
    const truncated = path.join(dir, 'truncated.safetensors')
    fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 100))
    await expect(NeuralForecaster.load(truncated)).rejects.toThrow(/checkpoint/i)
    await expect(NeuralForecaster.fromBuffer(Buffer.from('not a checkpoint at all'))).rejects.toThrow(/checkpoint/i)
    await expect(NeuralForecaster.load(path.join(dir, 'missing.safetensors'))).rejects.toThrow(/missing\.safetensors/)
  })
})

describe('bad input gives a typed error naming the problem', () => {
  const cases = [
    ['no options', () => new NeuralForecaster(), TypeError, /options/],
    ['unknown option key', () => new NeuralForecaster({ models: [smallModel()], epochz: 3 }), TypeError, /epochz.*models/],
    ['empty models', () => new NeuralForecaster({ models: [] }), RangeError, /models/],
    ['unknown model type', () => new NeuralForecaster({ models: [{ type: 'Prophecy', h: 3 }] }), RangeError, /Prophecy.*LSTM/],
    ['horizon 0', () => new models.LSTM({ h: 0 }), RangeError, /\bh\b/],
    ['huge inputSize', () => new models.GRU({ h: 3, inputSize: 1e9 }), RangeError, /inputSize/],
    ['huge hidden size', () => new models.LSTM({ h: 12, encoderHiddenSize: 1e6 }), RangeError, /parameters.*encoderHiddenSize/],
    ['huge decoder depth', () => new models.GRU({ h: 12, decoderLayers: 1e6 }), RangeError, /parameters.*decoderLayers/],
    ['huge horizon and input', () => new models.LSTM({ h: 1e6, inputSize: 1e6 }), RangeError, /activations.*inputSize/],
    ['huge batch', () => new models.LSTM({ h: 12, windowsBatchSize: 1e6 }), RangeError, /windowsBatchSize/],
    ['fractional hidden size', () => new models.LSTM({ h: 3, encoderHiddenSize: 1.5 }), RangeError, /encoderHiddenSize/],
    ['non-finite learning rate', () => new models.LSTM({ h: 3, learningRate: NaN }), RangeError, /learningRate/],
    ['unknown model option', () => new models.LSTM({ h: 3, hiddenSize: 8 }), TypeError, /hiddenSize/],
    ['unknown scaler', () => new models.LSTM({ h: 3, scalerType: 'zscore' }), RangeError, /scalerType/],
    ['MQLoss quantile out of range', () => new models.LSTM({ h: 3, loss: { type: 'MQLoss', quantiles: [0.5, 1.5] } }), RangeError, /quantile/],
    ['numThreads 0', () => new NeuralForecaster({ models: [smallModel()], numThreads: 0 }), RangeError, /numThreads/],
    ['bad frequency', () => new NeuralForecaster({ models: [smallModel()], frequency: 'fortnightly' }), RangeError, /frequency/],
    ['cuda backend', () => new NeuralForecaster({ models: [smallModel()], backend: 'cuda' }), Error, /cuda/],
  ]
  test.each(cases)('%s', (_name, call, ErrorType, message) => {
    expect(call).toThrow(ErrorType)
    expect(call).toThrow(message)
  })

  const nf = new NeuralForecaster({ models: [smallModel()] })
  const good = sinePanel()
  const fitCases = [
    ['NaN in y', { ...good, y: good.y.map((v, i) => (i === 5 ? NaN : v)) }, RangeError, /series 's0'.*NaN.*row 5/],
    ['unsorted ds', { ...good, ds: good.ds.map((d, i) => (i === 3 ? 1 : d)) }, RangeError, /s0.*row 3/],
    ['duplicate ds', { ...good, ds: good.ds.map((d, i) => (i === 4 ? 3 : d)) }, RangeError, /duplicate/],
    ['columns of different lengths', { ...good, y: good.y.slice(1) }, RangeError, /length|rows/],
    ['series too short', sinePanel(1, 10), RangeError, /series 's0' has 10 rows/],
    ['mixed ds types', { ...good, ds: good.ds.map((d, i) => (i === 2 ? '2020-01-01' : d)) }, TypeError, /row 2/],
    ['a string for data', 'abc', TypeError, /data/],
    ['a non-numeric y', { ...good, y: good.y.map((v, i) => (i === 7 ? 'x' : v)) }, TypeError, /data\.y\[7\]/],
  ]
  test.each(fitCases)('fit: %s', async (_name, data, ErrorType, message) => {
    const fit = nf.fit(data)
    await expect(fit).rejects.toThrow(ErrorType)
    await expect(nf.fit(data)).rejects.toThrow(message)
  })

  test('fit options are checked', async () => {
    await expect(nf.fit(good, { maxSteps: -1 })).rejects.toThrow(RangeError)
    await expect(nf.fit(good, { steps: 3 })).rejects.toThrow(/steps.*maxSteps/)
    await expect(nf.fit(good, { onProgress: 3 })).rejects.toThrow(TypeError)
    await expect(nf.fit(good, { windowsBatchSize: 1e6 })).rejects.toThrow(/windowsBatchSize must be at most 65536/)
  })

  test('predict before fit is an error, and the forecaster is still usable after all the bad calls', async () => {
    await expect(new NeuralForecaster({ models: [smallModel()] }).predict()).rejects.toThrow(/fit/)
    await nf.fit(good)
    expect((await nf.predict()).LSTM).toHaveLength(2 * 6)
  })
})

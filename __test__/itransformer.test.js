// NeuralForecast's iTransformer through the public API: a multivariate model (all series of a window are its
// tokens) trained and forecast jointly, as __test__/multivariate.test.js checks TSMixer.
const { NeuralForecaster, models, crossValidation } = require('..')
const { sinePanel } = require('./sine_panel.js')

const panel = sinePanel(3, 60)
const small = { h: 4, inputSize: 8, nSeries: 3, hiddenSize: 8, nHeads: 2, dFf: 16, maxSteps: 40, windowsBatchSize: 8 }
const itransformer = (options = {}) => new models.iTransformer({ ...small, ...options })

async function fitted(options = {}, numThreads = 2) {
  const nf = new NeuralForecaster({ models: [itransformer(options)], numThreads })
  const report = await nf.fit(panel)
  return { nf, report }
}

/** The last `inputSize` values of each series, series after series: a multivariate window. */
const lastWindow = (data, inputSize) =>
  Float64Array.from(['s0', 's1', 's2'].flatMap((id) => data.y.filter((_, i) => data.unique_id[i] === id).slice(-inputSize)))

test('iTransformer defaults follow NeuralForecast; nSeries is required, historic/static lists and unused options refused', () => {
  const m = new models.iTransformer({ h: 12, inputSize: 24, nSeries: 20 })
  expect([m.hiddenSize, m.nHeads, m.eLayers, m.dLayers, m.dFf, m.factor, m.dropout, m.useNorm]).toEqual([512, 8, 2, 1, 2048, 1, 0.1, true])
  expect([m.windowsBatchSize, m.inferenceWindowsBatchSize, m.scalerType, m.learningRate, m.maxSteps]).toEqual([32, 32, 'identity', 1e-3, 1000])
  expect(() => new models.iTransformer({ h: 12, inputSize: 24 })).toThrow(/nSeries is missing: iTransformer is multivariate/)
  expect(() => new models.iTransformer({ ...small, dLayers: 2 })).toThrow(/dLayers is accepted as 1 only/)
  expect(() => new NeuralForecaster({ models: [itransformer({ histExogList: ['x'] })] })).toThrow(/iTransformer takes future exogenous variables only; remove histExogList/)
  expect(() => new NeuralForecaster({ models: [itransformer({ statExogList: ['x'] })] })).toThrow(/remove statExogList/)
})

test('future exogenous variables are tokens of their own: they change the forecast, read from predict({ futrData })', async () => {
  // The sine panel with x, a known cosine per series; futrData holds the horizon's rows of x.
  const xAt = (s, t) => Math.cos((2 * Math.PI * t) / 12 + s)
  const history = { ...panel, x: panel.ds.map((t, i) => xAt(Number(panel.unique_id[i].slice(1)), t)) }
  const future = { unique_id: [], ds: [], x: [] }
  for (let s = 0; s < 3; s++) {
    for (let t = 60; t < 64; t++) {
      future.unique_id.push(`s${s}`)
      future.ds.push(t)
      future.x.push(xAt(s, t))
    }
  }
  const run = async (numThreads) => {
    const nf = new NeuralForecaster({ models: [itransformer({ futrExogList: ['x'] })], numThreads })
    const report = await nf.fit(history)
    return { nf, report, forecast: await nf.predict({ futrData: future }) }
  }
  const one = await run(1)
  const two = await run(2)
  expect(two.report.models[0].trainLoss).toEqual(one.report.models[0].trainLoss)
  expect(two.forecast.iTransformer).toEqual(one.forecast.iTransformer)
  // The 1,324 parameters without x, and futr_embedding (inputSize + h = 12 → 8): 12·8 + 8.
  expect(one.report.models[0].parameters).toBe(1324 + 104)
  expect(one.forecast.iTransformer.every(Number.isFinite)).toBe(true)
  const without = await fitted()
  expect(one.forecast.iTransformer).not.toEqual((await without.nf.predict()).iTransformer)
  const moved = await one.nf.predict({ futrData: { ...future, x: future.x.map((v) => v + 3) } })
  expect(moved.iTransformer).not.toEqual(one.forecast.iTransformer)
  await expect(one.nf.predict()).rejects.toThrow(/future exogenous variables \(x\)/)
})

test('fits every series jointly with the same bits on 1 and 2 threads', async () => {
  const one = await fitted({}, 1)
  const two = await fitted({}, 2)
  expect(two.report.models[0].trainLoss).toEqual(one.report.models[0].trainLoss)
  // Embedding 8·8 + 8; two layers of attention 4·(8·8 + 8), convolutions 8·16 + 16 + 16·8 + 8, norms 2·16;
  // the final norm 16; the projector 8·4 + 4.
  expect(two.report.models[0].parameters).toBe(1324)
  const [f1, f2] = [await one.nf.predict(), await two.nf.predict()]
  expect(f2.iTransformer).toEqual(f1.iTransformer)
  expect(f1.unique_id).toEqual(['s0', 's0', 's0', 's0', 's1', 's1', 's1', 's1', 's2', 's2', 's2', 's2'])
  const truth = (s, t) => 10 + s + Math.sin((2 * Math.PI * t) / 12 + s)
  const mae = f1.iTransformer.reduce((sum, v, i) => sum + Math.abs(v - truth(Math.floor(i / 4), 60 + (i % 4))), 0) / 12
  expect(mae).toBeLessThan(1.5)
})

test('a window is every series at once: forecastWindow equals predict, forecastSeries keeps the asked rows', async () => {
  const { nf } = await fitted()
  const forecast = await nf.predict()
  const window = lastWindow(panel, 8)
  expect(Array.from(nf.forecastWindow(window))).toEqual(Array.from(forecast.iTransformer))
  const twice = await nf.forecastWindows(Float64Array.from([...window, ...window]))
  expect(Array.from(twice)).toEqual([...forecast.iTransformer, ...forecast.iTransformer])
  expect(() => nf.forecastWindow(window.slice(0, 8))).toThrow(/nSeries × inputSize = 3 × 8 = 24 values/)
  expect(Array.from(nf.forecastSeries('s1').iTransformer)).toEqual(Array.from(forecast.iTransformer.slice(4, 8)))
})

test('the series count is checked, naming nSeries; update extends every series', async () => {
  await expect(new NeuralForecaster({ models: [itransformer({ nSeries: 4 })] }).fit(panel)).rejects.toThrow(/nSeries = 4, but the data has 3 series/)
  const { nf } = await fitted({ maxSteps: 2 })
  expect(() => nf.update({ unique_id: ['s0'], ds: [60], y: [1] })).toThrow(/has 1 series/)
  nf.update({ unique_id: ['s0', 's1', 's2'], ds: [60, 60, 60], y: [10, 11, 12] })
  expect((await nf.predict()).ds[0]).toBe(61)
})

test('MQLoss, conformal intervals, cross-validation and checkpoints', async () => {
  const { nf } = await fitted({ loss: { type: 'MQLoss', level: [80] }, maxSteps: 10 })
  expect(Object.keys(await nf.predict())).toEqual(['unique_id', 'ds', 'iTransformer-median', 'iTransformer-lo-80', 'iTransformer-hi-80'])
  const conformal = new NeuralForecaster({ models: [itransformer({ maxSteps: 10 })] })
  await conformal.fit(panel, { predictionIntervals: { nWindows: 2 } })
  const intervals = await conformal.predict({ level: [80] })
  intervals.iTransformer.forEach((v, i) => {
    expect(intervals['iTransformer-lo-80'][i]).toBeLessThanOrEqual(v)
    expect(intervals['iTransformer-hi-80'][i]).toBeGreaterThanOrEqual(v)
  })
  const cv = await crossValidation({ models: [itransformer({ maxSteps: 10 })] }, panel, { nWindows: 2, stepSize: 4 })
  expect(cv.y.length).toBe(3 * 2 * 4)
  expect(cv.iTransformer.every(Number.isFinite)).toBe(true)
  const copy = await NeuralForecaster.fromBuffer(await conformal.toBuffer())
  expect((await copy.predict()).iTransformer).toEqual((await conformal.predict()).iTransformer)
})

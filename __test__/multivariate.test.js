// The multivariate models (NeuralForecast's MULTIVARIATE, `nSeries`) through the public API, as users call them:
// all series trained and forecast jointly, a window being every series at once.
const { NeuralForecaster, models, crossValidation } = require('..')
const { sinePanel } = require('./sine_panel.js')

const panel = sinePanel(3, 60)
const tsmixer = (options = {}) => new models.TSMixer({ h: 4, inputSize: 8, nSeries: 3, ffDim: 8, dropout: 0.2, maxSteps: 40, windowsBatchSize: 8, ...options })

async function fitted(options = {}, numThreads = 2) {
  const nf = new NeuralForecaster({ models: [tsmixer(options)], numThreads })
  const report = await nf.fit(panel)
  return { nf, report }
}

/** The last `inputSize` values of each series, series after series: a multivariate window. */
const lastWindow = (data, inputSize) =>
  Float64Array.from(['s0', 's1', 's2'].flatMap((id) => data.y.filter((_, i) => data.unique_id[i] === id).slice(-inputSize)))

test('TSMixer defaults follow NeuralForecast and nSeries is required', () => {
  const m = new models.TSMixer({ h: 12, inputSize: 24, nSeries: 20 })
  expect([m.nBlock, m.ffDim, m.dropout, m.revin, m.windowsBatchSize, m.inferenceWindowsBatchSize, m.scalerType]).toEqual([2, 64, 0.9, true, 32, 32, 'identity'])
  expect(() => new models.TSMixer({ h: 12, inputSize: 24 })).toThrow(/nSeries is missing: TSMixer is multivariate/)
  expect(() => new NeuralForecaster({ models: [new models.TSMixer({ h: 4, inputSize: 8, nSeries: 3, histExogList: ['x'] })] })).toThrow(/TSMixer takes no exogenous variables/)
})

test('fits every series jointly with the same bits on 1 and 2 threads', async () => {
  const one = await fitted({}, 1)
  const two = await fitted({}, 2)
  expect(two.report.models[0].trainLoss).toEqual(one.report.models[0].trainLoss)
  // RevIN 2·3, two mixing layers of 2·24 + 72 + 2·24 + 32 + 27, the projection 8·4 + 4 (buffers not counted).
  expect(two.report.models[0].parameters).toBe(496)
  const [f1, f2] = [await one.nf.predict(), await two.nf.predict()]
  expect(f2.TSMixer).toEqual(f1.TSMixer)
  expect(f1.unique_id).toEqual(['s0', 's0', 's0', 's0', 's1', 's1', 's1', 's1', 's2', 's2', 's2', 's2'])
  // The forecasts follow the sines.
  const truth = (s, t) => 10 + s + Math.sin((2 * Math.PI * t) / 12 + s)
  const mae = f1.TSMixer.reduce((sum, v, i) => sum + Math.abs(v - truth(Math.floor(i / 4), 60 + (i % 4))), 0) / 12
  expect(mae).toBeLessThan(1.5)
})

test('a window is every series at once: forecastWindow equals predict, forecastSeries keeps the asked rows', async () => {
  const { nf } = await fitted()
  const forecast = await nf.predict()
  const window = lastWindow(panel, 8)
  expect(Array.from(nf.forecastWindow(window))).toEqual(Array.from(forecast.TSMixer))
  const twice = await nf.forecastWindows(Float64Array.from([...window, ...window]))
  expect(Array.from(twice)).toEqual([...forecast.TSMixer, ...forecast.TSMixer])
  expect(() => nf.forecastWindow(window.slice(0, 8))).toThrow(/nSeries × inputSize = 3 × 8 = 24 values/)
  const one = nf.forecastSeries('s1')
  expect(Array.from(one.TSMixer)).toEqual(Array.from(forecast.TSMixer.slice(4, 8)))
})

test('the series count and alignment are checked, naming nSeries and the series', async () => {
  const nf = new NeuralForecaster({ models: [tsmixer({ nSeries: 4 })] })
  await expect(nf.fit(panel)).rejects.toThrow(/nSeries = 4, but the data has 3 series/)
  const shifted = { unique_id: [...panel.unique_id], ds: panel.ds.map((d, i) => (panel.unique_id[i] === 's2' ? d + 1 : d)), y: panel.y }
  await expect(new NeuralForecaster({ models: [tsmixer()] }).fit(shifted)).rejects.toThrow(/aligned in time.*series 's0'.*series 's2'/)
  const { nf: fittedNf } = await fitted({ maxSteps: 2 })
  expect(() => fittedNf.update({ unique_id: ['s0'], ds: [60], y: [1] })).toThrow(/has 1 series/)
  fittedNf.update({ unique_id: ['s0', 's1', 's2'], ds: [60, 60, 60], y: [10, 11, 12] })
  expect((await fittedNf.predict()).ds[0]).toBe(61)
})

test('MQLoss, conformal intervals, cross-validation and checkpoints', async () => {
  const { nf } = await fitted({ loss: { type: 'MQLoss', level: [80] }, maxSteps: 10 })
  const quantiles = await nf.predict()
  expect(Object.keys(quantiles)).toEqual(['unique_id', 'ds', 'TSMixer-median', 'TSMixer-lo-80', 'TSMixer-hi-80'])
  const conformal = new NeuralForecaster({ models: [tsmixer({ maxSteps: 10 })] })
  await conformal.fit(panel, { predictionIntervals: { nWindows: 2 } })
  const intervals = await conformal.predict({ level: [80] })
  intervals.TSMixer.forEach((v, i) => {
    expect(intervals['TSMixer-lo-80'][i]).toBeLessThanOrEqual(v)
    expect(intervals['TSMixer-hi-80'][i]).toBeGreaterThanOrEqual(v)
  })
  const cv = await crossValidation({ models: [tsmixer({ maxSteps: 10 })] }, panel, { nWindows: 2, stepSize: 4 })
  expect(cv.y.length).toBe(3 * 2 * 4)
  const copy = await NeuralForecaster.fromBuffer(await conformal.toBuffer())
  expect((await copy.predict()).TSMixer).toEqual((await conformal.predict()).TSMixer)
})

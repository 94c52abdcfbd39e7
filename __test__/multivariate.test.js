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

/** `panel` with a future column `x` that the target follows, its lag `lag`, and a static `level` per series. */
function exogenousPanel(length) {
  const data = { unique_id: [], ds: [], y: [], x: [], lag: [] }
  const xAt = (s, t) => ((t * 7 + s * 3) % 5)
  for (let s = 0; s < 3; s++) {
    for (let t = 0; t < length; t++) {
      data.unique_id.push(`s${s}`)
      data.ds.push(t)
      data.x.push(xAt(s, t))
      data.lag.push(xAt(s, Math.max(t - 1, 0)))
      data.y.push(5 + 3 * s + 2 * xAt(s, t) + Math.sin(t / 3))
    }
  }
  return data
}

test('TSMixerx forecasts all series jointly with each series\' future, historic and static exogenous values', async () => {
  const m = new models.TSMixerx({ h: 12, inputSize: 24, nSeries: 20 })
  expect([m.nBlock, m.ffDim, m.dropout, m.revin, m.excludeInsampleY, m.windowsBatchSize, m.scalerType]).toEqual([2, 64, 0, true, false, 32, 'identity'])
  expect(() => new models.TSMixerx({ h: 12, inputSize: 24 })).toThrow(/nSeries is missing: TSMixerx is multivariate/)
  const all = exogenousPanel(64)
  const cut = (data, keep) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.filter((_, i) => data.ds[i] < keep)]))
  const history = cut(all, 60)
  const staticData = { unique_id: ['s0', 's1', 's2'], level: [0, 3, 6] }
  const futrData = { unique_id: all.unique_id, ds: all.ds, x: all.x }
  const options = { h: 4, inputSize: 8, nSeries: 3, ffDim: 16, maxSteps: 150, windowsBatchSize: 16, futrExogList: ['x'], histExogList: ['lag'], statExogList: ['level'] }
  const run = async (numThreads) => {
    const nf = new NeuralForecaster({ models: [new models.TSMixerx(options)], numThreads })
    const report = await nf.fit(history, { staticData })
    return { nf, report, forecast: await nf.predict({ futrData }) }
  }
  const one = await run(1)
  const two = await run(2)
  expect(two.report.models[0].trainLoss).toEqual(one.report.models[0].trainLoss)
  expect(two.forecast.TSMixerx).toEqual(one.forecast.TSMixerx)
  // The forecast follows x over the horizon (y moves by 2 per unit of x).
  const truth = all.y.filter((_, i) => all.ds[i] >= 60)
  const mae = one.forecast.TSMixerx.reduce((sum, v, i) => sum + Math.abs(v - truth[i]), 0) / truth.length
  expect(mae).toBeLessThan(2)
  const moved = await one.nf.predict({ futrData: { ...futrData, x: futrData.x.map((v, i) => (all.ds[i] >= 60 ? v + 3 : v)) } })
  expect(moved.TSMixerx).not.toEqual(one.forecast.TSMixerx)
  await expect(one.nf.predict()).rejects.toThrow(/future exogenous variables \(x\)/)
  expect(() => one.nf.forecastWindow(new Float64Array(24))).toThrow(/exogenous variables/)
  const missing = new NeuralForecaster({ models: [new models.TSMixerx({ ...options, histExogList: ['nope'] })] })
  await expect(missing.fit(history, { staticData })).rejects.toThrow(/histExogList column 'nope'/)
})

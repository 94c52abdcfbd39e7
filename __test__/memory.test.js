// memoryPool, lowMemory and memoryStats() through the public API: what a forecaster keeps between calls.
const { NeuralForecaster, models } = require('../main.js')
const { sinePanel } = require('./sine_panel.js')

const mlp = () => new models.MLP({ h: 6, inputSize: 12, hiddenSize: 32, maxSteps: 5, batchSize: 16, randomSeed: 3 })

async function fitted(options = {}, series = 2) {
  const forecaster = new NeuralForecaster({ models: [mlp()], numThreads: 2, ...options })
  await forecaster.fit(sinePanel(series, 60))
  return forecaster
}

test('memoryStats() reports the bytes held, split into the forecaster’s scratch and its threads’ buffers', async () => {
  const forecaster = await fitted()
  await forecaster.predict()
  const stats = forecaster.memoryStats()
  expect(Object.keys(stats).sort()).toEqual(['scratchBytes', 'threadBytes', 'totalBytes'])
  expect(stats.scratchBytes).toBeGreaterThan(0)
  expect(stats.totalBytes).toBe(stats.scratchBytes + stats.threadBytes)
})

test('memoryPool: false holds zero bytes after fit, predict, forecastWindow and forecastWindows', async () => {
  const forecaster = await fitted({ memoryPool: false })
  expect(forecaster.memoryStats().totalBytes).toBe(0)
  await forecaster.predict()
  expect(forecaster.memoryStats().totalBytes).toBe(0)
  forecaster.forecastWindow(new Float64Array(12).fill(1))
  expect(forecaster.memoryStats().totalBytes).toBe(0)
  await forecaster.forecastWindows(new Float64Array(12 * 40).fill(1))
  expect(forecaster.memoryStats().totalBytes).toBe(0)
})

test('memoryPool: true (the default) keeps the buffers of the last call for the next', async () => {
  const forecaster = await fitted({ memoryPool: true })
  forecaster.forecastWindow(new Float64Array(12).fill(1))
  const held = forecaster.memoryStats().scratchBytes
  expect(held).toBeGreaterThan(0)
  forecaster.forecastWindow(new Float64Array(12).fill(2))
  expect(forecaster.memoryStats().scratchBytes).toBe(held)
})

test('lowMemory frees a batch forecast’s per-thread buffers and keeps those of small forecasts', async () => {
  const windows = new Float64Array(12 * 64).map((_, i) => Math.sin(i))
  const lean = await fitted({ lowMemory: true })
  const usual = await fitted({ lowMemory: false })
  await lean.forecastWindows(windows)
  await usual.forecastWindows(windows)
  expect(lean.memoryStats().scratchBytes).toBe(0)
  expect(usual.memoryStats().scratchBytes).toBeGreaterThan(0)
  lean.forecastWindow(windows.subarray(0, 12))
  expect(lean.memoryStats().scratchBytes).toBeGreaterThan(0)
})

test('forecasts are identical with memoryPool on and off', async () => {
  const on = await fitted({ memoryPool: true }, 20)
  const off = await fitted({ memoryPool: false }, 20)
  expect((await off.predict()).MLP).toEqual((await on.predict()).MLP)
  const window = new Float64Array(12).map((_, i) => 10 + Math.cos(i))
  expect(off.forecastWindow(window)).toEqual(on.forecastWindow(window))
})

test('memoryStats() cannot be read while fit() runs', async () => {
  const forecaster = new NeuralForecaster({ models: [mlp()], numThreads: 1 })
  const fit = forecaster.fit(sinePanel(2, 60))
  expect(() => forecaster.memoryStats()).toThrow(/memoryStats.*while fit\(\) is running/)
  await fit
})

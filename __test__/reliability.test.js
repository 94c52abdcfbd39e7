// Faults and concurrency: a killed save, concurrent predicts, forecasters in worker threads.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { NeuralForecaster, models } = require('..')

const PACKAGE = path.join(__dirname, '..')

const { sinePanel } = require('./sine_panel.js')

const small = { h: 6, inputSize: 12, encoderHiddenSize: 16, decoderHiddenSize: 16, maxSteps: 15, randomSeed: 7 }

describe('concurrency', () => {
  test('100 concurrent predicts give the numbers of sequential ones', async () => {
    const nf = new NeuralForecaster({ models: [new models.GRU(small)] })
    await nf.fit(sinePanel(3))
    const sequential = await nf.predict()
    const concurrent = await Promise.all(Array.from({ length: 100 }, () => nf.predict()))
    for (const forecast of concurrent) expect(Array.from(forecast.GRU)).toEqual(Array.from(sequential.GRU))
    const windows = Float64Array.from({ length: 40 * 12 }, (_, i) => 10 + Math.sin(i / 5))
    const batches = await Promise.all(Array.from({ length: 20 }, () => nf.forecastWindows(windows)))
    for (const batch of batches) expect(Array.from(batch)).toEqual(Array.from(batches[0]))
  })

  test('forecasters in several worker threads at once train and forecast as on the main thread', async () => {
    const script = `
      const { parentPort, workerData } = require('node:worker_threads')
      const { NeuralForecaster, models } = require(workerData.pkg)
      ;(async () => {
        const nf = new NeuralForecaster({ models: [new models.LSTM(workerData.small)], numThreads: 1 })
        await nf.fit(workerData.data)
        const forecast = await nf.predict()
        parentPort.postMessage(Array.from(forecast.LSTM))
      })().catch((err) => parentPort.postMessage({ error: String(err) }))
    `
    const data = sinePanel(3)
    const run = () =>
      new Promise((resolve, reject) => {
        const worker = new Worker(script, { eval: true, workerData: { pkg: PACKAGE, small, data } })
        worker.once('message', resolve)
        worker.once('error', reject)
      })
    const results = await Promise.all([run(), run(), run()])
    const nf = new NeuralForecaster({ models: [new models.LSTM(small)], numThreads: 1 })
    await nf.fit(data)
    const expected = Array.from((await nf.predict()).LSTM)
    for (const result of results) expect(result).toEqual(expected)
  })
})

describe('checkpoints survive a killed save', () => {
  test('killing the process in the middle of save leaves the previous checkpoint intact', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-kill-'))
    const file = path.join(dir, 'model.safetensors')
    // A large model, so that a save takes long enough to be interrupted.
    const big = { ...small, encoderHiddenSize: 384, decoderHiddenSize: 384, maxSteps: 1 }
    const nf = new NeuralForecaster({ models: [new models.LSTM(big)] })
    await nf.fit(sinePanel(3))
    await nf.save(file)
    const original = fs.readFileSync(file)
    const reference = Array.from((await nf.predict()).LSTM)
    // The child trains another model and saves it over the same file in a loop until it is killed.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const { NeuralForecaster, models } = require(${JSON.stringify(PACKAGE)})
         ;(async () => {
           const nf = new NeuralForecaster({ models: [new models.LSTM(${JSON.stringify({ ...big, randomSeed: 99 })})] })
           await nf.fit(${JSON.stringify(sinePanel(3))})
           process.stdout.write('saving\\n')
           for (;;) await nf.save(${JSON.stringify(file)})
         })()`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise((resolve) => child.stdout.once('data', resolve))
    await new Promise((resolve) => setTimeout(resolve, 150))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    // The file is either the old checkpoint or one of the child's complete ones, never a torn write.
    const loaded = await NeuralForecaster.load(file)
    const forecast = Array.from((await loaded.predict()).LSTM)
    const current = fs.readFileSync(file)
    if (current.equals(original)) expect(forecast).toEqual(reference)
    else expect(forecast).not.toEqual(reference)
    expect(forecast.every(Number.isFinite)).toBe(true)
    fs.rmSync(dir, { recursive: true, force: true })
  }, 30000)
})

// Long leak checks: ND_LONG_TESTS=1 npx jest __test__/reliability.test.js
const longTest = process.env.ND_LONG_TESTS ? test : test.skip
describe('memory stays flat (ND_LONG_TESTS=1)', () => {
  longTest('10^6 window forecasts and 100 fit/predict/save/load cycles grow RSS by less than 5 %', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-leak-'))
    const file = path.join(dir, 'm.safetensors')
    const cycle = async () => {
      const nf = new NeuralForecaster({ models: [new models.GRU({ ...small, maxSteps: 5 })] })
      await nf.fit(sinePanel(3))
      await nf.predict()
      await nf.save(file)
      return NeuralForecaster.load(file)
    }
    // Warm up first: the allocator's arenas and V8's heap settle at their working size.
    for (let i = 0; i < 10; i++) await cycle()
    const warm = await cycle()
    const window = new Float64Array(12).fill(10)
    for (let i = 0; i < 200000; i++) warm.forecastWindow(window)
    global.gc?.()
    const before = process.memoryUsage().rss
    for (let i = 0; i < 1e6; i++) warm.forecastWindow(window)
    for (let i = 0; i < 100; i++) await cycle()
    global.gc?.()
    const growth = process.memoryUsage().rss / before - 1
    fs.rmSync(dir, { recursive: true, force: true })
    expect(growth).toBeLessThan(0.05)
  }, 600000)
})

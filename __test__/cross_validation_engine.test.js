'use strict'
// crossValidation in the engine: a Dataset with exogenous and static data gives, window by window, the bits of
// fitting and predicting that window by hand; progress names the fit and window; an AbortSignal stops it.
const { NeuralForecaster, models, Dataset, crossValidation } = require('..')

const H = 3
const N_WINDOWS = 3
const STEP = 2
const options = (maxSteps = 8) => ({
  models: [new models.MLP({ h: H, inputSize: 6, hiddenSize: 16, maxSteps, windowsBatchSize: 16, futrExogList: ['x'], statExogList: ['level'] })],
  frequency: 'D',
  numThreads: 1,
  seed: 11,
})
const staticData = { unique_id: ['a', 'b'], level: [0, 4] }

/** Two daily series whose target follows a temporal column x and a static level. */
function columns() {
  const data = { unique_id: [], ds: [], y: [], x: [] }
  for (const [id, n, level] of [['a', 30, 0], ['b', 26, 4]]) {
    for (let t = 0; t < n; t++) {
      const x = (t * 7 + level) % 5
      data.unique_id.push(id)
      data.ds.push(new Date(Date.UTC(2022, 0, 1 + t)).toISOString().slice(0, 10))
      data.x.push(x)
      data.y.push(10 + level + x + Math.sin(t / 3))
    }
  }
  return data
}

/** Each series of `data` without its last `drop` points. */
function dropLast(data, drop) {
  const count = {}
  for (const id of data.unique_id) count[id] = (count[id] ?? 0) + 1
  const seen = {}
  const keep = data.unique_id.map((id) => (seen[id] = (seen[id] ?? 0) + 1) <= count[id] - drop)
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.filter((_, r) => keep[r])]))
}

const bits = (values) => Array.from(new BigUint64Array(Float64Array.from(values).buffer), String)
const rowsOf = (frame, id) => frame.unique_id.map((_, i) => i).filter((i) => frame.unique_id[i] === id)

test('on a Dataset with futrExogList and staticData, every window has the bits of a fit and predict by hand', async () => {
  const data = columns()
  const dataset = Dataset.fromColumns(data, 'D')
  const steps = []
  const cv = await crossValidation(options(), dataset, {
    nWindows: N_WINDOWS,
    stepSize: STEP,
    refit: true,
    staticData,
    onProgress: (p) => steps.push(p),
  })
  expect(Object.keys(cv)).toEqual(['unique_id', 'ds', 'cutoff', 'y', 'MLP'])
  expect(cv.unique_id).toHaveLength(2 * N_WINDOWS * H)
  const testSize = H + STEP * (N_WINDOWS - 1)
  const future = { unique_id: data.unique_id, ds: data.ds, x: data.x }
  for (let w = 0; w < N_WINDOWS; w++) {
    const nf = new NeuralForecaster(options())
    const history = dropLast(data, testSize - w * STEP)
    await nf.fit(history, { staticData })
    const hand = await nf.predict({ futrData: future })
    for (const id of ['a', 'b']) {
      const rows = rowsOf(cv, id).slice(w * H, (w + 1) * H)
      const handRows = rowsOf(hand, id)
      expect(bits(rows.map((i) => cv.MLP[i]))).toEqual(bits(handRows.map((i) => hand.MLP[i])))
      expect(rows.map((i) => cv.ds[i])).toEqual(handRows.map((i) => hand.ds[i]))
      const historyRows = rowsOf(history, id)
      const last = historyRows[historyRows.length - 1]
      expect(rows.map((i) => cv.cutoff[i])).toEqual(Array(H).fill(history.ds[last]))
      const dataRows = rowsOf(data, id)
      expect(rows.map((i) => cv.y[i])).toEqual(dataRows.slice(historyRows.length, historyRows.length + H).map((r) => data.y[r]))
    }
  }
  // a fit per window, each reported with its window
  expect(steps.length).toBeGreaterThan(0)
  for (const p of steps) {
    expect(p.window).toBe(p.fit)
    expect(p).toMatchObject({ model: 0, alias: 'MLP', maxSteps: 8 })
  }
})

test('refit false fits once; an exogenous model without staticData is a clear error naming the window', async () => {
  const dataset = Dataset.fromColumns(columns(), 'D')
  const calls = []
  const cv = await crossValidation(options(), dataset, { nWindows: 2, staticData, fitOptions: (fit, window) => (calls.push([fit, window]), {}) })
  expect(calls).toEqual([[0, 0]])
  expect(cv.MLP).toHaveLength(2 * 2 * H)
  await expect(crossValidation(options(), dataset, { nWindows: 2 })).rejects.toThrow(/^crossValidation window 1 of 2: .*level/)
  await expect(crossValidation(options(), dataset, { nWindows: 2, staticData, fitOptions: { staticData } })).rejects.toThrow(TypeError)
})

test('an AbortSignal stops the cross-validation with an AbortError', async () => {
  const dataset = Dataset.fromColumns(columns(), 'D')
  const controller = new AbortController()
  const fits = new Set()
  const started = Date.now()
  const run = crossValidation(options(1_000_000), dataset, {
    nWindows: N_WINDOWS,
    stepSize: STEP,
    refit: true,
    staticData,
    signal: controller.signal,
    onProgress: (p) => {
      fits.add(p.fit)
      controller.abort()
    },
  })
  await expect(run).rejects.toMatchObject({ name: 'AbortError' })
  expect([...fits]).toEqual([0])
  expect(Date.now() - started).toBeLessThan(20_000)
  // an already aborted signal rejects before any work
  await expect(crossValidation(options(), dataset, { staticData, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
})

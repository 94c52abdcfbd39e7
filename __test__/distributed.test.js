// Distributed mode (neuro-divergent/distributed) against a real redis-server and real worker processes
// (`neuro-divergent worker`): forecasts identical to local ones, a worker killed mid-run, Redis lost mid-run,
// workers of another version, a corrupt checkpoint and an abort.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Writable } = require('node:stream')

const { NeuralForecaster, models, crossValidation } = require('../main.js')
const { sinePanel } = require('./sine_panel.js')
const { redisMissing, startRedis } = require('./redis_server.js')

const missing = redisMissing()
const describeRedis = missing ? describe.skip : describe
if (missing) test.skip(missing, () => {})

const root = path.resolve(__dirname, '..')
const bin = path.join(root, 'bin', 'neuro-divergent.js')
jest.setTimeout(90_000)

/** A `neuro-divergent worker` process; resolves once it listens. Short locks so a killed one's chunk returns fast. */
function startWorker(url, extra = []) {
  const child = spawn(process.execPath, [bin, 'worker', '--redis', url, '--threads', '1', '--lock-duration', '2000', '--stalled-interval', '500', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (stderr.includes('listening')) resolve({ child, exited: new Promise((r) => child.once('exit', r)), stderr: () => stderr })
    })
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${stderr}`)))
  })
}

/** A loopback port nothing listens on. */
function freePort() {
  return new Promise((resolve) => {
    const server = require('node:net').createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function sameForecast(actual, expected) {
  expect(Object.keys(actual)).toEqual(Object.keys(expected))
  expect(actual.unique_id).toEqual(expected.unique_id)
  for (const key of Object.keys(expected).filter((k) => k !== 'unique_id' && !ArrayBuffer.isView(expected[k]))) expect(actual[key]).toEqual(expected[key])
  for (const key of Object.keys(expected).filter((k) => ArrayBuffer.isView(expected[k]))) {
    expect(actual[key]).toBeInstanceOf(Float64Array)
    expect(Buffer.from(actual[key].buffer, actual[key].byteOffset, actual[key].byteLength).equals(Buffer.from(expected[key].buffer, expected[key].byteOffset, expected[key].byteLength))).toBe(true)
  }
}

test('require("neuro-divergent") does not load bullmq', () => {
  const probe = "require('./main.js'); console.log(Object.keys(require.cache).filter((k) => /bullmq|ioredis/.test(k)).length)"
  const result = spawnSync(process.execPath, ['-e', probe], { cwd: root, encoding: 'utf8' })
  expect(result.stderr).toBe('')
  expect(result.stdout.trim()).toBe('0')
})

test('chunks travel compactly and come back as the same columns: interleaved rows, date ds, exogenous columns', () => {
  const frames = require('../lib/distributed/frames.js')
  const data = {
    unique_id: ['b', 'a', 'b', 'a', 'c', 'b'],
    ds: ['2020-01-01', '2020-01-01', '2020-01-02', '2020-01-02', '2020-01-05', '2020-01-03'],
    y: [1, 2, 3, 4, 5, 6],
    price: new Float64Array([0.5, 0.25, null, 1, 2, 3]),
  }
  const grouped = frames.groupRows(data, 'test')
  expect(grouped.labels).toEqual(['b', 'a', 'c'])
  expect(grouped.counts).toEqual([3, 2, 1])
  const names = frames.numericColumns(data, 'test')
  expect(names).toEqual(['y', 'price'])
  const chunk = frames.decodeChunk(frames.encodeChunk(data, grouped, names, 1, 3, 'test'))
  expect(chunk.labels).toEqual(['a', 'c'])
  expect([...chunk.unique_id]).toEqual([0, 0, 1])
  expect(chunk.ds).toEqual(['2020-01-01', '2020-01-02', '2020-01-05'])
  expect([...chunk.y]).toEqual([2, 4, 5])
  expect([...chunk.price]).toEqual([0.25, 1, 2])
  const contiguous = { unique_id: ['x', 'x', 'y'], ds: new Float64Array([1, 2, 1]), y: [7, 8, 9] }
  const whole = frames.groupRows(contiguous, 'test')
  expect(whole.rows).toBeNull()
  const both = frames.decodeChunk(frames.encodeChunk(contiguous, whole, ['y'], 0, 2, 'test'))
  expect([...both.ds]).toEqual([1, 2, 1])
  expect([...both.y]).toEqual([7, 8, 9])
  const forecast = { unique_id: ['a', 'a', 'c'], ds: ['2020-01-03', '2020-01-04', '2020-01-06'], m: new Float64Array([1.5, -0, NaN]) }
  const collector = frames.forecastCollector(1)
  collector.add(0, frames.encodeForecast(forecast))
  const back = collector.result()
  expect(back.unique_id).toEqual(forecast.unique_id)
  expect(back.ds).toEqual(forecast.ds)
  expect(Object.is(back.m[1], -0) && Number.isNaN(back.m[2]) && back.m[0] === 1.5).toBe(true)
  // Chunks landing out of order (and one twice, a retried chunk's event) still come back in chunk order, once each.
  const numbered = (id, from) => ({ unique_id: [id, id], ds: [from, from + 1], m: new Float64Array([from * 10, from * 10 + 1]) })
  const inOrder = frames.forecastCollector(3)
  for (const chunk of [2, 0, 2, 1]) inOrder.add(chunk, frames.encodeForecast(numbered(`s${chunk}`, chunk)))
  const all = inOrder.result()
  expect(all.unique_id).toEqual(['s0', 's0', 's1', 's1', 's2', 's2'])
  expect(all.ds).toEqual([0, 1, 1, 2, 2, 3])
  expect([...all.m]).toEqual([0, 1, 10, 11, 20, 21])
  const short = frames.forecastCollector(2)
  short.add(1, frames.encodeForecast(numbered('s1', 1)))
  expect(() => short.result()).toThrow('1 of 2 chunks are missing')
  expect(() => frames.groupRows({ unique_id: ['a'], y: [1, 2] }, 'distributed.predict')).toThrow('distributed.predict: data.unique_id has 1 rows but data.y has 2')
})

test('only the points the models read are staged, and only where the dropped rows are ones the local call accepts', async () => {
  const frames = require('../lib/distributed/frames.js')
  const fitted = async (options) => {
    const forecaster = new NeuralForecaster({ models: [new models.MLP({ h: 2, inputSize: 4, maxSteps: 1 }), new models.NHITS({ h: 2, inputSize: 3, maxSteps: 1 })], frequency: 1, ...options })
    await forecaster.fit(sinePanel(2, 12))
    return forecaster.toBuffer()
  }
  expect(frames.trimmableTail(await fitted({}))).toEqual({ rows: 4, step: 1 })
  // A local scaler scales by the whole history; an inferred frequency depends on the data; a corrupt file is the
  // workers' to report.
  expect(frames.trimmableTail(await fitted({ localScalerType: 'standard' }))).toBeNull()
  expect(frames.trimmableTail(Buffer.alloc(8))).toBeNull()
  const prophet = new NeuralForecaster({ models: [new models.Prophet({ h: 2 })], frequency: 1 })
  await prophet.fit(sinePanel(2, 12))
  expect(frames.trimmableTail(await prophet.toBuffer())).toBeNull()

  // Series a: trimmed to its last 3 rows; b: a ds gap before its tail; c: a NaN before its tail; d: short already.
  const data = {
    unique_id: ['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b', 'c', 'c', 'c', 'c', 'd', 'd'],
    ds: new Float64Array([1, 2, 3, 4, 5, 1, 3, 4, 5, 6, 1, 2, 3, 4, 7, 8]),
    y: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, NaN, 12, 13, 14, 15, 16],
  }
  const grouped = frames.groupRows(data, 'test')
  const chunk = frames.decodeChunk(frames.encodeChunk(data, grouped, ['y'], 0, 4, 'test', { rows: 3, step: 1 }))
  expect(chunk.labels).toEqual(['a', 'b', 'c', 'd'])
  expect([...chunk.unique_id]).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3])
  expect([...chunk.ds]).toEqual([3, 4, 5, 1, 3, 4, 5, 6, 1, 2, 3, 4, 7, 8])
  expect([...chunk.y]).toEqual([3, 4, 5, 6, 7, 8, 9, 10, NaN, 12, 13, 14, 15, 16])
  // Interleaved rows: each series' last rows in input order.
  const interleaved = { unique_id: ['x', 'y', 'x', 'y', 'x', 'y'], ds: [1, 1, 2, 2, 3, 3], y: [1, 2, 3, 4, 5, 6] }
  const back = frames.decodeChunk(frames.encodeChunk(interleaved, frames.groupRows(interleaved, 'test'), ['y'], 0, 2, 'test', { rows: 2, step: 1 }))
  expect([...back.ds]).toEqual([2, 3, 2, 3])
  expect([...back.y]).toEqual([3, 5, 4, 6])
  // Which dropped rows pass, series by series (each of 4 rows, the last 2 kept): a null in an Array column, an
  // Infinity in a typed one and fractional ds do not; finite values whose sum overflows and ds of step 2 do.
  const cases = [
    ['null', [1, 2, 3, 4], [1, null, 3, 4], 1, false],
    ['infinite', [1, 2, 3, 4], new Float64Array([1, Infinity, 3, 4]), 1, false],
    ['fractional ds', [0.5, 1.5, 2.5, 3.5], new Float64Array([1, 2, 3, 4]), 1, false],
    ['overflowing sum', [1, 2, 3, 4], new Float64Array([1e308, 1e308, 1e308, 4]), 1, true],
    ['step 2', [2, 4, 6, 8], new Float64Array([1, 2, 3, 4]), 2, true],
    ['step 2 with a step of 1', [2, 3, 5, 7], new Float64Array([1, 2, 3, 4]), 2, false],
  ]
  for (const [name, ds, y, step, dropped] of cases) {
    const one = { unique_id: ['s', 's', 's', 's'], ds, y }
    const kept = frames.decodeChunk(frames.encodeChunk(one, frames.groupRows(one, 'test'), ['y'], 0, 1, 'test', { rows: 2, step }))
    expect([name, kept.y.length]).toEqual([name, dropped ? 2 : 4])
  }
  // Date ds at a calendar frequency: the dropped dates must be one step apart up to the first kept one, each in a
  // form the engine reads.
  const day = { fixedMs: 86400000 }
  const dateCases = [
    ['daily', ['2020-02-27', '2020-02-28', '2020-02-29', '2020-03-01'], day, true],
    ['daily Dates', [0, 1, 2, 3].map((t) => new Date(Date.UTC(2020, 0, 1 + t))), day, true],
    ['a day missing', ['2020-02-27', '2020-02-29', '2020-03-01', '2020-03-02'], day, false],
    ['Feb 30', ['2021-02-28', '2021-02-30', '2021-03-01', '2021-03-02'], day, false],
    ['a form the engine does not read', ['2020-01-01', '2020/01/02', '2020-01-03', '2020-01-04'], day, false],
    ['half-hourly', ['2020-01-01 23:00', '2020-01-01 23:30:00', '2020-01-02T00:00:00.000Z', '2020-01-02T00:30:00'], { fixedMs: 1800000 }, true],
    ['T without seconds', ['2020-01-01T23:00', '2020-01-01 23:30', '2020-01-02 00:00', '2020-01-02 00:30'], { fixedMs: 1800000 }, false],
    ['month starts', ['2019-11-01', '2019-12-01', '2020-01-01', '2020-02-01'], { months: 1, end: false }, true],
    ['month ends', ['2020-01-31', '2020-02-29', '2020-03-31', '2020-04-30'], { months: 1, end: true }, true],
    ['quarter ends, one off', ['2020-03-31', '2020-06-30', '2020-09-29', '2020-12-31'], { months: 3, end: true }, false],
  ]
  for (const [name, ds, calendar, dropped] of dateCases) {
    const one = { unique_id: ['s', 's', 's', 's'], ds, y: [1, 2, 3, 4] }
    const kept = frames.decodeChunk(frames.encodeChunk(one, frames.groupRows(one, 'test'), ['y'], 0, 1, 'test', { rows: 1, calendar }))
    expect([name, kept.y.length]).toEqual([name, dropped ? 1 : 4])
  }
})

test("the addon's scan of the dropped rows and gather of the kept ones (Float64Array columns) stage what the JavaScript does, byte for byte", () => {
  const frames = require('../lib/distributed/frames.js')
  // 400 series of 0 to 40 rows, ds counting by 3 from each series' own start, with defects here and there.
  let state = 7
  const random = () => (state = (state * 48271) % 2147483647) / 2147483647
  const defects = [NaN, Infinity, -Infinity, 0.5, 1, -1e-300, 2 ** 53, -(2 ** 53) - 2, 1e308]
  const defect = (value) => (random() < 0.004 ? defects[Math.floor(random() * defects.length)] : value)
  const rows = []
  for (let s = 0; s < 400; s++) {
    const start = [0, -(2 ** 53) + 30, 2 ** 53 - 150, 1e6][s % 4]
    for (let t = 0, n = Math.floor(random() * 41); t < n; t++) rows.push([`s${s}`, defect(start + 3 * t), defect(Math.sin(t)), defect(t % 5), t])
  }
  // Also interleaved (ordered by step, then series), so that each series' rows are listed, not consecutive.
  const interleaved = [...rows].sort((a, b) => a[4] - b[4])
  for (const order of [rows, interleaved]) {
    const plain = { unique_id: order.map((r) => r[0]), ds: order.map((r) => r[1]), y: order.map((r) => r[2]), x: order.map((r) => r[3]) }
    const typed = { ...plain, ds: Float64Array.from(plain.ds), y: Float64Array.from(plain.y), x: Float64Array.from(plain.x) }
    const grouped = frames.groupRows(plain, 'test')
    const staged = (data, tail = { rows: 5, step: 3 }, first = 0, end = grouped.labels.length) => frames.encodeChunk(data, grouped, ['y', 'x'], first, end, 'test', tail)
    const chunk = staged(typed)
    expect(chunk.equals(staged(plain))).toBe(true)
    // Every row, and a range of series from the middle, with and without ds.
    const { ds: _ds, ...noDs } = plain
    const { ds: _typedDs, ...typedNoDs } = typed
    for (const [typedData, plainData] of [[typed, plain], [typedNoDs, noDs]]) {
      for (const tail of [null, { rows: 5, step: 3 }]) expect(staged(typedData, tail, 101, 307).equals(staged(plainData, tail, 101, 307))).toBe(true)
    }
    // Neither all series trimmed nor none.
    const counts = frames.decodeChunk(chunk).unique_id.reduce((n, s) => ((n[s] = (n[s] ?? 0) + 1), n), [])
    expect(counts.filter((n, s) => n === 5 && grouped.counts[s] > 5).length).toBeGreaterThan(100)
    expect(counts.filter((n, s) => n > 5).length).toBeGreaterThan(10)
  }
})

test("droppableHeads (the addon's scan) refuses what no chunk has, and reads rows past a column's end as not droppable", () => {
  const native = require('../lib/load.js').load()
  const ds = Float64Array.of(1, 2, 3, 4)
  const y = Float64Array.of(0, 0, 0, 0)
  const counts = Uint32Array.of(4)
  expect([...native.droppableHeads(ds, [y], counts, 2, 1, 0)]).toEqual([1])
  expect([...native.droppableHeads(ds, [y], counts, 2, 1, Uint32Array.of(0, 1, 2, 3))]).toEqual([1])
  expect([...native.droppableHeads(ds, [y.subarray(0, 1)], counts, 2, 1, 0)]).toEqual([0])
  expect([...native.droppableHeads(ds, [y], counts, 2, 1, 2)]).toEqual([0])
  expect([...native.droppableHeads(ds, [y], counts, 2, 1, Uint32Array.of(0, 9, 2, 3))]).toEqual([0])
  expect([...native.droppableHeads(Float64Array.of(1, 2, NaN, 4), [y], counts, 2, 1, 0)]).toEqual([0])
  expect(() => native.droppableHeads(ds, [y], counts, 2, 1, Uint32Array.of(0, 1))).toThrow('droppableHeads: counts add up to 4 rows but rows lists 2')
  expect(() => native.droppableHeads(ds, [y], counts, 0, 1, 0)).toThrow('droppableHeads: keep must be at least 1')
  expect(() => native.droppableHeads(ds, [y], counts, 2, 1.5, 0)).toThrow('droppableHeads: step must be an integer between 1 and 2^53 - 1, got 1.5')
  expect(() => native.droppableHeads(ds, [Float32Array.of(0)], counts, 2, 1, 0)).toThrow('droppableHeads: columns[0] must be a Float64Array, got a Float32Array')
  expect(() => native.droppableHeads(ds, [y], [4], 2, 1, 0)).toThrow('droppableHeads: counts must be a Uint32Array, got an array')
  expect(() => native.droppableHeads(ds, [y], counts, 2, 1, -1)).toThrow('droppableHeads: rows must be an integer between 0 and')
  expect(() => native.droppableHeads(ds, [y], counts, 2, 1, 'x')).toThrow('droppableHeads: rows must be a Uint32Array or the index of the first row, got a string')
  const detached = Float64Array.of(1, 2, 3, 4)
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  expect(() => native.droppableHeads(detached, [y], counts, 2, 1, 0)).toThrow("droppableHeads: ds's ArrayBuffer was detached")
  expect(() => native.droppableHeads(ds, [detached], counts, 2, 1, 0)).toThrow("droppableHeads: columns[0]'s ArrayBuffer was detached")
})

test("chunkBytes (the addon's gather of a chunk's rows) writes the header and the kept rows, and refuses what no chunk has", () => {
  const native = require('../lib/load.js').load()
  // Through callNative, so that its errors are this realm's TypeError and RangeError.
  const chunkBytes = (...args) => require('../lib/realm.js').callNative(() => native.chunkBytes(...args))
  const refusal = (...args) => {
    try {
      chunkBytes(...args)
    } catch (err) {
      return `${err.constructor.name}: ${err.message}`
    }
    return 'accepted'
  }
  const ds = Float64Array.of(1, 2, 3, 4, 5)
  const y = Float64Array.of(10, 20, 30, 40, 50)
  const head = Buffer.from('head')
  const values = (bytes) => [...new Float64Array(bytes.buffer.slice(bytes.byteOffset + 4, bytes.byteOffset + bytes.length))]
  const bytes = chunkBytes(head, [ds, y], Uint32Array.of(3, 2), Uint32Array.of(2, 2), 0)
  expect(Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString()).toBe('head')
  expect(values(bytes)).toEqual([2, 3, 4, 5, 20, 30, 40, 50])
  expect(values(chunkBytes(head, [y], Uint32Array.of(2, 3), Uint32Array.of(1, 1), Uint32Array.of(4, 0, 3, 2, 1)))).toEqual([10, 20])
  expect(values(chunkBytes(head, [y], Uint32Array.of(2), Uint32Array.of(2), 3))).toEqual([40, 50])
  const counts = Uint32Array.of(3, 2)
  expect(refusal(head, [ds], counts, Uint32Array.of(2), 0)).toBe('RangeError: chunkBytes: kept has 1 series but counts has 2')
  expect(refusal(head, [ds], counts, Uint32Array.of(4, 2), 0)).toBe('RangeError: chunkBytes: kept[0] is 4 but series 0 has 3 rows')
  expect(refusal(head, [ds, y.subarray(0, 4)], counts, counts, 0)).toBe("RangeError: chunkBytes: columns[1] has 4 values, none at the chunk's row 4")
  expect(refusal(head, [ds], counts, counts, 1)).toBe("RangeError: chunkBytes: columns[0] has 5 values, none at the chunk's row 5")
  expect(refusal(head, [ds], counts, counts, Uint32Array.of(0, 1, 2, 3, 9))).toBe("RangeError: chunkBytes: columns[0] has 5 values, none at the chunk's row 9")
  expect(refusal(head, [ds], counts, counts, Uint32Array.of(0, 1))).toBe('RangeError: chunkBytes: counts add up to 5 rows but rows lists 2')
  expect(refusal(head, [ds], counts, counts, -1)).toMatch(/^RangeError: chunkBytes: rows must be an integer between 0 and/)
  expect(refusal(head, [ds], counts, counts, 'x')).toBe('TypeError: chunkBytes: rows must be a Uint32Array or the index of the first row, got a string')
  expect(refusal('head', [ds], counts, counts, 0)).toBe('TypeError: chunkBytes: head must be a Uint8Array or Buffer, got a string')
  expect(refusal(head, [Float32Array.from(ds)], counts, counts, 0)).toBe('TypeError: chunkBytes: columns[0] must be a Float64Array, got a Float32Array')
  expect(refusal(head, ds, counts, counts, 0)).toBe('TypeError: chunkBytes: columns must be an array of Float64Arrays, got a Float64Array')
  expect(refusal(head, [ds], [3, 2], counts, 0)).toBe('TypeError: chunkBytes: counts must be a Uint32Array, got an array')
  for (const at of ['head', 'columns[0]', 'rows']) {
    const detached = at === 'head' ? Uint8Array.of(1, 2, 3, 4) : at === 'rows' ? Uint32Array.of(0, 1, 2, 3, 4) : Float64Array.from(ds)
    structuredClone(detached.buffer, { transfer: [detached.buffer] })
    const args = [at === 'head' ? detached : head, [at === 'columns[0]' ? detached : ds], counts, counts, at === 'rows' ? detached : 0]
    expect(refusal(...args)).toMatch(`TypeError: chunkBytes: ${at}'s ArrayBuffer was detached`)
  }
  // Columns of other lengths than the ids are the local call's RangeError, before any chunk.
  const frames = require('../lib/distributed/frames.js')
  expect(() => frames.numericColumns({ unique_id: ['a', 'a'], ds: [1, 2], y: Float64Array.of(1, 2), x: [1] }, 'distributed.predict')).toThrow(
    'distributed.predict: data.unique_id has 2 rows but data.x has 1',
  )
  expect(() => frames.numericColumns({ unique_id: ['a', 'a'], ds: Float64Array.of(1), y: Float64Array.of(1, 2) }, 'distributed.predict')).toThrow(
    'distributed.predict: data.unique_id has 2 rows but data.ds has 1',
  )
})

test('groupRows finds the same series in typed ids (their runs found in the addon) as in plain ones', () => {
  const frames = require('../lib/distributed/frames.js')
  const native = require('../lib/load.js').load()
  const labels = ['a', 'b', 'c', 'd']
  const y = (codes) => codes.map(() => 0)
  for (const codes of [[0, 0, 0, 1, 1, 2, 2, 2, 2, 3], Array.from({ length: 100 }, (_, i) => Math.floor(i / 33)), [0, 1, 0, 1, 2, 2, 3, 0], [3], []]) {
    const plain = frames.groupRows({ unique_id: codes.map((c) => labels[c]), y: y(codes) }, 'test')
    for (const Typed of [Uint32Array, Int32Array, Float64Array]) expect(frames.groupRows({ unique_id: Typed.from(codes), labels, y: y(codes) }, 'test')).toEqual(plain)
  }
  // NaN codes, each a run of its own, and -0 and 0 one: in the addon (Float64Array) as in JavaScript (Float32Array).
  const codes = [0, 0, NaN, NaN, 1, 1, -0, 0, 2]
  const grouped = frames.groupRows({ unique_id: Float64Array.from(codes), labels, y: y(codes) }, 'test')
  expect(grouped).toEqual(frames.groupRows({ unique_id: Float32Array.from(codes), labels, y: y(codes) }, 'test'))
  expect(grouped.labels).toEqual(['a', 'undefined', 'b', 'c'])
  expect([...native.runLengths(Float64Array.from(codes))]).toEqual([2, 1, 1, 2, 2, 1])
  expect(() => native.runLengths(Float32Array.of(1))).toThrow('runLengths: ids must be a Uint32Array, Int32Array or Float64Array, got a Float32Array')
  const detached = Uint32Array.of(1, 2)
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  expect(() => native.runLengths(detached)).toThrow("runLengths: ids's ArrayBuffer was detached")
})

test('no Redis at the address: a clear rejection, and the process lives on', async () => {
  const distributed = require('../distributed.js')
  const port = await freePort()
  const data = { unique_id: ['a', 'a'], ds: [1, 2], y: [1, 2] }
  await expect(distributed.predict({ checkpoint: Buffer.alloc(8), data, connection: `redis://127.0.0.1:${port}` })).rejects.toThrow(
    `distributed.predict: Redis at 127.0.0.1:${port} is unreachable (connect ECONNREFUSED 127.0.0.1:${port})`,
  )
  await new Promise((resolve) => setTimeout(resolve, 1500))
})

test('a worker pointed at no Redis gives up after connectTimeout, naming the URL (JS and CLI)', async () => {
  const distributed = require('../distributed.js')
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  await expect(distributed.worker({ connection: url, connectTimeout: 600 })).rejects.toThrow(
    new RegExp(`^distributed\\.worker: Redis at redis://127\\.0\\.0\\.1:${port} is unreachable: no answer within 600 ms \\(connectTimeout\\), \\d+ connection tries; last: connect ECONNREFUSED`),
  )
  await expect(distributed.worker({ connection: url, connectTimeout: 0 })).rejects.toThrow('distributed.worker: options.connectTimeout must be an integer >= 1, got 0')
  const result = spawnSync(process.execPath, [bin, 'worker', '--redis', url, '--connect-timeout', '500'], { encoding: 'utf8', timeout: 20_000 })
  expect(result.status).toBe(1)
  expect(result.stderr).toContain(`cannot start the worker: distributed.worker: Redis at ${url} is unreachable: no answer within 500 ms`)
})

describeRedis('distributed predict over BullMQ', () => {
  const distributed = require('../distributed.js')
  const { Queue, QueueEvents } = require('bullmq')
  let redis
  let workers
  let dir
  let checkpoint
  let forecaster

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-distributed-'))
    forecaster = new NeuralForecaster({
      models: [new models.NHITS({ h: 6, inputSize: 12, maxSteps: 5, randomSeed: 3 }), new models.MLP({ h: 6, inputSize: 12, maxSteps: 5, alias: 'mlp' })],
      frequency: 1,
    })
    await forecaster.fit(sinePanel(8, 48))
    checkpoint = path.join(dir, 'model.safetensors')
    await forecaster.save(checkpoint)
    redis = await startRedis()
    // The first takes 2 chunks at once (two forecasters of one checkpoint).
    workers = await Promise.all([startWorker(redis.url, ['--concurrency', '2']), startWorker(redis.url)])
  })

  afterAll(async () => {
    // SIGTERM: each worker finishes what it holds and exits cleanly.
    for (const w of workers ?? []) {
      w.child.kill('SIGTERM')
      expect(await w.exited).toBe(0)
      expect(w.stderr()).toMatch(/SIGTERM, finishing the chunks in progress\n.*stopped/)
    }
    await redis?.stop()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  test('a 2,000-series panel on 2 workers: the local forecast, bit for bit, in the same row order', async () => {
    const data = sinePanel(2000, 30)
    const progress = []
    const remote = await distributed.predict({ checkpoint, data, connection: redis.url, chunkSeries: 100, onProgress: (p) => progress.push(p.chunksDone) })
    sameForecast(remote, await forecaster.predict({ data }))
    expect(remote.unique_id.length).toBe(2000 * 6)
    expect(progress).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  test('date ds at a calendar frequency (daily, month start, month end): only the last points travel, the forecast is the local one', async () => {
    const frames = require('../lib/distributed/frames.js')
    const forms = [
      ['D', (t) => new Date(Date.UTC(2020, 0, 1 + t)).toISOString().slice(0, 10), { fixedMs: 86400000 }],
      ['MS', (t) => new Date(Date.UTC(1990, t, 1)).toISOString().slice(0, 10), { months: 1, end: false }],
      ['ME', (t) => new Date(Date.UTC(1990, t + 1, 0)).toISOString().slice(0, 10), { months: 1, end: true }],
    ]
    for (const [frequency, date, calendar] of forms) {
      const dated = (panel) => ({ ...panel, ds: panel.ds.map(date) })
      const local = new NeuralForecaster({ models: [new models.MLP({ h: 3, inputSize: 8, maxSteps: 3, randomSeed: 1 })], frequency })
      await local.fit(dated(sinePanel(4, 30)))
      const bytes = await local.toBuffer()
      expect(frames.trimmableTail(bytes)).toEqual({ rows: 8, calendar })
      const data = dated(sinePanel(300, 30))
      const grouped = frames.groupRows(data, 'test')
      expect(frames.decodeChunk(frames.encodeChunk(data, grouped, ['y'], 0, 50, 'test', frames.trimmableTail(bytes))).y.length).toBe(50 * 8)
      sameForecast(await distributed.predict({ checkpoint: bytes, data, connection: redis.url, chunkSeries: 50 }), await local.predict({ data }))
      // A date off the frequency early in series s57 (chunk 1): the series travels whole and fails as locally.
      data.ds[57 * 30 + 2] = '1980-06-15'
      const failure = await local.predict({ data }).then(() => null, (err) => err.message)
      expect(failure).toMatch(/s57/)
      await expect(distributed.predict({ checkpoint: bytes, data, connection: redis.url, chunkSeries: 50 })).rejects.toThrow(/chunk 1 failed: .*s57/)
    }
  })

  test('a ds gap or a NaN before the points the models read: the distributed call fails as the local one does', async () => {
    // Plain arrays (scanned in JavaScript) and Float64Arrays (scanned in the addon).
    for (const [row, column, value, typed] of [[30 * 7, 'ds', -1, false], [30 * 7 + 2, 'y', NaN, false], [30 * 7, 'ds', -1, true], [30 * 7 + 2, 'y', NaN, true]]) {
      const panel = sinePanel(20, 30)
      const data = typed ? { ...panel, ds: Float64Array.from(panel.ds), y: Float64Array.from(panel.y) } : panel
      data[column][row] = value
      const local = await forecaster.predict({ data }).then(() => null, (err) => err.message)
      expect(local).toMatch(/s7/)
      await expect(distributed.predict({ checkpoint, data, connection: redis.url, chunkSeries: 5 })).rejects.toThrow(/chunk 1 failed: .*s7/)
    }
  })

  test('crossValidation of a 2,000-series panel, a fit per window (and one per 2 windows): the local result, bit for bit', async () => {
    const data = sinePanel(2000, 40)
    const forecasterOptions = { models: [new models.MLP({ h: 4, inputSize: 8, hiddenSize: 16, numLayers: 1, maxSteps: 3 })], frequency: 1 }
    for (const refit of [true, 2]) {
      const options = { nWindows: 3, stepSize: 2, refit }
      const progress = []
      const remote = await distributed.crossValidation({ forecasterOptions, data, connection: redis.url, ...options, onProgress: (p) => progress.push(p) })
      sameForecast(remote, await crossValidation(forecasterOptions, data, options))
      expect(remote.unique_id.length).toBe(2000 * 3 * 4)
      expect(progress.at(-1)).toEqual({ chunksDone: refit === true ? 3 : 2, chunks: refit === true ? 3 : 2 })
    }
  })

  test('an AutoNHITS search over 20 trials on 2 workers: the trials (bit for bit) and winner of the local search with the same seed', async () => {
    const { auto } = require('../main.js')
    const search = () =>
      new models.AutoNHITS({
        h: 4,
        numSamples: 20,
        seed: 7,
        config: {
          inputSize: auto.choice([8, 12]),
          learningRate: auto.loguniform(1e-3, 3e-2),
          maxSteps: auto.choice([2, 4]),
          mlpUnits: auto.choice([[[8, 8], [8, 8], [8, 8]], [[16, 16], [16, 16], [16, 16]]]),
          randomSeed: auto.randint(1, 100),
        },
      })
    const data = sinePanel(6, 40)
    const local = search()
    await new NeuralForecaster({ models: [local], frequency: 1 }).fit(data)
    const progress = []
    const remote = await distributed.search({
      forecasterOptions: { models: [search()], frequency: 1 },
      data,
      connection: redis.url,
      onProgress: (p) => progress.push(p.chunksDone),
    })
    expect(remote.rows.map((r) => [r.trial, r.config, r.validLoss, r.steps])).toEqual(local.results().map((r) => [r.trial, r.config, r.validLoss, r.steps]))
    expect(new Set(remote.rows.map((r) => r.validLoss)).size).toBeGreaterThan(1)
    expect(remote.bestConfig).toEqual(local.bestConfig)
    expect(remote.rows[remote.bestTrial].config).toEqual(local.bestConfig)
    expect(progress).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    // The forecaster's seed and the fit's validationSize reach the trials as they do locally.
    const mlp = () => new models.AutoMLP({ h: 4, numSamples: 4, config: { inputSize: auto.choice([6, 10]), hiddenSize: 8, maxSteps: 3, learningRate: auto.loguniform(1e-3, 1e-1) } })
    const localMlp = mlp()
    await new NeuralForecaster({ models: [localMlp], frequency: 1, seed: 11 }).fit(data, { validationSize: 6 })
    const remoteMlp = await distributed.search({ forecasterOptions: { models: [mlp()], frequency: 1, seed: 11 }, data, connection: redis.url, fitOptions: { validationSize: 6 } })
    expect(remoteMlp.rows.map((r) => [r.config, r.validLoss])).toEqual(localMlp.results().map((r) => [r.config, r.validLoss]))
    expect(remoteMlp.bestConfig).toEqual(localMlp.bestConfig)
    // A multivariate search: each trial's chunk trains on all the series with the Auto model's nSeries.
    const mixer = () => new models.AutoTSMixer({ h: 4, nSeries: 6, numSamples: 2, config: { inputSize: auto.choice([8, 12]), ffDim: 8, maxSteps: 3, learningRate: auto.loguniform(1e-3, 1e-1) } })
    const localMixer = mixer()
    await new NeuralForecaster({ models: [localMixer], frequency: 1 }).fit(data)
    const remoteMixer = await distributed.search({ forecasterOptions: { models: [mixer()], frequency: 1 }, data, connection: redis.url })
    expect(remoteMixer.rows.map((r) => [r.config, r.validLoss])).toEqual(localMixer.results().map((r) => [r.config, r.validLoss]))
    expect(remoteMixer.rows.every((r) => Number.isFinite(r.validLoss))).toBe(true)
    await expect(distributed.search({ forecasterOptions: { models: [new models.MLP({ h: 4, inputSize: 8 })], frequency: 1 }, data, connection: redis.url })).rejects.toThrow(
      'distributed.search: options.forecasterOptions must be NeuralForecaster options with one Auto model',
    )
    await expect(
      distributed.search({ forecasterOptions: { models: [new models.AutoMLP({ h: 4, numSamples: 2, timeBudget: 5 })], frequency: 1 }, data, connection: redis.url }),
    ).rejects.toThrow('distributed.search: timeBudget is not available')
  })

  test('a worker killed with SIGKILL mid-run: its chunk runs again elsewhere, each chunk completes once', async () => {
    const data = sinePanel(400, 30)
    const events = new QueueEvents('neuro-divergent', { connection: { host: '127.0.0.1', port: redis.port } })
    await events.waitUntilReady()
    const completed = []
    events.on('completed', ({ jobId }) => completed.push(jobId))
    const victim = workers[1]
    let replacement
    const remote = await distributed.predict({
      checkpoint: await fs.promises.readFile(checkpoint),
      data,
      connection: redis.url,
      chunkSeries: 10,
      onProgress: ({ chunksDone }) => {
        if (chunksDone === 2 && !replacement) {
          victim.child.kill('SIGKILL')
          replacement = startWorker(redis.url)
        }
      },
    })
    workers[1] = await replacement
    expect(victim.child.signalCode).toBe('SIGKILL')
    sameForecast(remote, await forecaster.predict({ data }))
    await new Promise((resolve) => setTimeout(resolve, 200))
    await events.close()
    const chunks = completed.filter((id) => !id.endsWith('-flow'))
    expect(chunks.length).toBe(40)
    expect(new Set(chunks).size).toBe(40)
  })

  test('workers of another package version refuse the job, naming both versions', async () => {
    const queue = new Queue('neuro-divergent', { connection: { host: '127.0.0.1', port: redis.port } })
    const events = new QueueEvents('neuro-divergent', { connection: { host: '127.0.0.1', port: redis.port } })
    await events.waitUntilReady()
    const job = await queue.add('predict', { version: '0.0.0-other', run: 'r', chunk: 0, checkpoint: 'x', options: {} })
    await expect(job.waitUntilFinished(events)).rejects.toThrow(`this worker runs neuro-divergent ${distributed.version} but the job was submitted by neuro-divergent 0.0.0-other`)
    await queue.close()
    await events.close()
  })

  test('a corrupt checkpoint: a clear error from the first chunk, the flow fails fast', async () => {
    const bytes = await fs.promises.readFile(checkpoint)
    bytes.fill(0x7b, 8, 40)
    const data = sinePanel(200, 30)
    await expect(distributed.predict({ checkpoint: bytes, data, connection: redis.url, chunkSeries: 5 })).rejects.toThrow(
      /distributed\.predict: chunk \d+ failed: cannot load checkpoint [0-9a-f]{12}: /,
    )
    const queue = new Queue('neuro-divergent', { connection: { host: '127.0.0.1', port: redis.port } })
    const counts = await queue.getJobCounts('wait', 'waiting-children', 'prioritized', 'delayed')
    await queue.close()
    expect(counts).toEqual({ wait: 0, 'waiting-children': 0, prioritized: 0, delayed: 0 })
  })

  test('an AbortSignal rejects with the AbortError and removes the flow', async () => {
    const controller = new AbortController()
    const data = sinePanel(600, 30)
    await expect(
      distributed.predict({ checkpoint, data, connection: redis.url, chunkSeries: 5, signal: controller.signal, onProgress: () => controller.abort() }),
    ).rejects.toMatchObject({ name: 'AbortError' })
    const queue = new Queue('neuro-divergent', { connection: { host: '127.0.0.1', port: redis.port } })
    const counts = await queue.getJobCounts('wait', 'waiting-children', 'prioritized', 'delayed')
    await queue.close()
    expect(counts).toEqual({ wait: 0, 'waiting-children': 0, prioritized: 0, delayed: 0 })
  })

  test('CLI: predict --redis and cv --redis write the local results; Redis stopped mid-run fails clearly and writes no file', async () => {
    const { main } = require('../lib/cli/index.js')
    const { columnsToCsv } = require('../lib/csv.js')
    const csv = path.join(dir, 'panel.csv')
    fs.writeFileSync(csv, columnsToCsv(sinePanel(300, 30)))
    const sink = (onText) => {
      let text = ''
      const stream = new Writable({
        write(chunk, _, done) {
          text += chunk
          onText?.(text)
          done()
        },
      })
      return { stream, text: () => text }
    }
    const out = path.join(dir, 'forecast.csv')
    const stderr = sink()
    const code = await main(['predict', '--load', checkpoint, csv, '--redis', redis.url, '--chunk-series', '50', '--out', out], { stdout: sink().stream, stderr: stderr.stream })
    expect(stderr.text()).toMatch(/6\/6 chunks forecast/)
    expect(code).toBe(0)
    const local = sink()
    expect(await main(['predict', '--load', checkpoint, csv, '--out', '-', '-q'], { stdout: local.stream, stderr: sink().stream })).toBe(0)
    expect(fs.readFileSync(out, 'utf8')).toBe(local.text())

    const cvOut = path.join(dir, 'cv.csv')
    const cvLocal = path.join(dir, 'cv-local.csv')
    const cvArgs = ['cv', csv, '--model', 'mlp', '--horizon', '3', '--input-size', '6', '--max-steps', '3', '--hidden-size', '8', '--n-windows', '2', '--refit', '-q']
    const cvNotes = sink()
    expect(await main([...cvArgs.slice(0, -1), '--redis', redis.url, '--out', cvOut], { stdout: sink().stream, stderr: cvNotes.stream })).toBe(0)
    expect(cvNotes.text()).toMatch(/2\/2 fits done/)
    expect(await main([...cvArgs, '--out', cvLocal], { stdout: sink().stream, stderr: sink().stream })).toBe(0)
    expect(fs.readFileSync(cvOut, 'utf8')).toBe(fs.readFileSync(cvLocal, 'utf8'))

    const doomed = await startRedis()
    const worker = await startWorker(doomed.url)
    const lost = path.join(dir, 'lost.csv')
    const failing = sink((text) => {
      if (text.includes('chunks forecast')) doomed.stop()
    })
    const failed = await main(['predict', '--load', checkpoint, csv, '--redis', doomed.url, '--chunk-series', '2', '--out', lost], { stdout: sink().stream, stderr: failing.stream })
    worker.child.kill('SIGKILL')
    await worker.exited
    await doomed.stop()
    expect(failed).toBe(1)
    expect(failing.text()).toMatch(new RegExp(`Redis at 127\\.0\\.0\\.1:${doomed.port} is gone`))
    expect(fs.existsSync(lost)).toBe(false)
    expect(fs.readdirSync(dir).filter((f) => f.includes('lost'))).toEqual([])
  })
})

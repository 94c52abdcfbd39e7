'use strict'
// Distributed mode (`neuro-divergent/distributed`): batch prediction fanned out over a BullMQ queue on Redis.
//
// The coordinator stages the checkpoint once under its content hash, adds one BullMQ flow (a parent job and one
// child per chunk of series, each child delayed until its data is staged) and stages the data once in compact
// chunks (see frames.js; of each series only the last points the checkpoint's models read, where the rest may be
// dropped), releasing each chunk as it lands. Workers (any number of processes on any number of machines) load
// each checkpoint once per hash, forecast their chunks in the addon and leave each chunk's forecast in Redis; the
// parent completes when every child has. The coordinator then reads the forecasts in chunk order: exactly the
// frame a local `predict` returns. A killed worker's chunk is retried by BullMQ's stalled-job recovery and
// overwrites the same result key, so no row is lost or doubled.
// Workers run their chunks in process, not in BullMQ's sandboxed processors: the addon forecasts off the JS
// thread, so the event loop stays free to renew the chunks' locks.

const crypto = require('node:crypto')

const { version: PACKAGE_VERSION } = require('../../package.json')
const frames = require('./frames.js')

const DEFAULT_QUEUE = 'neuro-divergent'
const DEFAULT_CHUNK_SERIES = 1000
/** Staged data and results expire on their own should a coordinator die before cleaning up. */
const STAGED_TTL_S = 24 * 3600
/** Checkpoints a worker keeps loaded; the least recently used goes first. */
const CACHED_CHECKPOINTS = 8
/** Tries, 100 ms apart, to remove an aborted or failed flow whose chunks workers still hold. */
const REMOVE_TRIES = 300
/** Chunk writes to Redis in flight at once while staging. */
const STAGING_IN_FLIGHT = 4
/** How long the coordinator waits for Redis to come back before it gives up on a run. */
const RECONNECT_TRIES = 3

function bullmq() {
  try {
    return require('bullmq')
  } catch (err) {
    throw new Error(`neuro-divergent/distributed needs the bullmq package: npm install bullmq (${err.message.split('\n')[0]})`)
  }
}

/** Redis connection options from a URL string or ioredis options. */
function connectionOptions(connection, what) {
  if (typeof connection === 'string') {
    let url
    try {
      url = new URL(connection)
    } catch {
      throw new TypeError(`${what}: connection must be a redis:// URL or ioredis options, got ${JSON.stringify(connection)}`)
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new TypeError(`${what}: connection must be a redis:// URL, got ${JSON.stringify(connection)}`)
    }
    const options = { host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) }
    if (url.password) options.password = decodeURIComponent(url.password)
    if (url.username) options.username = decodeURIComponent(url.username)
    if (url.pathname.length > 1) options.db = Number(url.pathname.slice(1))
    if (url.protocol === 'rediss:') options.tls = {}
    return options
  }
  if (connection !== null && typeof connection === 'object' && !Array.isArray(connection)) return { ...connection }
  throw new TypeError(`${what}: options.connection must be a redis:// URL or ioredis options ({ host, port })`)
}

function describeConnection(options) {
  return `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`
}

function keys(queue) {
  const base = `nd:${queue}`
  return {
    checkpoint: (hash) => `${base}:checkpoint:${hash}`,
    input: (run, chunk) => `${base}:run:${run}:in:${chunk}`,
    output: (run, chunk) => `${base}:run:${run}:out:${chunk}`,
  }
}

function abortError(signal, what) {
  if (signal.reason !== undefined) return signal.reason
  const err = new Error(`${what} was aborted`)
  err.name = 'AbortError'
  return err
}

const PREDICT_OPTIONS = ['checkpoint', 'data', 'connection', 'chunkSeries', 'horizon', 'level', 'quantiles', 'queueName', 'signal', 'onProgress']

/**
 * Forecasts `data` with the checkpoint (a file path or Buffer) on the workers listening on the queue; resolves to
 * what `(await NeuralForecaster.load(checkpoint)).predict({ data, horizon, level, quantiles })` returns.
 */
async function predict(options) {
  const what = 'distributed.predict'
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: options must be an object`)
  const unknown = Object.keys(options).find((k) => !PREDICT_OPTIONS.includes(k))
  if (unknown) throw new TypeError(`${what}: unknown option ${JSON.stringify(unknown)}; accepted: ${PREDICT_OPTIONS.join(', ')}`)
  const { checkpoint, data, connection, chunkSeries = DEFAULT_CHUNK_SERIES, queueName = DEFAULT_QUEUE, signal, onProgress } = options
  if (!Number.isSafeInteger(chunkSeries) || chunkSeries < 1) throw new RangeError(`${what}: options.chunkSeries must be an integer >= 1, got ${chunkSeries}`)
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`${what}: options.onProgress must be a function`)
  if (signal !== undefined && !(signal && typeof signal.addEventListener === 'function' && 'aborted' in signal)) {
    throw new TypeError(`${what}: options.signal must be an AbortSignal`)
  }
  const predictOptions = {}
  for (const key of ['horizon', 'level', 'quantiles']) if (options[key] !== undefined) predictOptions[key] = options[key]
  const bytes = await checkpointBytes(checkpoint, what)
  const grouped = frames.groupRows(data, what)
  const names = frames.numericColumns(data, what)
  const chunks = []
  for (let first = 0; first < grouped.labels.length; first += chunkSeries) {
    chunks.push([first, Math.min(first + chunkSeries, grouped.labels.length)])
  }
  if (chunks.length === 0) throw new RangeError(`${what}: data has no series`)
  // Only the points the checkpoint's models read travel (the LSTM of inputSize 24 reads 24 of a series' 500).
  const tail = frames.trimmableTail(bytes)
  const encode = (i) => frames.encodeChunk(data, grouped, names, chunks[i][0], chunks[i][1], what, tail)
  const tasks = chunks.map((_, i) => ({ input: i, options: predictOptions }))
  const collector = frames.forecastCollector(chunks.length)
  return runFlow({ what, connection, queueName, signal, onProgress, bytes, task: 'predict', tasks, inputs: chunks.length, encode, collector })
}

async function checkpointBytes(checkpoint, what) {
  if (Buffer.isBuffer(checkpoint) || checkpoint instanceof Uint8Array) return Buffer.from(checkpoint)
  if (typeof checkpoint === 'string') {
    try {
      return await require('node:fs/promises').readFile(checkpoint)
    } catch (err) {
      throw new Error(`${what}: cannot read checkpoint ${checkpoint}: ${err.code === 'ENOENT' ? 'file not found' : err.message}`)
    }
  }
  throw new TypeError(`${what}: options.checkpoint must be a checkpoint file path or a Buffer`)
}

const CROSS_VALIDATION_OPTIONS = ['forecasterOptions', 'data', 'connection', 'nWindows', 'stepSize', 'refit', 'horizon', 'level', 'queueName', 'signal', 'onProgress']

/**
 * NeuralForecast's cross-validation with its fits spread over the workers: each fit (one per window with
 * `refit: true`, one per k windows with `refit: k`, a single one without refit) is a chunk that cross-validates
 * the history before its windows. Resolves to what the local `crossValidation(forecasterOptions, data, options)`
 * returns, bit for bit and in the same row order.
 */
async function crossValidation(options) {
  const what = 'distributed.crossValidation'
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: options must be an object`)
  const unknown = Object.keys(options).find((k) => !CROSS_VALIDATION_OPTIONS.includes(k))
  if (unknown) throw new TypeError(`${what}: unknown option ${JSON.stringify(unknown)}; accepted: ${CROSS_VALIDATION_OPTIONS.join(', ')}`)
  const { forecasterOptions, data, connection, nWindows = 1, stepSize = 1, refit = false, queueName = DEFAULT_QUEUE, signal, onProgress } = options
  if (forecasterOptions === null || typeof forecasterOptions !== 'object' || !Array.isArray(forecasterOptions.models)) {
    throw new TypeError(`${what}: options.forecasterOptions must be NeuralForecaster options (a factory function cannot travel to the workers)`)
  }
  for (const [name, value] of Object.entries({ nWindows, stepSize })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${what}: options.${name} must be an integer >= 1, got ${value}`)
  }
  if (!(typeof refit === 'boolean' || (Number.isSafeInteger(refit) && refit >= 0))) throw new TypeError(`${what}: options.refit must be a boolean or an integer >= 0`)
  // Windows per fit, as the engine groups them: refit true (or 1) every window, k every k windows, false one fit.
  const perFit = refit === true ? 1 : refit === false || refit === 0 ? nWindows : refit
  const cvOptions = {}
  for (const key of ['horizon', 'level']) if (options[key] !== undefined) cvOptions[key] = options[key]
  const grouped = frames.groupRows(data, what)
  const names = frames.numericColumns(data, what)
  if (grouped.labels.length === 0) throw new RangeError(`${what}: data has no series`)
  const encode = () => frames.encodeChunk(data, grouped, names, 0, grouped.labels.length, what)
  // Fit g cross-validates windows [first, end) on the series without the points of the later windows.
  const plainOptions = JSON.parse(JSON.stringify(forecasterOptions))
  const tasks = []
  for (let first = 0; first < nWindows; first += perFit) {
    const end = Math.min(first + perFit, nWindows)
    tasks.push({
      input: 0,
      dropLast: (nWindows - end) * stepSize,
      forecasterOptions: plainOptions,
      options: { ...cvOptions, nWindows: end - first, stepSize, refit: false },
    })
  }
  const collector = partsCollector(tasks.length, frames.decodeForecast, (parts) => frames.interleaveForecasts(parts, grouped.labels))
  return runFlow({ what, connection, queueName, signal, onProgress, bytes: null, task: 'crossValidation', tasks, inputs: 1, encode, collector })
}

const SEARCH_OPTIONS = ['forecasterOptions', 'data', 'connection', 'fitOptions', 'queueName', 'signal', 'onProgress']

/**
 * An Auto model's search with its trials spread over the workers: trial k's configuration depends on the seed and
 * k alone, so each trial is a chunk that trains that configuration by itself, as the local search does, on the
 * series without their last `valSize` points. Resolves to `{ rows, bestConfig, bestTrial }`: the rows of
 * `results()` after a local fit (trial order) and the winner the local search picks (the lowest validation loss,
 * the lowest trial among equals); fit the winner's configuration to use it.
 */
async function search(options) {
  const what = 'distributed.search'
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: options must be an object`)
  const unknown = Object.keys(options).find((k) => !SEARCH_OPTIONS.includes(k))
  if (unknown) throw new TypeError(`${what}: unknown option ${JSON.stringify(unknown)}; accepted: ${SEARCH_OPTIONS.join(', ')}`)
  const { forecasterOptions, data, connection, fitOptions = {}, queueName = DEFAULT_QUEUE, signal, onProgress } = options
  const { models, autoTrialConfigs } = require('../../main.js')
  const given = forecasterOptions?.models?.length === 1 ? forecasterOptions.models[0] : undefined
  const autoType = given?.type
  if (typeof autoType !== 'string' || !autoType.startsWith('Auto') || !models[autoType]) {
    throw new TypeError(`${what}: options.forecasterOptions must be NeuralForecaster options with one Auto model (models.AutoNHITS, …)`)
  }
  if (fitOptions === null || typeof fitOptions !== 'object') throw new TypeError(`${what}: options.fitOptions must be an object`)
  // The Auto model's options as NeuralForecaster reads them: its seed, when it names none, is the forecaster's.
  const { type: _type, ...own } = given
  const autoModel = new models[autoType](own.seed === undefined && forecasterOptions.seed !== undefined ? { ...own, randomSeed: forecasterOptions.seed } : own)
  if (autoModel.timeBudget !== undefined) throw new RangeError(`${what}: timeBudget is not available (which trials run would depend on the machines' speed)`)
  const configs = autoTrialConfigs(autoType, autoModel)
  // What the local search trains each trial with: the forecaster's options (its seed does not reach the trials),
  // the Auto model's fixed options (a multivariate model's nSeries too: every trial trains on all the series), and
  // the fit's options with the validation points held out.
  const { seed: _seed, models: _models, ...shared } = JSON.parse(JSON.stringify(forecasterOptions))
  const fixed = {}
  for (const key of ['h', 'nSeries', 'loss', 'validLoss']) if (autoModel[key] !== undefined) fixed[key] = autoModel[key]
  const { predictionIntervals: _intervals, valSize: fitValSize, ...trialFit } = JSON.parse(JSON.stringify(fitOptions))
  const fitValidation = trialFit.validationSize ?? fitValSize ?? 0
  trialFit.validationSize = autoModel.valSize ?? (fitValidation > 0 ? fitValidation : autoModel.h)
  const grouped = frames.groupRows(data, what)
  const names = frames.numericColumns(data, what)
  if (grouped.labels.length === 0) throw new RangeError(`${what}: data has no series`)
  const encode = () => frames.encodeChunk(data, grouped, names, 0, grouped.labels.length, what)
  const kind = autoType.slice('Auto'.length)
  const tasks = configs.map((config, trial) => ({
    input: 0,
    trial,
    config,
    forecasterOptions: { ...shared, models: [{ type: kind, ...fixed, ...config, alias: autoModel.alias }] },
    options: trialFit,
  }))
  const collector = partsCollector(tasks.length, (buffer) => JSON.parse(buffer.toString('utf8')), (rows) => rows)
  const rows = await runFlow({ what, connection, queueName, signal, onProgress, bytes: null, task: 'searchTrial', tasks, inputs: 1, encode, collector })
  // The local search's order among finished trials: the lowest loss (NaN last), then the lowest trial.
  const key = (row) => (row.validLoss === 'NaN' ? Infinity : row.validLoss)
  const best = rows.filter((row) => row.validLoss !== null).reduce((a, b) => (a === undefined || key(b) < key(a) ? b : a), undefined)
  // A NaN loss reads null, as in results().
  for (const row of rows) if (row.validLoss === 'NaN') row.validLoss = null
  return { rows, bestConfig: best?.config, bestTrial: best?.trial }
}

/** A collector (see runFlow) that decodes each chunk's result and hands them all, in chunk order, to `finish`. */
function partsCollector(count, decode, finish) {
  const parts = new Array(count)
  return {
    add: (chunk, buffer) => (parts[chunk] = decode(buffer)),
    result: () => finish(parts),
  }
}

/**
 * Stages the checkpoint (when given) and the inputs, runs one flow with a child per task and resolves to
 * `collector.result()`, the collector having been given each chunk's result (`add(chunk, buffer)`) as soon as the
 * chunk completed, while the others still run. Rejects with the first failed chunk's error (and removes the flow),
 * when `signal` aborts (removing the flow), or when Redis is gone.
 */
async function runFlow({ what, connection, queueName, signal, onProgress, bytes, task, tasks, inputs, encode, collector }) {
  const { FlowProducer, QueueEvents, Queue } = bullmq()
  const IORedis = require('ioredis')
  const redisOptions = connectionOptions(connection, what)
  const where = describeConnection(redisOptions)
  if (signal?.aborted) throw abortError(signal, what)
  const key = keys(queueName)
  const run = crypto.randomUUID()
  const hash = bytes === null ? null : crypto.createHash('sha256').update(bytes).digest('hex')
  const chunks = tasks.length

  let fail
  const failed = new Promise((_, reject) => (fail = reject))
  failed.catch(() => {})
  // The coordinator's own client gives up after a few reconnection tries, so a run fails instead of hanging.
  let lastError
  const client = new IORedis({
    ...redisOptions,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > RECONNECT_TRIES ? null : 200 * times),
  })
  let connected = false
  client.on('ready', () => (connected = true))
  client.on('error', (err) => (lastError = err))
  const lost = () => new Error(`${what}: Redis at ${where} is ${connected ? 'gone' : 'unreachable'}${lastError ? ` (${lastError.message})` : ''}`)
  client.on('end', () => fail(lost()))
  const race = (promise) => Promise.race([promise, failed])
  // BullMQ's objects are made once Redis answers: one whose first connection never succeeds reports it as an
  // 'error' event after close, which nothing could catch.
  let bull = []
  const openBull = () => {
    const connection = { ...redisOptions, maxRetriesPerRequest: null, retryStrategy: (times) => (times > RECONNECT_TRIES ? null : 200 * times) }
    bull = [new QueueEvents(queueName, { connection }), new FlowProducer({ connection }), new Queue(queueName, { connection })]
    for (const o of bull) o.on('error', () => {})
    return bull
  }

  const jobId = (i) => `${run}-${i}`
  const parentId = `${run}-flow`
  let added = false
  let queue
  // A chunk a worker holds cannot be removed (nor its parent with it): the rest goes at once, and the parent once
  // the held chunks end (within a lock duration; they still finish, their results are deleted below).
  const removeFlow = async () => {
    if (!added) return
    for (let tries = 0; tries < REMOVE_TRIES; tries++) {
      if ((await queue.remove(parentId, { removeChildren: true })) === 1 || !(await queue.getJob(parentId))) return
      for (let i = 0; i < chunks; i++) await queue.remove(jobId(i))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const onAbort = () => fail(abortError(signal, what))
  signal?.addEventListener('abort', onAbort, { once: true })
  const done = new Set()
  // Staging writes, awaited before the staged keys are deleted.
  const writes = []
  let settled = 0
  try {
    await race(client.ping())
    const [queueEvents, producer, flowQueue] = openBull()
    queue = flowQueue
    if (hash !== null) {
      const checkpointKey = key.checkpoint(hash)
      if (!(await race(client.expire(checkpointKey, STAGED_TTL_S)))) await race(client.set(checkpointKey, bytes, 'EX', STAGED_TTL_S))
    }
    // The first input is encoded before the flow exists, so bad data fails before any job is added.
    const first = encode(0)
    await race(queueEvents.waitUntilReady())

    // Each chunk's result is read and collected as soon as the chunk completes, while the workers run the others.
    const reads = new Map()
    const collect = (chunk) => {
      let read = reads.get(chunk)
      if (read === undefined) {
        read = race(client.getBuffer(key.output(run, chunk))).then((buffer) => {
          if (buffer === null) throw new Error(`${what}: the result of chunk ${chunk} is missing from Redis at ${where}`)
          collector.add(chunk, buffer)
        })
        reads.set(chunk, read)
      }
      return read
    }
    const finished = new Promise((resolve, reject) => {
      queueEvents.on('completed', ({ jobId: id }) => {
        if (id === parentId) return resolve()
        if (!id.startsWith(`${run}-`) || done.has(id)) return
        done.add(id)
        collect(Number(id.slice(run.length + 1))).catch(reject)
        try {
          onProgress?.({ chunksDone: done.size, chunks })
        } catch (err) {
          reject(err)
        }
      })
      queueEvents.on('failed', ({ jobId: id, failedReason }) => {
        if (id.startsWith(`${run}-`)) reject(new Error(`${what}: ${id === parentId ? 'the flow' : `chunk ${id.slice(run.length + 1)}`} failed: ${failedReason}`))
      })
    })
    finished.catch(() => {})
    // The chunks wait (delayed) until their input is staged: workers start on the first chunks while the
    // coordinator stages the rest. Should the coordinator die first, they fail once the delay (the staged data's
    // lifetime) is over, finding no input.
    const childOptions = { failParentOnFailure: true, removeOnComplete: true, removeOnFail: 1000, delay: STAGED_TTL_S * 1000 }
    const flow = await race(
      producer.add({
        name: 'collect',
        queueName,
        data: { version: PACKAGE_VERSION, run, chunks },
        opts: { jobId: parentId, removeOnComplete: true, removeOnFail: 1000 },
        children: Array.from({ length: chunks }, (_, i) => ({
          name: task,
          queueName,
          data: { version: PACKAGE_VERSION, run, chunk: i, checkpoint: hash, ...tasks[i] },
          opts: { ...childOptions, jobId: jobId(i) },
        })),
      }),
    )
    added = true
    const children = new Map(flow.children.map(({ job }) => [job.id, job]))
    const waitingFor = (input) => tasks.flatMap((t, i) => (t.input === input ? [children.get(jobId(i))] : []))
    const staging = (promise) => Promise.race([promise, failed, finished])
    // A few writes in flight: the next chunk is encoded while Redis takes the previous ones; each input's chunks
    // are released as soon as it is staged.
    for (let i = 0; i < inputs; i++) {
      const write = client.set(key.input(run, i), i === 0 ? first : encode(i), 'EX', STAGED_TTL_S).then(() => Promise.all(waitingFor(i).map((job) => job.promote())))
      write.catch(() => {})
      writes.push(write)
      if (writes.length - settled >= STAGING_IN_FLIGHT) await staging(writes[settled++])
    }
    await staging(Promise.all(writes))
    await race(finished)
    // A chunk whose completion event was not seen is read now.
    await race(Promise.all(Array.from({ length: chunks }, (_, i) => collect(i))))
    return collector.result()
  } catch (err) {
    if (client.status === 'ready') await removeFlow().catch(() => {})
    else if (err?.name !== 'AbortError') throw lost()
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    await Promise.allSettled(writes)
    if (client.status === 'ready') {
      const staged = []
      for (let i = 0; i < inputs; i++) staged.push(key.input(run, i))
      for (let i = 0; i < chunks; i++) staged.push(key.output(run, i))
      await client.del(...staged).catch(() => {})
    }
    await closeAll(bull)
    client.disconnect()
  }
}

/** Closes BullMQ objects, waiting at most a second for each (a close waits for Redis, which may be gone). */
async function closeAll(objects) {
  await Promise.all(
    objects.map((o) =>
      Promise.race([o.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]).then(() => o.disconnect?.().catch?.(() => {})),
    ),
  )
}

/**
 * Resolves once Redis answers a PING, trying again every `RETRY_MS` until `timeoutMs`; else rejects with an
 * error naming the server, the tries and the last connection error (no client is left behind either way).
 */
async function reachRedis(IORedis, redisOptions, timeoutMs, what, where) {
  let tries = 0
  let lastError
  const probe = new IORedis({ ...redisOptions, maxRetriesPerRequest: null, retryStrategy: () => RETRY_MS })
  probe.on('error', (err) => (lastError = err))
  probe.on('connect', () => (lastError = undefined))
  probe.on('reconnecting', () => tries++)
  let timer
  const timedOut = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')))
  try {
    const answer = await Promise.race([probe.ping().catch((err) => ({ refused: err })), timedOut])
    if (answer?.refused) throw new Error(`${what}: Redis at ${where} refused the connection: ${answer.refused.message}`)
    if (answer === 'timeout') {
      throw new Error(
        `${what}: Redis at ${where} is unreachable: no answer within ${timeoutMs} ms (connectTimeout), ${tries + 1} connection ${tries ? 'tries' : 'try'}` +
          (lastError ? `; last: ${lastError.message}` : ''),
      )
    }
  } finally {
    clearTimeout(timer)
    probe.disconnect()
  }
}

/** Between a starting worker's tries to reach Redis. */
const RETRY_MS = 250
/** How long a starting worker tries to reach Redis before it gives up. */
const DEFAULT_CONNECT_TIMEOUT_MS = 30000

/**
 * A worker: processes the chunks of distributed runs from the queue, `concurrency` at a time, each forecaster
 * on `threads` threads. Resolves once connected to `{ close() }` (close finishes the jobs in progress first);
 * rejects when Redis does not answer within `connectTimeout` ms. Once started it rides out Redis restarts.
 */
async function worker(options = {}) {
  const what = 'distributed.worker'
  const accepted = ['connection', 'concurrency', 'threads', 'queueName', 'lockDuration', 'stalledInterval', 'connectTimeout', 'onError']
  const unknown = Object.keys(options).find((k) => !accepted.includes(k))
  if (unknown) throw new TypeError(`${what}: unknown option ${JSON.stringify(unknown)}; accepted: ${accepted.join(', ')}`)
  const { connection, concurrency = 1, threads, queueName = DEFAULT_QUEUE, lockDuration, stalledInterval, connectTimeout = DEFAULT_CONNECT_TIMEOUT_MS, onError } = options
  for (const [name, value] of Object.entries({ concurrency, threads, lockDuration, stalledInterval, connectTimeout })) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new RangeError(`${what}: options.${name} must be an integer >= 1, got ${value}`)
  }
  const { Worker, UnrecoverableError } = bullmq()
  const { NeuralForecaster, crossValidation: localCrossValidation } = require('../../main.js')
  const redisOptions = connectionOptions(connection, what)
  const key = keys(queueName)
  const IORedis = require('ioredis')
  const where = typeof connection === 'string' ? connection : `redis://${describeConnection(redisOptions)}`
  await reachRedis(IORedis, redisOptions, connectTimeout, what, where)
  const client = new IORedis({ ...redisOptions, maxRetriesPerRequest: null })
  client.on('error', (err) => onError?.(err))
  // Per checkpoint hash, the most recently used first out: its bytes (fetched once) and idle forecasters (one per
  // concurrent job at most).
  const checkpoints = new Map()

  async function acquire(hash) {
    let entry = checkpoints.get(hash)
    if (entry !== undefined) {
      checkpoints.delete(hash)
      checkpoints.set(hash, entry)
    } else {
      if (checkpoints.size >= CACHED_CHECKPOINTS) checkpoints.delete(checkpoints.keys().next().value)
      entry = {
        bytes: client.getBuffer(key.checkpoint(hash)).then((bytes) => {
          if (bytes === null) throw new UnrecoverableError(`checkpoint ${hash.slice(0, 12)} is not staged in Redis (expired or removed)`)
          return bytes
        }),
        idle: [],
      }
      checkpoints.set(hash, entry)
      const fetched = entry
      entry.bytes.catch(() => checkpoints.get(hash) === fetched && checkpoints.delete(hash))
    }
    if (entry.idle.length) return { entry, forecaster: entry.idle.pop() }
    const bytes = await entry.bytes
    try {
      return { entry, forecaster: await NeuralForecaster.fromBuffer(bytes, threads === undefined ? undefined : { numThreads: threads }) }
    } catch (err) {
      throw new UnrecoverableError(`cannot load checkpoint ${hash.slice(0, 12)}: ${err.message}`)
    }
  }

  /** One trial of a search, as the local search runs it: a failed trial is a row with its error, not a failure. */
  async function searchTrial({ trial, config, forecasterOptions, options: fitOptions }, data) {
    const started = process.hrtime.bigint()
    const row = (validLoss, steps, error) => ({ trial, config, validLoss, steps, seconds: Number(process.hrtime.bigint() - started) / 1e9, ...(error ? { error } : {}) })
    try {
      const forecaster = new NeuralForecaster(threads === undefined ? forecasterOptions : { ...forecasterOptions, numThreads: threads })
      const report = await forecaster.fit(data, fitOptions)
      const model = report.models[0]
      const loss = model.valLoss.at(-1)
      // NaN (a diverged trial, still a finished one) survives JSON as 'NaN'.
      return loss === undefined ? row(null, model.steps, 'no validation loss was computed') : row(Number.isNaN(loss) ? 'NaN' : loss, model.steps)
    } catch (err) {
      return row(null, 0, err.message)
    }
  }

  async function processJob(job) {
    const { version, run, chunk, input: inputIndex, checkpoint, options: taskOptions } = job.data
    if (version !== PACKAGE_VERSION) {
      throw new UnrecoverableError(`this worker runs neuro-divergent ${PACKAGE_VERSION} but the job was submitted by neuro-divergent ${version}; run workers of the coordinator's version`)
    }
    if (job.name === 'collect') return { chunks: job.data.chunks }
    if (!['predict', 'crossValidation', 'searchTrial'].includes(job.name)) throw new UnrecoverableError(`unknown task ${JSON.stringify(job.name)}`)
    const input = await client.getBuffer(key.input(run, inputIndex))
    if (input === null) throw new UnrecoverableError(`the data of chunk ${chunk} is not staged in Redis (the run was removed)`)
    if (job.name === 'searchTrial') {
      const row = await searchTrial(job.data, frames.decodeChunk(input))
      await client.set(key.output(run, chunk), JSON.stringify(row), 'EX', STAGED_TTL_S)
      return { trial: row.trial }
    }
    if (job.name === 'crossValidation') {
      const forecasterOptions = threads === undefined ? job.data.forecasterOptions : { ...job.data.forecasterOptions, numThreads: threads }
      let frame
      try {
        frame = await localCrossValidation(forecasterOptions, frames.dropLastRows(frames.decodeChunk(input), job.data.dropLast), taskOptions)
      } catch (err) {
        throw new UnrecoverableError(err.message)
      }
      await client.set(key.output(run, chunk), frames.encodeForecast(frame), 'EX', STAGED_TTL_S)
      return { rows: frame.unique_id.length }
    }
    const { entry, forecaster } = await acquire(checkpoint)
    let forecast
    try {
      forecast = await forecaster.predict({ ...taskOptions, data: frames.decodeChunk(input) })
    } catch (err) {
      throw new UnrecoverableError(err.message)
    } finally {
      entry.idle.push(forecaster)
    }
    await client.set(key.output(run, chunk), frames.encodeForecast(forecast), 'EX', STAGED_TTL_S)
    return { rows: forecast.unique_id.length }
  }

  const workerOptions = { connection: { ...redisOptions, maxRetriesPerRequest: null }, concurrency }
  if (lockDuration !== undefined) workerOptions.lockDuration = lockDuration
  if (stalledInterval !== undefined) workerOptions.stalledInterval = stalledInterval
  const bullWorker = new Worker(queueName, processJob, workerOptions)
  bullWorker.on('error', (err) => onError?.(err))
  await bullWorker.waitUntilReady()
  return {
    async close() {
      await bullWorker.close()
      await client.quit().catch(() => client.disconnect())
    },
  }
}

module.exports = { predict, crossValidation, search, worker, version: PACKAGE_VERSION }

#!/usr/bin/env node
// Distributed mode (issue #21): a synthetic panel (100,000 series × 500 points by default) predicted with the
// baselines' LSTM locally in this process, then over BullMQ on a private redis-server with 1 and with 2
// `neuro-divergent worker` processes; every forecaster on 1 thread. Reports throughput, the CPU time of each
// component (the coordinator's staging and collecting, the workers', Redis's: Linux /proc; CPU time is far less
// sensitive than wall time to other load on the machine), the CPU time of the chunks' forecasts alone (decoded and
// predicted in this process: what a worker cannot avoid), Redis's peak memory (INFO memory, a fresh server per
// case) and checks that each distributed forecast equals the local one bit for bit.
// Usage: `npm run bench:distributed [-- --series N --points N --chunk-series N --workers 1,2]`.
'use strict'

const { spawn } = require('node:child_process')
const { typedSinePanel } = require('./typed_sine_panel.js')
const path = require('node:path')

const root = path.join(__dirname, '..')
const { NeuralForecaster, models } = require(root)
const distributed = require(path.join(root, 'distributed.js'))
const { startRedis } = require(path.join(root, '__test__', 'redis_server.js'))

function argument(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}
const SERIES = argument('series', 100000)
const LENGTH = argument('points', 500)
const CHUNK = argument('chunk-series', 5000)
const WORKERS = (() => {
  const at = process.argv.indexOf('--workers')
  return at < 0 ? [1, 2] : process.argv[at + 1].split(',').map(Number)
})()

function panel() {
  return typedSinePanel(SERIES, LENGTH)
}

function startWorker(url) {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'neuro-divergent.js'), 'worker', '--redis', url, '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (stderr.includes('listening')) resolve({ child, exited: new Promise((r) => child.once('exit', r)) })
    })
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${stderr}`)))
  })
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

async function redisPeakMb(port) {
  const IORedis = require('ioredis')
  const client = new IORedis({ host: '127.0.0.1', port })
  const info = await client.info('memory')
  client.disconnect()
  return Number(/used_memory_peak:(\d+)/.exec(info)[1]) / 1e6
}

function identical(a, b) {
  if (a.unique_id.length !== b.unique_id.length) return false
  for (let i = 0; i < a.unique_id.length; i++) if (a.unique_id[i] !== b.unique_id[i] || a.ds[i] !== b.ds[i]) return false
  return Buffer.from(a.LSTM.buffer, a.LSTM.byteOffset, a.LSTM.byteLength).equals(Buffer.from(b.LSTM.buffer, b.LSTM.byteOffset, b.LSTM.byteLength))
}

async function distributedCase(nWorkers, checkpoint, data, local) {
  const redis = await startRedis()
  const workers = []
  try {
    for (let w = 0; w < nWorkers; w++) workers.push(await startWorker(redis.url))
    const startCpu = workers.map((w) => cpuSeconds(w.child.pid) ?? NaN)
    const startRedisCpu = cpuSeconds(redis.pid) ?? NaN
    const cpu = process.cpuUsage()
    const started = process.hrtime.bigint()
    // What is left once the last chunk completes (collecting the forecasts) is serial: the workers idle.
    let lastChunk
    const onProgress = ({ chunksDone, chunks }) => chunksDone === chunks && (lastChunk = { cpu: process.cpuUsage(), at: process.hrtime.bigint() })
    const forecast = await distributed.predict({ checkpoint, data, connection: redis.url, chunkSeries: CHUNK, onProgress })
    const ended = process.hrtime.bigint()
    const seconds = Number(ended - started) / 1e9
    const used = process.cpuUsage(cpu)
    const tailUsed = process.cpuUsage(lastChunk.cpu)
    const tail = { cpu: (tailUsed.user + tailUsed.system) / 1e6, seconds: Number(ended - lastChunk.at) / 1e9 }
    const workerCpu = workers.map((w, k) => (cpuSeconds(w.child.pid) ?? NaN) - startCpu[k]).reduce((a, b) => a + b, 0)
    const redisCpu = (cpuSeconds(redis.pid) ?? NaN) - startRedisCpu
    return { seconds, coordinatorCpu: (used.user + used.system) / 1e6, tail, workerCpu, redisCpu, redisPeakMb: await redisPeakMb(redis.port), identical: identical(forecast, local) }
  } finally {
    for (const w of workers) {
      w.child.kill('SIGTERM')
      await w.exited
    }
    await redis.stop()
  }
}

async function main() {
  console.log(`panel: ${SERIES} series × ${LENGTH} points (${((SERIES * LENGTH) / 1e6).toFixed(1)} M rows), chunks of ${CHUNK} series`)
  const data = panel()
  const trainer = new NeuralForecaster({
    models: [new models.LSTM({ h: 12, inputSize: 24, encoderHiddenSize: 64, decoderHiddenSize: 64, scalerType: 'standard', maxSteps: 2 })],
    frequency: 1,
    numThreads: 1,
  })
  await trainer.fit({ unique_id: data.unique_id.subarray(0, 20 * LENGTH), labels: data.labels.slice(0, 20), ds: data.ds.subarray(0, 20 * LENGTH), y: data.y.subarray(0, 20 * LENGTH) })
  const checkpoint = await trainer.toBuffer()
  const local = await NeuralForecaster.fromBuffer(checkpoint, { numThreads: 1 })
  const started = process.hrtime.bigint()
  const localCpu = process.cpuUsage()
  const localForecast = await local.predict({ data })
  const localSeconds = Number(process.hrtime.bigint() - started) / 1e9
  const localUsed = process.cpuUsage(localCpu)
  // The local row's CPU is the whole process's (its forecast runs on the addon's threads).
  const rows = [{ name: 'local, in process', seconds: localSeconds, coordinatorCpu: (localUsed.user + localUsed.system) / 1e6, identical: true }]
  const forecastCpu = await chunkForecastCpu(checkpoint, data)
  // Loaded before the clock starts: loading them once per process is no part of a run.
  require('bullmq')
  require('ioredis')
  for (const n of WORKERS) rows.push({ name: `${n} worker process${n > 1 ? 'es' : ''}`, workers: n, ...(await distributedCase(n, checkpoint, data, localForecast)) })
  console.log(`the chunks' forecasts alone (decoded and predicted in process, 1 thread): ${forecastCpu.toFixed(2)} s CPU`)
  console.log('| case | time | series/s | vs local | coordinator (local: process) CPU | workers CPU | Redis CPU | Redis peak | identical to local |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  const cpuText = (cpu) => (cpu === undefined || Number.isNaN(cpu) ? '—' : `${cpu.toFixed(2)} s`)
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.seconds.toFixed(2)} s | ${Math.round(SERIES / r.seconds).toLocaleString('en')} | ${(localSeconds / r.seconds).toFixed(2)}× | ` +
        `${cpuText(r.coordinatorCpu)} | ${cpuText(r.workerCpu)} | ${cpuText(r.redisCpu)} | ${r.redisPeakMb === undefined ? '—' : `${r.redisPeakMb.toFixed(0)} MB`} | ${r.identical ? 'yes' : 'NO'} |`,
    )
  }
  const one = rows.find((r) => r.workers === 1)
  const two = rows.find((r) => r.workers === 2)
  if (one && two) console.log(`2 workers vs 1: ${(one.seconds / two.seconds).toFixed(2)}×`)
  if (one) console.log(`1 worker vs local: ${((localSeconds / one.seconds) * 100).toFixed(0)} %`)
  for (const r of rows.slice(1)) {
    const outside = r.coordinatorCpu + r.workerCpu + r.redisCpu - forecastCpu
    console.log(`${r.name}: CPU outside the forecasts ${outside.toFixed(2)} s (coordinator ${r.coordinatorCpu.toFixed(2)}, workers ${(r.workerCpu - forecastCpu).toFixed(2)}, Redis ${r.redisCpu.toFixed(2)})`)
    console.log(`${r.name}: after the last chunk completed, the coordinator took ${(r.tail.seconds * 1000).toFixed(0)} ms (${(r.tail.cpu * 1000).toFixed(0)} ms CPU) to return`)
  }
  if (rows.some((r) => !r.identical)) process.exitCode = 1
}

/** CPU seconds of the distributed run's forecasts alone: its staged chunks decoded and predicted in this process. */
async function chunkForecastCpu(checkpoint, data) {
  const frames = require(path.join(root, 'lib', 'distributed', 'frames.js'))
  const forecaster = await NeuralForecaster.fromBuffer(checkpoint, { numThreads: 1 })
  const grouped = frames.groupRows(data, 'bench')
  const names = frames.numericColumns(data, 'bench')
  const tail = frames.trimmableTail(checkpoint)
  let seconds = 0
  for (let first = 0; first < grouped.labels.length; first += CHUNK) {
    const chunk = frames.encodeChunk(data, grouped, names, first, Math.min(first + CHUNK, grouped.labels.length), 'bench', tail)
    const cpu = process.cpuUsage()
    await forecaster.predict({ data: frames.decodeChunk(chunk) })
    const used = process.cpuUsage(cpu)
    seconds += (used.user + used.system) / 1e6
  }
  return seconds
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

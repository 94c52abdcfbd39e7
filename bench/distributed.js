#!/usr/bin/env node
// Distributed mode (issue #21): a synthetic panel (100,000 series × 500 points by default) predicted with the
// baselines' LSTM locally in this process, then over BullMQ on a private redis-server with 1 and with 2
// `neuro-divergent worker` processes; every forecaster on 1 thread. Reports throughput, the coordinator's own
// CPU time (staging and collecting), the workers' CPU time during the run (Linux), Redis's peak memory (INFO
// memory, a fresh server per case) and checks that each distributed forecast equals the local one bit for bit.
// Usage: `npm run bench:distributed [-- --series N --points N --chunk-series N]`.
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
    const cpu = process.cpuUsage()
    const started = process.hrtime.bigint()
    const forecast = await distributed.predict({ checkpoint, data, connection: redis.url, chunkSeries: CHUNK })
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const used = process.cpuUsage(cpu)
    const workerCpu = workers.map((w, k) => (cpuSeconds(w.child.pid) ?? NaN) - startCpu[k]).reduce((a, b) => a + b, 0)
    return { seconds, coordinatorCpu: (used.user + used.system) / 1e6, workerCpu, redisPeakMb: await redisPeakMb(redis.port), identical: identical(forecast, local) }
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
  const rows = [['local, in process', localSeconds, (localUsed.user + localUsed.system) / 1e6, null, null, true]]
  // Loaded before the clock starts: loading them once per process is no part of a run.
  require('bullmq')
  require('ioredis')
  for (const n of [1, 2]) {
    const r = await distributedCase(n, checkpoint, data, localForecast)
    rows.push([`${n} worker process${n > 1 ? 'es' : ''}`, r.seconds, r.coordinatorCpu, r.workerCpu, r.redisPeakMb, r.identical])
  }
  console.log('| case | time | series/s | vs local | coordinator (local: process) CPU | workers CPU | Redis peak | identical to local |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  const cpuText = (cpu) => (cpu === null || Number.isNaN(cpu) ? '—' : `${cpu.toFixed(2)} s`)
  for (const [name, seconds, cpu, workerCpu, peak, same] of rows) {
    const rate = SERIES / seconds
    console.log(
      `| ${name} | ${seconds.toFixed(2)} s | ${Math.round(rate).toLocaleString('en')} | ${(localSeconds / seconds).toFixed(2)}× | ` +
        `${cpuText(cpu)} | ${cpuText(workerCpu)} | ${peak === null ? '—' : `${peak.toFixed(0)} MB`} | ${same ? 'yes' : 'NO'} |`,
    )
  }
  console.log(`2 workers vs 1: ${(rows[1][1] / rows[2][1]).toFixed(2)}×; 1 worker vs local: ${((localSeconds / rows[1][1]) * 100).toFixed(0)} %`)
  if (rows.some((r) => !r[5])) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

'use strict'
// `neuro-divergent worker --redis URL`: a distributed-mode worker (lib/distributed/) that runs the chunks of
// `predict --redis` runs until SIGTERM or SIGINT, then finishes the chunks in progress and exits.

const { COMMON, integerOption, parse } = require('./args.js')
const { UsageError, InputError, firstLine } = require('./errors.js')
const { help } = require('./help.js')

async function commandWorker(lib, argv, io) {
  const command = 'worker'
  const { values, positionals } = parse(command, argv, {
    ...COMMON,
    redis: { type: 'string' },
    concurrency: { type: 'string' },
    threads: { type: 'string' },
    queue: { type: 'string' },
    'lock-duration': { type: 'string' },
    'stalled-interval': { type: 'string' },
    'connect-timeout': { type: 'string' },
  })
  if (values.help) return io.stdout.write(help(command, []))
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, command)
  if (values.redis === undefined) throw new UsageError('--redis redis://HOST:PORT is required', command)
  io.quiet = values.quiet
  const options = {
    connection: values.redis,
    concurrency: integerOption(values, 'concurrency', { command }),
    threads: integerOption(values, 'threads', { command }),
    queueName: values.queue,
    lockDuration: integerOption(values, 'lock-duration', { command }),
    stalledInterval: integerOption(values, 'stalled-interval', { command }),
    connectTimeout: integerOption(values, 'connect-timeout', { command }),
    onError: (err) => io.note(`worker: ${firstLine(err)}`),
  }
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key]
  const { worker } = require('../distributed/index.js')
  let running
  try {
    running = await worker(options)
  } catch (err) {
    throw new InputError(`cannot start the worker: ${firstLine(err)}`)
  }
  io.note(`worker ${process.pid} listening on ${values.redis} (queue ${options.queueName ?? 'neuro-divergent'})`)
  await new Promise((resolve) => {
    const stop = (signal) => {
      io.note(`worker ${process.pid}: ${signal}, finishing the chunks in progress`)
      process.removeListener('SIGTERM', stop)
      process.removeListener('SIGINT', stop)
      resolve()
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
  await running.close()
  io.note(`worker ${process.pid} stopped`)
  return 0
}

module.exports = { commandWorker }

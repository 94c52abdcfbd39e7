// A private redis-server for the distributed-mode tests: a free loopback port, a temporary directory, no
// persistence (--save '' --appendonly no); stopped (or killed, to test a lost server) by the test.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

/** Why the tests cannot run here (no redis-server outside CI), or null; in CI a missing server is an error. */
function redisMissing() {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0) return null
  if (process.env.CI) throw new Error('redis-server is not installed; CI must install it (.ci/run does, with apt-get)')
  return 'redis-server is not installed (apt-get install redis-server); the distributed-mode tests are skipped'
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function accepting(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.end()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Starts a redis-server; resolves to `{ url, port, pid, stop() }` once it accepts connections. */
async function startRedis() {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-redis-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  for (let tries = 0; !(await accepting(port)); tries++) {
    if (tries > 100 || child.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

module.exports = { redisMissing, startRedis }

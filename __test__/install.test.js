// The install script (scripts/install.js) outside a git checkout, as it runs in a user's node_modules, and in a
// checkout run by npx; and the x86-64 binary on a CPU without AVX/AVX2/FMA (emulated with qemu-user).
// The full install from the packed tarballs is `npm run test:pack` (scripts/pack-test.js).
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { root, pkg, suffix, builtBinary, sandbox, removeSandboxes, addPlatformPackage } = require('./package_sandbox.js')

afterAll(removeSandboxes)

/** The install script with what it needs, as in node_modules/neuro-divergent (no .git, no sources). */
function installedCopy({ version = pkg.version } = {}) {
  const dir = sandbox('install')
  for (const file of ['scripts/install.js', 'lib/load.js']) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.copyFileSync(path.join(root, file), path.join(dir, file))
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2))
  return dir
}

/** PATH without the directories that hold cargo or rustc, plus node's own. */
function pathWithoutRust() {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter((dir) => dir && !fs.existsSync(path.join(dir, 'cargo')) && !fs.existsSync(path.join(dir, 'rustc')))
  return [path.dirname(process.execPath), ...dirs].join(path.delimiter)
}

function runInstall(dir, env = {}) {
  const childEnv = { ...process.env, PATH: pathWithoutRust() }
  delete childEnv.NEURO_DIVERGENT_INSTALL_RUNNING
  delete childEnv.NEURO_DIVERGENT_SKIP_BUILD
  Object.assign(childEnv, env)
  return spawnSync(process.execPath, ['scripts/install.js'], { cwd: dir, env: childEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 })
}

describe('install script outside a checkout', () => {
  test('a usable prebuilt platform package: nothing to build', () => {
    const dir = installedCopy()
    addPlatformPackage(dir, builtBinary)
    const run = runInstall(dir)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.node'))).toEqual([])
  })

  test('no prebuilt package and no Rust toolchain: fails with the platform, the package looked for and the fix', () => {
    const run = runInstall(installedCopy())
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(`the prebuilt package neuro-divergent-${suffix} is not installed or not usable`)
    expect(run.stderr).toContain('no Rust toolchain was found (cargo is not on PATH)')
    expect(run.stderr).toContain(`Detected platform: ${suffix}. Looked for the package neuro-divergent-${suffix}@${pkg.version}.`)
    expect(run.stderr).toContain('https://rustup.rs')
    expect(run.stderr).toContain('npm rebuild neuro-divergent')
  })

  test('a prebuilt binary that does not load is not trusted', () => {
    const dir = installedCopy()
    addPlatformPackage(dir, 'not a shared library')
    const run = runInstall(dir)
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(`the prebuilt package neuro-divergent-${suffix} is installed but its binary does not load here`)
    expect(run.stderr).toContain('no Rust toolchain was found')
  })

  test('a prebuilt binary of another version is not trusted', () => {
    const dir = installedCopy({ version: '9.9.9' })
    addPlatformPackage(dir, builtBinary)
    const run = runInstall(dir)
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(`the prebuilt package neuro-divergent-${suffix} holds version ${pkg.version}, this package is 9.9.9`)
  })

  test('NEURO_DIVERGENT_SKIP_BUILD skips the build with a note; a nested run returns at once', () => {
    const skipped = runInstall(installedCopy(), { NEURO_DIVERGENT_SKIP_BUILD: '1' })
    expect(skipped.status).toBe(0)
    expect(skipped.stderr).toContain('NEURO_DIVERGENT_SKIP_BUILD is set; not building the native addon')
    const nested = runInstall(installedCopy(), { NEURO_DIVERGENT_INSTALL_RUNNING: '1' })
    expect(nested.status).toBe(0)
    expect(nested.stderr).toBe('')
  })

  test('the install script never runs npm (no recursive installs) and never reads stdin', () => {
    const source = fs.readFileSync(path.join(root, 'scripts', 'install.js'), 'utf8')
    expect(source).not.toMatch(/spawnSync\(\s*['"`](npm|npx|yarn|pnpm)/)
    expect(source).not.toMatch(/process\.stdin/)
    for (const match of source.matchAll(/stdio: \[([^\]]*)\]/g)) expect(match[1]).toMatch(/^'ignore'/)
    expect(pkg.scripts.install).toBe('node scripts/install.js')
    expect(pkg.scripts.preinstall).toBeUndefined()
    expect(pkg.scripts.postinstall).toBeUndefined()
  })
})

/** A checkout as npx sees it (.git, Rust sources, the install script) with an addon binary written `binaryAge` ms
 * after (positive) or before (negative) its newest Rust source. */
function checkoutCopy(binaryAge) {
  const dir = installedCopy()
  fs.mkdirSync(path.join(dir, '.git'))
  fs.mkdirSync(path.join(dir, 'src', 'node'), { recursive: true })
  const sources = ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src/lib.rs', 'src/node/ops.rs']
  for (const file of sources) fs.writeFileSync(path.join(dir, file), '')
  const binary = path.join(dir, `neuro-divergent.${suffix}.node`)
  fs.writeFileSync(binary, 'an addon')
  const sourceTime = new Date('2026-01-01T00:00:00Z')
  for (const file of sources) fs.utimesSync(path.join(dir, file), sourceTime, sourceTime)
  const binaryTime = new Date(sourceTime.getTime() + binaryAge)
  fs.utimesSync(binary, binaryTime, binaryTime)
  return dir
}

describe('install script in a checkout, run by npx (npm_command=exec)', () => {
  const { builtAddonIsCurrent } = require('../scripts/install.js')
  const binary = `neuro-divergent.${suffix}.node`

  test('an addon built after the last Rust source change is current; an older or missing one is not', () => {
    expect(builtAddonIsCurrent(checkoutCopy(60_000), binary)).toBe(true)
    expect(builtAddonIsCurrent(checkoutCopy(-60_000), binary)).toBe(false)
    const touched = checkoutCopy(60_000)
    const later = new Date('2026-01-01T00:02:00Z')
    fs.utimesSync(path.join(touched, 'src', 'node', 'ops.rs'), later, later)
    expect(builtAddonIsCurrent(touched, binary)).toBe(false)
    const missing = checkoutCopy(60_000)
    fs.rmSync(path.join(missing, binary))
    expect(builtAddonIsCurrent(missing, binary)).toBe(false)
  })

  test('a current addon is used as it is: no build, no output', () => {
    const run = runInstall(checkoutCopy(60_000), { npm_command: 'exec' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })

  test('a stale addon is rebuilt, announced first (here the build fails: no cargo on PATH)', () => {
    const run = runInstall(checkoutCopy(-60_000), { npm_command: 'exec' })
    expect(run.stderr).toContain(`npx: ${binary} is missing or older than the Rust sources`)
    expect(run.stderr).toContain('building the native addon from source (git checkout)')
    expect(run.status).toBe(1)
  })

  test('npm install in a checkout still always builds (cargo decides what is stale)', () => {
    const run = runInstall(checkoutCopy(60_000), { npm_command: 'install' })
    expect(run.stderr).toContain('building the native addon from source (git checkout)')
    expect(run.status).toBe(1)
  })
})

/** qemu-x86_64 on PATH, or why the old-CPU test cannot run here. */
function qemuStatus() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { reason: `needs an x86-64 Linux host (this is ${process.platform}-${process.arch})` }
  const probe = spawnSync('qemu-x86_64', ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (probe.error || probe.status !== 0) return { reason: "qemu-x86_64 not found (install Debian's qemu-user: apt-get install qemu-user)" }
  return { version: probe.stdout.split('\n')[0] }
}

const qemu = qemuStatus()
const oldCpu = qemu.reason ? test.skip : test
const oldCpuTitle = qemu.reason
  ? `a forecast under an emulated CPU without AVX (qemu-x86_64 -cpu Nehalem) [skipped: ${qemu.reason}]`
  : 'a forecast under an emulated CPU without AVX (qemu-x86_64 -cpu Nehalem) equals the native one within 1e-4 relative'

describe('x86-64 baseline CPU', () => {
  if (qemu.reason) console.warn(`old-CPU test skipped: ${qemu.reason}`)

  oldCpu(
    oldCpuTitle,
    () => {
      const args = [path.join(__dirname, 'fixtures', 'oldcpu-forecast.js'), root, path.join(__dirname, 'fixtures', 'air_passengers.csv')]
      const opts = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 110000 }
      const native = spawnSync(process.execPath, args, opts)
      expect(native.stderr).toBe('')
      expect(native.status).toBe(0)
      const emulated = spawnSync('qemu-x86_64', ['-cpu', 'Nehalem', process.execPath, ...args], opts)
      expect(emulated.stderr).toBe('') // a SIGILL would show here ("Illegal instruction") with a non-zero status
      expect(emulated.status).toBe(0)
      const a = JSON.parse(native.stdout)
      const b = JSON.parse(emulated.stdout)
      // Nehalem has SSE4.2 but no AVX: the run-time dispatch must take the baseline path.
      expect(b.simd.detected).not.toMatch(/avx|fma/)
      expect(b.simd.active).toBe(b.simd.detected)
      const close = (x, y) => Math.abs(x - y) <= 1e-4 * Math.max(Math.abs(x), Math.abs(y), 1e-12)
      for (const key of ['forecast', 'rollingStd', 'ema', 'normalized']) {
        expect(b[key]).toHaveLength(a[key].length)
        const bad = a[key].map((x, i) => [i, x, b[key][i]]).filter(([, x, y]) => !(Number.isFinite(x) ? close(x, y) : Object.is(x, y)))
        expect({ key, mismatches: bad }).toEqual({ key, mismatches: [] })
      }
      expect(a.forecast).toHaveLength(12)
      expect(close(a.dot, b.dot)).toBe(true)
    },
    120000,
  )
})

// The loader (index.js + lib/load.js): which binary it picks, the error when there is none, the version check.
// Each case runs in a child process on a temporary copy of the package's JavaScript, so the real binary in the
// checkout (which other processes use) is never moved or deleted.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { platformSuffix, suffixOfTriple, publishedPlatforms } = require('../lib/load.js')
const { root, pkg, suffix, binaryName, builtBinary, sandbox, removeSandboxes, addPlatformPackage } = require('./package_sandbox.js')

afterAll(removeSandboxes)

/** A copy of the package's JavaScript (no binary, no node_modules) in a fresh temporary directory. */
function packageCopy({ version } = {}) {
  const dir = sandbox('loader')
  for (const file of ['index.js', 'main.js', 'main.mjs']) fs.copyFileSync(path.join(root, file), path.join(dir, file))
  fs.cpSync(path.join(root, 'lib'), path.join(dir, 'lib'), { recursive: true })
  const manifest = { ...pkg, version: version ?? pkg.version }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2))
  return dir
}

/** Runs `code` with node in `dir`, without any override of the loader's search. */
function runNode(dir, code, args = ['-e']) {
  const env = { ...process.env }
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  delete env.NAPI_RS_FORCE_WASI
  return spawnSync(process.execPath, [...args, code], { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

const PRINT_ERROR = `
try { require('./main.js'); console.log('LOADED') }
catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })) }`

function loadError(dir) {
  const run = runNode(dir, PRINT_ERROR)
  expect(run.stderr).toBe('')
  expect(run.stdout).not.toContain('LOADED')
  return JSON.parse(run.stdout)
}

describe('platform names', () => {
  test('every napi target maps to the npm/ package of the same name', () => {
    const expected = [
      ['x86_64-unknown-linux-gnu', 'linux-x64-gnu'],
      ['x86_64-unknown-linux-musl', 'linux-x64-musl'],
      ['aarch64-unknown-linux-gnu', 'linux-arm64-gnu'],
      ['aarch64-unknown-linux-musl', 'linux-arm64-musl'],
      ['x86_64-apple-darwin', 'darwin-x64'],
      ['aarch64-apple-darwin', 'darwin-arm64'],
      ['x86_64-pc-windows-msvc', 'win32-x64-msvc'],
    ]
    expect(pkg.napi.targets.map((t) => [t, suffixOfTriple(t)])).toEqual(expected)
    expect(fs.readdirSync(path.join(root, 'npm')).sort()).toEqual(publishedPlatforms().sort())
  })

  test('platform suffixes as napi-rs names them', () => {
    expect(platformSuffix('linux', 'x64', 'gnu')).toBe('linux-x64-gnu')
    expect(platformSuffix('linux', 'arm64', 'musl')).toBe('linux-arm64-musl')
    expect(platformSuffix('darwin', 'arm64')).toBe('darwin-arm64')
    expect(platformSuffix('win32', 'x64')).toBe('win32-x64-msvc')
    if (process.platform === 'linux') {
      const glibc = Boolean(process.report.getReport().header.glibcVersionRuntime)
      expect(suffix).toBe(`linux-${process.arch}-${glibc ? 'gnu' : 'musl'}`)
    }
  })

  test('platform packages: one per target, same version, os/cpu/libc, the binary as main and only file', () => {
    const cargoVersion = /^version\s*=\s*"([^"]+)"/m.exec(fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8'))[1]
    expect(cargoVersion).toBe(pkg.version)
    for (const triple of pkg.napi.targets) {
      const platform = suffixOfTriple(triple)
      const manifest = require(`../npm/${platform}/package.json`)
      const [os_, cpu, abi] = platform.split('-')
      expect(manifest).toMatchObject({
        name: `neuro-divergent-${platform}`,
        version: pkg.version,
        os: [os_],
        cpu: [cpu],
        main: `neuro-divergent.${platform}.node`,
        files: [`neuro-divergent.${platform}.node`],
        license: pkg.license,
        engines: pkg.engines,
        repository: pkg.repository,
      })
      if (os_ === 'linux') expect(manifest.libc).toEqual([abi === 'musl' ? 'musl' : 'glibc'])
      else expect(manifest.libc).toBeUndefined()
    }
  })
})

describe('loading', () => {
  test('without any binary: an error naming the platform, what was looked for, and how to build from source', () => {
    const dir = packageCopy()
    const err = loadError(dir)
    expect(err.code).toBe('ERR_NEURO_DIVERGENT_NATIVE_NOT_FOUND')
    expect(err.message).toContain(`could not load the native addon for this platform: ${suffix} (`)
    expect(err.message).toContain(`a locally built binary ${path.join(fs.realpathSync(dir), binaryName)}: missing`)
    expect(err.message).toContain(`the prebuilt platform package neuro-divergent-${suffix}@${pkg.version}: not installed`)
    expect(err.message).toContain('npm rebuild neuro-divergent')
    expect(err.message).toContain('https://rustup.rs')
    expect(err.message).toContain('cargo build --release --features node')
  })

  test('the same error from the ES module entry', () => {
    const dir = packageCopy()
    const run = runNode(dir, "import('./main.mjs').then(() => console.log('LOADED'), (err) => console.log(err.code))")
    expect(run.stdout.trim()).toBe('ERR_NEURO_DIVERGENT_NATIVE_NOT_FOUND')
  })

  test('a binary that does not load is reported as present, with the reason', () => {
    const dir = packageCopy()
    fs.writeFileSync(path.join(dir, binaryName), 'not a shared library')
    const err = loadError(dir)
    expect(err.code).toBe('ERR_NEURO_DIVERGENT_NATIVE_NOT_FOUND')
    expect(err.message).toContain(`${binaryName}: present but it did not load`)
    expect(err.message).toMatch(/Load attempts:\n {2}- .*(invalid ELF header|not a valid|too short|file too short|slice is not valid mach-o)/i)
  })

  test('the prebuilt platform package is used when no local binary exists', () => {
    const dir = packageCopy()
    const platformDir = addPlatformPackage(dir, builtBinary)
    const run = runNode(
      dir,
      `const nd = require('./main.js')
       const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
       console.log(JSON.stringify({ loaded, sum: nd.ops.sum([1, 2, 3]) }))`,
    )
    expect(run.stderr).toBe('')
    const out = JSON.parse(run.stdout)
    expect(out.sum).toBe(6)
    expect(out.loaded).toEqual([path.join(fs.realpathSync(platformDir), binaryName)])
  })

  test('a local build is preferred to the platform package', () => {
    const dir = packageCopy()
    fs.copyFileSync(builtBinary, path.join(dir, binaryName))
    const run = runNode(dir, "require('./main.js'); console.log(Object.keys(require.cache).filter((f) => f.endsWith('.node')).join())")
    expect(run.stderr).toBe('')
    expect(run.stdout.trim()).toBe(path.join(fs.realpathSync(dir), binaryName))
  })

  test('a binary from another version is refused with both versions and the way to fix it', () => {
    const dir = packageCopy({ version: '9.9.9' })
    fs.copyFileSync(builtBinary, path.join(dir, binaryName))
    const err = loadError(dir)
    expect(err.code).toBe('ERR_NEURO_DIVERGENT_VERSION_MISMATCH')
    expect(err.message).toContain('package.json says 9.9.9')
    expect(err.message).toContain(`${path.join(fs.realpathSync(dir), binaryName)} is version ${pkg.version}`)
    expect(err.message).toContain(`neuro-divergent-${suffix}@9.9.9`)
    expect(err.message).toContain('npm rebuild neuro-divergent')
  })

  test('the checkout loads its own build and the versions agree', () => {
    const native = require('../index.js')
    expect(native.version()).toBe(pkg.version)
    const { checkVersion } = require('../lib/load.js')
    expect(() => checkVersion(native)).not.toThrow()
    expect(() => checkVersion(native, '0.0.0-other')).toThrow(/version mismatch/)
    expect(() => checkVersion({})).toThrow(/older build that does not report its version/)
  })
})

// Temporary copies of the package for the loader and install tests, so that the real binary in the checkout
// (which other processes use) is never moved or deleted: directories removed after the test file, and a prebuilt
// platform package for this machine installed into a copy's node_modules.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')
const { platformSuffix } = require('../lib/load.js')

const suffix = platformSuffix()
const binaryName = `neuro-divergent.${suffix}.node`
/** The binary built in this checkout. */
const builtBinary = path.join(root, binaryName)

const sandboxes = []

/** A fresh temporary directory named `nd-<name>-…`, removed by `removeSandboxes`. */
function sandbox(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nd-${name}-`))
  sandboxes.push(dir)
  return dir
}

/** Removes every directory `sandbox` made (the test files call it in afterAll). */
function removeSandboxes() {
  for (const dir of sandboxes.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** A platform package for this machine in `dir`'s node_modules holding `binary` (a path, or file contents); its directory. */
function addPlatformPackage(dir, binary) {
  const platformDir = path.join(dir, 'node_modules', `neuro-divergent-${suffix}`)
  fs.mkdirSync(platformDir, { recursive: true })
  fs.copyFileSync(path.join(root, 'npm', suffix, 'package.json'), path.join(platformDir, 'package.json'))
  if (fs.existsSync(binary)) fs.copyFileSync(binary, path.join(platformDir, binaryName))
  else fs.writeFileSync(path.join(platformDir, binaryName), binary)
  return platformDir
}

module.exports = { root, pkg, suffix, binaryName, builtBinary, sandbox, removeSandboxes, addPlatformPackage }

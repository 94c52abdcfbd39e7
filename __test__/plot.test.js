'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { execFileSync } = require('node:child_process')
const { plotForecast, PALETTE, HISTORY_COLOR } = require('../lib/plot.js')
const { airPassengers } = require('../lib/datasets.js')

const air = airPassengers()
/** A forecast shaped like predict()'s: the next 12 months, a seasonal pattern above the last year. */
function airForecast(extra = {}) {
  const ds = Array.from({ length: 12 }, (_, i) => `1961-${String(i + 1).padStart(2, '0')}-01`)
  const LSTM = Float64Array.from(air.y.slice(132, 144), (v) => v * 1.1)
  return { unique_id: new Array(12).fill('AirPassengers'), ds, LSTM, ...extra }
}

const count = (s, re) => (s.match(re) || []).length

describe('plotForecast', () => {
  test('history, one line per model, the split, a date axis and a legend', () => {
    const GRU = Float64Array.from(air.y.slice(132, 144), (v) => v * 0.95)
    const svg = plotForecast(air, airForecast({ GRU }), { title: 'AirPassengers' })
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(count(svg, /class="history"/g)).toBe(1)
    expect(svg).toMatch(new RegExp(`class="forecast" data-model="LSTM" d="M[^"]+" fill="none" stroke="${PALETTE[0]}"`))
    expect(svg).toMatch(new RegExp(`class="forecast" data-model="GRU" d="M[^"]+" fill="none" stroke="${PALETTE[1]}"`))
    // 12 points per forecast line, 144 in the history
    const lineOf = (model) => svg.match(new RegExp(`data-model="${model}" d="([^"]+)"`))[1]
    expect(count(lineOf('LSTM'), /[ML]/g)).toBe(12)
    expect(count(svg.match(/class="history" d="([^"]+)"/)[1], /[ML]/g)).toBe(144)
    expect(count(svg, /class="split"/g)).toBe(1)
    for (const year of ['1950', '1952', '1956', '1960']) expect(svg).toContain(`>${year}</text>`)
    expect(svg).toMatch(/<g class="legend">[\s\S]*>history<[\s\S]*>LSTM<[\s\S]*>GRU<[\s\S]*<\/g>/)
    expect(svg).not.toMatch(/NaN|undefined/)
  })

  test('interval bands for NeuralForecast-named lo/hi columns, widest level first', () => {
    const f = airForecast()
    const band = (k) => Float64Array.from(f.LSTM, (v) => v + k)
    const svg = plotForecast(air, { ...f, 'LSTM-lo-95': band(-60), 'LSTM-lo-80': band(-30), 'LSTM-hi-80': band(30), 'LSTM-hi-95': band(60) })
    const bands = [...svg.matchAll(/class="band" data-model="LSTM" data-level="([\d.]+)" points="([^"]+)"/g)]
    expect(bands.map((b) => b[1])).toEqual(['95', '80'])
    for (const [, , points] of bands) expect(points.split(' ')).toHaveLength(24)
    expect(svg).toContain('>LSTM 80%<')
    expect(svg).toContain('>LSTM 95%<')
    // a lo column without its hi is not a band, and neither is a model line
    const half = plotForecast(air, { ...f, 'LSTM-lo-80': band(-30) })
    expect(half).not.toContain('class="band"')
    expect(count(half, /class="forecast"/g)).toBe(1)
  })

  test('panels per series, integer ds, escaped names, no history', () => {
    const history = { unique_id: [], ds: [], y: [] }
    const forecast = { unique_id: [], ds: [], M: [] }
    for (const id of ['a<b', 'c&d']) {
      for (let t = 0; t < 30; t++) history.unique_id.push(id), history.ds.push(t), history.y.push(Math.sin(t))
      for (let t = 30; t < 35; t++) forecast.unique_id.push(id), forecast.ds.push(t), forecast.M.push(0.5)
    }
    const svg = plotForecast(history, forecast)
    expect(count(svg, /<g class="panel"/g)).toBe(2)
    expect(svg).toContain('data-series="a&lt;b"')
    expect(svg).toContain('>c&amp;d</text>')
    expect(svg).toMatch(/>(0|10|20|30)<\/text>/)
    const bare = plotForecast(null, forecast, { series: ['c&d'] })
    expect(count(bare, /<g class="panel"/g)).toBe(1)
    expect(bare).not.toContain('class="history"')
    expect(bare).not.toContain('class="split"')
  })

  test('sub-daily date axes', () => {
    const ds = Array.from({ length: 96 }, (_, i) => new Date(Date.UTC(2014, 11, 31) + i * 1800000).toISOString().replace('T', ' ').slice(0, 19))
    const svg = plotForecast({ ds: ds.slice(0, 48), y: ds.slice(0, 48).map((_, i) => i) }, { ds: ds.slice(48), LSTM: ds.slice(48).map((_, i) => i) })
    expect(svg).toMatch(/>(12-31 )?\d\d:00<\/text>/)
  })

  test('bad input is a clear error', () => {
    expect(() => plotForecast(air, null)).toThrow(TypeError)
    expect(() => plotForecast(air, { ds: ['1961-01-01'] })).toThrow(/no model columns/)
    expect(() => plotForecast(air, { ds: ['1961-01-01'], LSTM: [1, 2] })).toThrow(/LSTM has 2 values, ds has 1/)
    expect(() => plotForecast(air, { ds: ['soon'], LSTM: [1] })).toThrow(/cannot place ds "soon"/)
    expect(() => plotForecast(air, airForecast(), { series: ['nope'] })).toThrow(/no series "nope"/)
  })
})

// ---------------------------------------------------------------------------------------------------------
// Rendering with a real SVG renderer, when one is installed.

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const file = path.join(dir, cmd)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {}
  }
  return null
}

function findRenderer() {
  const rsvg = which('rsvg-convert')
  if (rsvg) return { name: 'rsvg-convert', render: (svg, png) => execFileSync(rsvg, ['-b', 'white', '-o', png, svg], { stdio: 'pipe', timeout: 20000 }) }
  const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f))
  if (chromium) {
    return {
      name: 'chromium',
      render: (svg, png, width, height) =>
        execFileSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', `--screenshot=${png}`, `--window-size=${width},${height}`, `file://${svg}`], {
          stdio: 'pipe',
          timeout: 60000,
        }),
    }
  }
  return null
}

/** Decodes an 8-bit, non-interlaced greyscale/RGB/RGBA PNG into RGBA pixels. */
function decodePng(buffer) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  if (!buffer.subarray(0, 8).equals(signature)) throw new Error('not a PNG')
  let offset = 8
  let width, height, depth, colorType, interlace
  const idat = []
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset)
    const type = buffer.toString('latin1', offset + 4, offset + 8)
    const data = buffer.subarray(offset + 8, offset + 8 + length)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      depth = data[8]
      colorType = data[9]
      interlace = data[12]
    } else if (type === 'IDAT') idat.push(data)
    else if (type === 'IEND') break
    offset += 12 + length
  }
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colorType]
  if (depth !== 8 || !channels || interlace !== 0) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${interlace}`)
  const raw = zlib.inflateSync(Buffer.concat(idat))
  const stride = width * channels
  const pixels = Buffer.alloc(width * height * 4)
  let prev = Buffer.alloc(stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)))
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0
      const b = prev[i]
      const c = i >= channels ? prev[i - channels] : 0
      let p
      switch (filter) {
        case 0: p = 0; break
        case 1: p = a; break
        case 2: p = b; break
        case 3: p = (a + b) >> 1; break
        case 4: {
          const q = a + b - c
          const pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c)
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
          break
        }
        default: throw new Error(`bad PNG filter ${filter}`)
      }
      line[i] = (line[i] + p) & 0xff
    }
    for (let x = 0; x < width; x++) {
      const s = x * channels
      const d = (y * width + x) * 4
      if (channels <= 2) pixels.fill(line[s], d, d + 3)
      else line.copy(pixels, d, s, s + 3)
      pixels[d + 3] = channels === 4 ? line[s + 3] : channels === 2 ? line[s + 1] : 255
    }
    prev = line
  }
  return { width, height, pixels }
}

const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16))

/** Pixels within `tolerance` of a colour inside a box. */
function countColour(image, hex, box, tolerance = 10) {
  const [r, g, b] = rgb(hex)
  let n = 0
  for (let y = Math.max(0, box.y0); y < Math.min(image.height, box.y1); y++) {
    for (let x = Math.max(0, box.x0); x < Math.min(image.width, box.x1); x++) {
      const i = (y * image.width + x) * 4
      if (Math.abs(image.pixels[i] - r) <= tolerance && Math.abs(image.pixels[i + 1] - g) <= tolerance && Math.abs(image.pixels[i + 2] - b) <= tolerance) n++
    }
  }
  return n
}

const renderer = findRenderer()
const renderTest = renderer ? test : test.skip
if (!renderer) {
  // eslint-disable-next-line no-console
  console.warn('plot.test.js: skipping the rendering test: neither rsvg-convert nor /usr/bin/chromium is installed (apt-get install librsvg2-bin)')
}

renderTest(`the rendered SVG shows the forecast line right of the split and the history left of it (${renderer ? renderer.name : 'skipped: no SVG renderer installed'})`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-plot-'))
  try {
    const width = 960
    const height = 380
    const svg = plotForecast(air, airForecast(), { width, height })
    const svgFile = path.join(dir, 'forecast.svg')
    const pngFile = path.join(dir, 'forecast.png')
    fs.writeFileSync(svgFile, svg)
    renderer.render(svgFile, pngFile, width, height)
    const image = decodePng(fs.readFileSync(pngFile))
    expect(image.width).toBe(width)

    // plot area and split position from the SVG itself
    const area = svg.match(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="#fbfbfb"/).slice(1).map(Number)
    const split = Number(svg.match(/class="split" x1="([\d.]+)"/)[1])
    const [ax, ay, aw, ah] = area
    const forecastSide = { x0: Math.ceil(split) + 2, x1: Math.floor(ax + aw), y0: Math.ceil(ay), y1: Math.floor(ay + ah) }
    const historySide = { x0: Math.ceil(ax), x1: Math.floor(split) - 2, y0: Math.ceil(ay), y1: Math.floor(ay + ah) }

    const forecastPixels = countColour(image, PALETTE[0], forecastSide)
    expect(forecastPixels).toBeGreaterThan(50) // a 2.6 px line across ~60 px
    expect(countColour(image, PALETTE[0], historySide)).toBe(0)
    expect(countColour(image, HISTORY_COLOR, historySide, 24)).toBeGreaterThan(300)

    // the line's pixels follow the data: its highest point (smallest y) is the forecast maximum (August)
    let top = Infinity
    const [r, g, b] = rgb(PALETTE[0])
    for (let y = forecastSide.y0; y < forecastSide.y1 && top === Infinity; y++) {
      for (let x = forecastSide.x0; x < forecastSide.x1; x++) {
        const i = (y * image.width + x) * 4
        if (Math.abs(image.pixels[i] - r) <= 10 && Math.abs(image.pixels[i + 1] - g) <= 10 && Math.abs(image.pixels[i + 2] - b) <= 10) {
          top = x
          break
        }
      }
    }
    const points = svg.match(/data-model="LSTM" d="([^"]+)"/)[1].match(/[\d.]+,[\d.]+/g).map((p) => p.split(',').map(Number))
    const peak = points.reduce((best, p) => (p[1] < best[1] ? p : best))
    expect(Math.abs(top - peak[0])).toBeLessThan(6)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}, 60000)

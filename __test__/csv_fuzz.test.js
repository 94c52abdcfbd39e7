// CSV reader fuzzing: random text built from the characters that matter to the grammar must parse, or fail
// with a CsvError naming a line; whatever parses must write back and parse to the same records. Seeded.
// The long run: ND_FUZZ_ITERS=1000000 npx jest __test__/csv_fuzz.test.js
const { CsvError, parseCsv, stringifyCsv, readLongFormat } = require('../lib/csv.js')

const ITERATIONS = Number(process.env.ND_FUZZ_ITERS || 20000)
const ALPHABET = ['a', '1', '.', '-', ',', ',', '"', '"', '\n', '\r\n', '\r', ' ', '\uFEFF', 'é', 'unique_id', 'ds', 'y', '2024-01-01', 'NaN']

/** mulberry32: a small seeded generator, so a failing case repeats. */
function generator(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test(`${ITERATIONS} random texts parse or give a CsvError, and round-trip`, () => {
  const random = generator(12345)
  let parsed = 0
  for (let i = 0; i < ITERATIONS; i++) {
    const parts = Array.from({ length: Math.floor(random() * 30) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)])
    const text = (random() < 0.5 ? 'unique_id,ds,y\n' : '') + parts.join('')
    let result
    try {
      result = parseCsv(text)
    } catch (err) {
      if (!(err instanceof CsvError) || !/line \d+/.test(err.message)) throw new Error(`case ${i} ${JSON.stringify(text)}: ${err}`)
      continue
    }
    parsed++
    const again = parseCsv(stringifyCsv(result.records))
    if (JSON.stringify(again.records) !== JSON.stringify(result.records)) throw new Error(`case ${i} ${JSON.stringify(text)} does not round-trip`)
    try {
      readLongFormat(text)
    } catch (err) {
      if (!(err instanceof Error) || typeof err.message !== 'string' || err.message.length === 0) throw err
    }
  }
  expect(parsed).toBeGreaterThan(ITERATIONS / 10)
})

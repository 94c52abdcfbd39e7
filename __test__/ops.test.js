// The `ops` kernels through the public API, exactly as users call them.
const { ops } = require('..')

/** Deterministic pseudo-random numbers (a 32-bit LCG), so failures reproduce. */
function randomArray(n, seed = 1, offset = 0, scale = 10) {
  let s = seed >>> 0
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = offset + scale * (s / 2 ** 32 - 0.5)
  }
  return out
}

const naive = {
  mean: (x) => x.reduce((a, b) => a + b, 0) / x.length,
  variance(x, ddof = 0) {
    const m = naive.mean(x)
    return x.reduce((a, b) => a + (b - m) ** 2, 0) / (x.length - ddof)
  },
  rolling(x, w, f) {
    const out = []
    for (let i = 0; i + w <= x.length; i++) out.push(f(Array.from(x.slice(i, i + w))))
    return out
  },
  ema(x, alpha) {
    const out = new Float64Array(x.length)
    for (let i = 0; i < x.length; i++) out[i] = i === 0 ? x[0] : alpha * x[i] + (1 - alpha) * out[i - 1]
    return out
  },
}

function expectClose(actual, expected, tol = 1e-9) {
  expect(actual.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]))
    if (!(Math.abs(actual[i] - expected[i]) <= tol * scale)) {
      throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]}`)
    }
  }
}

describe('rolling windows', () => {
  test('the README example: rollingMean of [1,2,3,4] with window 2', () => {
    const out = ops.rollingMean(new Float64Array([1, 2, 3, 4]), 2)
    expect(out).toBeInstanceOf(Float64Array)
    expect(Array.from(out)).toEqual([1.5, 2.5, 3.5])
  })

  test.each([1, 2, 7, 64, 333])('mean, std, min and max match a naive reference at window %i', (w) => {
    const x = randomArray(1001, w)
    expectClose(ops.rollingMean(x, w), naive.rolling(x, w, naive.mean))
    expectClose(ops.rollingMin(x, w), naive.rolling(x, w, (v) => Math.min(...v)), 0)
    expectClose(ops.rollingMax(x, w), naive.rolling(x, w, (v) => Math.max(...v)), 0)
    if (w > 1) {
      expectClose(ops.rollingStd(x, w), naive.rolling(x, w, (v) => Math.sqrt(naive.variance(v))), 1e-7)
      expectClose(ops.rollingStd(x, w, 1), naive.rolling(x, w, (v) => Math.sqrt(naive.variance(v, 1))), 1e-7)
    }
  })

  test('a window as long as the input gives one value', () => {
    expect(Array.from(ops.rollingMax([3, 9, 4], 3))).toEqual([9])
  })

  test('a NaN only affects the windows that contain it', () => {
    const out = ops.rollingMean([1, 2, NaN, 4, 5, 6], 2)
    expect(Array.from(out)).toEqual([1.5, NaN, NaN, 4.5, 5.5])
  })
})

describe('element types', () => {
  test('Float32Array in, Float32Array out; number[] in, Float64Array out', () => {
    const f32 = ops.rollingMean(new Float32Array([1, 2, 3, 4]), 2)
    expect(f32).toBeInstanceOf(Float32Array)
    expect(Array.from(f32)).toEqual([1.5, 2.5, 3.5])
    const plain = ops.rollingMean([1, 2, 3, 4], 2)
    expect(plain).toBeInstanceOf(Float64Array)
  })

  test('inputs are not modified', () => {
    const x = randomArray(100)
    const copy = x.slice()
    ops.normalize(x)
    ops.ema(x, { alpha: 0.3 })
    ops.rollingStd(x, 5)
    expect(x).toEqual(copy)
  })
})

describe('reductions and element-wise kernels', () => {
  const x = randomArray(1003, 7)
  const y = randomArray(1003, 8)

  test('sum, mean, variance, std, min, max, dot', () => {
    expect(ops.sum(x)).toBeCloseTo(x.reduce((a, b) => a + b, 0), 9)
    expect(ops.mean(x)).toBeCloseTo(naive.mean(x), 12)
    expect(ops.variance(x)).toBeCloseTo(naive.variance(x), 10)
    expect(ops.variance(x, 1)).toBeCloseTo(naive.variance(x, 1), 10)
    expect(ops.std(x)).toBeCloseTo(Math.sqrt(naive.variance(x)), 10)
    expect(ops.min(x)).toBe(Math.min(...x))
    expect(ops.max(x)).toBe(Math.max(...x))
    expect(ops.dot(x, y)).toBeCloseTo(
      x.reduce((a, v, i) => a + v * y[i], 0),
      8,
    )
  })

  test('variance stays exact around a large offset', () => {
    const big = randomArray(100000, 3, 1e9, 1)
    expect(ops.variance(big) / naive.variance(big)).toBeCloseTo(1, 9)
  })

  test('add, mul, scale and axpy', () => {
    expectClose(ops.add(x, y), x.map((v, i) => v + y[i]))
    expectClose(ops.mul(x, y), x.map((v, i) => v * y[i]))
    expectClose(ops.scale(x, -2.5), x.map((v) => v * -2.5))
    expectClose(ops.axpy(0.5, x, y), x.map((v, i) => 0.5 * v + y[i]))
  })
})

describe('scaling', () => {
  const x = randomArray(500, 11, 100, 40)

  test('normalize returns z-scores and the statistics, and denormalize inverts it', () => {
    const n = ops.normalize(x)
    expect(n.mean).toBeCloseTo(naive.mean(x), 10)
    expect(n.std).toBeCloseTo(Math.sqrt(naive.variance(x)), 10)
    expect(ops.mean(n.values)).toBeCloseTo(0, 12)
    expect(ops.std(n.values)).toBeCloseTo(1, 12)
    expectClose(ops.denormalize(n.values, n), x)
  })

  test('a constant series normalizes to zeros instead of dividing by zero', () => {
    const n = ops.normalize([5, 5, 5])
    expect(Array.from(n.values)).toEqual([0, 0, 0])
  })

  test('min-max scaling maps to [0, 1] and back', () => {
    const s = ops.minMaxNormalize(x)
    expect(ops.min(s.values)).toBe(0)
    expect(ops.max(s.values)).toBe(1)
    expect(s.min).toBe(Math.min(...x))
    expect(s.max).toBe(Math.max(...x))
    expectClose(ops.minMaxDenormalize(s.values, s), x)
  })

  test('robust scaling uses the median and the interquartile range', () => {
    const s = ops.robustScale([1, 2, 3, 4, 100])
    expect(s.median).toBe(3)
    expect(s.iqr).toBe(2) // numpy: q75 = 4, q25 = 2
    expect(Array.from(s.values)).toEqual([-1, -0.5, 0, 0.5, 48.5])
    expectClose(ops.robustUnscale(s.values, s), [1, 2, 3, 4, 100])
  })
})

describe('exponential moving average', () => {
  const x = randomArray(100001, 5)

  test('alpha and span agree with the recurrence', () => {
    expectClose(ops.ema(x, { alpha: 0.1 }), naive.ema(x, 0.1), 1e-9)
    expectClose(ops.ema(x, { span: 9 }), naive.ema(x, 0.2), 1e-9)
  })

  test('emaBatch smooths each series on its own', () => {
    const series = [randomArray(10, 1), [1, 2, 3], randomArray(4097, 2)]
    const out = ops.emaBatch(series, { alpha: 0.25 })
    expect(out).toHaveLength(3)
    series.forEach((s, i) => expectClose(out[i], naive.ema(s, 0.25), 1e-9))
  })
})

describe('SIMD dispatch', () => {
  test('simdInfo reports the instruction set in use', () => {
    const info = ops.simdInfo()
    expect(typeof info.detected).toBe('string')
    expect(info.enabled).toBe(true)
    expect(info.active).toBe(info.detected)
  })

  test('the scalar twins give the same results', () => {
    const x = randomArray(4099, 9)
    const simd = [ops.sum(x), ops.rollingStd(x, 17), ops.ema(x, { alpha: 0.05 })]
    ops.setSimdEnabled(false)
    try {
      expect(ops.simdInfo().active).toBe('scalar')
      const scalar = [ops.sum(x), ops.rollingStd(x, 17), ops.ema(x, { alpha: 0.05 })]
      expect(scalar[0]).toBeCloseTo(simd[0], 9)
      expectClose(scalar[1], simd[1], 1e-9)
      expectClose(scalar[2], simd[2], 1e-9)
    } finally {
      ops.setSimdEnabled(true)
    }
    expect(ops.simdInfo().active).toBe(ops.simdInfo().detected)
  })
})

describe('memory pool counters', () => {
  test('poolStats exposes hits, misses and byte counts', () => {
    const before = ops.poolStats()
    for (let i = 0; i < 5; i++) ops.emaBatch([randomArray(10000, i), [1, 2]], { alpha: 0.5 })
    const after = ops.poolStats()
    for (const key of ['hits', 'misses', 'evictions', 'bytesInUse', 'bytesIdle', 'highWaterBytes', 'maxIdleBytes']) {
      expect(typeof after[key]).toBe('number')
    }
    expect(after.hits + after.misses).toBeGreaterThan(before.hits + before.misses)
    expect(after.hits).toBeGreaterThan(before.hits)
    expect(after.bytesInUse).toBe(0)
    expect(after.highWaterBytes).toBeGreaterThanOrEqual(after.bytesIdle)
  })
})

describe('bad input gives a typed error naming the argument', () => {
  const cases = [
    ['window 0', () => ops.rollingMean([1, 2, 3], 0), RangeError, /window/],
    ['window longer than the input', () => ops.rollingStd([1, 2, 3], 4), RangeError, /window/],
    ['fractional window', () => ops.rollingMin([1, 2, 3], 1.5), RangeError, /window/],
    ['window as a string', () => ops.rollingMax([1, 2, 3], '2'), TypeError, /window/],
    ['empty input to rollingMean', () => ops.rollingMean([], 1), RangeError, /window|empty/],
    ['empty input to mean', () => ops.mean(new Float64Array(0)), RangeError, /empty/],
    ['empty input to normalize', () => ops.normalize([]), RangeError, /empty/],
    ['a string instead of an array', () => ops.sum('1,2,3'), TypeError, /\bx\b.*string/],
    ['undefined instead of an array', () => ops.mean(undefined), TypeError, /\bx\b.*undefined/],
    ['an Int32Array', () => ops.sum(new Int32Array(3)), TypeError, /Int32Array/],
    ['a non-numeric element', () => ops.sum([1, 'two', 3]), TypeError, /x\[1\].*string/],
    ['mismatched lengths in add', () => ops.add([1, 2], [1, 2, 3]), RangeError, /length/],
    ['mismatched lengths in dot', () => ops.dot([1, 2], [1]), RangeError, /length/],
    ['ema without alpha or span', () => ops.ema([1, 2], {}), TypeError, /alpha|span/],
    ['ema with both alpha and span', () => ops.ema([1, 2], { alpha: 0.5, span: 3 }), TypeError, /alpha|span/],
    ['ema alpha out of range', () => ops.ema([1, 2], { alpha: 1.5 }), RangeError, /alpha/],
    ['ema span below 1', () => ops.ema([1, 2], { span: 0.5 }), RangeError, /span/],
    ['ema unknown option', () => ops.ema([1, 2], { alpha: 0.5, adjust: true }), TypeError, /adjust.*alpha, span/],
    ['emaBatch with a non-array', () => ops.emaBatch(3, { alpha: 0.5 }), TypeError, /series/],
    ['emaBatch with a bad series', () => ops.emaBatch([[1], 'x'], { alpha: 0.5 }), TypeError, /series\[1\]/],
    ['denormalize without statistics', () => ops.denormalize([1], {}), TypeError, /mean/],
    ['variance ddof too large', () => ops.variance([1, 2], 2), RangeError, /ddof/],
    ['setSimdEnabled with a number', () => ops.setSimdEnabled(1), TypeError, /enabled/],
  ]

  test.each(cases)('%s', (_name, call, ErrorType, message) => {
    expect(call).toThrow(ErrorType)
    expect(call).toThrow(message)
  })

  test('the module still works after every bad call', () => {
    for (const [, call] of cases) {
      try {
        call()
      } catch {}
    }
    expect(Array.from(ops.rollingMean([1, 2, 3, 4], 2))).toEqual([1.5, 2.5, 3.5])
  })
})

describe('out: writing into a caller-owned array', () => {
  const x = randomArray(257, 3, 5)
  const y = randomArray(257, 4)
  const x32 = Float32Array.from(x)
  const y32 = Float32Array.from(y)
  const w = 16

  // Each array op as [name, call(input, out)]: `input` picks f64 or f32 arguments; the allocating form passes
  // out as undefined. Scalers return { values }, the others the array.
  const cases = [
    ['add', (a, b, out) => ops.add(a, b, out)],
    ['mul', (a, b, out) => ops.mul(a, b, out)],
    ['scale', (a, _b, out) => ops.scale(a, 2.5, out)],
    ['axpy', (a, b, out) => ops.axpy(-0.5, a, b, out)],
    ['normalize', (a, _b, out) => ops.normalize(a, out).values],
    ['denormalize', (a, _b, out) => ops.denormalize(a, { mean: 3, std: 2 }, out)],
    ['minMaxNormalize', (a, _b, out) => ops.minMaxNormalize(a, out).values],
    ['minMaxDenormalize', (a, _b, out) => ops.minMaxDenormalize(a, { min: -1, max: 4 }, out)],
    ['robustScale', (a, _b, out) => ops.robustScale(a, out).values],
    ['robustUnscale', (a, _b, out) => ops.robustUnscale(a, { median: 1, iqr: 3 }, out)],
    ['rollingMean', (a, _b, out) => ops.rollingMean(a, w, out)],
    ['rollingMin', (a, _b, out) => ops.rollingMin(a, w, out)],
    ['rollingMax', (a, _b, out) => ops.rollingMax(a, w, out)],
    ['rollingStd', (a, _b, out) => ops.rollingStd(a, w, 1, out)],
    ['ema', (a, _b, out) => ops.ema(a, { span: 9 }, out)],
  ]

  test.each(cases)('%s: out gets the allocating form\'s values and is what the call returns', (_name, call) => {
    for (const [a, b] of [[x, y], [x32, y32]]) {
      const expected = call(a, b, undefined)
      const out = new expected.constructor(expected.length).fill(-7)
      const returned = call(a, b, out)
      expect(returned).toBe(out)
      expect(Array.from(out)).toEqual(Array.from(expected))
    }
  })

  test.each(cases)('%s: out may be the input itself (or overlap it)', (_name, call) => {
    const expected = call(x, y, undefined)
    const input = Float64Array.from(x)
    const out = input.subarray(0, expected.length)
    expect(call(input, y, out)).toBe(out)
    expect(Array.from(out)).toEqual(Array.from(expected))
  })

  test('the scalers return out as values beside their statistics', () => {
    const out = new Float64Array(x.length)
    const z = ops.normalize(x, out)
    expect(z.values).toBe(out)
    expect(z.mean).toBeCloseTo(naive.mean(Array.from(x)), 12)
  })

  test('emaBatch writes each series into its array of out and returns out', () => {
    const series = [x, randomArray(40, 9)]
    const expected = ops.emaBatch(series, { alpha: 0.2 })
    const out = [new Float64Array(x.length), new Float64Array(40)]
    expect(ops.emaBatch(series, { alpha: 0.2 }, out)).toBe(out)
    expect(out.map((a) => Array.from(a))).toEqual(expected.map((a) => Array.from(a)))
  })

  test('a call with out allocates no array buffer', () => {
    const big = randomArray(100_000, 5)
    const out = new Float64Array(big.length)
    const rolled = new Float64Array(big.length - w + 1)
    ops.normalize(big, out)
    ops.rollingMean(big, w, rolled)
    const before = process.memoryUsage().arrayBuffers
    for (let i = 0; i < 100; i++) {
      ops.normalize(big, out)
      ops.rollingMean(big, w, rolled)
    }
    // 200 allocating calls would add about 160 MB of array buffers (unless collected in between).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(big.byteLength)
  })

  test.each([
    ['a Float32Array for f64 input', () => ops.scale(x, 2, new Float32Array(x.length)), TypeError, /ops\.scale: out must be a Float64Array here, got a Float32Array/],
    ['a Float64Array for f32 input', () => ops.ema(x32, { alpha: 0.5 }, new Float64Array(x.length)), TypeError, /ops\.ema: out must be a Float32Array/],
    ['a plain array', () => ops.add(x, y, new Array(x.length).fill(0)), TypeError, /ops\.add: out must be a Float64Array here, got an array/],
    ['a number', () => ops.normalize(x, 3), TypeError, /ops\.normalize: out must be a Float64Array here, got a number/],
    ['an Int32Array', () => ops.denormalize(x, { mean: 0, std: 1 }, new Int32Array(x.length)), TypeError, /ops\.denormalize: out must be a Float64Array/],
    ['the wrong length', () => ops.rollingMean(x, w, new Float64Array(x.length)), RangeError, /ops\.rollingMean: out must have 242 elements, got 257/],
    ['one array short in emaBatch', () => ops.emaBatch([x, y], { alpha: 0.5 }, [new Float64Array(x.length)]), RangeError, /ops\.emaBatch: out must hold 2 arrays/],
    ['a wrong length inside emaBatch\'s out', () => ops.emaBatch([x, y], { alpha: 0.5 }, [new Float64Array(x.length), new Float64Array(3)]), RangeError, /ops\.emaBatch: out\[1\] must have 257 elements, got 3/],
  ])('out as %s is refused with an error naming out', (_what, call, ErrorClass, message) => {
    expect(call).toThrow(ErrorClass)
    expect(call).toThrow(message)
  })

  test('a refused call leaves out untouched', () => {
    const out = new Float64Array(3).fill(5)
    expect(() => ops.rollingMean(x, w, out)).toThrow(RangeError)
    expect(() => ops.axpy(2, x.subarray(0, 2), y.subarray(0, 3), out)).toThrow(/ops\.axpy: y/)
    expect(() => ops.add(x.subarray(0, 2), y.subarray(0, 3), out)).toThrow(RangeError)
    expect(Array.from(out)).toEqual([5, 5, 5])
  })
})

describe('index.d.ts', () => {
  test('no doc comment starts with the r" of a raw string (a /// comment passed through a macro)', () => {
    const dts = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'index.d.ts'), 'utf8')
    const raw = dts.split('\n').filter((line) => /^\s*(\/\*\*|\*)\s*r#*"/.test(line))
    expect(raw).toEqual([])
  })
})

'use strict'
const { parseCsv, stringifyCsv, readLongFormat, columnsToCsv } = require('../lib/csv.js')

const records = (text, options) => parseCsv(text, options).records

describe('parseCsv (RFC 4180)', () => {
  test('plain fields, with and without a final line break', () => {
    expect(records('a,b,c\n1,2,3\n')).toEqual([['a', 'b', 'c'], ['1', '2', '3']])
    expect(records('a,b,c\n1,2,3')).toEqual([['a', 'b', 'c'], ['1', '2', '3']])
  })

  test('CRLF, LF and lone CR record separators', () => {
    expect(records('a,b\r\n1,2\r\n')).toEqual([['a', 'b'], ['1', '2']])
    expect(records('a,b\r1,2\r')).toEqual([['a', 'b'], ['1', '2']])
    expect(records('a,b\n1,2\r\n3,4')).toEqual([['a', 'b'], ['1', '2'], ['3', '4']])
  })

  test('quoted fields hold delimiters, doubled quotes and line breaks', () => {
    const text = 'id,note\r\n"a,b","say ""hi"""\n"multi\r\nline",x\n"",""\n'
    expect(records(text)).toEqual([
      ['id', 'note'],
      ['a,b', 'say "hi"'],
      ['multi\r\nline', 'x'],
      ['', ''],
    ])
  })

  test('empty fields, blank lines and a byte-order mark', () => {
    expect(records('\ufeffa,b,c\n\n1,,3\n,,\n\n')).toEqual([['a', 'b', 'c'], ['1', '', '3'], ['', '', '']])
  })

  test('record start lines count the line breaks inside quoted fields', () => {
    const { lines } = parseCsv('h\n"x\ny"\n\nz\r\nw')
    expect(lines).toEqual([1, 2, 5, 6])
  })

  test('another delimiter', () => {
    expect(records('a;b\n"1;2";3\n', { delimiter: ';' })).toEqual([['a', 'b'], ['1;2', '3']])
  })

  test('malformed input is an error naming the line', () => {
    expect(() => parseCsv('a,b\n1,"open\n2,3\n')).toThrow(/line 2: unterminated quoted field/)
    expect(() => parseCsv('a,b\n1,x"y\n')).toThrow(/line 2: quote inside an unquoted field/)
    expect(() => parseCsv('a,b\n\n"1"x,2\n')).toThrow(/line 3: unexpected "x" after a closing quote/)
    expect(() => parseCsv('a', { delimiter: '"' })).toThrow(TypeError)
  })

  test('stringify → parse round trip over awkward fields', () => {
    let seed = 7
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const alphabet = ['a', 'b', ',', '"', '\n', '\r', ' ', 'é', '1', ';']
    const rows = Array.from({ length: 200 }, () =>
      Array.from({ length: 4 }, () => Array.from({ length: Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('')),
    )
    rows.unshift(['w', 'x', 'y', 'z']) // no blank first record
    for (const eol of ['\n', '\r\n']) {
      const parsed = records(stringifyCsv(rows, { eol }))
      // a record of one-field-only-empty rows cannot exist here (4 fields), so nothing is skipped as blank
      expect(parsed).toEqual(rows)
    }
  })

  test('a record of one empty field survives the round trip (found by the CSV fuzz test)', () => {
    const rows = [['a', 'b'], [''], ['c', 'd']]
    expect(records(stringifyCsv(rows))).toEqual(rows)
  })

  test('stringify quotes only what needs it', () => {
    expect(stringifyCsv([['a', 'b c', 'd,e', 'f"g', ' h', 1.5, null]])).toBe('a,b c,"d,e","f""g"," h",1.5,\n')
  })
})

describe('readLongFormat', () => {
  test('maps the default columns; integer ds become numbers', () => {
    const data = readLongFormat('unique_id,ds,y\nA,0,1.5\nA,1,2\nB,0,-3e2\n')
    expect(data.unique_id).toEqual(['A', 'A', 'B'])
    expect(data.ds).toEqual([0, 1, 0])
    expect(Array.from(data.y)).toEqual([1.5, 2, -300])
    expect(data.y).toBeInstanceOf(Float64Array)
    expect(data.lines).toEqual([2, 3, 4])
  })

  test('column mapping, extra columns, quoted header names and CRLF', () => {
    const text = 'store,"the date",units,other\r\ns1,2020-01-01,3,x\r\ns1,2020-01-02,4,y\r\n'
    const data = readLongFormat(text, { idCol: 'store', timeCol: 'the date', targetCol: 'units' })
    expect(data).toMatchObject({ unique_id: ['s1', 's1'], ds: ['2020-01-01', '2020-01-02'] })
    expect(Array.from(data.y)).toEqual([3, 4])
  })

  test('a single series without an id column', () => {
    const data = readLongFormat('date,value\n2020-01-01,1\n2020-01-02,2\n', { timeCol: 'date', targetCol: 'value', defaultId: 'sales' })
    expect(data.unique_id).toEqual(['sales', 'sales'])
  })

  test('errors name the file, the line and the column', () => {
    const src = { source: 'd.csv' }
    expect(() => readLongFormat('', src)).toThrow('d.csv is empty')
    expect(() => readLongFormat('unique_id,ds,y\n', src)).toThrow('d.csv has a header but no data rows')
    expect(() => readLongFormat('unique_id,date,y\na,1,2\n', src)).toThrow(
      'd.csv has no column "ds" (columns: "unique_id", "date", "y"); name the time column with --time-col',
    )
    expect(() => readLongFormat('ds,y\n1,2\n', { ...src, idCol: 'store' })).toThrow(/no column "store".*--id-col/)
    expect(() => readLongFormat('ds,y\n1,2\n2,abc\n', src)).toThrow('d.csv line 3: target column "y" has "abc", not a number')
    expect(() => readLongFormat('ds,y\n1,\n', src)).toThrow('d.csv line 2: target column "y" has an empty value')
    expect(() => readLongFormat('ds,y\n1,Infinity\n', src)).toThrow(/line 2: .* is Infinity; values must be finite/)
    expect(() => readLongFormat('ds,y\n1,2,3\n', src)).toThrow('d.csv line 2: expected 2 fields as in the header, found 3')
    expect(() => readLongFormat('ds,y\n,2\n', src)).toThrow('d.csv line 2: empty value in time column "ds"')
  })
})

test('columnsToCsv writes full-precision numbers from typed arrays', () => {
  const csv = columnsToCsv({ unique_id: ['a', 'b,c'], ds: ['2020-01-01', '2020-01-02'], LSTM: new Float64Array([0.1 + 0.2, 1e-20]) })
  expect(csv).toBe('unique_id,ds,LSTM\na,2020-01-01,0.30000000000000004\n"b,c",2020-01-02,1e-20\n')
  expect(records(csv)[2][0]).toBe('b,c')
  expect(() => columnsToCsv({ a: [1], b: [1, 2] })).toThrow(RangeError)
})

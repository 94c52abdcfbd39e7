'use strict'
// Plain-text tables for the terminal: a header, a rule, right-aligned numbers and left-aligned text.

/**
 * @param {string[]} header
 * @param {Array<Array<string|number>>} rows cells as they should be printed (numbers already formatted)
 * @param {{ align?: Array<'left'|'right'> }} [options] by default text left, anything numeric-looking right
 */
function formatTable(header, rows, options = {}) {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c)))
  const widths = header.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)))
  const numeric = (s) => /^[+-]?[\d,.]+(e[+-]?\d+)?%?$|^NaN$|^-?Infinity$/.test(s)
  const align = header.map((_, j) => options.align?.[j] ?? (rows.length && rows.every((r) => numeric(String(r[j] ?? ''))) ? 'right' : 'left'))
  const line = (r) =>
    r
      .map((c, j) => (align[j] === 'right' ? c.padStart(widths[j]) : c.padEnd(widths[j])))
      .join('  ')
      .trimEnd()
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}

module.exports = { formatTable }

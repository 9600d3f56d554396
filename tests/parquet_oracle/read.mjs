// The oracle: prints every row of a Parquet file as a JSON line, as hyparquet reads it.
//   node read.mjs FILE
// 64-bit integers (BigInt) are written as exact JSON numbers. Dates, times, timestamps and decimals
// are written as Stride's reader documents them (README, "Parquet values"): hyparquet decodes the
// stored values and this script formats them, from the column's annotation, with JavaScript's own
// calendar (Date) and BigInt arithmetic. hyparquet's own conversions are lossy (decimals as floats,
// timestamps as milliseconds) or absent (TIME, logical-only DATE), so the top-level columns that
// carry these annotations are read as their stored integers and bytes.
import fs from 'node:fs'
import { parquetMetadata, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

function toJson(v) {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null'
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v)
  if (Array.isArray(v)) return '[' + v.map(toJson).join(',') + ']'
  if (v instanceof Uint8Array) throw new Error('unexpected bytes')
  return '{' + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ':' + toJson(x)).join(',') + '}'
}

const perSecond = { MILLIS: 1000n, MICROS: 1000000n, NANOS: 1000000000n }
const digits = { MILLIS: 3, MICROS: 6, NANOS: 9 }

// Floor division of BigInts (BigInt's / truncates toward zero).
function floorDiv(a, b) {
  const q = a / b
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q
}

// The text of `ticks` units since the epoch: the date and clock from Date, the fraction from BigInt.
function timestampText(ticks, unit, utc) {
  const perMilli = perSecond[unit] / 1000n
  const millis = floorDiv(ticks, perMilli)
  const iso = new Date(Number(millis)).toISOString()  // ...T12:34:56.789Z
  const sub = (ticks - millis * perMilli).toString().padStart(digits[unit] - 3, '0')
  return iso.slice(0, -1) + (digits[unit] > 3 ? sub : '') + (utc ? 'Z' : '')
}

function timeText(ticks, unit, utc) {
  const s = ticks / perSecond[unit]
  const two = (n) => n.toString().padStart(2, '0')
  const frac = (ticks % perSecond[unit]).toString().padStart(digits[unit], '0')
  return `${two(s / 3600n)}:${two((s / 60n) % 60n)}:${two(s % 60n)}.${frac}` + (utc ? 'Z' : '')
}

function decimalText(raw, scale) {
  let v
  if (raw instanceof Uint8Array) {
    v = 0n
    for (const b of raw) v = v * 256n + BigInt(b)
    if (raw.length && raw[0] & 0x80) v -= 1n << BigInt(8 * raw.length)
  } else {
    v = BigInt(raw)
  }
  const neg = v < 0n
  let d = (neg ? -v : v).toString()
  if (scale > 0) {
    d = d.padStart(scale + 1, '0')
    d = d.slice(0, d.length - scale) + '.' + d.slice(d.length - scale)
  }
  return (neg ? '-' : '') + d
}

// How a top-level column's stored values become text, or undefined for a column left to hyparquet.
// Strips the annotation from `el`, so that hyparquet hands over the stored values.
function formatterOf(el) {
  const c = el.converted_type
  const l = el.logical_type
  const strip = (f) => {
    delete el.converted_type
    delete el.logical_type
    return f
  }
  if (l?.type === 'DECIMAL' || c === 'DECIMAL') {
    const scale = l?.type === 'DECIMAL' ? l.scale : el.scale || 0
    return strip((v) => decimalText(v, scale))
  }
  if (l?.type === 'DATE' || c === 'DATE') return strip((v) => new Date(v * 86400000).toISOString().split('T')[0])
  if (l?.type === 'TIMESTAMP') return strip((v) => timestampText(BigInt(v), l.unit, l.isAdjustedToUTC))
  if (c === 'TIMESTAMP_MILLIS' || c === 'TIMESTAMP_MICROS') {
    const unit = c === 'TIMESTAMP_MILLIS' ? 'MILLIS' : 'MICROS'
    return strip((v) => timestampText(BigInt(v), unit, true))
  }
  if (l?.type === 'TIME') return strip((v) => timeText(BigInt(v), l.unit, l.isAdjustedToUTC))
  if (c === 'TIME_MILLIS' || c === 'TIME_MICROS') return strip((v) => timeText(BigInt(v), c === 'TIME_MILLIS' ? 'MILLIS' : 'MICROS', true))
  if (el.type === 'INT96') return (v) => timestampText(v.int96Nanos, 'NANOS', true)
  return undefined
}

const bytes = fs.readFileSync(process.argv[2])
const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
const metadata = parquetMetadata(file)
const formatters = new Map()
let bytesDecimal = false
for (let k = 0, j = 1, schema = metadata.schema; k < (schema[0].num_children || 0); ++k) {
  const el = schema[j]
  if (!el.num_children) {
    const f = formatterOf(el)
    if (f) formatters.set(el.name, f)
    bytesDecimal ||= f !== undefined && el.type === 'BYTE_ARRAY'
  }
  // The next top-level element: past this one's subtree.
  let pending = 1
  while (pending > 0) pending += (schema[j++].num_children || 0) - 1
}
// INT96 values reach the nanosecond parser as nanoseconds since the epoch; kept exact.
const parsers = { timestampFromNanoseconds: (nanos) => ({ int96Nanos: nanos }) }
const rows = await parquetReadObjects({ file, metadata, compressors, parsers, utf8: !bytesDecimal })
for (const row of rows)
  for (const [name, f] of formatters) if (row[name] !== null && row[name] !== undefined) row[name] = f(row[name])
process.stdout.write(rows.map((r) => toJson(r) + '\n').join(''))

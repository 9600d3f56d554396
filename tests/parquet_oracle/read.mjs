// The oracle: prints every row of a Parquet file as a JSON line, as hyparquet reads it.
//   node read.mjs FILE
// 64-bit integers (BigInt) are written as exact JSON numbers.
import fs from 'node:fs'
import { parquetReadObjects } from 'hyparquet'
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

const bytes = fs.readFileSync(process.argv[2])
const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
const rows = await parquetReadObjects({ file, compressors })
process.stdout.write(rows.map((r) => toJson(r) + '\n').join(''))

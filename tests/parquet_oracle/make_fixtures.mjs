// Writes the Parquet test files of tests/job/test_parquet.cpp into OUTDIR with independent writers:
// hyparquet-writer (data page v2, dictionary, RLE, DELTA_* and BYTE_STREAM_SPLIT encodings,
// Snappy/Gzip/Zstd/Brotli/LZ4/LZ4_RAW/uncompressed (LZ4 from Debian's `lz4` program, in Hadoop's
// framing and as bare blocks), nested columns, dates, times, timestamps and decimals), parquetjs-lite (data page v1, Snappy/Gzip/uncompressed, repeated groups), and v1 pages with
// PLAIN_DICTIONARY values and INT96 timestamps assembled from hyparquet-writer's encoders.
//   node make_fixtures.mjs OUTDIR
// Deterministic: the same files on every run. Zstd pages come from Debian's `zstd` program.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import zlib from 'node:zlib'
import { getSchemaPath } from 'hyparquet/src/schema.js'
import { ByteWriter, parquetWriteBuffer } from 'hyparquet-writer'
import { writePageHeader } from 'hyparquet-writer/src/datapage.js'
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js'
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js'
import { writeMetadata } from 'hyparquet-writer/src/metadata.js'
import { writePlain } from 'hyparquet-writer/src/plain.js'

const require = createRequire(import.meta.url)
const parquetjs = require('parquetjs-lite')

const out = process.argv[2]
if (!out) throw new Error('usage: node make_fixtures.mjs OUTDIR')
fs.mkdirSync(out, { recursive: true })

// One LZ4 block holding `input` as literals only (valid LZ4, for data the lz4 tool stores uncompressed).
function lz4LiteralBlock(input) {
  const head = [Math.min(input.length, 15) << 4]
  for (let rest = input.length - 15; rest >= 0; rest -= 255) head.push(Math.min(rest, 255))
  return new Uint8Array([...head, ...input])
}

// The raw LZ4 block of Debian's `lz4` tool's frame (magic, FLG, BD, [content size], [dict id], HC,
// then size-prefixed blocks); pages are far below its 4 MiB block, so there is one.
function lz4Raw(input) {
  if (input.length === 0) return new Uint8Array([0])
  const frame = execFileSync('lz4', ['-q', '-c', '--no-frame-crc'], { input })
  const flg = frame[4]
  let at = 7 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0)
  const size = frame.readUInt32LE(at)
  at += 4
  if (size & 0x80000000) return lz4LiteralBlock(input)
  const next = frame.readUInt32LE(at + size)
  if (next !== 0) throw new Error('lz4 wrote more than one block')
  return new Uint8Array(frame.subarray(at, at + size))
}

// Hadoop's LZ4 framing, which Parquet's LZ4 codec means: [BE raw size][BE block size][raw block].
function lz4Hadoop(input) {
  const block = lz4Raw(input)
  const out = Buffer.alloc(8 + block.length)
  out.writeUInt32BE(input.length, 0)
  out.writeUInt32BE(block.length, 4)
  out.set(block, 8)
  return new Uint8Array(out)
}

const compressors = {
  GZIP: (input) => new Uint8Array(zlib.gzipSync(input)),
  ZSTD: (input) => new Uint8Array(execFileSync('zstd', ['-q', '-c', '-3'], { input })),
  BROTLI: (input) => new Uint8Array(zlib.brotliCompressSync(input)),
  LZ4_RAW: lz4Raw,
  LZ4: lz4Hadoop,
}

// A small deterministic generator, so that the data is varied but the same every run.
let seed = 12345
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
const words = ['alpha', 'beta', 'gamma', 'delta', 'ünïcødé ✓', '', 'a "quoted" \\ string', 'line\nbreak', '数学']
const pick = (a) => a[Math.floor(rand() * a.length)]

function flatColumns(n, { nullable = true } = {}) {
  const maybe = (v) => (nullable && rand() < 0.2 ? null : v)
  const rows = [...Array(n).keys()]
  return [
    { name: 'id', data: rows.map((i) => i), type: 'INT32', nullable: false },
    { name: 'word', data: rows.map(() => maybe(pick(words))), type: 'STRING' },
    { name: 'big', data: rows.map((i) => maybe(BigInt(i) * 1000000007n - 9007199254740993n)), type: 'INT64' },
    { name: 'small', data: rows.map((i) => maybe((i % 7) - 3)), type: 'INT32' },
    { name: 'ratio', data: rows.map(() => maybe(Math.round(rand() * 1e6) / 1e3)), type: 'DOUBLE' },
    { name: 'f32', data: rows.map((i) => maybe(i / 3)), type: 'FLOAT' },
    { name: 'flag', data: rows.map((i) => maybe(i % 3 === 0)), type: 'BOOLEAN' },
    { name: 'label', data: rows.map((i) => maybe(['x', 'y', 'z'][i % 3])), type: 'STRING' },
  ]
}

function write(name, options) {
  const buf = parquetWriteBuffer({ compressors, ...options })
  fs.writeFileSync(path.join(out, name), new Uint8Array(buf))
}

// Flat columns under every codec, several row groups and pages.
for (const codec of ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD', 'BROTLI', 'LZ4_RAW', 'LZ4']) {
  write(`flat_${codec.toLowerCase()}.parquet`, {
    columnData: flatColumns(300), codec, rowGroupSize: 64, pageSize: 512,
  })
}
// Encodings chosen per column: PLAIN everywhere, then dictionaries and RLE booleans.
write('flat_plain.parquet', {
  columnData: flatColumns(200).map((c) => ({ ...c, encoding: 'PLAIN' })), codec: 'UNCOMPRESSED', rowGroupSize: 50,
})
write('flat_dictionary.parquet', {
  columnData: flatColumns(200).map((c) => (c.type === 'BOOLEAN' ? { ...c, encoding: 'RLE' } : { ...c, encoding: 'RLE_DICTIONARY' })),
  codec: 'SNAPPY', rowGroupSize: 80, pageSize: 256,
})
// The DELTA_* and BYTE_STREAM_SPLIT encodings, on every type they apply to.
const deltaEncoding = { INT32: 'DELTA_BINARY_PACKED', INT64: 'DELTA_BINARY_PACKED', DOUBLE: 'BYTE_STREAM_SPLIT', FLOAT: 'BYTE_STREAM_SPLIT', BOOLEAN: 'RLE' }
write('flat_delta.parquet', {
  columnData: flatColumns(300).map((c) => ({
    ...c,
    encoding: c.type === 'STRING' ? (c.name === 'word' ? 'DELTA_LENGTH_BYTE_ARRAY' : 'DELTA_BYTE_ARRAY') : deltaEncoding[c.type],
  })),
  codec: 'SNAPPY', rowGroupSize: 128, pageSize: 256,
})
write('flat_byte_stream_split_ints.parquet', {
  columnData: flatColumns(150).map((c) => (c.type === 'INT32' || c.type === 'INT64' ? { ...c, encoding: 'BYTE_STREAM_SPLIT' } : c)),
  codec: 'UNCOMPRESSED', rowGroupSize: 1000,
})
write('required.parquet', {
  columnData: flatColumns(100, { nullable: false }).map((c) => ({ ...c, nullable: false })),
  codec: 'ZSTD', rowGroupSize: 1000,
})

// verl's layout: prompt is a list of {role, content} structs, reward_model and extra_info structs.
function verlRows(n) {
  const rows = []
  for (let i = 0; i < n; ++i) {
    const a = 1 + Math.floor(rand() * 90)
    const b = 1 + Math.floor(rand() * 90)
    const prompt = []
    if (i % 4 === 0) prompt.push({ role: 'system', content: 'You are a careful math tutor.' })
    prompt.push({ role: 'user', content: `Natalia sold ${a} clips in April and ${b} in May. How many in all? Let's think step by step and output the final answer after "####".` })
    rows.push({
      data_source: 'openai/gsm8k',
      prompt,
      ability: 'math',
      reward_model: { ground_truth: String(a + b), style: 'rule' },
      extra_info: { split: i % 5 === 0 ? 'test' : 'train', index: BigInt(i), answer: `${a} + ${b} = ${a + b}\n#### ${a + b}`, question: `${a}+${b}` },
    })
  }
  return rows
}

const verlSchema = [
  { name: 'root', num_children: 5 },
  { name: 'data_source', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'prompt', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'ability', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'reward_model', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'ground_truth', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'style', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'extra_info', repetition_type: 'OPTIONAL', num_children: 4 },
  { name: 'answer', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'index', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'question', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'split', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
]

function verlColumns(rows) {
  return ['data_source', 'prompt', 'ability', 'reward_model', 'extra_info'].map((name) => ({
    name, data: rows.map((r) => r[name]),
  }))
}

const gsm = verlRows(120)
write('gsm8k_like.parquet', { columnData: verlColumns(gsm), schema: verlSchema, codec: 'SNAPPY', rowGroupSize: 50 })
write('gsm8k_like_zstd.parquet', { columnData: verlColumns(gsm), schema: verlSchema, codec: 'ZSTD', rowGroupSize: 1000 })

// A ground truth that is not a string (verl passes any type to compute_score): a list of integers.
const typedSchema = [
  { name: 'root', num_children: 2 },
  { name: 'prompt', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'reward_model', repetition_type: 'OPTIONAL', num_children: 1 },
  { name: 'ground_truth', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'INT64', repetition_type: 'OPTIONAL' },
]
const typedRows = [...Array(60).keys()].map((i) => ({ prompt: `${i}+1=`, reward_model: { ground_truth: [BigInt(i), BigInt(i + 1)] } }))
write('typed_truth.parquet', {
  columnData: ['prompt', 'reward_model'].map((name) => ({ name, data: typedRows.map((r) => r[name]) })),
  schema: typedSchema, codec: 'SNAPPY', rowGroupSize: 25,
})

// Nesting with nulls everywhere: null and empty lists, null elements, null structs and null fields,
// lists of lists, a map, a list of primitives without a LIST annotation.
const nestedSchema = [
  { name: 'root', num_children: 6 },
  { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
  { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'matrix', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL' },
  { name: 'info', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'score', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'meta', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'ok', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
  { name: 'note', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'attrs', repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
  { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
  { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'value', type: 'INT32', repetition_type: 'OPTIONAL' },
  { name: 'msgs', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'REQUIRED', num_children: 2 },
  { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
]

function nestedRows(n) {
  const rows = []
  for (let i = 0; i < n; ++i) {
    const k = i % 6
    rows.push({
      id: BigInt(i),
      tags: k === 0 ? null : k === 1 ? [] : Array.from({ length: 1 + (i % 4) }, (_, j) => ((i + j) % 5 === 0 ? null : pick(words))),
      matrix: k === 2 ? null : Array.from({ length: i % 3 }, (_, j) => (j === 1 && i % 2 ? null : Array.from({ length: (i + j) % 3 }, (_, m) => (m === 2 ? null : i * 10 + m)))),
      info: k === 3 ? null : { score: k === 4 ? null : i / 8, meta: i % 5 === 0 ? null : { ok: i % 2 === 0 ? null : i % 3 === 0, note: i % 7 === 0 ? null : `n${i}` } },
      attrs: k === 5 ? null : Object.fromEntries(Array.from({ length: i % 3 }, (_, j) => [`k${j}`, j === 1 ? null : i + j])),
      msgs: Array.from({ length: i % 3 }, (_, j) => ({ role: j % 2 ? 'assistant' : 'user', content: (i + j) % 4 === 0 ? null : pick(words) })),
    })
  }
  return rows
}

const nested = nestedRows(90)
const nestedColumns = ['id', 'tags', 'matrix', 'info', 'attrs', 'msgs'].map((name) => ({ name, data: nested.map((r) => r[name]) }))
for (const codec of ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD']) {
  write(`nested_${codec.toLowerCase()}.parquet`, { columnData: nestedColumns, schema: nestedSchema, codec, rowGroupSize: 25, pageSize: 128 })
}

// Data page v1, from parquetjs-lite: flat optional columns, repeated primitives and groups.
async function writeV1(name, compression) {
  const schema = new parquetjs.ParquetSchema({
    id: { type: 'INT64', compression },
    name: { type: 'UTF8', optional: true, compression },
    score: { type: 'DOUBLE', optional: true, compression },
    count: { type: 'INT32', optional: true, compression },
    ok: { type: 'BOOLEAN', optional: true, compression },
    flag: { type: 'BOOLEAN', compression },
    colours: { type: 'UTF8', repeated: true, compression },
    stock: {
      repeated: true,
      fields: {
        price: { type: 'DOUBLE', compression },
        quantity: { type: 'INT64', optional: true, compression },
        where: { type: 'UTF8', repeated: true, compression },
      },
    },
  })
  const writer = await parquetjs.ParquetWriter.openFile(schema, path.join(out, name), { useDataPageV2: false, rowGroupSize: 16 })
  for (let i = 0; i < 70; ++i) {
    const row = { id: i, flag: i % 4 === 1, colours: Array.from({ length: i % 3 }, (_, j) => pick(words) + j) }
    if (i % 5) row.name = pick(words)
    if (i % 4) row.score = i * 0.25
    if (i % 3) row.count = i - 35
    if (i % 6) row.ok = i % 2 === 0
    row.stock = Array.from({ length: i % 4 }, (_, j) => {
      const s = { price: i + j / 4, where: Array.from({ length: (i + j) % 3 }, (_, m) => `w${m}`) }
      if ((i + j) % 2) s.quantity = i * 100 + j
      return s
    })
    await writer.appendRow(row)
  }
  await writer.close()
}
for (const codec of ['UNCOMPRESSED', 'SNAPPY', 'GZIP']) await writeV1(`v1_${codec.toLowerCase()}.parquet`, codec)

// A column of nulls only, as pyarrow writes an all-None column: INT32 with the NULL logical type.
write('all_null.parquet', {
  columnData: [{ name: 'id', data: [1, 2, 3] }, { name: 'nothing', data: [null, null, null] }],
  schema: [
    { name: 'root', num_children: 2 },
    { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
    { name: 'nothing', type: 'INT32', repetition_type: 'OPTIONAL', logical_type: { type: 'NULL' } },
  ],
})

// Data page v1 with PLAIN_DICTIONARY values, which neither writer above makes: assembled here from
// hyparquet-writer's own encoders (Dremel levels, RLE/bit-packed hybrid, PLAIN, page header, footer).
function writeV1Dictionary(name, codec) {
  const schema = [
    { name: 'root', num_children: 3 },
    { name: 'word', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'n', type: 'INT64', repetition_type: 'REQUIRED' },
    { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL' },
  ]
  const compress = codec === 'GZIP' ? (b) => new Uint8Array(zlib.gzipSync(b)) : (b) => b
  const file = new ByteWriter()
  file.appendBytes(new TextEncoder().encode('PAR1'))
  const rowGroups = []
  for (const rows of [40, 33]) {
    const base = rowGroups.length * 1000
    const data = {
      word: Array.from({ length: rows }, (_, i) => (i % 5 === 3 ? null : pick(words))),
      n: Array.from({ length: rows }, (_, i) => BigInt(base + i)),
      tags: Array.from({ length: rows }, (_, i) => (i % 4 === 0 ? null : Array.from({ length: i % 3 }, (_, j) => (j === 1 ? null : (i * j) % 4)))),
    }
    const columns = []
    for (const [col, leaf, type, dictionary] of [['word', ['word'], 'BYTE_ARRAY', true], ['n', ['n'], 'INT64', false],
      ['tags', ['tags', 'list', 'element'], 'INT32', true]]) {
      const treePath = getSchemaPath(schema, leaf)
      const { values, definitionLevels, repetitionLevels, maxDefinitionLevel } = encodeNestedValues(treePath, data[col])
      const maxRep = treePath.filter((t) => t.element.repetition_type === 'REPEATED').length
      const present = values.filter((v) => v !== null && v !== undefined)
      const start = file.offset
      let dictOffset
      const body = new ByteWriter()
      for (const [levels, max] of [[repetitionLevels, maxRep], [definitionLevels, maxDefinitionLevel]]) {
        if (!max) continue
        const w = new ByteWriter()
        writeRleBitPackedHybrid(w, levels, Math.ceil(Math.log2(max + 1)))
        body.appendUint32(w.offset)
        body.appendBuffer(w.getBuffer())
      }
      if (dictionary) {
        const dict = [...new Set(present)]
        const page = new ByteWriter()
        writePlain(page, dict, type)
        const bytes = new Uint8Array(page.getBuffer())
        const compressed = compress(bytes)
        dictOffset = BigInt(file.offset)
        writePageHeader(file, { type: 'DICTIONARY_PAGE', uncompressed_page_size: bytes.length, compressed_page_size: compressed.length,
          dictionary_page_header: { num_values: dict.length, encoding: 'PLAIN_DICTIONARY' } })
        file.appendBytes(compressed)
        const width = Math.max(1, Math.ceil(Math.log2(dict.length)))
        body.appendUint8(width)
        writeRleBitPackedHybrid(body, present.map((v) => dict.indexOf(v)), width)
      } else {
        writePlain(body, present, type)
      }
      const bytes = new Uint8Array(body.getBuffer())
      const compressed = compress(bytes)
      const dataOffset = BigInt(file.offset)
      const numValues = definitionLevels.length || values.length
      writePageHeader(file, { type: 'DATA_PAGE', uncompressed_page_size: bytes.length, compressed_page_size: compressed.length,
        data_page_header: { num_values: numValues, encoding: dictionary ? 'PLAIN_DICTIONARY' : 'PLAIN',
          definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' } })
      file.appendBytes(compressed)
      columns.push({ file_offset: BigInt(start), meta_data: {
        type, encodings: ['PLAIN', 'RLE', ...(dictionary ? ['PLAIN_DICTIONARY'] : [])], path_in_schema: leaf, codec,
        num_values: BigInt(numValues), total_uncompressed_size: BigInt(file.offset - start), total_compressed_size: BigInt(file.offset - start),
        data_page_offset: dataOffset, dictionary_page_offset: dictOffset } })
    }
    rowGroups.push({ columns, total_byte_size: 0n, num_rows: BigInt(rows) })
  }
  const footerStart = file.offset
  writeMetadata(file, { version: 1, schema, num_rows: 73n, row_groups: rowGroups, created_by: 'stride make_fixtures.mjs' })
  file.appendUint32(file.offset - footerStart)
  file.appendBytes(new TextEncoder().encode('PAR1'))
  fs.writeFileSync(path.join(out, name), new Uint8Array(file.getBuffer()))
}
writeV1Dictionary('v1_dictionary_uncompressed.parquet', 'UNCOMPRESSED')
writeV1Dictionary('v1_dictionary_gzip.parquet', 'GZIP')

// Features outside what the reader supports, each in its own file: refused naming column and feature.
const ints = [1, 2, 3, 4, 5]
write('unsupported_interval.parquet', {
  columnData: [{ name: 'span', data: ints.map((i) => new Uint8Array(12).fill(i)) }],
  schema: [
    { name: 'root', num_children: 1 },
    { name: 'span', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 12, converted_type: 'INTERVAL', repetition_type: 'REQUIRED' },
  ],
})
write('unsupported_uuid.parquet', { columnData: [{ name: 'uid', data: ints.map((i) => `00000000-0000-0000-0000-00000000000${i}`), type: 'UUID' }] })
write('unsupported_lzo.parquet', {
  columnData: [{ name: 'n', data: ints, type: 'INT32' }], codec: 'LZO', compressors: { LZO: (input) => input },
})

// LZ4 pages as bare blocks without Hadoop's framing, as older parquet-cpp wrote them: read by the
// raw-block fallback.
write('flat_lz4_unframed.parquet', {
  columnData: flatColumns(300), codec: 'LZ4', compressors: { LZ4: lz4Raw }, rowGroupSize: 64, pageSize: 512,
})

// Dates, times and timestamps: every unit, UTC-adjusted or local, logical or legacy converted types,
// before 1970 and far from it, with nulls; dictionary-encoded and PLAIN.
const temporalSchema = [
  { name: 'root', num_children: 8 },
  { name: 'day', type: 'INT32', converted_type: 'DATE', repetition_type: 'OPTIONAL' },
  { name: 'day_logical', type: 'INT32', logical_type: { type: 'DATE' }, repetition_type: 'REQUIRED' },
  { name: 'ts_millis', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' }, repetition_type: 'OPTIONAL' },
  { name: 'ts_micros_local', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' }, repetition_type: 'OPTIONAL' },
  { name: 'ts_nanos', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' }, repetition_type: 'OPTIONAL' },
  { name: 'ts_legacy', type: 'INT64', converted_type: 'TIMESTAMP_MICROS', repetition_type: 'OPTIONAL' },
  { name: 'clock_millis', type: 'INT32', logical_type: { type: 'TIME', isAdjustedToUTC: false, unit: 'MILLIS' }, repetition_type: 'OPTIONAL' },
  { name: 'clock_nanos', type: 'INT64', logical_type: { type: 'TIME', isAdjustedToUTC: true, unit: 'NANOS' }, repetition_type: 'OPTIONAL' },
]
function temporalColumns(n) {
  const maybe = (i, v) => (i > 0 && rand() < 0.15 ? null : v)  // row 0 is never null: the test pins it
  const big = (max) => BigInt(Math.floor((rand() * 2 - 1) * max))
  const days = [0, -1, 1, 59, 60, 365, 10957, 11016, -719162, 2932896, -25567, 19723, -719163, -800000, 2932897, 5000000]  // 0001-01-01, 9999-12-31 and past both
  const rows = [...Array(n).keys()]
  const data = {
    day: rows.map((i) => maybe(i, i < days.length ? days[i] : Math.floor((rand() * 2 - 1) * 80000))),
    day_logical: rows.map((i) => (i % 7) * 1000 - 3000),
    ts_millis: rows.map((i) => maybe(i, i === 0 ? -1n : big(4e12))),
    ts_micros_local: rows.map((i) => maybe(i, i === 0 ? 0n : big(4e15))),
    ts_nanos: rows.map((i) => maybe(i, i === 0 ? -1n : big(9e18))),
    ts_legacy: rows.map((i) => maybe(i, BigInt(i % 5) * 86400000000n + 1n)),
    clock_millis: rows.map((i) => maybe(i, i === 0 ? 86399999 : Math.floor(rand() * 86400000))),
    clock_nanos: rows.map((i) => maybe(i, i === 0 ? 0n : BigInt(Math.floor(rand() * 86400)) * 1000000000n + BigInt(i))),
  }
  return temporalSchema.slice(1).map((e) => ({ name: e.name, data: data[e.name] }))
}
const temporal = temporalColumns(200)
write('temporal_dictionary.parquet', {
  columnData: temporal.map((c) => ({ ...c, encoding: 'RLE_DICTIONARY' })), schema: temporalSchema, codec: 'SNAPPY', rowGroupSize: 70, pageSize: 256,
})
write('temporal_plain.parquet', {
  columnData: temporal.map((c) => ({ ...c, encoding: 'PLAIN' })), schema: temporalSchema, codec: 'ZSTD', rowGroupSize: 1000,
})
// hyparquet-writer's own spelling: a JavaScript Date in a TIMESTAMP column (TIMESTAMP_MILLIS).
write('timestamp_dates.parquet', { columnData: [{ name: 'when', data: [...Array(60).keys()].map((i) => new Date(i * 86399999 - 1e12)), type: 'TIMESTAMP' }] })

// Decimals on every physical type that may hold one: INT32, INT64, FIXED_LEN_BYTE_ARRAY and
// BYTE_ARRAY, by converted or logical type, scale 0 and beyond the digits, negative, extreme values.
const decimalSchema = [
  { name: 'root', num_children: 6 },
  { name: 'price', type: 'INT32', converted_type: 'DECIMAL', scale: 2, precision: 9, repetition_type: 'OPTIONAL' },
  { name: 'amount', type: 'INT64', logical_type: { type: 'DECIMAL', scale: 4, precision: 18 }, repetition_type: 'OPTIONAL' },
  { name: 'whole', type: 'INT64', converted_type: 'DECIMAL', scale: 0, precision: 18, repetition_type: 'REQUIRED' },
  { name: 'tiny', type: 'INT32', converted_type: 'DECIMAL', scale: 7, precision: 7, repetition_type: 'OPTIONAL' },
  { name: 'wide', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, converted_type: 'DECIMAL', scale: 10, precision: 38, repetition_type: 'OPTIONAL' },
  { name: 'varlen', type: 'BYTE_ARRAY', converted_type: 'DECIMAL', scale: 3, precision: 40, repetition_type: 'OPTIONAL' },
]
function decimalColumns(n) {
  const maybe = (i, v) => (i > 0 && rand() < 0.15 ? null : v)  // row 0 is never null: the test pins it
  const big = (digits) => {
    let v = 0n
    for (let k = 0; k < digits; ++k) v = v * 10n + BigInt(Math.floor(rand() * 10))
    return rand() < 0.5 ? -v : v
  }
  const rows = [...Array(n).keys()]
  const edges128 = [0n, -1n, (1n << 127n) - 1n, -(1n << 127n), 10n ** 37n, -(10n ** 38n - 1n)]
  const data = {
    price: rows.map((i) => maybe(i, i === 0 ? -2147483648n : i === 1 ? 2147483647n : i === 2 ? -5n : big(1 + (i % 9)))),
    amount: rows.map((i) => maybe(i, i === 0 ? -(1n << 63n) : i === 1 ? (1n << 63n) - 1n : big(1 + (i % 18)))),
    whole: rows.map((i) => (i === 0 ? 0n : big(1 + (i % 18)))),
    tiny: rows.map((i) => maybe(i, i === 0 ? 1n : big(1 + (i % 7)))),
    wide: rows.map((i) => maybe(i, i < edges128.length ? edges128[i] : big(1 + (i % 38)))),
    varlen: rows.map((i) => maybe(i, i < edges128.length ? edges128[i] * 7n : big(1 + (i % 40)))),
  }
  return decimalSchema.slice(1).map((e) => ({ name: e.name, data: data[e.name] }))
}
const decimals = decimalColumns(150)
write('decimal_plain.parquet', {
  columnData: decimals.map((c) => ({ ...c, encoding: 'PLAIN' })), schema: decimalSchema, codec: 'GZIP', rowGroupSize: 60,
})
write('decimal_dictionary.parquet', {
  columnData: decimals.map((c) => ({ ...c, encoding: 'RLE_DICTIONARY' })), schema: decimalSchema, codec: 'UNCOMPRESSED', rowGroupSize: 1000,
})

// INT96 timestamps (Impala's and Spark's legacy ones), which hyparquet-writer does not write: a v1
// page of PLAIN values and one of dictionary indices, assembled from its encoders like the
// PLAIN_DICTIONARY file above. 12 bytes: nanoseconds into the day (LE), then the Julian day (LE).
function int96(julianDay, nanos) {
  const b = Buffer.alloc(12)
  b.writeBigUInt64LE(nanos, 0)
  b.writeUInt32LE(julianDay, 8)
  return new Uint8Array(b)
}
function writeInt96(name) {
  const schema = [
    { name: 'root', num_children: 2 },
    { name: 'at', type: 'INT96', repetition_type: 'OPTIONAL' },
    { name: 'shift', type: 'INT96', repetition_type: 'REQUIRED' },
  ]
  const rows = 80
  const day = 86400000000000n
  const edge = [int96(2440588, 0n), int96(2440587, day - 1n), int96(1721426, 0n), int96(5373484, day - 1n), int96(2440588, day + 5n)]
  const at = Array.from({ length: rows }, (_, i) => (i % 9 === 4 ? null : i < edge.length ? edge[i]
    : int96(2400000 + Math.floor(rand() * 100000), BigInt(Math.floor(rand() * 86400)) * 1000000000n + BigInt(Math.floor(rand() * 1e9)))))
  const shifts = [int96(2451545, 43200000000000n), int96(2460000, 1n), int96(2440000, 123456789n)]
  const shift = Array.from({ length: rows }, (_, i) => shifts[i % 3])
  const file = new ByteWriter()
  file.appendBytes(new TextEncoder().encode('PAR1'))
  const columns = []
  for (const [col, values, dictionary] of [['at', at, false], ['shift', shift, true]]) {
    const start = file.offset
    const optional = col === 'at'
    const present = values.filter((v) => v !== null)
    const body = new ByteWriter()
    if (optional) {
      const w = new ByteWriter()
      writeRleBitPackedHybrid(w, values.map((v) => (v === null ? 0 : 1)), 1)
      body.appendUint32(w.offset)
      body.appendBuffer(w.getBuffer())
    }
    let dictOffset
    if (dictionary) {
      dictOffset = BigInt(file.offset)
      const page = new ByteWriter()
      for (const v of shifts) page.appendBytes(v)
      const bytes = new Uint8Array(page.getBuffer())
      writePageHeader(file, { type: 'DICTIONARY_PAGE', uncompressed_page_size: bytes.length, compressed_page_size: bytes.length,
        dictionary_page_header: { num_values: shifts.length, encoding: 'PLAIN' } })
      file.appendBytes(bytes)
      body.appendUint8(2)
      writeRleBitPackedHybrid(body, present.map((v) => shifts.indexOf(v)), 2)
    } else {
      for (const v of present) body.appendBytes(v)
    }
    const bytes = new Uint8Array(body.getBuffer())
    const dataOffset = BigInt(file.offset)
    writePageHeader(file, { type: 'DATA_PAGE', uncompressed_page_size: bytes.length, compressed_page_size: bytes.length,
      data_page_header: { num_values: rows, encoding: dictionary ? 'RLE_DICTIONARY' : 'PLAIN',
        definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' } })
    file.appendBytes(bytes)
    columns.push({ file_offset: BigInt(start), meta_data: {
      type: 'INT96', encodings: ['PLAIN', 'RLE', ...(dictionary ? ['RLE_DICTIONARY'] : [])], path_in_schema: [col], codec: 'UNCOMPRESSED',
      num_values: BigInt(rows), total_uncompressed_size: BigInt(file.offset - start), total_compressed_size: BigInt(file.offset - start),
      data_page_offset: dataOffset, dictionary_page_offset: dictOffset } })
  }
  const footerStart = file.offset
  writeMetadata(file, { version: 1, schema, num_rows: BigInt(rows), row_groups: [{ columns, total_byte_size: 0n, num_rows: BigInt(rows) }],
    created_by: 'stride make_fixtures.mjs' })
  file.appendUint32(file.offset - footerStart)
  file.appendBytes(new TextEncoder().encode('PAR1'))
  fs.writeFileSync(path.join(out, name), new Uint8Array(file.getBuffer()))
}
writeInt96('int96.parquet')

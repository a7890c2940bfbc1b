/**
 * docs/benchmarks.md, "Big values": hit and miss latency from 10 KB to 5 MB, plain and gzipped, beside raw
 * `GET` + `JSON.parse`; the stored ratio and the codec's cost per MB (bench/big-values.ts).
 * @module
 */
import type { BigValuesResult } from '../results-file.js'
import { md, NOT_IN_FILE } from './markdown.js'

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1))
const pair = (l: { p50Ms: number; p99Ms: number }) => `${ms(l.p50Ms)} / ${ms(l.p99Ms)}`

/** One row per value size. */
export function renderBigValues(r: BigValuesResult | undefined): string {
  if (!r) return NOT_IN_FILE
  const rows = r.cases.map((c) => [
    c.label,
    pair(c.raw),
    pair(c.plain.hit),
    pair(c.plain.miss),
    pair(c.compressed.hit),
    pair(c.compressed.miss),
    `${c.ratio.toFixed(3)} (${Math.round(c.compressed.storedBytes / 1024)} KB)`,
    `${ms(c.gzipMsPerMB)} / ${ms(c.gunzipMsPerMB)}`,
    ms(Math.max(c.plain.hit.maxStallMs, c.compressed.hit.maxStallMs, c.raw.maxStallMs)),
  ])
  const head = [
    'value',
    'raw GET + parse',
    'hit',
    'miss',
    'hit, compress',
    'miss, compress',
    'stored ratio',
    'gzip / gunzip ms per MB',
    'longest stall ms',
  ]
  return [
    'Sequential `getOrSet` over ioredis with `maxValueBytes` lifted to 16 MB, values that are listings of rows ' +
      '(repeated field names, as API payloads have). Latencies are ms, p50 / p99. **raw** is `GET` + `JSON.parse` ' +
      'of the same JSON; **miss** is read + lock + load (the value is ready) + encode + write. **stored ratio** is ' +
      'what Redis holds with `compress: true` ÷ without, base64 included. **gzip / gunzip** is the codec alone ' +
      '(`CompressionStream` + base64), per MB of body. **longest stall** is the longest event-loop delay while the ' +
      'hits ran: parsing a big value is one synchronous step, which no cache can split.',
    '',
    md(head, rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
  ].join('\n')
}

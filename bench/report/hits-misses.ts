/**
 * docs/benchmarks.md, "cacheward against raw ioredis": the hit and miss cases (bench/hits-misses.ts).
 * @module
 */
import { formatInt, formatUs } from '../lib.js'
import type { StoredResults } from '../results-file.js'
import { md, NOT_IN_FILE, verdict, x } from './markdown.js'

/** The hit/miss table (median rounds against raw ioredis, with targets), then what the memory column is. */
export function renderHitsMisses(r: StoredResults): string {
  return [
    table(r),
    '',
    '**memory** is `createCacheClient()` with its defaults (the in-process backend): context, no target.',
  ].join('\n')
}

function table(r: StoredResults): string {
  if (r.cases.length === 0) return NOT_IN_FILE
  const rows = r.cases.map((c) => [
    c.label,
    formatInt(c.sides.raw.median.opsPerSec),
    formatInt(c.sides.cacheward.median.opsPerSec),
    x(c.ratio),
    `≥ ${c.target.toFixed(2)}`,
    verdict(c.pass),
    formatUs(c.sides.raw.median.p50Us),
    formatUs(c.sides.cacheward.median.p50Us),
    formatInt(c.sides.memory.median.opsPerSec),
  ])
  return md(
    [
      'case',
      'raw ioredis ops/s',
      'cacheward ops/s',
      'ratio',
      'target',
      'verdict',
      'raw p50 µs',
      'cacheward p50 µs',
      'memory ops/s',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'l', 'l', 'r', 'r', 'r'],
  )
}

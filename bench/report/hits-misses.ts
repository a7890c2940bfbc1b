/**
 * docs/benchmarks.md, "cacheward against raw ioredis": the hit and miss cases (bench/hits-misses.ts), then the
 * same cases on node-redis when the results file has them.
 * @module
 */
import { formatInt, formatUs } from '../lib.js'
import type { StoredResults } from '../results-file.js'
import { md, NOT_IN_FILE, verdict, x } from './markdown.js'

/**
 * The hit/miss table (median rounds against raw ioredis, with targets), what the memory column is, then the same
 * cases over node-redis against raw node-redis.
 */
export function renderHitsMisses(r: StoredResults): string {
  return [
    table(r),
    '',
    '**memory** is `createCacheClient()` with its defaults (the in-process backend): context, no target.',
    '',
    '**On node-redis.** The same cases through node-redis v5 (`createClient()` defaults, which pipeline the commands ' +
      'issued in one tick): raw node-redis `GET` / `SET PX` against `getOrSet` over `nodeRedisAdapter`, each ratio ' +
      'to raw on the same client.',
    '',
    nodeRedisTable(r),
  ].join('\n')
}

function nodeRedisTable(r: StoredResults): string {
  const cases = r.cases.flatMap((c) => {
    const raw = c.sides['raw-node-redis']
    const cw = c.sides['cacheward-node-redis']
    return raw && cw && c.nodeRedisRatio !== undefined ? [{ c, raw, cw, ratio: c.nodeRedisRatio }] : []
  })
  if (cases.length === 0) return NOT_IN_FILE
  const rows = cases.map(({ c, raw, cw, ratio }) => [
    c.label,
    formatInt(raw.median.opsPerSec),
    formatInt(cw.median.opsPerSec),
    x(ratio),
    `≥ ${c.target.toFixed(2)}`,
    verdict(c.nodeRedisPass ?? ratio >= c.target),
    formatUs(raw.median.p50Us),
    formatUs(cw.median.p50Us),
  ])
  return md(
    ['case', 'raw node-redis ops/s', 'cacheward ops/s', 'ratio', 'target', 'verdict', 'raw p50 µs', 'cacheward p50 µs'],
    rows,
    ['l', 'r', 'r', 'r', 'l', 'l', 'r', 'r'],
  )
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

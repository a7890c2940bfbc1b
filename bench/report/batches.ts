/**
 * docs/benchmarks.md, "Batches": `getOrSetMany` over 100 cached keys beside raw MGET + JSON.parse of the same keys
 * and 100 sequential `getOrSet` calls, and the script calls one batch costs (bench/batches.ts). The verdicts live
 * here so the console table and the page judge alike.
 * @module
 */
import { formatInt, formatUs } from '../lib.js'
import type { BatchesResult, BatchSide } from '../results-file.js'
import { md, NOT_IN_FILE, verdict } from './markdown.js'

/** The sides, in table order. */
export const BATCH_SIDES: readonly BatchSide[] = [
  'raw MGET + JSON.parse (the limit)',
  'cacheward getOrSetMany',
  'cacheward getOrSet x100, sequential',
]

/** One target of the section and whether this run met it. */
export interface BatchVerdict {
  label: string
  measured: string
  target: string
  pass: boolean
}

/** The section's verdicts against issue 15's targets (the copy of them the run recorded). */
export function batchVerdicts(r: BatchesResult): BatchVerdict[] {
  const t = r.targets
  const many = r.opsPerSec['cacheward getOrSetMany']
  const vsSequential = many / r.opsPerSec['cacheward getOrSet x100, sequential']
  const vsRaw = many / r.opsPerSec['raw MGET + JSON.parse (the limit)']
  return [
    {
      label: 'getOrSetMany / 100 sequential getOrSet',
      measured: `${vsSequential.toFixed(1)}x`,
      target: `>= ${t.vsSequential}x`,
      pass: vsSequential >= t.vsSequential,
    },
    {
      label: 'getOrSetMany / raw MGET + JSON.parse',
      measured: vsRaw.toFixed(2),
      target: `>= ${t.vsRaw}`,
      pass: vsRaw >= t.vsRaw,
    },
    {
      label: 'round trips per batch (standalone)',
      measured: String(r.roundTrips),
      target: `<= ${t.roundTrips}`,
      pass: r.roundTrips <= t.roundTrips,
    },
  ]
}

/** One row per side: batches/s, keys/s, p50 µs, spread (the console table and the page's). */
export function batchRows(r: BatchesResult): string[][] {
  return BATCH_SIDES.map((side) => [
    side,
    formatInt(r.opsPerSec[side]),
    formatInt(r.opsPerSec[side] * r.keys),
    formatUs(r.p50Us[side]),
    `${r.spreadPercent[side].toFixed(0)}%`,
  ])
}

/** The sides' table, then the verdicts. */
export function renderBatches(r: BatchesResult | undefined): string {
  if (!r) return NOT_IN_FILE
  const rows = batchRows(r)
  return [
    `One operation reads the same ${r.keys} cached keys of the ~1 KB value from standalone Redis, sequentially: ` +
      '`cache.getOrSetMany(keys, loadMany)` (keys it found fresh a moment ago: one plain `MGET`, judged on the ' +
      'backend clock; otherwise one script that reads every key), raw ioredis `MGET` of 100 keys ' +
      'with `JSON.parse` of each value (what a batch read costs at best), and 100 `getOrSet` calls one after ' +
      `another (what code without batches does). A batch sent ${r.roundTrips} command(s) ` +
      '(counted where the client sends them: a first batch, which reads with the script, and the next); on the 3-master cluster it is one per master (test/integration/batch-round-trips.test.ts).',
    '',
    md(['side', 'batches/s', 'keys/s', 'p50 µs', 'spread'], rows, ['l', 'r', 'r', 'r', 'r']),
    '',
    md(
      ['case', 'measured', 'target', 'verdict'],
      batchVerdicts(r).map((v) => [v.label, v.measured, v.target, verdict(v.pass)]),
      ['l', 'r', 'l', 'l'],
    ),
  ].join('\n')
}

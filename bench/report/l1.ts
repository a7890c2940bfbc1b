/**
 * docs/benchmarks.md, "The in-process tier": hits answered by \`l1\` beside lru-cache and the peers' in-process
 * tiers, propagation of invalidations to other processes, the memory adapter's hits, and what freezing costs
 * (bench/l1.ts). The verdicts live here so the console table and the page judge alike.
 * @module
 */
import { formatInt, formatMs, formatUs } from '../lib.js'
import type { L1HitCase, L1Result, L1Side as Side } from '../results-file.js'
import { md, NOT_IN_FILE, verdict } from './markdown.js'

/** One target of the section and whether this run met it. */
export interface L1Verdict {
  label: string
  measured: string
  target: string
  pass: boolean
}

/** The section's verdicts against issue 13's targets (the copy of them the run recorded). */
export function l1Verdicts(r: L1Result): L1Verdict[] {
  const t = r.targets
  const of = (mode: L1HitCase['mode'], side: Side) => r.hits.find((c) => c.mode === mode)?.opsPerSec[side] ?? 0
  const perSec = (n: number) => `${formatInt(n)}/s`
  const hits = (mode: L1HitCase['mode'], side: Side, target: number) => ({
    label: `${side}, ${mode}`,
    measured: perSec(of(mode, side)),
    target: `>= ${perSec(target)}`,
    pass: of(mode, side) >= target,
  })
  return [
    hits('sequential', 'cacheward l1', t.hits),
    hits('concurrent', 'cacheward l1', t.hits),
    hits('sequential', 'cacheward l1 + { ttl, tags }', t.hitsWithOptions),
    hits('concurrent', 'cacheward l1 + { ttl, tags }', t.hitsWithOptions),
    {
      label: 'propagation p99',
      measured: `${formatMs(r.propagation.p99Ms)} ms`,
      target: `<= ${t.propagationP99Ms} ms`,
      pass: r.propagation.p99Ms <= t.propagationP99Ms,
    },
    {
      label: 'memory adapter hits, sequential',
      measured: perSec(r.memoryHits.sequential),
      target: `>= ${perSec(t.memoryHits)}`,
      pass: r.memoryHits.sequential >= t.memoryHits,
    },
  ]
}

/** The hit cases' sides, in table order. */
export const L1_SIDES: readonly Side[] = [
  'lru-cache (the limit)',
  'cacheward l1',
  'cacheward l1 + { ttl, tags }',
  'bentocache L1',
  'cacheable (no clone)',
  'cacheable (clone)',
]

/** The tier's hits beside the others', then propagation, memory-adapter hits, freezing, and the verdicts. */
export function renderL1(r: L1Result | undefined): string {
  if (!r) return NOT_IN_FILE
  const modes = r.hits.map((c) => c.mode)
  const head = ['side', ...modes.flatMap((m) => [`${m} ops/s`, 'p50 µs', 'spread'])]
  const rows = L1_SIDES.map((side) => [
    side,
    ...r.hits.flatMap((c) => [
      formatInt(c.opsPerSec[side]),
      formatUs(c.p50Us[side]),
      `${c.spreadPercent[side].toFixed(0)}%`,
    ]),
  ])
  const p = r.propagation
  return [
    'Hits answered from the in-process tier: `createCacheClient({ adapter: ioredisAdapter(redis), l1: true })`, ' +
      '2,000 keys each read from Redis once, then only hits. Beside it: lru-cache behind the same async ' +
      'function (what any promise-returning cache costs at best), BentoCache with its memory L1, Redis L2 and ' +
      "Redis bus, and cacheable's CacheableMemory with and without cloning. cacheward's tier holds the value " +
      "decoded once and deeply frozen; lru-cache and cacheable hold the loader's one object for every key.",
    '',
    md(head, rows, ['l', ...modes.flatMap(() => ['r', 'r', 'r'] as const)]),
    '',
    `**Propagation**: ${p.processes} other processes hold ${formatInt(p.invalidations)} keys in their tiers; this ` +
      'process deletes, tag-invalidates or sets them one at a time, and each other process records the moment its ' +
      "tier dropped the key on the machine's clock (`performance.timeOrigin + performance.now()`, shared by every " +
      `process to a few microseconds). From the call resolving here: p50 ${formatMs(p.p50Ms)} ms, p99 ` +
      `${formatMs(p.p99Ms)} ms, max ${formatMs(p.maxMs)} ms` +
      (p.viaIpcP99Ms === undefined
        ? ' (this run timed the IPC message instead: an upper bound).'
        : `; to the worker's IPC message arriving here, p99 ${formatMs(p.viaIpcP99Ms)} ms.`),
    '',
    `**The memory adapter** (the default, no tier): ${formatInt(r.memoryHits.sequential)} hits/s sequential, ` +
      `${formatInt(r.memoryHits.concurrent)} hits/s concurrent. An entry is decoded once and deeply frozen, and every ` +
      `hit returns that one value, as the tier does: JSON.parse of the value, which a hit no longer runs, takes ` +
      `${r.freeze.parseUs.toFixed(2)} µs here.`,
    '',
    `**Freezing on a miss**: decoding the value ${r.freeze.parseUs.toFixed(2)} µs, decoding and deep-freezing it ` +
      `${r.freeze.parseAndFreezeUs.toFixed(2)} µs: what a tier fill adds to a miss.`,
    '',
    md(
      ['case', 'measured', 'target', 'verdict'],
      l1Verdicts(r).map((v) => [v.label, v.measured, v.target, verdict(v.pass)]),
      ['l', 'r', 'l', 'l'],
    ),
  ].join('\n')
}

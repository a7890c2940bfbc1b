/**
 * Writes docs/benchmarks.md from a results file of `npm run bench`. A full run calls it at the end; by hand:
 *
 *   npx tsx bench/report.ts                                      bench/results/latest.json → docs/benchmarks.md
 *   npx tsx bench/report.ts bench/results/latest-partial.json --out /tmp/benchmarks.md
 *
 * Every number on the page comes from the results file; the prose here only says how to read them.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatInt, formatMs, formatUs } from './lib.js'
import type {
  InvalidationResult,
  MetricsResult,
  PeerId,
  PeersResult,
  StoredResults as Results,
  StampedeResult,
} from './results-file.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.join(here, '..')

// ---- markdown helpers ---------------------------------------------------------------------------

type Align = 'l' | 'r'

function md(head: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|')
  const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(' | ')} |`
  const rule = `| ${head.map((_, c) => (align[c] === 'r' ? '---:' : '---')).join(' | ')} |`
  return [line(head), rule, ...rows.map(line)].join('\n')
}

const x = (ratio: number, digits = 2) => `${ratio.toFixed(digits)}x`
const verdict = (pass: boolean | null) => (pass === null ? 'context' : pass ? 'PASS' : 'below target')

// ---- sections -----------------------------------------------------------------------------------

function machine(r: Results): string {
  const m = r.meta
  const rows: [string, string][] = [
    ['date', m.date],
    ['command', `\`${m.command ?? (m.quick ? 'BENCH_QUICK=1 npm run bench' : 'npm run bench')}\``],
    ['cacheward', `${m.cacheward} (\`${m.commit}\`), built \`dist/\``],
    ['CPU', `${m.cpu}, ${m.cpus} cores`],
    ['OS', `${m.os ? `${m.os}, ` : ''}${m.platform}`],
    ['Node.js', m.node],
    ['redis-server', `${m.redisServer}, loopback TCP, started by the bench`],
  ]
  const versions = { ioredis: m.ioredis, ...(r.peers?.versions ?? {}) }
  for (const [pkg, version] of Object.entries(versions)) rows.push([pkg, version])
  return md(['what', 'version / value'], rows, ['l', 'l'])
}

function cachewardVsRaw(r: Results): string {
  if (r.cases.length === 0) return '_Not in this results file._'
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

function stampede(s: StampedeResult | undefined): string {
  if (!s) return '_Not in this results file._'
  const rows = s.scenarios.map((sc) => [
    sc.label,
    formatInt(sc.median.loaderCalls),
    formatInt(sc.maxLoaderCalls),
    formatMs(sc.median.totalMs),
    formatMs(sc.median.loaderMs),
    formatMs(sc.median.p99Ms),
    sc.targets,
    verdict(sc.pass),
  ])
  const head = ['scenario', 'loader calls', 'max over rounds', 'total ms', 'loader ms', 'p99 ms', 'target', 'verdict']
  return [
    `${formatInt(s.callers)} concurrent callers on one cold key, loader ${s.loaderMs} ms; median of ${s.rounds} rounds by total time.`,
    '',
    md(head, rows, ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'l']),
  ].join('\n')
}

function invalidation(inv: InvalidationResult | undefined): string {
  if (!inv) return '_Not in this results file._'
  const t = inv.targets as InvalidationResult['targets'] | undefined
  const tagRows = (['big', 'small'] as const).map((name) => {
    const c = inv.tags[name]
    return [
      `invalidateTags, tag on ${formatInt(c.entries)} entries`,
      formatMs(c.medianMs),
      formatMs(c.maxMs),
      formatInt(c.commands[0] ?? Number.NaN),
    ]
  })
  const p = inv.pattern.median
  const lines = [
    md(['case', 'median ms', 'max ms', 'round trips'], tagRows, ['l', 'r', 'r', 'r']),
    '',
    `Target: median below ${t ? t.tagMedianMs : '?'} ms and the same round trips for both tags: ${verdict(inv.tags.pass)}.`,
    '',
    md(
      ['invalidatePattern', 'keys', 'ms', 'keys/s', 'other GETs p99 ms (during)', 'GET p99 ms (before)'],
      [
        [
          'median run',
          formatInt(p.keys),
          formatMs(p.ms),
          formatInt(p.keysPerSec),
          p.getP99Ms.toFixed(2),
          p.baselineP99Ms.toFixed(2),
        ],
      ],
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Targets: at least ${t ? formatInt(t.patternKeysPerSec) : '?'} keys/s and other clients' GET p99 below ` +
      `${t ? t.getP99Ms : '?'} ms: ${verdict(inv.pattern.pass)}.`,
    '',
    md(
      ['hits', 'untagged ops/s', 'tagged ops/s', 'cost ratio', 'target', 'verdict'],
      [
        [
          'sequential getOrSet',
          formatInt(inv.reads.untagged.median.opsPerSec),
          formatInt(inv.reads.tagged.median.opsPerSec),
          x(inv.reads.costRatio),
          `≤ ${t ? x(t.taggedCostRatio) : '?'}`,
          verdict(inv.reads.pass),
        ],
      ],
      ['l', 'r', 'r', 'r', 'l', 'l'],
    ),
  ]
  return lines.join('\n')
}

function peerLabel(p: PeersResult, id: PeerId): string {
  const info = p.peers.find((q) => q.id === id)
  return `${info?.label ?? id}${info?.tier === 'l1+redis' ? ' ¹' : ''}`
}

function peers(p: PeersResult | undefined): string {
  if (!p) return '_Not in this results file._'
  const ids = p.peers.map((q) => q.id)
  // One table: a row per library, a column pair per workload, so a library reads across.
  const head = ['library', 'client', ...p.cases.flatMap((c) => [`${c.label} ops/s`, 'vs raw'])]
  const rows = ids.map((id) => [
    peerLabel(p, id),
    p.peers.find((q) => q.id === id)?.client ?? '',
    ...p.cases.flatMap((c) => {
      const s = c.sides[id]
      return [formatInt(s.median.opsPerSec), id === 'raw' ? '1.00x' : x(s.ratioToRaw)]
    }),
  ])
  const latencyHead = ['library', ...p.cases.flatMap((c) => [`${c.label} p50 µs`, 'p99 µs', 'spread'])]
  const latencyRows = ids.map((id) => [
    peerLabel(p, id),
    ...p.cases.flatMap((c) => {
      const s = c.sides[id]
      return [formatUs(s.median.p50Us), formatUs(s.median.p99Us), `${s.spreadPercent.toFixed(0)}%`]
    }),
  ])
  const stampedeRows = p.stampede.results.map((r) => [
    peerLabel(p, r.id),
    formatInt(r.median.loaderCalls),
    formatInt(r.maxLoaderCalls),
    formatMs(r.median.totalMs),
    formatMs(r.median.p50Ms),
    formatMs(r.median.p99Ms),
  ])
  const stampedeHead = ['library', 'loader calls', 'max over rounds', 'total ms', 'p50 ms', 'p99 ms']
  const ops = p.cases.map((c) => `${c.label}: ${formatInt(c.ops)}`).join('; ')
  return [
    `Same value and TTL (${formatInt(p.ttlMs / 60_000)} min) for every library; hits over ${formatInt(p.hitKeys)} warm keys, ` +
      `misses on fresh keys with a loader that returns at once. Operations per side and round: ${ops}; ` +
      `${p.rounds} rounds, median round shown. ` +
      `**vs raw** = the library's ops/s ÷ raw ioredis ops/s in the same case.`,
    '',
    md(
      head,
      rows,
      head.map((_, c) => (c < 2 ? 'l' : 'r')),
    ),
    '',
    '¹ An in-process L1 tier answers hits from memory without asking Redis, so its hit rows are not comparable ' +
      'to a Redis `GET` (or to the Redis-only rows); they show what that setup gives an app, nothing more. ' +
      'Its misses still write Redis.',
    '',
    'Latency per operation (median round) and spread of the rounds ((max − min) ÷ median throughput):',
    '',
    md(
      latencyHead,
      latencyRows,
      latencyHead.map((_, c) => (c === 0 ? 'l' : 'r')),
    ),
    '',
    `### Stampede, one process`,
    '',
    `${formatInt(p.stampede.callers)} concurrent calls on one cold key in one process, loader ` +
      `${p.stampede.loaderMs} ms; median of ${p.stampede.rounds} rounds by total time, a fresh key each round.`,
    '',
    md(stampedeHead, stampedeRows, ['l', 'r', 'r', 'r', 'r', 'r']),
  ].join('\n')
}

function peerConfigs(p: PeersResult | undefined): string {
  if (!p) return ''
  return p.peers.map((q) => `  - **${q.label}** (${q.client}): ${q.config}`).join('\n')
}

function metrics(m: MetricsResult | undefined): string {
  if (!m) return '_Not in this results file._'
  if (m.skipped) return `_Skipped in this run: ${m.skipped}._`
  const rows = m.cases.map((c) => [
    c.label,
    formatInt(c.sides.off.median.opsPerSec),
    formatInt(c.sides.on.median.opsPerSec),
    x(c.ratio, 3),
    `≥ ${c.target.toFixed(2)}`,
    verdict(c.pass),
    `${c.sides.off.spreadPercent.toFixed(1)}% / ${c.sides.on.spreadPercent.toFixed(1)}%`,
  ])
  const head = ['case', 'metrics off ops/s', 'metrics on ops/s', 'on/off', 'target', 'verdict', 'spread off / on']
  return [
    `\`getOrSet\` hits with metrics on (the default) against \`createCacheClient({ metrics: false })\`; ` +
      `median of ${m.rounds} rounds in interleaved slices. **on/off** = ops/s with metrics ÷ ops/s without; ` +
      `the target allows metrics to cost ${((1 - m.target) * 100).toFixed(0)} % of a hit.`,
    '',
    md(head, rows, ['l', 'r', 'r', 'r', 'l', 'l', 'r']),
  ].join('\n')
}

// ---- page ---------------------------------------------------------------------------------------

export function renderReport(r: Results, source: string): string {
  const m = r.meta
  const partial = m.quick || m.only !== null
  return `${[
    '# Benchmarks',
    '',
    `<!-- Generated by bench/report.ts from ${source}. Do not edit by hand: run \`npm run bench\` (or \`npx tsx bench/report.ts\`). -->`,
    '',
    'What cacheward costs on top of the fastest cache-aside code you could write by hand (raw ioredis against ' +
      'the same Redis), and how it compares with other cache libraries for Node configured for Redis as their ' +
      'docs recommend. Raw ioredis is the limit, not a competitor: a cache library does more per call ' +
      '(freshness, stampede locks, write fences, metrics), and the question is how much of that you pay. ' +
      'How every case is measured is in [bench/README.md](../bench/README.md).',
    '',
    ...(partial
      ? [
          `> **These numbers come from a ${m.quick ? 'quick (smoke-test) ' : ''}${m.only ? `partial (\`--only ${m.only}\`) ` : ''}run:` +
            ' indicative only.**',
          '',
        ]
      : []),
    '## Machine and versions',
    '',
    machine(r),
    '',
    `Workload: a ~${formatInt(m.valueBytes)} B JSON value (a record with a nested list), the same for every side; ` +
      `hits cycle over ${formatInt(m.hitKeys)} pre-populated keys, misses use keys never seen before; ` +
      `${m.rounds} measured rounds per side after ${formatInt(m.warmupOps)} warm-up operations, median round reported.`,
    '',
    '## How to read this',
    '',
    '- **ops/s**: operations completed per second of wall time in the median round (by throughput).',
    "- **ratio / vs raw**: that side's ops/s ÷ raw ioredis ops/s in the same case. Equal to raw means no " +
      'overhead; below it, the share of throughput the library costs over hand-written `GET` / `SET`.',
    '- **p50 / p99**: latency of one operation from call to settlement. Under concurrency it includes ' +
      "queueing behind the other callers' commands, as an app's request would see it.",
    '- **spread**: (max − min) ÷ median of the rounds. When a ratio sits closer to its target than the spread ' +
      'of either side, the verdict could flip on a rerun.',
    '- Sides take turns in short slices in rotating order, so they share the same fast and ' +
      'slow moments of the machine; only time inside slices counts.',
    '',
    '## cacheward against raw ioredis',
    '',
    cachewardVsRaw(r),
    '',
    '**memory** is `createCacheClient()` with its defaults (the in-process backend): context, no target.',
    '',
    '### Stampede',
    '',
    stampede(r.stampede),
    '',
    '### Invalidation',
    '',
    invalidation(r.invalidation),
    '',
    '## Peer libraries',
    '',
    peers(r.peers),
    '',
    '## Metrics cost on the hit path',
    '',
    metrics(r.metrics),
    '',
    '## Caveats',
    '',
    `- **Noise.** This machine has ${m.cpus} cores, shared by node, redis-server and whatever else ran; loopback ` +
      'round-trip speed on a shared VM moves from one second to the next. Interleaving keeps ratios meaningful; ' +
      'absolute ops/s are this machine on this day. Check the spread columns before reading a small difference.',
    '- **What is comparable.** Rows marked ¹ keep an in-process L1 tier in front of Redis: their hits never ' +
      'reach Redis, so they measure a different thing than a Redis `GET`. Compare them with the memory column ' +
      'above, not with raw ioredis. All other rows read Redis on every call.',
    '- **Redis clients differ.** cacheward, bentocache and raw use ioredis (defaults, no auto-pipelining); ' +
      'cachified-redis-adapter expects a node-redis client and cache-manager reaches Redis through ' +
      '`@keyv/redis`, which is built on node-redis. node-redis pipelines commands issued in the same tick, so ' +
      'under concurrency part of a difference can be the client, not the library.',
    '- **Features differ.** The libraries do different work per call: cacheward reads with one script that ' +
      'also takes the stampede lock on a miss and fences writes against invalidation; others do a plain ' +
      '`GET`/`SET`, keep metadata in the value, or coordinate only within one process. The peer stampede runs ' +
      'in one process; cross-process behaviour (cacheward only) is in the stampede section above.',
    "- **Configuration as used**, each from the library's own Redis documentation, every side with its own " +
      'connection(s) to the same redis-server, the same TTL and the same loader:',
    peerConfigs(r.peers) || '  - _No peer section in this results file._',
  ].join('\n')}\n`
}

/** Renders `resultsFile` into `outFile` (default docs/benchmarks.md) and returns the page's path. */
export function writeReport(resultsFile: string, outFile = path.join(root, 'docs', 'benchmarks.md')): string {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as Results
  const source = path.relative(root, resultsFile)
  writeFileSync(outFile, renderReport(results, source))
  return outFile
}

function main(argv: readonly string[]): void {
  let input: string | undefined
  let out: string | undefined
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = argv[++i]
    else input = argv[i]
  }
  const resultsFile = path.resolve(input ?? path.join(here, 'results', 'latest.json'))
  const page = writeReport(resultsFile, out ? path.resolve(out) : undefined)
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), page)} from ${path.relative(process.cwd(), resultsFile)}\n`,
  )
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2))

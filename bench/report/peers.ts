/**
 * docs/benchmarks.md, "Peer libraries": the same workloads through other cache libraries (bench/peers.ts), and
 * each library's configuration for the caveats.
 * @module
 */
import { formatInt, formatMs, formatUs } from '../lib.js'
import type { PeerId, PeersResult } from '../results-file.js'
import { md, NOT_IN_FILE, x } from './markdown.js'

function peerLabel(p: PeersResult, id: PeerId): string {
  const info = p.peers.find((q) => q.id === id)
  return `${info?.label ?? id}${info?.tier === 'l1+redis' ? ' ¹' : ''}`
}

/** Throughput per library and workload, latencies and spreads, and the one-process stampede. */
export function renderPeers(p: PeersResult | undefined): string {
  if (!p) return NOT_IN_FILE
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

/** One list item per library: its client and configuration as used (empty without a peers section). */
export function renderPeerConfigs(p: PeersResult | undefined): string {
  if (!p) return ''
  return p.peers.map((q) => `  - **${q.label}** (${q.client}): ${q.config}`).join('\n')
}

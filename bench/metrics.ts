/**
 * Metrics section of `npm run bench` (`--only metrics`): what counting hits, misses and latencies costs on
 * the hit path. `createCacheClient({ adapter, metrics: false })` against the default (metrics on), on the
 * memory backend (where the cost is most visible: no round trip hides it) and over ioredis, sequential and
 * 256 concurrent. Target: metrics on costs less than 3 %, i.e. on/off ops/s >= 0.97. See bench/README.md.
 * @module
 */
import { type CacheAdapter, type CacheClient, type CacheClientOptions, createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { memoryAdapter } from 'cacheward/memory'
import { Redis } from 'ioredis'
import { formatInt, formatUs, measure, runInterleaved, spreadPercent, table } from './lib.js'
import type { MetricsCaseResult, MetricsResult, MetricsSide } from './results-file.js'
import { CONCURRENCY, HIT_KEYS, quit, ROUNDS, TTL_MS, type ValueEnv } from './workload.js'

/** Least acceptable on/off throughput ratio: metrics may cost at most 3 % of a hit. */
const TARGET = 0.97

type Side = MetricsSide
const SIDES: readonly Side[] = ['on', 'off']

interface MetricsCaseSpec {
  id: string
  label: string
  backend: 'memory' | 'redis'
  workers: number
  ops: number
  slices: number
}

function cases(quick: boolean): MetricsCaseSpec[] {
  const scale = quick ? 10 : 1
  // Memory hits are ~10x faster than Redis hits: more operations keep each slice near 0.1 s.
  return [
    {
      id: 'memory-seq',
      label: 'memory, hits sequential',
      backend: 'memory',
      workers: 1,
      ops: 200_000 / scale,
      slices: 20,
    },
    {
      id: 'memory-conc',
      label: `memory, hits ${CONCURRENCY} concurrent`,
      backend: 'memory',
      workers: CONCURRENCY,
      ops: 200_000 / scale,
      slices: 20,
    },
    { id: 'redis-seq', label: 'redis, hits sequential', backend: 'redis', workers: 1, ops: 20_000 / scale, slices: 20 },
    {
      id: 'redis-conc',
      label: `redis, hits ${CONCURRENCY} concurrent`,
      backend: 'redis',
      workers: CONCURRENCY,
      ops: 50_000 / scale,
      slices: 10,
    },
  ]
}

/** The client options of one side; `metrics: false` is the option under test. */
function optionsFor(side: Side, adapter: CacheAdapter, namespace: string): CacheClientOptions {
  const base: CacheClientOptions = { adapter, namespace, ttl: TTL_MS }
  return side === 'off' ? { ...base, metrics: false } : base
}

async function runMetricsCase(env: ValueEnv, spec: MetricsCaseSpec, anomalies: string[]): Promise<MetricsCaseResult> {
  const connections: Redis[] = []
  const clients = new Map<Side, CacheClient>()
  const loads = new Map<Side, number>(SIDES.map((s) => [s, 0]))
  const errors = new Map<Side, number>(SIDES.map((s) => [s, 0]))
  const loaderOf = (side: Side) => () => {
    loads.set(side, (loads.get(side) ?? 0) + 1)
    return env.value
  }
  const hitKeys = Array.from({ length: HIT_KEYS }, (_, i) => `k${i}`)
  try {
    for (const side of SIDES) {
      let adapter: CacheAdapter
      if (spec.backend === 'redis') {
        const redis = new Redis(env.url)
        connections.push(redis)
        adapter = ioredisAdapter(redis)
      } else {
        adapter = memoryAdapter()
      }
      const cache = createCacheClient(optionsFor(side, adapter, `metrics-${env.runId}-${spec.id}-${side}`))
      // Metrics off cannot count hits, so both sides are checked the same way: a hit never loads, and a
      // backend error (answered by the loader) is seen through the error event.
      cache.on('error', () => errors.set(side, (errors.get(side) ?? 0) + 1))
      clients.set(side, cache)
    }
    const client = (side: Side) => clients.get(side) as CacheClient

    for (const side of SIDES) {
      const loader = loaderOf(side)
      await measure((i) => client(side).getOrSet(hitKeys[i] as string, loader), HIT_KEYS, 64)
      if (loads.get(side) !== HIT_KEYS) throw new Error(`metrics ${side}: populating made ${loads.get(side)} loads`)
      const sample = await client(side).getOrSet(hitKeys[0] as string, loader)
      if (JSON.stringify(sample) !== env.json) throw new Error(`metrics ${side}: cached value differs`)
    }

    const result = await runInterleaved<Side>({
      sides: SIDES,
      ops: spec.ops,
      slices: spec.slices,
      workers: spec.workers,
      rounds: ROUNDS,
      warmupOps: Math.min(spec.ops, spec.backend === 'memory' ? 20_000 : 2_000),
      op(side) {
        const cache = client(side)
        const loader = loaderOf(side)
        return (i) => cache.getOrSet(hitKeys[i % HIT_KEYS] as string, loader)
      },
      async beforeSlice(side) {
        loads.set(side, 0)
        errors.set(side, 0)
      },
      async verify(side, count) {
        const problems: string[] = []
        if (loads.get(side) !== 0) problems.push(`${loads.get(side)} loader calls in ${count} hits`)
        if (errors.get(side) !== 0) problems.push(`${errors.get(side)} backend errors`)
        return problems.length === 0 ? undefined : problems.join(', ')
      },
      onRound(round, runs) {
        env.log(
          `  metrics ${spec.label}: round ${round + 1}/${ROUNDS} ` +
            SIDES.map((s) => `${s} ${formatInt(runs[s].opsPerSec)}/s`).join(', '),
        )
      },
    })
    anomalies.push(...result.anomalies.map((a) => `metrics ${spec.label}: ${a}`))
    const ratio = result.median.on.opsPerSec / result.median.off.opsPerSec
    const side = (s: Side) => ({
      median: result.median[s],
      rounds: result.rounds[s],
      spreadPercent: spreadPercent(result.rounds[s]),
    })
    return {
      id: spec.id,
      label: spec.label,
      backend: spec.backend,
      workers: spec.workers,
      ops: spec.ops,
      target: TARGET,
      ratio,
      pass: ratio >= TARGET,
      sides: { on: side('on'), off: side('off') },
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()))
    await quit(...connections)
  }
}

export async function runMetrics(env: ValueEnv): Promise<MetricsResult> {
  const anomalies: string[] = []
  const base = { hitKeys: HIT_KEYS, rounds: ROUNDS, target: TARGET }
  try {
    await createCacheClient({ metrics: false }).close()
  } catch (error) {
    // Until the client accepts the option, report the section as skipped rather than fail the whole bench.
    const reason = `createCacheClient({ metrics: false }) is not accepted: ${error instanceof Error ? error.message : String(error)}`
    env.log(`  metrics: skipped (${reason})`)
    return { ...base, cases: [], skipped: reason, anomalies }
  }
  const admin = new Redis(env.url)
  try {
    await admin.flushdb()
    const results: MetricsCaseResult[] = []
    for (const spec of cases(env.quick)) results.push(await runMetricsCase(env, spec, anomalies))
    return { ...base, cases: results, anomalies }
  } finally {
    await quit(admin)
  }
}

export function formatMetrics(result: MetricsResult): string {
  if (result.skipped) return `Metrics cost on the hit path: skipped (${result.skipped})`
  const rows = result.cases.map((c) => [
    c.label,
    formatInt(c.ops),
    formatInt(c.sides.off.median.opsPerSec),
    formatUs(c.sides.off.median.p50Us),
    formatInt(c.sides.on.median.opsPerSec),
    formatUs(c.sides.on.median.p50Us),
    `${c.ratio.toFixed(3)}x`,
    `>= ${c.target.toFixed(2)}`,
    c.pass ? 'PASS' : 'BELOW target',
    `${c.sides.off.spreadPercent.toFixed(1)}% / ${c.sides.on.spreadPercent.toFixed(1)}%`,
  ])
  return [
    `Metrics cost on the hit path: getOrSet hits with metrics on (default) vs createCacheClient({ metrics: false }); ` +
      `median round of ${result.rounds}`,
    '',
    table(
      ['case', 'ops', 'off ops/s', 'p50 µs', 'on ops/s', 'p50 µs', 'on/off', 'target', 'verdict', 'spread off / on'],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left', 'right'],
    ),
  ].join('\n')
}

/**
 * The in-process tier (`l1`) section of `npm run bench` (`--only l1`):
 * - hits answered from the tier, 2,000 keys of the ~1 KB value, sequential and 256 concurrent, beside lru-cache behind
 *   the same async function (the limit), BentoCache's L1 (+ Redis + bus) and cacheable's CacheableMemory with and
 *   without cloning; and cacheward with per-call options `{ ttl, tags: [2 tags] }`;
 * - propagation: from delete / invalidateTags / set resolving in this process to 4 other processes' tiers dropping
 *   the key (no longer answering the old value), over 1,000 invalidations, p50 and p99, timed on the machine's clock
 *   from the call resolving here to the drop there (and, beside it, to the worker's IPC message arriving here);
 * - the memory adapter's hits (the default; no tier: its own synchronous path), and what freezing costs on a miss.
 * Targets (issue 13): tier hits ≥ 1,000,000/s both ways, ≥ 700,000/s with options; propagation p99 ≤ 2 ms; memory
 * hits ≥ 320,000/s (twice the 160,000/s measured before).
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { CacheableMemory } from 'cacheable'
import { type CacheClient, createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import { formatInt, formatMs, formatUs, type Op, percentile, runInterleaved, spreadPercent, table } from './lib.js'
import { L1_SIDES, l1Verdicts } from './report/l1.js'
import type { L1HitCase, L1Result, L1Side as Side } from './results-file.js'
import { CONCURRENCY, HIT_KEYS, quit, ROUNDS, type ValueEnv } from './workload.js'

/** Far longer than the section takes, on every side: every timed call must be a hit from the tier. */
const TTL_MS = 60 * 60_000

const WORKER = fileURLToPath(new URL('./l1-propagation-worker.ts', import.meta.url))

export const L1_TARGETS = { hits: 1_000_000, hitsWithOptions: 700_000, propagationP99Ms: 2, memoryHits: 320_000 }

const SIDES = L1_SIDES

/** An async getOrSet over lru-cache: what any async cache API in front of an in-process map costs, at best. */
function lruSide(load: () => unknown) {
  const lru = new LRUCache<string, object>({ max: 10_000 })
  return async (key: string) => {
    const hit = lru.get(key)
    if (hit !== undefined) return hit
    const value = (await load()) as object
    lru.set(key, value)
    return value
  }
}

function cacheableSide(useClone: boolean, load: () => unknown) {
  const memory = new CacheableMemory({ useClone, lruSize: 10_000, ttl: TTL_MS })
  return async (key: string) => {
    const hit = memory.get(key)
    if (hit !== undefined) return hit
    const value = await load()
    memory.set(key, value)
    return value
  }
}

async function hitCases(env: ValueEnv, anomalies: string[]): Promise<L1HitCase[]> {
  const connections: Redis[] = []
  const connect = () => {
    const redis = new Redis(env.url)
    connections.push(redis)
    return redis
  }
  const load = () => env.value
  // Every side's entries outlive the section: a slow run (this one took 9 minutes once) must not see them expire.
  const cache = createCacheClient({
    adapter: ioredisAdapter(connect()),
    namespace: `l1:${env.runId}`,
    l1: true,
    ttl: TTL_MS,
  })
  const { hostname, port } = new URL(env.url)
  const bento = new BentoCache({
    default: 'cache',
    stores: {
      cache: bentostore()
        .useL1Layer(memoryDriver({ maxSize: '10mb', maxItems: 10_000 }))
        .useL2Layer(redisDriver({ connection: connect() }))
        .useBus(redisBusDriver({ connection: { host: hostname, port: Number(port) } })),
    },
  })
  const lru = lruSide(load)
  const noClone = cacheableSide(false, load)
  const clone = cacheableSide(true, load)
  const keys = Array.from({ length: HIT_KEYS }, (_, i) => `k${i}`)
  const sides: Record<Side, (key: string) => Promise<unknown>> = {
    'lru-cache (the limit)': lru,
    'cacheward l1': (key) => cache.getOrSet(key, load),
    'cacheward l1 + { ttl, tags }': (key) => cache.getOrSet(key, load, { ttl: TTL_MS, tags: ['rooms', 'featured'] }),
    'bentocache L1': (key) => bento.getOrSet({ key, factory: load, ttl: TTL_MS }),
    'cacheable (no clone)': noClone,
    'cacheable (clone)': clone,
  }
  try {
    await cache.has('__start__')
    while (cache.metrics().l1?.live !== true) await new Promise((r) => setTimeout(r, 5))
    // Every side holds every key before timing: a miss, a hit that fills the tier, then hits only.
    for (const side of SIDES) for (let i = 0; i < 3; i++) for (const key of keys) await sides[side](key)
    const before = cache.metrics()
    const out: L1HitCase[] = []
    for (const mode of ['sequential', 'concurrent'] as const) {
      const ops = env.quick ? 100_000 : 1_000_000
      const result = await runInterleaved<Side>({
        sides: SIDES,
        ops,
        slices: 10,
        workers: mode === 'sequential' ? 1 : CONCURRENCY,
        rounds: ROUNDS,
        warmupOps: ops / 10,
        op: (side): Op => {
          const get = sides[side]
          return (i) => get(keys[i % HIT_KEYS] as string)
        },
        verify: async () => undefined,
      })
      anomalies.push(...result.anomalies)
      const of = <T>(f: (side: Side) => T) => Object.fromEntries(SIDES.map((s) => [s, f(s)])) as Record<Side, T>
      out.push({
        mode,
        opsPerSec: of((s) => result.median[s].opsPerSec),
        p50Us: of((s) => result.median[s].p50Us),
        spreadPercent: of((s) => spreadPercent(result.rounds[s])),
      })
    }
    // Every call of the timed rounds was a hit from the tier: a miss or a backend hit would be a bug here.
    const after = cache.metrics()
    if (after.hits - before.hits !== after.l1Hits - before.l1Hits) {
      anomalies.push(`l1: ${after.hits - before.hits - (after.l1Hits - before.l1Hits)} hits did not come from the tier`)
    }
    if (after.misses !== before.misses) anomalies.push(`l1: ${after.misses - before.misses} misses during hit rounds`)
    return out
  } finally {
    await cache.close()
    await bento.disconnectAll()
    await quit(...connections)
  }
}

/** One invalidation awaiting its drops: when its call resolved (this process's clock, and the machine's). */
interface Waiting {
  resolved: number
  resolvedAt: number
  left: number
  samples: number[]
  viaIpc: number[]
  done: () => void
}

/** 4 processes hold 1,000 keys in their tiers; this one invalidates them one by one and times each drop. */
async function propagation(env: ValueEnv, anomalies: string[]): Promise<L1Result['propagation']> {
  const processes = 4
  const invalidations = env.quick ? 200 : 1_000
  const namespace = `l1p:${env.runId}`
  const keys = Array.from({ length: invalidations }, (_, i) => `p${i}`)
  const children: ChildProcess[] = []
  const redis = new Redis(env.url)
  const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace })
  const waiting = new Map<string, Waiting>()
  const samples: number[] = []
  const viaIpc: number[] = []
  try {
    for (let i = 0; i < processes; i++) {
      const child = fork(WORKER, [env.url, namespace], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
      children.push(child)
      child.on('message', (m: { dropped?: string; at?: number }) => {
        if (!m.dropped || m.at === undefined) return
        const w = waiting.get(m.dropped)
        if (!w) return
        w.samples.push(m.at - w.resolvedAt)
        w.viaIpc.push(performance.now() - w.resolved)
        if (--w.left === 0) w.done()
      })
    }
    await Promise.all(children.map((c) => once(c, (m) => m.ready === true)))
    await Promise.all(
      children.map((c) => {
        const warmed = once(c, (m) => typeof m.warmed === 'number')
        c.send({ warm: keys })
        return warmed
      }),
    )
    for (let i = 0; i < invalidations; i++) {
      const key = keys[i] as string
      const how = i % 3
      let done!: () => void
      const all = new Promise<void>((r) => {
        done = r
      })
      const w: Waiting = { resolved: Infinity, resolvedAt: Infinity, left: processes, samples: [], viaIpc: [], done }
      waiting.set(key, w)
      const call = how === 0 ? cache.delete(key) : how === 1 ? cache.invalidateTags([key]) : cache.set(key, 'v2')
      // Drops that arrive before the call resolves count as 0: the other process was ahead of this one.
      await call
      w.resolved = performance.now()
      w.resolvedAt = performance.timeOrigin + w.resolved
      await Promise.race([all, new Promise((r) => setTimeout(r, 1_000))])
      if (w.left > 0) anomalies.push(`l1 propagation: ${w.left} processes never dropped ${key}`)
      samples.push(...w.samples.map((ms) => (Number.isFinite(ms) ? Math.max(0, ms) : 0)))
      viaIpc.push(...w.viaIpc.map((ms) => (Number.isFinite(ms) ? Math.max(0, ms) : 0)))
      waiting.delete(key)
    }
  } finally {
    for (const child of children) child.send({ stop: true })
    await cache.close()
    await quit(redis)
  }
  const sorted = Float64Array.from(samples).sort()
  return {
    invalidations,
    processes,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    viaIpcP99Ms: percentile(Float64Array.from(viaIpc).sort(), 0.99),
  }
}

function once(child: ChildProcess, match: (m: Record<string, unknown>) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (!match(m)) return
      child.off('message', onMessage)
      resolve()
    }
    child.on('message', onMessage)
    child.once('exit', (code) => reject(new Error(`l1 propagation worker exited ${code}`)))
  })
}

async function memoryHits(env: ValueEnv): Promise<L1Result['memoryHits']> {
  const cache: CacheClient = createCacheClient({ namespace: 'mem' })
  const keys = Array.from({ length: HIT_KEYS }, (_, i) => `k${i}`)
  for (const key of keys) await cache.getOrSet(key, () => env.value)
  const ops = env.quick ? 50_000 : 500_000
  const out = { sequential: 0, concurrent: 0 }
  for (const mode of ['sequential', 'concurrent'] as const) {
    const result = await runInterleaved<'memory'>({
      sides: ['memory'],
      ops,
      slices: 10,
      workers: mode === 'sequential' ? 1 : CONCURRENCY,
      rounds: ROUNDS,
      warmupOps: ops / 10,
      op: () => (i) => cache.getOrSet(keys[i % HIT_KEYS] as string, () => env.value),
      verify: async () => undefined,
    })
    out[mode] = result.median.memory.opsPerSec
  }
  await cache.close()
  return out
}

/** What a tier fill adds on a miss: deep-freezing the decoded value, beside decoding it. */
function freezeCost(env: ValueEnv): L1Result['freeze'] {
  const n = env.quick ? 20_000 : 200_000
  const freeze = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return
    Object.freeze(v)
    for (const key in v) freeze((v as Record<string, unknown>)[key])
  }
  let t = performance.now()
  for (let i = 0; i < n; i++) JSON.parse(env.json)
  const parseUs = ((performance.now() - t) * 1000) / n
  t = performance.now()
  for (let i = 0; i < n; i++) freeze(JSON.parse(env.json))
  return { parseUs, parseAndFreezeUs: ((performance.now() - t) * 1000) / n }
}

export async function runL1(env: ValueEnv): Promise<L1Result> {
  const anomalies: string[] = []
  env.log('l1: hits from the tier beside lru-cache, bentocache L1, cacheable')
  const hits = await hitCases(env, anomalies)
  env.log('l1: propagation to 4 processes')
  const spread = await propagation(env, anomalies)
  env.log('l1: memory adapter hits, freezing cost')
  const memory = await memoryHits(env)
  return { hits, propagation: spread, memoryHits: memory, freeze: freezeCost(env), targets: L1_TARGETS, anomalies }
}

/** The section's tables and its verdicts against issue 13's targets. */
export function formatL1(r: L1Result): string {
  const rows = SIDES.map((side) => [
    side,
    ...r.hits.flatMap((c) => [
      formatInt(c.opsPerSec[side]),
      formatUs(c.p50Us[side]),
      `${c.spreadPercent[side].toFixed(0)}%`,
    ]),
  ])
  const p = r.propagation
  return [
    table(
      ['hits, 2,000 keys', 'seq ops/s', 'p50 µs', 'spread', `${CONCURRENCY} conc ops/s`, 'p50 µs', 'spread'],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
    '',
    `propagation to ${p.processes} processes over ${formatInt(p.invalidations)} invalidations (delete, invalidateTags, set): ` +
      `p50 ${formatMs(p.p50Ms)} ms, p99 ${formatMs(p.p99Ms)} ms, max ${formatMs(p.maxMs)} ms` +
      (p.viaIpcP99Ms === undefined ? '' : ` (p99 ${formatMs(p.viaIpcP99Ms)} ms to the IPC message's arrival)`),
    `memory adapter hits: ${formatInt(r.memoryHits.sequential)}/s sequential, ${formatInt(r.memoryHits.concurrent)}/s ${CONCURRENCY} concurrent`,
    `freezing on a miss: JSON.parse ${r.freeze.parseUs.toFixed(2)} µs, parse + deep freeze ${r.freeze.parseAndFreezeUs.toFixed(2)} µs of the ~1 KB value`,
    '',
    'targets (issue 13):',
    ...l1Verdicts(r).map((v) => `  ${v.pass ? 'met    ' : 'NOT met'}  ${v.label}: ${v.measured} (target ${v.target})`),
    ...(r.anomalies.length > 0 ? ['', 'anomalies:', ...r.anomalies.map((a) => `  ${a}`)] : []),
  ].join('\n')
}

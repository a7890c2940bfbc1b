/**
 * The hit and miss cases of `npm run bench`: raw ioredis (the limit), cacheward over ioredis and cacheward's
 * memory default, then raw node-redis and cacheward over node-redis (the same limit on the other client), each
 * case in 5 rounds of short interleaved slices, every slice checked. See bench/README.md.
 * @module
 */
import type { RedisClientType } from '@redis/client'
import { type CacheAdapter, type CacheClient, createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { nodeRedisAdapter } from 'cacheward/node-redis'
import type { Redis } from 'ioredis'
import {
  collectGarbage,
  formatInt,
  formatUs,
  measure,
  medianRun,
  type Op,
  Recorder,
  type Run,
  spreadPercent,
  table,
} from './lib.js'
import type { CaseResult, Kind, Only, SideName, SideResult } from './results-file.js'
import { SIDES } from './results-file.js'
import type { Room } from './value.js'
import { CONCURRENCY, HIT_KEYS, ROUNDS, TTL_MS } from './workload.js'

/** Warm-up operations per side before each case's measured rounds. */
export const warmupOps = (quick: boolean): number => 2_000 / (quick ? 10 : 1)

// ---- cases --------------------------------------------------------------------------------------

export interface CaseSpec {
  id: string
  label: string
  kind: Kind
  workers: number
  ops: number
  /** Each round is measured in this many slices per side, interleaved with the other sides' slices. */
  slices: number
  /** Least acceptable cacheward/raw throughput ratio. */
  target: number
}

/** The hit and miss cases of a run (all four, or the two of one kind); QUICK runs a tenth of the operations. */
export function selectCases(quick: boolean, only: Only | undefined): CaseSpec[] {
  const scale = quick ? 10 : 1
  const cases: readonly CaseSpec[] = [
    {
      id: 'hits-seq',
      label: 'hits, sequential',
      kind: 'hits',
      workers: 1,
      ops: 20_000 / scale,
      slices: 20,
      target: 0.9,
    },
    {
      id: 'hits-conc',
      label: `hits, ${CONCURRENCY} concurrent`,
      kind: 'hits',
      workers: CONCURRENCY,
      ops: 50_000 / scale,
      slices: 10,
      target: 0.9,
    },
    {
      id: 'misses-seq',
      label: 'misses, sequential',
      kind: 'misses',
      workers: 1,
      ops: 20_000 / scale,
      slices: 20,
      target: 0.8,
    },
    {
      id: 'misses-conc',
      label: `misses, ${CONCURRENCY} concurrent`,
      kind: 'misses',
      workers: CONCURRENCY,
      ops: 50_000 / scale,
      slices: 10,
      target: 0.8,
    },
  ]
  return cases.filter((c) => only === undefined || c.kind === only)
}

// ---- sides --------------------------------------------------------------------------------------

/** One contender in one case. `round` is 'warmup' or the round number; misses use it to keep keys unique. */
interface Side {
  prepare(): Promise<void>
  op(round: string): Op
  /** Checks that the run just measured did what it claims (every op a hit, or a miss that stored). */
  verify(count: number): Promise<string | undefined>
  dispose(): Promise<void>
}

/**
 * What the cases run against: per Redis client, two connections with identical options (one for the raw side,
 * one for cacheward), and the value.
 */
export interface HitsMissesEnv {
  runId: string
  raw: Redis
  cw: Redis
  /** node-redis v5 clients (`createClient()` defaults), connected. */
  nrRaw: RedisClientType
  nrCw: RedisClientType
  value: Room
  json: string
}

const loaderOf = (value: Room) => () => value

/** The commands a raw side sends, as an app would write them with that client. */
interface RawClient {
  get(key: string): Promise<string | null>
  /** `SET key value PX ttl`. */
  setPx(key: string, value: string, ttl: number): Promise<unknown>
  /** Stores many keys in one round trip (before timing). */
  setMany(keys: readonly string[], value: string, ttl: number): Promise<unknown>
  dbsize(): Promise<number>
}

function ioredisRaw(client: Redis): RawClient {
  return {
    get: (key) => client.get(key),
    setPx: (key, value, ttl) => client.set(key, value, 'PX', ttl),
    setMany: (keys, value, ttl) => {
      const pipeline = client.pipeline()
      for (const key of keys) pipeline.set(key, value, 'PX', ttl)
      return pipeline.exec()
    },
    dbsize: () => client.dbsize(),
  }
}

function nodeRedisRaw(client: RedisClientType): RawClient {
  return {
    get: (key) => client.get(key),
    setPx: (key, value, ttl) => client.set(key, value, { expiration: { type: 'PX', value: ttl } }),
    setMany: (keys, value, ttl) => {
      const multi = client.multi()
      for (const key of keys) multi.set(key, value, { expiration: { type: 'PX', value: ttl } })
      return multi.execAsPipeline()
    },
    dbsize: () => client.dbSize(),
  }
}

function rawSide(env: HitsMissesEnv, spec: CaseSpec, raw: RawClient, name: SideName): Side {
  const prefix = `${name}-${env.runId}-${spec.id}:`
  // Keys are built before timing, so the raw loop does no string work cacheward would not also do.
  const hitKeys = Array.from({ length: HIT_KEYS }, (_, i) => `${prefix}k${i}`)
  const loader = loaderOf(env.value)
  return {
    async prepare() {
      if (spec.kind !== 'hits') return
      await raw.setMany(hitKeys, env.json, TTL_MS)
    },
    op(round) {
      if (spec.kind === 'hits') {
        return async (i) => {
          const text = await raw.get(hitKeys[i % HIT_KEYS] as string)
          // A raw "hit" that missed would make the baseline look faster than it is.
          if (text === null) throw new Error(`${name} hit case: key ${i % HIT_KEYS} missing`)
          return JSON.parse(text) as Room
        }
      }
      const keyPrefix = `${prefix}${round}:`
      return async (i) => {
        const key = keyPrefix + i
        const text = await raw.get(key)
        if (text !== null) throw new Error(`${name} miss case: key ${key} unexpectedly present`)
        // The loader's value is serialised per op, exactly as cacheward has to.
        const loaded = loader()
        await raw.setPx(key, JSON.stringify(loaded), TTL_MS)
        return loaded
      }
    },
    async verify(count) {
      if (spec.kind === 'hits') return undefined // the op itself throws on a missing key
      const size = await raw.dbsize()
      return size === count ? undefined : `${name} stored ${size} keys for ${count} misses`
    },
    async dispose() {},
  }
}

/** A cacheward side: over `adapter` (its connection's `dbsize` checks the misses), or the memory default. */
function cachewardSide(
  env: HitsMissesEnv,
  spec: CaseSpec,
  name: SideName,
  backend: { adapter: CacheAdapter; dbsize(): Promise<number> } | 'memory',
): Side {
  const cache: CacheClient =
    backend === 'memory'
      ? // The default backend, as a user gets it: context for what the Redis round trip costs.
        createCacheClient()
      : createCacheClient({
          adapter: backend.adapter,
          namespace: `bench-${env.runId}-${spec.id}-${name === 'cacheward' ? 'io' : 'nr'}`,
          ttl: '10m',
        })
  const hitKeys = Array.from({ length: HIT_KEYS }, (_, i) => `k${i}`)
  const loader = loaderOf(env.value)
  return {
    async prepare() {
      if (spec.kind !== 'hits') return
      // One getOrSet per key stores the entries the hit cases then read.
      await measure((i) => cache.getOrSet(hitKeys[i] as string, loader), HIT_KEYS, 64)
      const m = cache.metrics()
      if (m.loads !== HIT_KEYS || m.errors !== 0) {
        throw new Error(`${name}: populating ${HIT_KEYS} keys made ${m.loads} loads and ${m.errors} errors`)
      }
      const sample = await cache.getOrSet(hitKeys[0] as string, () => {
        throw new Error('populated key was not cached')
      })
      if (JSON.stringify(sample) !== env.json) throw new Error(`${name}: cached value differs from the loaded one`)
      cache.resetMetrics()
    },
    op(round) {
      if (spec.kind === 'hits') return (i) => cache.getOrSet(hitKeys[i % HIT_KEYS] as string, loader)
      const keyPrefix = `${round}:`
      return (i) => cache.getOrSet(keyPrefix + i, loader)
    },
    async verify(count) {
      const m = cache.metrics()
      cache.resetMetrics()
      const problems: string[] = []
      // A backend error or timeout on a "hit" is answered by the loader: it would pass unnoticed without this.
      if (m.errors > 0) problems.push(`${m.errors} backend errors`)
      if (spec.kind === 'hits' && m.hits !== count) problems.push(`${m.hits} hits of ${count}`)
      if (spec.kind === 'misses' && (m.misses !== count || m.loads !== count)) {
        problems.push(`${m.misses} misses and ${m.loads} loads of ${count}`)
      }
      if (spec.kind === 'misses' && backend !== 'memory') {
        const size = await backend.dbsize()
        if (size !== count) problems.push(`stored ${size} keys for ${count} misses`)
      }
      return problems.length === 0 ? undefined : `${name}: ${problems.join(', ')}`
    },
    dispose: () => cache.close(),
  }
}

// ---- running ------------------------------------------------------------------------------------

async function runCase(
  env: HitsMissesEnv,
  spec: CaseSpec,
  warmupOps: number,
  log: (line: string) => void,
): Promise<CaseResult> {
  await env.raw.flushdb()
  const sides: Record<SideName, Side> = {
    raw: rawSide(env, spec, ioredisRaw(env.raw), 'raw'),
    cacheward: cachewardSide(env, spec, 'cacheward', {
      adapter: ioredisAdapter(env.cw),
      dbsize: () => env.cw.dbsize(),
    }),
    memory: cachewardSide(env, spec, 'memory', 'memory'),
    'raw-node-redis': rawSide(env, spec, nodeRedisRaw(env.nrRaw), 'raw-node-redis'),
    'cacheward-node-redis': cachewardSide(env, spec, 'cacheward-node-redis', {
      adapter: nodeRedisAdapter(env.nrCw),
      dbsize: () => env.nrCw.dbSize(),
    }),
  }
  const runs = Object.fromEntries(SIDES.map((name) => [name, [] as Run[]])) as Record<SideName, Run[]>
  const anomalies: string[] = []
  try {
    for (const name of SIDES) await sides[name].prepare()

    // One slice of one side: operations [from, to) of that side's round, checked right after.
    const slice = async (name: SideName, recorder: Recorder, op: Op, from: number, to: number, round: string) => {
      // Misses start each slice from the same empty database, so neither side pays for the other's keys.
      if (spec.kind === 'misses') await env.raw.flushdb()
      collectGarbage()
      await recorder.run(op, from, to, spec.workers)
      const problem = await sides[name].verify(to - from)
      if (problem) anomalies.push(`round ${round}: ${problem}`)
    }

    for (const name of SIDES) {
      await slice(name, new Recorder(warmupOps), sides[name].op('warmup'), 0, warmupOps, 'warmup')
    }
    const perSlice = Math.ceil(spec.ops / spec.slices)
    for (let round = 0; round < ROUNDS; round++) {
      const recorders = Object.fromEntries(SIDES.map((name) => [name, new Recorder(spec.ops)])) as Record<
        SideName,
        Recorder
      >
      const ops = Object.fromEntries(SIDES.map((name) => [name, sides[name].op(`${round}`)])) as Record<SideName, Op>
      // Short slices in rotating order: on a shared 2-core machine the speed of loopback round trips changes
      // from one second to the next, and slices of ~0.1 s let every side see the same mix of good and bad moments.
      for (let s = 0; s < spec.slices; s++) {
        const from = s * perSlice
        const to = Math.min(spec.ops, from + perSlice)
        for (let k = 0; k < SIDES.length; k++) {
          const name = SIDES[(k + round + s) % SIDES.length] as SideName
          await slice(name, recorders[name], ops[name], from, to, `${round}`)
        }
      }
      for (const name of SIDES) runs[name].push(recorders[name].result())
      log(
        `  ${spec.label}: round ${round + 1}/${ROUNDS} ` +
          SIDES.map((n) => `${n} ${formatInt(runs[n].at(-1)?.opsPerSec ?? 0)}/s`).join(', '),
      )
    }
  } finally {
    await Promise.all(SIDES.map((name) => sides[name].dispose()))
  }

  const sideResults = Object.fromEntries(
    SIDES.map((name) => [name, { median: medianRun(runs[name]), rounds: runs[name] } satisfies SideResult]),
  ) as Record<SideName, SideResult>
  const ratio = sideResults.cacheward.median.opsPerSec / sideResults.raw.median.opsPerSec
  const nodeRedisRatio =
    sideResults['cacheward-node-redis'].median.opsPerSec / sideResults['raw-node-redis'].median.opsPerSec
  return {
    id: spec.id,
    label: spec.label,
    kind: spec.kind,
    workers: spec.workers,
    ops: spec.ops,
    target: spec.target,
    ratio,
    pass: ratio >= spec.target,
    nodeRedisRatio,
    nodeRedisPass: nodeRedisRatio >= spec.target,
    sides: sideResults,
    anomalies,
  }
}

/** Runs `cases` in order, logging each round; resolves one result per case. */
export async function runHitsMisses(
  env: HitsMissesEnv,
  cases: readonly CaseSpec[],
  options: { quick: boolean; log: (line: string) => void },
): Promise<CaseResult[]> {
  const results: CaseResult[] = []
  for (const spec of cases) results.push(await runCase(env, spec, warmupOps(options.quick), options.log))
  return results
}

// ---- console ------------------------------------------------------------------------------------

/** The section as `npm run bench` prints it: the median tables (ioredis, then node-redis), how to read them, every round. */
export function formatHitsMisses(results: readonly CaseResult[]): string {
  return [
    resultTable(results),
    '',
    'ratio = cacheward ops/s / raw ops/s (median rounds). Latency per op in µs, start to settle; under concurrency',
    'it includes queueing behind the other workers. raw = GET + JSON.parse (hits), GET nil + JSON.stringify + SET PX',
    '(misses); cacheward = getOrSet over ioredisAdapter; memory = createCacheClient() defaults.',
    '',
    nodeRedisTable(results),
    '',
    'The same cases on node-redis v5 (createClient() defaults; it pipelines commands issued in one tick): raw =',
    'the same GET / SET PX through node-redis, cacheward = getOrSet over nodeRedisAdapter; ratio against raw node-redis.',
    '',
    roundsTable(results),
  ].join('\n')
}

const cells = (run: Run) => [formatInt(run.opsPerSec), formatUs(run.p50Us), formatUs(run.p99Us)]
const verdictOf = (pass: boolean) => (pass ? 'PASS' : 'BELOW target')

function resultTable(results: readonly CaseResult[]): string {
  const head = [
    'case',
    'ops',
    'raw ops/s',
    'p50 µs',
    'p99 µs',
    'cacheward ops/s',
    'p50 µs',
    'p99 µs',
    'ratio',
    'target',
    'verdict',
    'memory ops/s',
    'p50 µs',
    'p99 µs',
  ]
  const rows = results.map((r) => [
    r.label,
    formatInt(r.ops),
    ...cells(r.sides.raw.median),
    ...cells(r.sides.cacheward.median),
    `${r.ratio.toFixed(2)}x`,
    `>= ${r.target.toFixed(2)}`,
    verdictOf(r.pass),
    ...cells(r.sides.memory.median),
  ])
  const align = head.map((_, c) => (c === 0 || c === 10 ? 'left' : 'right') as 'left' | 'right')
  return table(head, rows, align)
}

function nodeRedisTable(results: readonly CaseResult[]): string {
  const head = [
    'case (node-redis)',
    'ops',
    'raw ops/s',
    'p50 µs',
    'p99 µs',
    'cacheward ops/s',
    'p50 µs',
    'p99 µs',
    'ratio',
    'target',
    'verdict',
  ]
  const rows = results.map((r) => [
    r.label,
    formatInt(r.ops),
    ...cells(r.sides['raw-node-redis'].median),
    ...cells(r.sides['cacheward-node-redis'].median),
    `${r.nodeRedisRatio.toFixed(2)}x`,
    `>= ${r.target.toFixed(2)}`,
    verdictOf(r.nodeRedisPass),
  ])
  const align = head.map((_, c) => (c === 0 || c === 10 ? 'left' : 'right') as 'left' | 'right')
  return table(head, rows, align)
}

function roundsTable(results: readonly CaseResult[]): string {
  const rows = results.flatMap((r) =>
    SIDES.map((name) => [
      r.label,
      name,
      r.sides[name].rounds.map((run) => formatInt(run.opsPerSec)).join(' / '),
      `${spreadPercent(r.sides[name].rounds).toFixed(1)}%`,
    ]),
  )
  return table(['case', 'side', `ops/s per round (${ROUNDS})`, 'spread'], rows, ['left', 'left', 'right', 'right'])
}

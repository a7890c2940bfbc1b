/**
 * The hit and miss cases of `npm run bench`: raw ioredis (the limit), cacheward over ioredis and cacheward's
 * memory default, each case in 5 rounds of short interleaved slices, every slice checked. See bench/README.md.
 * @module
 */
import { type CacheClient, createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
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
import type { Room } from './value.js'
import { CONCURRENCY, HIT_KEYS, ROUNDS, TTL_MS } from './workload.js'

/** Warm-up operations per side before each case's measured rounds. */
export const warmupOps = (quick: boolean): number => 2_000 / (quick ? 10 : 1)

const SIDES: readonly SideName[] = ['raw', 'cacheward', 'memory']

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

/** What the cases run against: two ioredis connections with identical options, and the value. */
export interface HitsMissesEnv {
  runId: string
  raw: Redis
  cw: Redis
  value: Room
  json: string
}

const loaderOf = (value: Room) => () => value

function rawSide(env: HitsMissesEnv, spec: CaseSpec): Side {
  const prefix = `raw-${env.runId}-${spec.id}:`
  // Keys are built before timing, so the raw loop does no string work cacheward would not also do.
  const hitKeys = Array.from({ length: HIT_KEYS }, (_, i) => `${prefix}k${i}`)
  const { raw } = env
  const loader = loaderOf(env.value)
  return {
    async prepare() {
      if (spec.kind !== 'hits') return
      const pipeline = raw.pipeline()
      for (const key of hitKeys) pipeline.set(key, env.json, 'PX', TTL_MS)
      await pipeline.exec()
    },
    op(round) {
      if (spec.kind === 'hits') {
        return async (i) => {
          const text = await raw.get(hitKeys[i % HIT_KEYS] as string)
          // A raw "hit" that missed would make the baseline look faster than it is.
          if (text === null) throw new Error(`raw hit case: key ${i % HIT_KEYS} missing`)
          return JSON.parse(text) as Room
        }
      }
      const keyPrefix = `${prefix}${round}:`
      return async (i) => {
        const key = keyPrefix + i
        const text = await raw.get(key)
        if (text !== null) throw new Error(`raw miss case: key ${key} unexpectedly present`)
        // The loader's value is serialised per op, exactly as cacheward has to.
        const loaded = loader()
        await raw.set(key, JSON.stringify(loaded), 'PX', TTL_MS)
        return loaded
      }
    },
    async verify(count) {
      if (spec.kind === 'hits') return undefined // the op itself throws on a missing key
      const size = await raw.dbsize()
      return size === count ? undefined : `raw stored ${size} keys for ${count} misses`
    },
    async dispose() {},
  }
}

function cachewardSide(env: HitsMissesEnv, spec: CaseSpec, memory: boolean): Side {
  const name = memory ? 'memory' : 'cacheward'
  const cache: CacheClient = memory
    ? // The default backend, as a user gets it: context for what the Redis round trip costs.
      createCacheClient()
    : createCacheClient({ adapter: ioredisAdapter(env.cw), namespace: `bench-${env.runId}-${spec.id}`, ttl: '10m' })
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
      if (spec.kind === 'misses' && !memory) {
        const size = await env.cw.dbsize()
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
    raw: rawSide(env, spec),
    cacheward: cachewardSide(env, spec, false),
    memory: cachewardSide(env, spec, true),
  }
  const runs: Record<SideName, Run[]> = { raw: [], cacheward: [], memory: [] }
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
      const recorders = {
        raw: new Recorder(spec.ops),
        cacheward: new Recorder(spec.ops),
        memory: new Recorder(spec.ops),
      }
      const ops = {
        raw: sides.raw.op(`${round}`),
        cacheward: sides.cacheward.op(`${round}`),
        memory: sides.memory.op(`${round}`),
      }
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

  const result = (name: SideName): SideResult => ({ median: medianRun(runs[name]), rounds: runs[name] })
  const sideResults = { raw: result('raw'), cacheward: result('cacheward'), memory: result('memory') }
  const ratio = sideResults.cacheward.median.opsPerSec / sideResults.raw.median.opsPerSec
  return {
    id: spec.id,
    label: spec.label,
    kind: spec.kind,
    workers: spec.workers,
    ops: spec.ops,
    target: spec.target,
    ratio,
    pass: ratio >= spec.target,
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

/** The section as `npm run bench` prints it: the median table, how to read it, every round. */
export function formatHitsMisses(results: readonly CaseResult[]): string {
  return [
    resultTable(results),
    '',
    'ratio = cacheward ops/s / raw ops/s (median rounds). Latency per op in µs, start to settle; under concurrency',
    'it includes queueing behind the other workers. raw = GET + JSON.parse (hits), GET nil + JSON.stringify + SET PX',
    '(misses); cacheward = getOrSet over ioredisAdapter; memory = createCacheClient() defaults.',
    '',
    roundsTable(results),
  ].join('\n')
}

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
  const rows = results.map((r) => {
    const cells = (run: Run) => [formatInt(run.opsPerSec), formatUs(run.p50Us), formatUs(run.p99Us)]
    return [
      r.label,
      formatInt(r.ops),
      ...cells(r.sides.raw.median),
      ...cells(r.sides.cacheward.median),
      `${r.ratio.toFixed(2)}x`,
      `>= ${r.target.toFixed(2)}`,
      r.pass ? 'PASS' : 'BELOW target',
      ...cells(r.sides.memory.median),
    ]
  })
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

/**
 * `npm run bench`: cacheward over ioredis against raw ioredis (the limit), on a redis-server this
 * process starts and stops. See bench/README.md for what each case measures and how to read it.
 *
 *   BENCH_QUICK=1 npm run bench       ~10x fewer operations (smoke test)
 *   npm run bench -- --only hits      only the hit cases (or: misses, stampede, invalidation, peers, metrics)
 *
 * A full run (not quick, no --only) writes bench/results/latest.json and regenerates docs/benchmarks.md from it.
 * @module
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type CacheClient, createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis, type RedisOptions } from 'ioredis'
import { type RedisServer, startRedisServer } from '../test/support/redis-server.js'
import { formatInvalidation, runInvalidation } from './invalidation.js'
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
import { formatMetrics, runMetrics } from './metrics.js'
import { formatPeers, runPeers } from './peers.js'
import { writeReport } from './report.js'
import type {
  CaseResult,
  InvalidationResult,
  Kind,
  Meta,
  MetricsResult,
  Only,
  PeersResult,
  ResultsFile,
  SideName,
  SideResult,
  StampedeResult,
} from './results-file.js'
import { formatStampede, runStampede } from './stampede.js'
import { makeRoom, type Room } from './value.js'
import { CONCURRENCY, HIT_KEYS, quit, ROUNDS, type SectionEnv, TTL_MS } from './workload.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

// ---- configuration ------------------------------------------------------------------------------

const QUICK = process.env.BENCH_QUICK === '1'
const SCALE = QUICK ? 10 : 1
const WARMUP_OPS = 2_000 / SCALE
/** Identical for the raw and the cacheward connection: ioredis defaults (no auto-pipelining). */
const CLIENT_OPTIONS: RedisOptions = {}

const ONLY: readonly Only[] = ['hits', 'misses', 'stampede', 'invalidation', 'peers', 'metrics']
const SIDES: readonly SideName[] = ['raw', 'cacheward', 'memory']

interface CaseSpec {
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

const CASES: readonly CaseSpec[] = [
  { id: 'hits-seq', label: 'hits, sequential', kind: 'hits', workers: 1, ops: 20_000 / SCALE, slices: 20, target: 0.9 },
  {
    id: 'hits-conc',
    label: `hits, ${CONCURRENCY} concurrent`,
    kind: 'hits',
    workers: CONCURRENCY,
    ops: 50_000 / SCALE,
    slices: 10,
    target: 0.9,
  },
  {
    id: 'misses-seq',
    label: 'misses, sequential',
    kind: 'misses',
    workers: 1,
    ops: 20_000 / SCALE,
    slices: 20,
    target: 0.8,
  },
  {
    id: 'misses-conc',
    label: `misses, ${CONCURRENCY} concurrent`,
    kind: 'misses',
    workers: CONCURRENCY,
    ops: 50_000 / SCALE,
    slices: 10,
    target: 0.8,
  },
]

function parseOnly(argv: readonly string[]): Only | undefined {
  const i = argv.indexOf('--only')
  const inline = argv.find((a) => a.startsWith('--only='))
  const value = inline ? inline.slice('--only='.length) : i === -1 ? undefined : argv[i + 1]
  if (value === undefined) {
    if (i !== -1) throw new Error(`--only needs a value: ${ONLY.join(', ')}`)
    return undefined
  }
  const only = ONLY.find((o) => o === value)
  if (only === undefined) throw new Error(`--only: expected one of ${ONLY.join(', ')}, got ${value}`)
  return only
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

interface Env {
  runId: string
  raw: Redis
  cw: Redis
  value: Room
  json: string
}

const loaderOf = (value: Room) => () => value

function rawSide(env: Env, spec: CaseSpec): Side {
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

function cachewardSide(env: Env, spec: CaseSpec, memory: boolean): Side {
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

async function runCase(env: Env, spec: CaseSpec, log: (line: string) => void): Promise<CaseResult> {
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
      await slice(name, new Recorder(WARMUP_OPS), sides[name].op('warmup'), 0, WARMUP_OPS, 'warmup')
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

// ---- reporting ----------------------------------------------------------------------------------

function gitDescribe(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: here, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8')
    const name = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1]
    if (name) return name
  } catch {
    // not Linux, or no os-release: fall through
  }
  return os.version()
}

function header(meta: Meta, withCases: boolean): string {
  const lines = [
    `cacheward benchmark (${meta.quick ? 'QUICK smoke test: numbers are indicative only' : 'full'})`,
    `date         ${meta.date}`,
    `node         ${meta.node}    ioredis ${meta.ioredis}    redis-server ${meta.redisServer} (loopback TCP)`,
    `cpu          ${meta.cpu} x ${meta.cpus}    ${meta.platform}`,
    `cacheward    ${meta.cacheward} (${meta.commit}), built dist/`,
    `workload     ~${meta.valueBytes} B JSON value; hits over ${formatInt(meta.hitKeys)} keys; misses on unique keys; ` +
      `${meta.rounds} rounds per side, median round shown; ${formatInt(meta.warmupOps)} warm-up ops per side`,
    'targets      cacheward/raw ops/s: hits >= 0.90 (both modes), misses >= 0.80; memory column is context only',
  ]
  // The last two lines describe the hit/miss cases only.
  return (withCases ? lines : lines.slice(0, -2)).join('\n')
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

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const only = parseOnly(process.argv.slice(2))
  const cases = CASES.filter((c) => only === undefined || c.kind === only)
  const log = (line: string) => process.stderr.write(`${line}\n`)

  let server: RedisServer | undefined
  const clients: Redis[] = []
  // Without this, Ctrl-C kills node before the server is stopped (signals skip 'exit' handlers' async work).
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: stopping redis-server`)
    void Promise.all(clients.map((c) => c.disconnect()))
    void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    server = await startRedisServer()
    const raw = new Redis(server.url, CLIENT_OPTIONS)
    const cw = new Redis(server.url, CLIENT_OPTIONS)
    clients.push(raw, cw)
    await Promise.all([raw.ping(), cw.ping()])

    const info = await raw.info('server')
    const value = makeRoom()
    const json = JSON.stringify(value)
    const pkg = JSON.parse(readFileSync(path.join(here, '..', 'package.json'), 'utf8')) as { version: string }
    const meta: Meta = {
      date: new Date().toISOString(),
      node: process.version,
      ioredis: (require('ioredis/package.json') as { version: string }).version,
      redisServer: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      cpus: os.cpus().length,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      os: osName(),
      command: [QUICK ? 'BENCH_QUICK=1 ' : '', 'npm run bench', only ? ` -- --only ${only}` : ''].join(''),
      cacheward: pkg.version,
      commit: gitDescribe(),
      quick: QUICK,
      only: only ?? null,
      valueBytes: Buffer.byteLength(json),
      hitKeys: HIT_KEYS,
      rounds: ROUNDS,
      warmupOps: WARMUP_OPS,
    }
    const env: Env = { runId: Date.now().toString(36), raw, cw, value, json }

    log(`redis-server ${meta.redisServer} on ${server.url}; running ${cases.length} cases...`)
    const results: CaseResult[] = []
    for (const spec of cases) results.push(await runCase(env, spec, log))
    const sectionEnv: SectionEnv = { url: server.url, runId: env.runId, quick: QUICK, log }
    let peers: PeersResult | undefined
    if (only === undefined || only === 'peers') {
      log('peers...')
      peers = await runPeers({ ...sectionEnv, value, json })
    }
    let metrics: MetricsResult | undefined
    if (only === undefined || only === 'metrics') {
      log('metrics...')
      metrics = await runMetrics({ ...sectionEnv, value, json })
    }
    let stampede: StampedeResult | undefined
    if (only === undefined || only === 'stampede') {
      log('stampede...')
      stampede = await runStampede(sectionEnv)
    }
    let invalidation: InvalidationResult | undefined
    if (only === undefined || only === 'invalidation') {
      log('invalidation...')
      invalidation = await runInvalidation(sectionEnv)
    }

    const anomalies = [
      ...results.flatMap((r) => r.anomalies.map((a) => `${r.label}: ${a}`)),
      ...(stampede?.anomalies.map((a) => `stampede: ${a}`) ?? []),
      ...(invalidation?.anomalies ?? []),
      ...(peers?.anomalies ?? []),
      ...(metrics?.anomalies ?? []),
    ]
    const out = ['', header(meta, results.length > 0)]
    if (results.length > 0) {
      out.push(
        '',
        resultTable(results),
        '',
        'ratio = cacheward ops/s / raw ops/s (median rounds). Latency per op in µs, start to settle; under concurrency',
        'it includes queueing behind the other workers. raw = GET + JSON.parse (hits), GET nil + JSON.stringify + SET PX',
        '(misses); cacheward = getOrSet over ioredisAdapter; memory = createCacheClient() defaults.',
        '',
        roundsTable(results),
      )
    }
    if (stampede) out.push('', formatStampede(stampede))
    if (invalidation) out.push('', formatInvalidation(invalidation))
    if (peers) out.push('', formatPeers(peers))
    if (metrics) out.push('', formatMetrics(metrics))
    out.push(
      '',
      anomalies.length === 0
        ? `checks: ${[
            results.length > 0 && 'every hit was a hit, every miss loaded once and stored one key, no backend errors',
            stampede && 'every stampede caller got the loaded value, loads counted alike by counter and processes',
            invalidation && 'invalidated entries are misses, others untouched, every hit a hit',
            peers && 'every peer hit loaded nothing, every peer miss loaded once and stored, stampede values right',
            metrics && 'metrics on/off: no hit loaded, no backend errors',
          ]
            .filter(Boolean)
            .join(';\n        ')}`
        : `CHECKS FAILED (results above are not valid for these cases):\n  ${anomalies.join('\n  ')}`,
    )
    process.stdout.write(`${out.join('\n')}\n`)

    // Smoke tests and partial runs must not overwrite the numbers the docs quote.
    const file = QUICK || only ? 'latest-partial.json' : 'latest.json'
    const dir = path.join(here, 'results')
    mkdirSync(dir, { recursive: true })
    const target = path.join(dir, file)
    const sections = {
      ...(stampede ? { stampede } : {}),
      ...(invalidation ? { invalidation } : {}),
      ...(peers ? { peers } : {}),
      ...(metrics ? { metrics } : {}),
    }
    const written: ResultsFile = { meta, cases: results, ...sections }
    writeFileSync(target, `${JSON.stringify(written, null, 2)}\n`)
    process.stdout.write(`\nresults written to ${path.relative(process.cwd(), target)}\n`)
    // Only a full run's results feed the docs; `npx tsx bench/report.ts` regenerates the page by hand.
    if (file === 'latest.json') {
      const page = writeReport(target)
      process.stdout.write(`docs regenerated: ${path.relative(process.cwd(), page)}\n`)
    }
    if (anomalies.length > 0) process.exitCode = 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await quit(...clients)
    await server?.stop()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})

/**
 * `npm run bench`: cacheward over ioredis against raw ioredis (the limit), and the other sections, on a
 * redis-server this process starts and stops. See bench/README.md for what each case measures and how to read it.
 *
 *   BENCH_QUICK=1 npm run bench       ~10x fewer operations (smoke test)
 *   npm run bench -- --only hits      only the hit cases (or: misses, stampede, invalidation, peers, metrics, l1,
 *                                     big-values, batches)
 *
 * This file runs the sections in order, prints their tables, writes the results file and, after a full run (not
 * quick, no --only), bench/results/latest.json and docs/benchmarks.md from it. The sections are their own modules:
 * hits-misses.ts, peers.ts, metrics.ts, stampede.ts, invalidation.ts, l1.ts; results-file.ts types what they return.
 * @module
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient, type RedisClientType } from '@redis/client'
import { Redis, type RedisOptions } from 'ioredis'
import { type RedisServer, startRedisServer } from '../test/support/redis-server.js'
import { formatBatches, runBatches } from './batches.js'
import { formatBigValues, runBigValues } from './big-values.js'
import { formatHitsMisses, type HitsMissesEnv, runHitsMisses, selectCases, warmupOps } from './hits-misses.js'
import { formatInvalidation, runInvalidation } from './invalidation.js'
import { formatL1, runL1 } from './l1.js'
import { formatInt } from './lib.js'
import { formatMetrics, runMetrics } from './metrics.js'
import { formatPeers, runPeers } from './peers.js'
import { writeReport } from './report.js'
import type {
  BatchesResult,
  BigValuesResult,
  CaseResult,
  InvalidationResult,
  L1Result,
  Meta,
  MetricsResult,
  Only,
  PeersResult,
  ResultsFile,
  StampedeResult,
} from './results-file.js'
import { formatStampede, runStampede } from './stampede.js'
import { makeRoom } from './value.js'
import { HIT_KEYS, quit, ROUNDS, type SectionEnv } from './workload.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

// ---- configuration ------------------------------------------------------------------------------

const QUICK = process.env.BENCH_QUICK === '1'
/** Identical for the raw and the cacheward connection: ioredis defaults (no auto-pipelining). */
const CLIENT_OPTIONS: RedisOptions = {}
/** node-redis' defaults too, for both of its connections (it pipelines what is issued in one tick). */
const connectNodeRedis = (url: string): Promise<RedisClientType> => createClient({ url }).connect()

const ONLY: readonly Only[] = [
  'hits',
  'misses',
  'stampede',
  'invalidation',
  'peers',
  'metrics',
  'l1',
  'big-values',
  'batches',
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
    `node         ${meta.node}    ioredis ${meta.ioredis}    @redis/client ${meta.nodeRedis}    redis-server ${meta.redisServer} (loopback TCP)`,
    `cpu          ${meta.cpu} x ${meta.cpus}    ${meta.platform}`,
    `cacheward    ${meta.cacheward} (${meta.commit}), built dist/`,
    `workload     ~${meta.valueBytes} B JSON value; hits over ${formatInt(meta.hitKeys)} keys; misses on unique keys; ` +
      `${meta.rounds} rounds per side, median round shown; ${formatInt(meta.warmupOps)} warm-up ops per side`,
    'targets      cacheward/raw ops/s on the same client: hits >= 0.90 (both modes), misses >= 0.80; memory is context only',
  ]
  // The last two lines describe the hit/miss cases only.
  return (withCases ? lines : lines.slice(0, -2)).join('\n')
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const only = parseOnly(process.argv.slice(2))
  const cases = selectCases(QUICK, only)
  const log = (line: string) => process.stderr.write(`${line}\n`)

  let server: RedisServer | undefined
  const clients: Redis[] = []
  const nodeRedisClients: RedisClientType[] = []
  // Without this, Ctrl-C kills node before the server is stopped (signals skip 'exit' handlers' async work).
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: stopping redis-server`)
    void Promise.all(clients.map((c) => c.disconnect()))
    for (const c of nodeRedisClients) c.destroy()
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
    const [nrRaw, nrCw] = await Promise.all([connectNodeRedis(server.url), connectNodeRedis(server.url)])
    nodeRedisClients.push(nrRaw, nrCw)

    const info = await raw.info('server')
    const value = makeRoom()
    const json = JSON.stringify(value)
    const pkg = JSON.parse(readFileSync(path.join(here, '..', 'package.json'), 'utf8')) as { version: string }
    const meta: Meta = {
      date: new Date().toISOString(),
      node: process.version,
      ioredis: (require('ioredis/package.json') as { version: string }).version,
      nodeRedis: (require('@redis/client/package.json') as { version: string }).version,
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
      warmupOps: warmupOps(QUICK),
    }
    const env: HitsMissesEnv = { runId: Date.now().toString(36), raw, cw, nrRaw, nrCw, value, json }

    log(`redis-server ${meta.redisServer} on ${server.url}; running ${cases.length} cases...`)
    const results: CaseResult[] = await runHitsMisses(env, cases, { quick: QUICK, log })
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
    let l1: L1Result | undefined
    if (only === undefined || only === 'l1') {
      log('l1...')
      l1 = await runL1({ ...sectionEnv, value, json })
    }
    let bigValues: BigValuesResult | undefined
    if (only === undefined || only === 'big-values') {
      log('big-values...')
      bigValues = await runBigValues(sectionEnv)
    }
    let batches: BatchesResult | undefined
    if (only === undefined || only === 'batches') {
      log('batches...')
      batches = await runBatches({ ...sectionEnv, value, json })
    }

    const anomalies = [
      ...results.flatMap((r) => r.anomalies.map((a) => `${r.label}: ${a}`)),
      ...(stampede?.anomalies.map((a) => `stampede: ${a}`) ?? []),
      ...(invalidation?.anomalies ?? []),
      ...(peers?.anomalies ?? []),
      ...(metrics?.anomalies ?? []),
      ...(l1?.anomalies ?? []),
      ...(bigValues?.anomalies ?? []),
      ...(batches?.anomalies.map((a) => `batches: ${a}`) ?? []),
    ]
    const out = ['', header(meta, results.length > 0)]
    if (results.length > 0) out.push('', formatHitsMisses(results))
    if (stampede) out.push('', formatStampede(stampede))
    if (invalidation) out.push('', formatInvalidation(invalidation))
    if (peers) out.push('', formatPeers(peers))
    if (metrics) out.push('', formatMetrics(metrics))
    if (l1) out.push('', formatL1(l1))
    if (bigValues) out.push('', formatBigValues(bigValues))
    if (batches) out.push('', formatBatches(batches))
    out.push(
      '',
      anomalies.length === 0
        ? `checks: ${[
            results.length > 0 && 'every hit was a hit, every miss loaded once and stored one key, no backend errors',
            stampede && 'every stampede caller got the loaded value, loads counted alike by counter and processes',
            invalidation && 'invalidated entries are misses, others untouched, every hit a hit',
            peers && 'every peer hit loaded nothing, every peer miss loaded once and stored, stampede values right',
            metrics && 'metrics on/off: no hit loaded, no backend errors',
            l1 && 'l1: every timed hit came from the tier, every process dropped every invalidated key',
            bigValues && 'big values: every hit returned the value without loading, nothing oversized, no errors',
            batches && 'batches: every timed batch answered the cached values and loaded nothing',
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
      ...(l1 ? { l1 } : {}),
      ...(bigValues ? { bigValues } : {}),
      ...(batches ? { batches } : {}),
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
    await Promise.all(nodeRedisClients.map((c) => c.close().catch(() => c.destroy())))
    await server?.stop()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})

/**
 * One app process of the clock-skew checker (test/integration/clock-skew.test.ts), usually started under
 * `faketime -f +2s` (or `-2s`) with FAKETIME_DONT_FAKE_MONOTONIC=1: its wall clock (`Date.now()`) is off, its
 * monotonic clock is the machine's. It runs the consistency checker's workload (test/support/consistency.ts) on a
 * cache client of its own, with the source of truth in a Redis every process shares (a counter per row, read and
 * incremented like the checker's SQL rows), and prints its history with every time moved onto the machine's
 * monotonic clock, so the parent can merge the histories of all processes and verify them as one.
 *
 *   node --import tsx test/support/skew-worker.ts <json settings>
 */
import { createCluster } from '@redis/client'
import { Cluster, Redis } from 'ioredis'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import type { CacheAdapter } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { type History, runWorkload, type SqlDatabase } from './consistency.js'

export interface SkewWorkerSettings {
  /** The cache's backend: a cluster through ioredis or node-redis, or a standalone server through ioredis. */
  backend: 'cluster' | 'node-redis-cluster' | 'redis'
  clusterNodes: { host: string; port: number }[]
  /** The standalone server the cache uses when `backend` is 'redis'. */
  redisUrl: string
  /** Where the rows live (a server on the machine's clock, shared by every process). */
  dbUrl: string
  namespace: string
  ops: number
  seed: number
  loadBase: number
  /** Cache options for freshness: short windows make stale hits and refreshes frequent. */
  ttl: number
  staleWhileRevalidate: number
}

export interface SkewWorkerReport {
  history: History
  /** `Date.now()` minus the monotonic clock (ms) in this process: the parent compares it with its own. */
  wallMinusMonotonic: number
  metrics: { hits: number; staleHits: number; misses: number; loads: number; errors: number }
}

const settings = JSON.parse(process.argv[2] ?? '{}') as SkewWorkerSettings
const monotonic = () => Number(process.hrtime.bigint()) / 1e6

const rows = new Redis(settings.dbUrl, { maxRetriesPerRequest: 1 })
const row = (id: unknown) => `${settings.namespace}:db:${Number(id)}`
/** The three statements the workload sends, over counters: a row's version only grows, as in SQL. */
const db: SqlDatabase = {
  async query<R>(sql: string, params: unknown[] = []): Promise<{ rows: R[] }> {
    if (sql.startsWith('SELECT version FROM items WHERE id = $1')) {
      return { rows: [{ version: Number((await rows.get(row(params[0]))) ?? 0) }] as R[] }
    }
    if (sql.startsWith('UPDATE items SET version = version + 1')) {
      return { rows: [{ version: await rows.incr(row(params[0])) }] as R[] }
    }
    if (sql.startsWith('SELECT id, version FROM items WHERE id = ANY')) {
      const ids = [...(params[0] as number[])].sort((a, b) => a - b)
      const versions = await rows.mget(...ids.map(row))
      return { rows: ids.map((id, i) => ({ id, version: Number(versions[i] ?? 0) })) as R[] }
    }
    throw new Error(`skew worker: unexpected statement ${sql}`)
  },
}

function adapter(): CacheAdapter {
  if (settings.backend === 'redis') return ioredisAdapter(new Redis(settings.redisUrl, { maxRetriesPerRequest: 1 }))
  if (settings.backend === 'cluster') {
    return ioredisAdapter(new Cluster(settings.clusterNodes, { redisOptions: { maxRetriesPerRequest: 1 } }))
  }
  const client = createCluster({
    rootNodes: settings.clusterNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
  })
  client.on('error', () => {})
  void client.connect()
  return nodeRedisAdapter(client)
}

async function main() {
  const cache = createCacheClient({
    adapter: adapter(),
    namespace: settings.namespace,
    ttl: settings.ttl,
    staleWhileRevalidate: settings.staleWhileRevalidate,
  })
  const history = await runWorkload({
    db,
    caches: [cache],
    ops: settings.ops,
    seed: settings.seed,
    loadBase: settings.loadBase,
    readers: 6,
    writers: 2,
  })
  // performance.now() counts from this process's start; the monotonic clock is the machine's, the same in every
  // process (faketime leaves it alone with FAKETIME_DONT_FAKE_MONOTONIC=1).
  const shift = monotonic() - performance.now()
  for (const r of history.reads) {
    r.start += shift
    r.end += shift
  }
  for (const l of history.loads) {
    l.start += shift
    l.queried += shift
    l.end += shift
  }
  for (const i of history.invalidations) {
    i.start += shift
    i.end += shift
  }
  const m = cache.metrics()
  const report: SkewWorkerReport = {
    history,
    wallMinusMonotonic: Date.now() - monotonic(),
    metrics: { hits: m.hits, staleHits: m.staleHits, misses: m.misses, loads: m.loads, errors: m.errors },
  }
  await cache.close()
  // Exit only once the report is flushed: a pipe's writes are asynchronous, and it runs to hundreds of kB.
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0))
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})

/**
 * The consistency checker (test/support/consistency.ts) on every backend: PGlite behind the cache, 16
 * readers and 4 writers sharing 3 clients of one namespace (3 "processes", so calls also share in-process
 * flights), slow loaders, invalidation by
 * key, tag, group tag and pattern, then a check of the recorded history: no read that starts after an
 * invalidation resolved returns a version older than the one committed before that invalidation began.
 *
 * CONSISTENCY_SEED replays a run's choices; CONSISTENCY_OPS changes its length (10,000 by default);
 * CONSISTENCY_CLIENTS=separate gives every reader and writer a client of its own instead (see `check`).
 */
import { PGlite } from '@electric-sql/pglite'
import { createClient } from '@redis/client'
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import {
  describeViolations,
  type History,
  INVALIDATION_KINDS,
  type InvalidationRecord,
  type LoadRecord,
  prepareDatabase,
  randomSeed,
  runWorkload,
  unfencedCache,
  type Verdict,
  verify,
} from '../support/consistency.js'
import { keygen } from '../support/keygen.js'

const OPS = Number(process.env.CONSISTENCY_OPS ?? 10_000)
const SEED = process.env.CONSISTENCY_SEED === undefined ? randomSeed() : Number(process.env.CONSISTENCY_SEED)
const IDS = 20
const READERS = 16
const WRITERS = 4
/** Short enough that entries go stale between invalidations, so stale hits and background refreshes are frequent. */
const SWR_TTL = 30
// A guard against hangs, not a timing assertion: Upstash runs ~25,000 HTTP requests and took 35 s in CI on
// 2 cores, past 60 s when other suites ran beside it.
const RUN_TIMEOUT = 180_000
const SHARED = process.env.CONSISTENCY_CLIENTS !== 'separate'

const namespace = keygen('consistency')
const connections: Array<{ quit(): Promise<unknown> }> = []
const clients: CacheClient[] = []
let db: PGlite

beforeAll(async () => {
  db = await PGlite.create()
  await prepareDatabase(db, IDS)
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await Promise.all(connections.map((c) => c.quit()))
  await db?.close()
})

/** `count` adapters on one backend, each with its own connection, as that many processes would have. */
const backends: Record<string, (count: number) => CacheAdapter[]> = {
  memory: (count) => {
    const shared = memoryAdapter({ maxEntries: 10_000 })
    return Array.from({ length: count }, () => shared)
  },
  'redis-server': (count) =>
    Array.from({ length: count }, () => {
      const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
      connections.push(redis)
      return ioredisAdapter(redis)
    }),
  'redis-server (node-redis)': (count) =>
    Array.from({ length: count }, () => {
      const client = createClient({ url: inject('redisUrl') })
      client.on('error', () => {})
      void client.connect()
      connections.push({ quit: () => client.close() })
      return nodeRedisAdapter(client)
    }),
  'redis cluster': (count) =>
    Array.from({ length: count }, () => {
      const cluster = new Cluster(inject('clusterNodes'), { redisOptions: { maxRetriesPerRequest: 1 } })
      connections.push(cluster)
      return ioredisAdapter(cluster)
    }),
  upstash: (count) =>
    Array.from({ length: count }, () =>
      upstashAdapter(new Upstash({ url: inject('upstashUrl'), token: inject('upstashToken'), enableTelemetry: false })),
    ),
}

function makeClients(backend: string, count: number, options: CacheClientOptions = {}) {
  const ns = namespace()
  return backends[backend]!(count).map((adapter) => {
    const cache = createCacheClient({ adapter, namespace: ns, ...options })
    clients.push(cache)
    return cache
  })
}

/**
 * Runs the workload with one client per worker: every reader and writer is its own process, so every
 * race between processes is in play. Calls overlapping inside one client are left out because of the
 * known gap pinned at the end of this file. With CONSISTENCY_CLIENTS=shared, 3 clients shared at random
 * instead: that is how the gap was found (11 to 26 violations in every 10,000-operation run on every
 * backend); once it is closed, make that the default.
 */
async function check(backend: string, options: CacheClientOptions, ops = OPS, batchShare = 0) {
  // lockWait bounds a stall found on the way (a waiter polls for all of lockWait when the holder of an entry
  // invalidated by tag gives up its load); waiting less only means more loads run without the lock, fenced
  // all the same.
  const caches = makeClients(backend, SHARED ? 3 : READERS + WRITERS, { ...options })
  const history = await runWorkload({
    db,
    caches,
    clients: SHARED ? 'random' : 'pinned',
    readers: READERS,
    writers: WRITERS,
    ops,
    seed: SEED,
    ids: IDS,
    batchShare,
  })
  const verdict = verify(history)
  const totals = { hits: 0, staleHits: 0, misses: 0, loads: 0, errors: 0 }
  for (const cache of caches) {
    const m = cache.metrics()
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += m[k]
  }
  console.log(summary(`${backend}${SHARED ? ' (3 shared clients)' : ''}`, options, history, verdict, totals))
  return { history, verdict, totals, ops }
}

function summary(
  backend: string,
  options: CacheClientOptions,
  history: History,
  verdict: Verdict,
  m: { hits: number; staleHits: number; misses: number; loads: number; errors: number },
) {
  const reads = history.reads.length
  const plain = history.reads.filter((r) => r.kind === 'get').length
  const kinds = INVALIDATION_KINDS.map((k) => `${k} ${count(history.invalidations, k)}`).join(', ')
  const variant = options.staleWhileRevalidate === undefined ? '' : ' swr'
  return (
    `consistency ${backend}${variant}: seed ${history.seed}, ${history.ops} ops, ${reads} reads ` +
    `(${plain} get), hits ${m.hits} (${pct(m.hits, reads)}), stale ${m.staleHits}, loads ${m.loads}, ` +
    `invalidations ${history.invalidations.length} (${kinds}), raced loads ${verdict.racedLoads}, ` +
    `checked reads ${verdict.checkedReads}, violations ${verdict.violations.length}, ` +
    `backend errors ${m.errors}, slowest read ${slowest(history).toFixed(0)} ms, ${(history.durationMs / 1000).toFixed(1)} s`
  )
}

const slowest = (history: History) => Math.max(0, ...history.reads.map((r) => r.end - r.start))
const count = (invalidations: InvalidationRecord[], kind: string) => invalidations.filter((i) => i.kind === kind).length
const pct = (part: number, whole: number) => `${whole === 0 ? 0 : Math.round((100 * part) / whole)}%`

/** The run was meaningful, not just clean: enough work, every kind of invalidation, hits, and real races. */
function expectMeaningful({ history, verdict, totals, ops }: Awaited<ReturnType<typeof check>>) {
  expect(history.failures).toEqual([])
  expect(history.ops).toBeGreaterThanOrEqual(ops)
  for (const kind of INVALIDATION_KINDS) expect(count(history.invalidations, kind), kind).toBeGreaterThan(0)
  expect(totals.hits + totals.staleHits).toBeGreaterThan(0.2 * history.reads.length)
  expect(totals.loads).toBeGreaterThan(history.invalidations.length / 4)
  expect(verdict.checkedReads).toBeGreaterThan(history.reads.length / 2)
  expect(verdict.racedLoads).toBeGreaterThan(0)
}

describe('consistency checker', () => {
  it('flags a read that returned a version older than an invalidation that resolved before it started', () => {
    const invalidation: InvalidationRecord = {
      kind: 'delete',
      target: 'item:1',
      client: 0,
      ids: [1],
      floors: [5],
      start: 10,
      end: 12,
    }
    const load: LoadRecord = { load: 1, client: 1, id: 1, version: 4, start: 0, queried: 1, end: 20 }
    const history: History = {
      seed: 0,
      ops: 4,
      loads: [load, { ...load, load: 2, version: 5, start: 13, queried: 14, end: 15 }],
      invalidations: [invalidation],
      reads: [
        // Overlaps the invalidation: may return either version.
        { kind: 'getOrSet', client: 1, id: 1, value: { id: 1, version: 4, load: 1 }, start: 11, end: 21 },
        // Starts after it resolved: must return 5 or later.
        { kind: 'getOrSet', client: 1, id: 1, value: { id: 1, version: 5, load: 2 }, start: 13, end: 16 },
        { kind: 'getOrSet', client: 1, id: 1, value: { id: 1, version: 4, load: 1 }, start: 13, end: 21 },
        { kind: 'get', client: 2, id: 1, value: undefined, start: 30, end: 31 },
      ],
      failures: [],
      durationMs: 31,
    }
    const verdict = verify(history)
    expect(verdict.violations).toHaveLength(1)
    expect(verdict.violations[0]).toMatchObject({ read: { start: 13, end: 21 }, floor: 5, served: { load: 1 } })
    expect(verdict.checkedReads).toBe(2)
    expect(verdict.racedLoads).toBe(1)
  })

  it('catches the stale write-back of a cache-aside that has no write fence (negative control)', async () => {
    const history = await runWorkload({ db, caches: [unfencedCache()], ops: 2_000, seed: SEED, ids: IDS })
    const verdict = verify(history)
    console.log(
      `consistency unfenced control: seed ${history.seed}, ${history.ops} ops, raced loads ${verdict.racedLoads}, ` +
        `violations ${verdict.violations.length}, ${(history.durationMs / 1000).toFixed(1)} s`,
    )
    expect(verdict.racedLoads).toBeGreaterThan(0)
    expect(verdict.violations.length).toBeGreaterThan(0)
  })
})

describe('no read returns a value older than an invalidation that resolved before it started', () => {
  it.each(Object.keys(backends))(
    '%s: across many clients, with slow loaders and invalidation by key, tag, group tag and pattern',
    async (backend) => {
      const run = await check(backend, { ttl: '1m' })
      expect(run.verdict.violations.length, describeViolations(run.verdict, run.history)).toBe(0)
      expectMeaningful(run)
    },
    RUN_TIMEOUT,
  )

  // Stale values may be served; values invalidated before the read began may not (cacheward never serves an
  // invalidated entry stale). Half the operations: the main run above already covered these backends.
  it.each(['memory', 'redis-server', 'redis-server (node-redis)'])(
    '%s: also while stale values are served and refreshed in the background (staleWhileRevalidate)',
    async (backend) => {
      const run = await check(backend, { ttl: SWR_TTL, staleWhileRevalidate: '1m' }, Math.ceil(OPS / 2))
      expect(run.verdict.violations.length, describeViolations(run.verdict, run.history)).toBe(0)
      expectMeaningful(run)
      expect(run.totals.staleHits).toBeGreaterThan(0.005 * run.history.reads.length)
    },
    RUN_TIMEOUT,
  )
})

// Batches keep every per-key guarantee: a third of the reads are getOrSetMany over 2-3 ids of one group, beside
// single-key reads of the same ids. Half the operations: the main run above already covered these backends.
describe('batch reads too: no key of a getOrSetMany returns a value older than an invalidation before it', () => {
  it.each(['memory', 'redis-server', 'redis cluster'])(
    '%s: getOrSetMany beside getOrSet and get, invalidation by key, tag, group tag and pattern',
    async (backend) => {
      const run = await check(backend, { ttl: '1m' }, Math.ceil(OPS / 2), 0.33)
      expect(run.verdict.violations.length, describeViolations(run.verdict, run.history)).toBe(0)
      expectMeaningful(run)
      expect(run.history.reads.filter((r) => r.kind === 'getOrSetMany').length).toBeGreaterThan(
        0.2 * run.history.reads.length,
      )
    },
    RUN_TIMEOUT,
  )
})

/** A promise the test resolves by hand, to hold a loader or a reply mid-flight. */
function gate() {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

type Invalidate = (cache: CacheClient, id: string) => Promise<unknown>
const invalidations: Record<string, Invalidate> = {
  delete: (cache, id) => cache.delete(`item:${id}`),
  invalidateTags: (cache, id) => cache.invalidateTags([`item:${id}`]),
  invalidatePattern: (cache, id) => cache.invalidatePattern(`item:${id}`),
}

// Found by the checker above with shared clients, on every backend, and fixed: single-flight let a call
// that started after an invalidation resolved share a load (or a read) that began before it. A flight is now
// joinable only in the tick that created it, and never once its load has started.
describe('a call that starts after an invalidation resolved never shares a flight that began before it', () => {
  it.each(Object.keys(backends))(
    '%s: a getOrSet after delete, invalidateTags or invalidatePattern resolved returns the new row [C5, C6]',
    async (backend) => {
      const got: Record<string, number> = {}
      const [a, b] = makeClients(backend, 2) as [CacheClient, CacheClient]
      for (const [how, invalidate] of Object.entries(invalidations)) {
        for (const [via, invalidator] of [
          ['same client', a],
          ['other client', b],
        ] as const) {
          const id = `${how}-${via.replace(' ', '-')}`
          let row = 1
          const inLoader = gate()
          const dbRead = gate()
          const tags = [`item:${id}`]
          // Request 1 misses and reads version 1; it is still loading.
          const first = a.getOrSet(
            `item:${id}`,
            async () => {
              const version = row
              inLoader.open()
              await dbRead.promise
              return version
            },
            { tags },
          )
          await inLoader.promise
          // Request 2 writes version 2 and invalidates; the invalidation resolves.
          row = 2
          await invalidate(invalidator, id)
          // Request 3 starts afterwards, on the client that is still loading.
          const third = a.getOrSet(`item:${id}`, async () => row, { tags })
          dbRead.open()
          await first
          got[`${how} via ${via}`] = await third
        }
      }
      expect(got).toEqual(Object.fromEntries(Object.keys(got).map((k) => [k, 2])))
    },
  )

  it('memory: a getOrSet after delete resolved does not share a read that ran before it', async () => {
    const store = memoryAdapter()
    let hold: Promise<void> | undefined
    // The read runs on the backend at once; its reply arrives when the test says (a slow network).
    const slowReplies: CacheAdapter = {
      ...store,
      read: async (key, lock) => {
        const reply = await store.read(key, lock)
        await hold
        return reply
      },
    }
    const ns = namespace()
    const a = createCacheClient({ adapter: slowReplies, namespace: ns })
    const b = createCacheClient({ adapter: store, namespace: ns })
    clients.push(a, b)
    let row = 1
    await a.getOrSet('item:1', async () => row)
    const reply = gate()
    hold = reply.promise
    const first = a.getOrSet('item:1', async () => row) // its read has run: it saw version 1
    await new Promise((r) => setTimeout(r, 5))
    row = 2
    await b.delete('item:1')
    hold = undefined
    const second = a.getOrSet('item:1', async () => row) // starts after the delete resolved
    reply.open()
    await first
    expect(await second).toBe(2)
  })
})

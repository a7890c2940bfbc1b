/**
 * Clocks that disagree (RELIABILITY C8): cluster masters whose wall clocks are 2 s behind, right and 2 s ahead (an
 * LD_PRELOAD shim, test/support/clock-skew.ts: Debian's libfaketime cannot start redis-server), a standalone server
 * 2 s ahead, and app processes run under `faketime -f ±2s`. What a user checks:
 * - freshness is judged on the clock of the master that holds the entry: an entry past its `ttl` is served stale and
 *   refreshed, whichever master the client heard from last; `set()` is not refused as late because another master's
 *   clock is behind; a load that tags itself (`ctx.setTags`) is judged against its tags' stamps on their master's clock,
 *   so an invalidation during it keeps it out of the cache, and a master behind the tags' one still stores it;
 * - across app processes with skewed clocks, the consistency checker finds no read that returns a value older than an
 *   invalidation that resolved before it started, with short `ttl` and `staleWhileRevalidate` so stale hits and
 *   background refreshes are frequent.
 */
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createCluster } from '@redis/client'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { clusterSlot } from '../../src/adapters/redis-wire.js'
import type { CacheAdapter, CacheClient, CacheClientOptions } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { skewedClock } from '../support/clock-skew.js'
import { describeViolations, type History, randomSeed, verify } from '../support/consistency.js'
import { keygen } from '../support/keygen.js'
import {
  type RedisCluster,
  type RedisServer,
  slotOwners,
  startRedisCluster,
  startRedisServer,
} from '../support/redis-server.js'
import type { SkewWorkerReport, SkewWorkerSettings } from '../support/skew-worker.js'

const WORKER = fileURLToPath(new URL('../support/skew-worker.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** Wall clocks of the masters, in the order created: 2 s behind, right, 2 s ahead. */
const MASTER_SKEWS = [-2_000, 0, 2_000]
const SEED = process.env.CONSISTENCY_SEED === undefined ? randomSeed() : Number(process.env.CONSISTENCY_SEED)
const ns = keygen('c8')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const monotonic = () => Number(process.hrtime.bigint()) / 1e6

let cluster: RedisCluster
let ahead: RedisServer
const closers: Array<() => unknown> = []

beforeAll(async () => {
  if ((spawnSync('faketime', ['--version']).error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('faketime not found on PATH: install it (apt-get install -y faketime)')
  }
  ;[cluster, ahead] = await Promise.all([
    startRedisCluster({ env: (i) => skewedClock(MASTER_SKEWS[i]!) }),
    startRedisServer({ env: skewedClock(2_000) }),
  ])
}, 60_000)

afterAll(async () => {
  for (const close of closers.reverse()) await close()
  await cluster?.stop()
  await ahead?.stop()
})

/** A server's wall clock minus this process's (ms), from its TIME reply. */
async function serverSkew(port: number): Promise<number> {
  const redis = new Redis({ port, maxRetriesPerRequest: 1 })
  await redis.ping()
  const before = Date.now()
  const reply = (await redis.call('TIME')) as [string, string]
  const after = Date.now()
  redis.disconnect()
  const server = Number(reply[0]) * 1000 + Number(reply[1]) / 1000
  return server - (before + after) / 2
}

describe('the clocks are really skewed (preconditions)', () => {
  it('a node process under faketime sees Date.now() moved by ±2 s while its monotonic clock stays the machine’s [C8]', () => {
    const probe = 'process.stdout.write(String(Date.now() - Number(process.hrtime.bigint()) / 1e6))'
    const mine = Date.now() - monotonic()
    for (const [offset, expected] of [
      ['+2s', 2_000],
      ['-2s', -2_000],
    ] as const) {
      const out = spawnSync('faketime', ['-f', offset, process.execPath, '-e', probe], {
        env: { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
        encoding: 'utf8',
      })
      expect(out.status, out.stderr).toBe(0)
      expect(Math.abs(Number(out.stdout) - mine - expected)).toBeLessThan(250)
    }
  })

  it('the masters answer TIME 2 s behind, right and 2 s ahead; the standalone server 2 s ahead [C8]', async () => {
    const skews = await Promise.all([...cluster.servers.map((s) => serverSkew(s.port)), serverSkew(ahead.port)])
    for (const [i, expected] of [...MASTER_SKEWS, 2_000].entries()) {
      expect(Math.abs(skews[i]! - expected), `server ${i}: ${skews[i]}`).toBeLessThan(250)
    }
  })
})

type ClientKind = 'ioredis' | 'node-redis'

function adapter(kind: ClientKind): CacheAdapter {
  if (kind === 'ioredis') {
    const client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
    closers.push(() => client.disconnect())
    return ioredisAdapter(client)
  }
  const client = createCluster({
    rootNodes: cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
  })
  client.on('error', () => {})
  void client.connect()
  closers.push(() => client.destroy())
  return nodeRedisAdapter(client)
}

function cacheOn(kind: ClientKind, options: CacheClientOptions): CacheClient {
  const cache = createCacheClient({ adapter: adapter(kind), ...options })
  closers.push(() => cache.close())
  return cache
}

/** Logical keys of `namespace` whose entries live on master `index`. */
async function keysOn(namespace: string, index: number, count: number): Promise<string[]> {
  const owner = await slotOwners(cluster.servers[1]!.port)
  const port = cluster.servers[index]!.port
  const keys: string[] = []
  for (let i = 0; keys.length < count; i++) if (owner(clusterSlot(`${namespace}:k${i}`)) === port) keys.push(`k${i}`)
  return keys
}

describe.each([
  ['ioredis', false],
  ['ioredis', true],
  ['node-redis', false],
] as const)('cluster masters 4 s apart, %s (l1 %s)', (kind, l1) => {
  /**
   * A client with a 1 s ttl over keys on the masters 2 s ahead and 2 s behind, recording what it served; with l1,
   * once the tier's subscription is confirmed (the tier fills only then: the tests' second read must fill it).
   */
  async function aheadAndBehind() {
    const namespace = ns()
    const [[onAhead], [onBehind]] = await Promise.all([keysOn(namespace, 2, 1), keysOn(namespace, 0, 1)])
    const cache = cacheOn(kind, { namespace, ttl: 1_000, staleWhileRevalidate: '10s', ...(l1 ? { l1: true } : {}) })
    const served: string[] = []
    cache.on('hit', (e) => served.push(`hit ${e.key}`))
    cache.on('stale-hit', (e) => served.push(`stale ${e.key}`))
    cache.on('miss', (e) => served.push(`miss ${e.key}`))
    if (l1) {
      await cache.has(onBehind as string)
      const until = performance.now() + 5_000
      while (cache.metrics().l1?.live !== true && performance.now() < until) await sleep(5)
    }
    return { cache, served, onAhead: onAhead as string, onBehind: onBehind as string }
  }

  it('an entry past its ttl on the master 2 s ahead is served stale and refreshed, after a reply from the master 2 s behind [C8]', async () => {
    const { cache, served, onAhead, onBehind } = await aheadAndBehind()
    let loads = 0
    const loader = (value: string) => async () => {
      loads++
      return value
    }
    expect(await cache.getOrSet(onAhead!, loader('v1'))).toBe('v1')
    expect(await cache.getOrSet(onAhead!, loader('unused'))).toBe('v1')
    // The last reply the client learned a clock from is the behind master's, 4 s behind the entry's.
    await sleep(1_200)
    await cache.getOrSet(onBehind!, loader('b'))
    expect(await cache.getOrSet(onAhead!, loader('v2'))).toBe('v1')
    expect(served.filter((s) => s.endsWith(onAhead!))).toEqual([
      `miss ${onAhead}`,
      `hit ${onAhead}`,
      `stale ${onAhead}`,
    ])
    // The background refresh lands: the next reads get its value.
    const deadline = performance.now() + 3_000
    while ((await cache.getOrSet(onAhead!, loader('v3'))) !== 'v2' && performance.now() < deadline) await sleep(20)
    expect(await cache.getOrSet(onAhead!, loader('v3'))).toBe('v2')
    expect(loads).toBe(3) // v1, b, v2
  }, 20_000)

  it('getOrSetMany: an entry past its ttl on the master 2 s ahead is served stale, after a reply from the master 2 s behind [C8]', async () => {
    const { cache, served, onAhead, onBehind } = await aheadAndBehind()
    const loadMany = (value: string) => async (keys: string[]) => keys.map(() => value)
    expect(await cache.getOrSetMany([onAhead!], loadMany('v1'))).toEqual(['v1'])
    expect(await cache.getOrSetMany([onAhead!], loadMany('unused'))).toEqual(['v1'])
    // The last reply the client learned a clock from is the behind master's, 4 s behind the entry's.
    await sleep(1_200)
    await cache.getOrSet(onBehind!, async () => 'b')
    // Judged on the behind master's clock, the entry would still look fresh for almost 3 s.
    expect(await cache.getOrSetMany([onAhead!], loadMany('v2'))).toEqual(['v1'])
    expect(served.filter((s) => s.endsWith(onAhead!))).toEqual([
      `miss ${onAhead}`,
      `hit ${onAhead}`,
      `stale ${onAhead}`,
    ])
  }, 20_000)

  /** A namespace whose tag records live on master `tagMaster`, one of its keys on master `entryMaster`, two clients. */
  async function tagsApart(tagMaster: number, entryMaster: number) {
    const owner = await slotOwners(cluster.servers[1]!.port)
    let namespace = ns()
    while (owner(clusterSlot(`{${namespace}:tags}:t`)) !== cluster.servers[tagMaster]!.port) namespace = ns()
    const [key] = await keysOn(namespace, entryMaster, 1)
    const cache = cacheOn(kind, { namespace, ...(l1 ? { l1: true } : {}) })
    const other = cacheOn(kind, { namespace })
    // The tag's record exists: a first load carrying it creates it (and is itself not stored).
    await cache.getOrSet('warm', async (ctx) => {
      ctx.setTags(['t'])
      return 'w'
    })
    await sleep(20)
    return { cache, other, key: key as string }
  }

  it('a load on the master 2 s ahead that tags itself (ctx.setTags), invalidated meanwhile on the tags’ master 2 s behind, is not stored [C8]', async () => {
    const { cache, other, key } = await tagsApart(0, 2)
    const served = await cache.getOrSet(key, async (ctx) => {
      ctx.setTags(['t'])
      const read = 'old' // what the database held when the load began
      await other.invalidateTags(['t'])
      return read
    })
    expect(served).toBe('old')
    expect(await cache.get(key)).toBeUndefined()
    expect(await other.get(key)).toBeUndefined()
    const fresh = async (ctx: { setTags(tags: string[]): void }) => {
      ctx.setTags(['t'])
      return 'new'
    }
    expect(await cache.getOrSet(key, fresh)).toBe('new')
  }, 20_000)

  it('a load on the master 2 s behind that tags itself (ctx.setTags) is stored, though the tags’ master is 2 s ahead [C8]', async () => {
    const { cache, key } = await tagsApart(2, 0)
    let loads = 0
    const load = async (ctx: { setTags(tags: string[]): void }) => {
      loads++
      ctx.setTags(['t'])
      return 'v'
    }
    expect(await cache.getOrSet(key, load)).toBe('v')
    expect(await cache.getOrSet(key, load)).toBe('v')
    expect(loads).toBe(1)
  }, 20_000)

  it('set() to the master 2 s ahead, when the client has heard only from the master 2 s behind, is stored, not refused as late [C8]', async () => {
    const namespace = ns()
    const [[onAhead, onAhead2], [onBehind]] = await Promise.all([keysOn(namespace, 2, 2), keysOn(namespace, 0, 1)])
    const cache = cacheOn(kind, { namespace, ...(l1 ? { l1: true } : {}) })
    // The first reply comes from the master behind: the one ahead has not been heard from yet.
    await cache.getOrSet(onBehind!, async () => 'b')
    await cache.set(onAhead!, 'first')
    // The last reply again from the master behind; the tags' master may be a third one.
    await cache.getOrSet(onBehind!, async () => 'b')
    await cache.set(onAhead2!, 'second', { tags: ['t'] })
    expect(await cache.get(onAhead!)).toBe('first')
    expect(await cache.get(onAhead2!)).toBe('second')
  }, 20_000)
})

function runWorker(settings: SkewWorkerSettings, offset: '+2s' | '-2s' | undefined): Promise<SkewWorkerReport> {
  const node = [process.execPath, '--import', 'tsx', WORKER, JSON.stringify(settings)]
  const [command, ...args] = offset ? ['faketime', '-f', offset, ...node] : node
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8')
    })
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8')
    })
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${err.slice(-2000)}`))
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as SkewWorkerReport)
      } catch (error) {
        reject(new Error(`worker report unreadable: ${String(error)}\n${err.slice(-2000)}`))
      }
    })
  })
}

const OFFSETS = ['-2s', undefined, '+2s'] as const

describe('app processes 2 s behind, right and 2 s ahead, one consistency history', () => {
  it.each([
    ['the cluster with masters 4 s apart (ioredis)', 'cluster'],
    ['the cluster with masters 4 s apart (node-redis)', 'node-redis-cluster'],
    ['a standalone server 2 s ahead', 'redis'],
  ] as const)(
    '%s: no read returns a value older than an invalidation that resolved before it started [C8]',
    async (_, backend) => {
      const namespace = ns()
      const mine = Date.now() - monotonic()
      const reports = await Promise.all(
        OFFSETS.map((offset, i) =>
          runWorker(
            {
              backend,
              clusterNodes: cluster.nodes,
              redisUrl: ahead.url,
              dbUrl: inject('redisUrl'),
              namespace,
              ops: 1_000,
              seed: SEED + i,
              loadBase: (i + 1) * 1_000_000,
              ttl: 40,
              staleWhileRevalidate: 60_000,
            },
            offset,
          ),
        ),
      )
      const history: History = {
        seed: SEED,
        ops: 0,
        reads: [],
        loads: [],
        invalidations: [],
        failures: [],
        durationMs: 0,
      }
      reports.forEach((report, i) => {
        const h = report.history
        history.ops += h.ops
        history.reads.push(...h.reads.map((r) => ({ ...r, client: i })))
        history.loads.push(...h.loads.map((l) => ({ ...l, client: i })))
        history.invalidations.push(...h.invalidations.map((v) => ({ ...v, client: i })))
        history.failures.push(...h.failures)
        history.durationMs = Math.max(history.durationMs, h.durationMs)
      })
      const verdict = verify(history)
      const skews = reports.map((r) => Math.round(r.wallMinusMonotonic - mine))
      const sum = (k: keyof SkewWorkerReport['metrics']) => reports.reduce((n, r) => n + r.metrics[k], 0)
      console.log(
        `C8 ${backend}: processes' wall clocks ${skews.map((s) => `${s >= 0 ? '+' : ''}${s} ms`).join(', ')}; seed ${SEED}, ` +
          `${history.ops} ops, ${history.reads.length} reads, hits ${sum('hits')}, stale ${sum('staleHits')}, ` +
          `loads ${sum('loads')}, invalidations ${history.invalidations.length}, raced loads ${verdict.racedLoads}, ` +
          `checked reads ${verdict.checkedReads}, violations ${verdict.violations.length}, backend errors ${sum('errors')}, ` +
          `${(history.durationMs / 1000).toFixed(1)} s`,
      )
      // The processes really ran skewed.
      for (const [i, expected] of [-2_000, 0, 2_000].entries()) expect(Math.abs(skews[i]! - expected)).toBeLessThan(250)
      expect(verdict.violations.length, describeViolations(verdict, history)).toBe(0)
      expect(history.failures).toEqual([])
      expect(sum('errors')).toBe(0)
      // Not vacuous: cross-process invalidations were checked, entries went stale and were refreshed, loads raced.
      expect(verdict.checkedReads).toBeGreaterThan(history.reads.length / 2)
      expect(sum('staleHits')).toBeGreaterThan(0)
      expect(sum('hits')).toBeGreaterThan(0)
      expect(verdict.racedLoads).toBeGreaterThan(0)
    },
    60_000,
  )
})

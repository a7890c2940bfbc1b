/**
 * Freshness, stampede protection and resilience, on the in-process store and on a real redis-server:
 * soft and hard load timeouts, error back-off, stale-while-revalidate with `waitUntil`, early refresh,
 * jitter, lock extension and take-over, and the circuit breaker. Two clients on one backend stand for
 * two processes. Durations are tens to hundreds of milliseconds; timing bounds are generous.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import { CacheLoadTimeoutError } from '../../src/errors.js'
import type { CacheAdapter, CacheClient, CacheClientOptions, CacheEventMap } from '../../src/index.js'
import { createCacheClient, isCachewardError } from '../../src/index.js'
import { chaosAdapter } from '../support/chaos-adapter.js'
import { keygen } from '../support/keygen.js'

interface Backend {
  name: string
  /** An adapter of its own on the backend, as another process would have. */
  adapter(): CacheAdapter
  /** Remaining backend expiry of a full key in ms. */
  pttl?(fullKey: string): Promise<number>
}

const connections: Redis[] = []
const connect = () => {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
  connections.push(redis)
  return redis
}
// One store for every client of the file: a second client is "another process" on the same backend.
const memory = memoryAdapter({ maxEntries: 100_000 })
let admin: Redis | undefined

const clusters: Cluster[] = []
const upstashUrl = inject('upstashUrl')
const upstashToken = inject('upstashToken')

const backends: Backend[] = [
  { name: 'memory', adapter: () => memory },
  {
    name: 'redis-server (ioredis 5)',
    adapter: () => ioredisAdapter(connect()),
    pttl: (key) => {
      admin ??= connect()
      return admin.pttl(key)
    },
  },
  {
    name: 'redis cluster (3 masters)',
    adapter: () => {
      const cluster = new Cluster(inject('clusterNodes'), { redisOptions: { maxRetriesPerRequest: 1 } })
      clusters.push(cluster)
      return ioredisAdapter(cluster)
    },
  },
  {
    name: 'upstash (REST)',
    adapter: () => upstashAdapter(new Upstash({ url: upstashUrl, token: upstashToken, enableTelemetry: false })),
  },
]

const clients: CacheClient[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await Promise.all(connections.map((c) => c.quit()))
  await Promise.all(clusters.map((c) => c.quit()))
})

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work
  return { value, ms: performance.now() - started }
}

/** A promise the test settles by hand, to hold a loader mid-flight. */
function gate<T>() {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(5)
  }
}

/** A loader that never settles unless its signal aborts (as a well-behaved loader does on close()). */
const hanging = (ctx: { signal: AbortSignal }) =>
  new Promise<never>((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
  })

const boom = () => {
  throw new Error('db down')
}

type Refresh = CacheEventMap['refresh']

describe.each(backends)('$name', (backend) => {
  const ns = keygen('resilience')
  const make = (options: CacheClientOptions = {}) => {
    const cache = createCacheClient({ adapter: backend.adapter(), namespace: ns(), ...options })
    clients.push(cache)
    return cache
  }
  /** Client and background tasks handed to its `waitUntil`, plus its `refresh` events. */
  const observed = (options: CacheClientOptions = {}) => {
    const tasks: Promise<unknown>[] = []
    const refreshes: Refresh[] = []
    const cache = make({ waitUntil: (task) => tasks.push(task), ...options })
    cache.on('refresh', (e) => refreshes.push(e))
    return { cache, tasks, refreshes }
  }

  describe('softTimeout', () => {
    it('serves the stale value at softTimeout while the slow load finishes in the background and stores its value', async () => {
      const namespace = ns()
      const { cache, tasks, refreshes } = observed({ namespace, ttl: 100, staleIfError: '10s', softTimeout: 60 })
      await cache.getOrSet('k', () => 'v1')
      await sleep(150)
      let calls = 0
      const slow = async () => {
        calls++
        await sleep(300)
        return 'v2'
      }
      const { value, ms } = await timed(cache.getOrSet('k', slow))
      expect(value).toBe('v1')
      expect(ms).toBeGreaterThanOrEqual(55)
      expect(ms).toBeLessThan(250)
      expect(tasks).toHaveLength(1)
      await Promise.all(tasks)
      expect(refreshes).toEqual([{ key: 'k', namespace, category: undefined, reason: 'soft-timeout' }])
      expect(calls).toBe(1)
      expect(cache.metrics()).toMatchObject({ hits: 0, staleHits: 1, misses: 1, loads: 2 })
      expect(await cache.get('k')).toBe('v2')
    })

    it('returns the loaded value when the load beats softTimeout', async () => {
      const { cache, tasks } = observed({ ttl: 100, staleIfError: '10s', softTimeout: 300 })
      await cache.getOrSet('k', () => 'v1')
      await sleep(150)
      const quick = async () => {
        await sleep(20)
        return 'v2'
      }
      expect(await cache.getOrSet('k', quick)).toBe('v2')
      expect(await cache.get('k')).toBe('v2')
      expect(tasks).toHaveLength(0)
    })

    it('does not cut a load short when there is no stale value to serve', async () => {
      const cache = make({ staleIfError: '10s', softTimeout: 30 })
      const slow = async () => {
        await sleep(150)
        return 'loaded'
      }
      const { value, ms } = await timed(cache.getOrSet('cold', slow))
      expect(value).toBe('loaded')
      expect(ms).toBeGreaterThanOrEqual(140)
    })

    it('gives a caller waiting on another process’s load the stale value at softTimeout, without calling its loader', async () => {
      const namespace = ns()
      const a = make({ namespace, ttl: 100, staleIfError: '10s' })
      const b = make({ namespace, ttl: 100, staleIfError: '10s', softTimeout: 80 })
      await a.getOrSet('k', () => 'v1')
      await sleep(150)
      const held = gate<string>()
      let aLoading = false
      const first = a.getOrSet('k', () => {
        aLoading = true
        return held.promise
      })
      await waitFor(() => aLoading, 'the first process to start loading')
      let bCalls = 0
      const { value, ms } = await timed(
        b.getOrSet('k', () => {
          bCalls++
          return 'b'
        }),
      )
      expect(value).toBe('v1')
      expect(ms).toBeGreaterThanOrEqual(70)
      expect(ms).toBeLessThan(400)
      expect(bCalls).toBe(0)
      held.open('v2')
      expect(await first).toBe('v2')
      expect(await b.get('k')).toBe('v2')
      expect(b.metrics()).toMatchObject({ staleHits: 1, loads: 0 })
    })
  })

  describe('hardTimeout', () => {
    it('aborts the loader’s signal and rejects with CacheLoadTimeoutError; nothing is stored and another process loads at once', async () => {
      const namespace = ns()
      const cache = make({ namespace, hardTimeout: 100 })
      let signal: AbortSignal | undefined
      const { value: error, ms } = await timed(
        cache
          .getOrSet('k', (ctx) => {
            signal = ctx.signal
            return hanging(ctx)
          })
          .catch((e: unknown) => e),
      )
      expect(error).toBeInstanceOf(CacheLoadTimeoutError)
      expect(error).toMatchObject({ code: 'CACHEWARD_LOAD_TIMEOUT', name: 'CacheLoadTimeoutError', key: 'k' })
      expect(isCachewardError(error)).toBe(true)
      expect(ms).toBeGreaterThanOrEqual(95)
      expect(ms).toBeLessThan(400)
      expect(signal?.aborted).toBe(true)
      expect(signal?.reason).toBe(error)
      expect(cache.metrics()).toMatchObject({ loads: 1, loadErrors: 1, misses: 1 })

      // The timed-out load let go of its lock: another process does not wait for it (lockWait is 5 s).
      const peer = make({ namespace })
      const loaded = await timed(peer.getOrSet('k', () => 'fresh'))
      expect(loaded.value).toBe('fresh')
      expect(loaded.ms).toBeLessThan(300)
    })

    it('stores nothing from a loader that ignores the abort and finishes late', async () => {
      const cache = make({ hardTimeout: 80 })
      const late = async () => {
        await sleep(200)
        return 'late'
      }
      await expect(cache.getOrSet('k', late)).rejects.toBeInstanceOf(CacheLoadTimeoutError)
      await sleep(250)
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.getOrSet('k', () => 'next', { hardTimeout: 0 })).toBe('next')
    })

    it('answers with the stale value inside staleIfError and counts a load error', async () => {
      const cache = make({ ttl: 100, staleIfError: '10s', hardTimeout: 80 })
      const loadErrors: unknown[] = []
      cache.on('load-error', (e) => loadErrors.push(e.error))
      await cache.getOrSet('k', () => 'v1')
      await sleep(150)
      const { value, ms } = await timed(cache.getOrSet('k', hanging))
      expect(value).toBe('v1')
      expect(ms).toBeGreaterThanOrEqual(75)
      expect(ms).toBeLessThan(400)
      expect(loadErrors).toHaveLength(1)
      expect(loadErrors[0]).toBeInstanceOf(CacheLoadTimeoutError)
      expect(cache.metrics()).toMatchObject({ staleHits: 1, loadErrors: 1 })
    })
  })

  describe('errorBackoff', () => {
    it('leaves a failing loader alone for errorBackoff after its failure was answered stale, then calls it again', async () => {
      const cache = make({ ttl: 50, staleIfError: '10s', errorBackoff: 300 })
      await cache.getOrSet('k', () => 'v1')
      await sleep(100)
      let calls = 0
      const failing = () => {
        calls++
        return boom()
      }
      expect(await cache.getOrSet('k', failing)).toBe('v1')
      expect(calls).toBe(1)
      for (let i = 0; i < 10; i++) expect(await cache.getOrSet('k', failing)).toBe('v1')
      expect(calls).toBe(1)
      expect(cache.metrics()).toMatchObject({ staleHits: 11, loadErrors: 1 })

      await sleep(350)
      expect(await cache.getOrSet('k', failing)).toBe('v1')
      expect(calls).toBe(2)
      await sleep(350)
      const recovered = () => {
        calls++
        return 'v2'
      }
      expect(await cache.getOrSet('k', recovered)).toBe('v2')
      expect(calls).toBe(3)
      expect(await cache.get('k')).toBe('v2')
    })

    it('defaults to 5 seconds', async () => {
      let now = Date.now()
      const cache = make({ ttl: 50, staleIfError: '10s', clock: { now: () => now } })
      await cache.getOrSet('k', () => 'v1')
      await sleep(100)
      let calls = 0
      const loader = (value: string | undefined) => () => {
        calls++
        return value ?? boom()
      }
      expect(await cache.getOrSet('k', loader(undefined))).toBe('v1')
      now += 4_900
      expect(await cache.getOrSet('k', loader('v2'))).toBe('v1')
      expect(calls).toBe(1)
      now += 200
      expect(await cache.getOrSet('k', loader('v2'))).toBe('v2')
      expect(calls).toBe(2)
    })

    it('holds back only the process that saw the failure, and never hides a fresh value another process stored', async () => {
      const namespace = ns()
      const options: CacheClientOptions = { namespace, ttl: 100, staleIfError: '10s', errorBackoff: '10s' }
      const a = make(options)
      const b = make(options)
      await a.getOrSet('k', () => 'v1')
      await sleep(150)
      let aCalls = 0
      const aFailing = () => {
        aCalls++
        return boom()
      }
      expect(await a.getOrSet('k', aFailing)).toBe('v1')
      let bCalls = 0
      expect(
        await b.getOrSet('k', () => {
          bCalls++
          return 'v2'
        }),
      ).toBe('v2')
      expect(bCalls).toBe(1)
      expect(await a.getOrSet('k', aFailing)).toBe('v2')
      expect(aCalls).toBe(1)
    })
  })

  describe('staleWhileRevalidate', () => {
    // Regression: the stale-while-revalidate branch started a new refresh on every request after a failed one,
    // ignoring the back-off that refresh had recorded (fixed in 883318c).
    it('leaves a failing loader alone for errorBackoff when its background refresh failed', async () => {
      const { cache, tasks } = observed({ ttl: 50, staleWhileRevalidate: '10s', errorBackoff: '5s' })
      await cache.getOrSet('k', () => 'v1')
      await sleep(100)
      let calls = 0
      const failing = () => {
        calls++
        return boom()
      }
      for (let i = 0; i < 5; i++) {
        expect(await cache.getOrSet('k', failing)).toBe('v1')
        await Promise.all(tasks)
      }
      expect(cache.metrics()).toMatchObject({ staleHits: 5, loadErrors: calls })
      expect(calls).toBe(1)
    })

    it('starts exactly one refresh when two processes serve a stale key, and waitUntil settles once it is stored', async () => {
      const namespace = ns()
      const options: CacheClientOptions = { namespace, ttl: 100, staleWhileRevalidate: '10s' }
      const a = observed(options)
      const b = observed(options)
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(calls === 1 ? 10 : 200)
        return calls
      }
      expect(await a.cache.getOrSet('k', loader)).toBe(1)
      await sleep(150)
      const { value, ms } = await timed(
        Promise.all([
          ...Array.from({ length: 20 }, () => a.cache.getOrSet('k', loader)),
          ...Array.from({ length: 20 }, () => b.cache.getOrSet('k', loader)),
        ]),
      )
      expect(new Set(value)).toEqual(new Set([1]))
      expect(ms).toBeLessThan(150)
      const tasks = [...a.tasks, ...b.tasks]
      expect(tasks).toHaveLength(1)
      await Promise.all(tasks)
      expect(calls).toBe(2)
      expect([...a.refreshes, ...b.refreshes]).toEqual([
        { key: 'k', namespace, category: undefined, reason: 'stale-while-revalidate' },
      ])
      expect(await a.cache.get('k')).toBe(2)
      expect(await b.cache.get('k')).toBe(2)
      expect(a.cache.metrics().staleHits + b.cache.metrics().staleHits).toBe(40)
    })
  })

  describe('earlyRefresh', () => {
    it('is off by default: hits right up to expiry never call the loader, however slow it was', async () => {
      const cache = make({ ttl: 400 })
      let calls = 0
      const slow = async () => {
        calls++
        await sleep(150)
        return calls
      }
      expect(await cache.getOrSet('k', slow)).toBe(1)
      // With earlyRefresh: true, each of these hits would start a refresh with probability up to ~0.5.
      const until = performance.now() + 330
      let hits = 0
      while (performance.now() < until) {
        expect(await cache.getOrSet('k', slow)).toBe(1)
        hits++
        await sleep(2)
      }
      expect(hits).toBeGreaterThan(20)
      expect(calls).toBe(1)
      expect(cache.metrics()).toMatchObject({ hits, loads: 1 })
    })

    it('starts one background refresh from a hit near expiry, which is still served at once', async () => {
      const { cache, tasks, refreshes } = observed({ ttl: 600, earlyRefresh: 2 })
      let calls = 0
      // The first load takes 100 ms (what XFetch weighs); the refresh 300 ms, so the hits below all land during it.
      const loader = async () => {
        calls++
        await sleep(calls === 1 ? 100 : 300)
        return calls
      }
      expect(await cache.getOrSet('k', loader)).toBe(1)
      // 150 ms before expiry, after a 100 ms load, with beta 2: each hit refreshes with probability ~0.47.
      await sleep(450)
      const { value, ms } = await timed(
        (async () => {
          const values: number[] = []
          for (let i = 0; i < 30; i++) values.push(await cache.getOrSet('k', loader))
          return values
        })(),
      )
      expect(new Set(value)).toEqual(new Set([1]))
      expect(ms).toBeLessThan(250)
      expect(calls).toBe(2)
      expect(tasks).toHaveLength(1)
      await Promise.all(tasks)
      expect(refreshes).toMatchObject([{ key: 'k', reason: 'early-refresh' }])
      expect(cache.metrics()).toMatchObject({ hits: 30, misses: 1, loads: 2 })
      expect(await cache.get('k')).toBe(2)
    })

    it('never runs more than one early refresh of a key at a time, in one process or across two', async () => {
      const namespace = ns()
      // Beta 100 after a 50 ms load: about one hit in three starts a refresh, even 5 s before expiry.
      const options: CacheClientOptions = { namespace, ttl: '5s', earlyRefresh: 100 }
      const a = observed(options)
      const b = observed(options)
      const held = gate<string>()
      let calls = 0
      const loader = async () => {
        calls++
        if (calls === 1) {
          await sleep(50)
          return 'v1'
        }
        return held.promise
      }
      expect(await a.cache.getOrSet('k', loader)).toBe('v1')
      for (let i = 0; i < 40; i++) {
        expect(await a.cache.getOrSet('k', loader)).toBe('v1')
        expect(await b.cache.getOrSet('k', loader)).toBe('v1')
      }
      await sleep(20)
      expect(calls).toBe(2)
      held.open('v2')
      await Promise.all([...a.tasks, ...b.tasks])
      expect([...a.refreshes, ...b.refreshes]).toMatchObject([{ key: 'k', reason: 'early-refresh' }])
      expect(await b.cache.get('k')).toBe('v2')
    })
  })

  describe('jitter', () => {
    it('gives entries written together different fresh periods, each at most ttl', async () => {
      const cache = make({ ttl: 600, jitter: 0.5 })
      const keys = Array.from({ length: 30 }, (_, i) => `j${i}`)
      const fresh = async () => (await cache.getMany(keys)).filter((v) => v !== undefined).length
      const t0 = performance.now()
      await Promise.all(keys.map((k) => cache.getOrSet(k, () => k)))
      const t1 = performance.now()
      // Fresh periods are spread over [300, 600] ms.
      await sleep(Math.max(0, t0 + 150 - performance.now()))
      expect(await fresh()).toBe(keys.length)
      await sleep(Math.max(0, t0 + 450 - performance.now()))
      const midway = await fresh()
      expect(midway).toBeGreaterThan(0)
      expect(midway).toBeLessThan(keys.length)
      await sleep(Math.max(0, t1 + 650 - performance.now()))
      expect(await fresh()).toBe(0)
    })

    if (backend.pttl) {
      const pttl = backend.pttl
      it('shortens the Redis expiry by at most jitter × ttl and never lengthens it', async () => {
        const namespace = ns()
        const cache = make({ namespace, ttl: '10s', staleWhileRevalidate: '5s', staleIfError: '20s', jitter: 0.2 })
        const keys = Array.from({ length: 20 }, (_, i) => `p${i}`)
        await Promise.all(keys.map((k) => cache.getOrSet(k, () => k)))
        const ttls = await Promise.all(keys.map((k) => pttl(`${namespace}:${k}`)))
        for (const ms of ttls) {
          expect(ms).toBeLessThanOrEqual(30_000)
          expect(ms).toBeGreaterThan(28_000 - 1_000)
        }
        // Without jitter they would differ by the few ms the writes took.
        expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(300)
      })
    }
  })

  describe('stampede lock', () => {
    it('keeps the lock of a load longer than lockTtl: another process waits and gets its value instead of loading', async () => {
      const namespace = ns()
      const a = make({ namespace, lockTtl: 100 })
      const b = make({ namespace, lockTtl: 100 })
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(400)
        return `v${calls}`
      }
      const first = a.getOrSet('k', loader)
      await waitFor(() => calls === 1, 'the first load to start')
      await sleep(150) // past lockTtl: only extensions keep the lock alive now
      const { value, ms } = await timed(b.getOrSet('k', loader))
      expect(value).toBe('v1')
      expect(await first).toBe('v1')
      expect(calls).toBe(1)
      expect(ms).toBeGreaterThan(150)
      expect(b.metrics()).toMatchObject({ misses: 1, loads: 0 })
    })

    it('lets another process take over once lockTtl has passed when the holder lost the backend mid-load', async () => {
      const namespace = ns()
      const link = chaosAdapter(backend.adapter())
      const holder = make({ namespace, adapter: link.adapter, lockTtl: 300 })
      const other = make({ namespace })
      let holding = false
      const abandoned = holder
        .getOrSet('k', (ctx) => {
          holding = true
          return hanging(ctx)
        })
        .catch((e: unknown) => e)
      await waitFor(() => holding, 'the holder to take the lock')
      await sleep(200) // one extension went through
      link.mode = 'hang' // the holder is cut off: no more extensions, no release
      let calls = 0
      const { value, ms } = await timed(
        other.getOrSet('k', () => {
          calls++
          return 'taken over'
        }),
      )
      expect(value).toBe('taken over')
      expect(calls).toBe(1)
      // The lock ran out at most lockTtl after the last extension; without it, the other process would load at once.
      expect(ms).toBeGreaterThanOrEqual(50)
      expect(ms).toBeLessThan(300 + 400)
      expect(await other.get('k')).toBe('taken over')
      await holder.close()
      expect(await abandoned).toMatchObject({ code: 'CACHEWARD_CLOSED' })
    })

    it('loads in the waiter after lockWait when the holder is still loading', async () => {
      const namespace = ns()
      const a = make({ namespace })
      const b = make({ namespace, lockWait: 200 })
      const held = gate<string>()
      let calls = 0
      const first = a.getOrSet('k', () => {
        calls++
        return held.promise
      })
      await waitFor(() => calls === 1, 'the first load to start')
      const { value, ms } = await timed(
        b.getOrSet('k', () => {
          calls++
          return 'b'
        }),
      )
      expect(value).toBe('b')
      expect(ms).toBeGreaterThanOrEqual(180)
      expect(ms).toBeLessThan(600)
      held.open('a')
      expect(await first).toBe('a')
      expect(calls).toBe(2)
      expect(['a', 'b']).toContain(await a.get('k'))
    })
  })

  describe('close()', () => {
    // Regressions (fixed in 883318c): load() awaited the loader itself, so a loader that ignores ctx.signal (a
    // query without a timeout) kept close() pending forever, and kept its lock heartbeat extending the lock
    // after close(), making other processes wait their full lockWait.
    it('resolves while a background refresh’s loader ignores its abort signal', async () => {
      const cache = make({ ttl: 50, staleWhileRevalidate: '10s' })
      await cache.getOrSet('k', () => 'v1')
      await sleep(100)
      expect(await cache.getOrSet('k', () => new Promise<never>(() => {}))).toBe('v1')
      const closing = await Promise.race([cache.close().then(() => 'closed'), sleep(500).then(() => 'pending')])
      expect(closing).toBe('closed')
    })

    it('stops extending the lock of a load whose loader ignores its signal', async () => {
      const namespace = ns()
      const link = chaosAdapter(backend.adapter())
      const holder = make({ namespace, adapter: link.adapter, lockTtl: 100 })
      const other = make({ namespace, lockWait: 600 })
      let holding = false
      const pending = holder
        .getOrSet('k', () => {
          holding = true
          return new Promise<never>(() => {})
        })
        .catch((e: unknown) => e)
      await waitFor(() => holding, 'the holder to take the lock')
      await holder.close()
      const extensions = link.calls('extend')
      const { value, ms } = await timed(other.getOrSet('k', () => 'taken over'))
      expect(value).toBe('taken over')
      expect(link.calls('extend')).toBe(extensions)
      expect(ms).toBeLessThan(100 + 300)
      expect(await pending).toMatchObject({ code: 'CACHEWARD_CLOSED' })
    })
  })

  describe('circuit breaker', () => {
    const breaker = (options: CacheClientOptions = {}) => {
      const link = chaosAdapter(backend.adapter())
      const cache = make({ adapter: link.adapter, timeout: 100, ...options })
      const transitions: unknown[] = []
      cache.on('circuit-open', (e) => transitions.push({ open: e }))
      cache.on('circuit-close', (e) => transitions.push({ close: e }))
      return { cache, link, transitions }
    }
    /** Calls getOrSet on fresh keys until the circuit opens; returns how many calls it took. */
    const failUntilOpen = async (cache: CacheClient, transitions: unknown[], most: number) => {
      let n = 0
      while (transitions.length === 0 && n < most) {
        expect(await cache.getOrSet(`fail:${n}`, () => 'from-db')).toBe('from-db')
        n++
      }
      return n
    }

    it('opens after threshold consecutive failures; then reads come from the loader without touching the backend and writes reject', async () => {
      const { cache, link, transitions } = breaker({ circuitBreaker: { threshold: 3, duration: '10s' } })
      expect(await cache.getOrSet('warm', () => 'w')).toBe('w')
      link.mode = 'throw'
      expect(await failUntilOpen(cache, transitions, 10)).toBe(3)
      expect(transitions).toEqual([{ open: { adapter: link.adapter.name, failures: 3, retryInMs: 10_000 } }])

      const calls = link.calls()
      const errors = cache.metrics().errors
      const { value, ms } = await timed(
        Promise.all(Array.from({ length: 20 }, (_, i) => cache.getOrSet(`open:${i}`, () => i))),
      )
      expect(value).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect(ms).toBeLessThan(50)
      expect(await cache.get('warm')).toBeUndefined()
      const write = await cache.set('k', 1).catch((e: unknown) => e)
      expect(write).toMatchObject({ code: 'CACHEWARD_BACKEND', name: 'CacheCircuitOpenError' })
      await expect(cache.delete('k')).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
      await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
      expect(link.calls()).toBe(calls)
      // Skipped calls are not backend failures: no flood of error events while open.
      expect(cache.metrics().errors).toBe(errors)
    })

    it('lets one probe through after duration; its success closes the circuit and caching resumes', async () => {
      const { cache, link, transitions } = breaker({ circuitBreaker: { threshold: 2, duration: 200 } })
      link.mode = 'throw'
      expect(await failUntilOpen(cache, transitions, 10)).toBe(2)
      expect(transitions).toHaveLength(1)
      link.mode = 'ok'
      link.delayMs = 50
      await sleep(250)
      const reads = link.calls('read')
      const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => cache.getOrSet(`probe:${i}`, () => i)))
      expect(burst).toEqual(Array.from({ length: 10 }, (_, i) => i))
      expect(link.calls('read')).toBe(reads + 1)
      expect(transitions).toEqual([
        { open: { adapter: link.adapter.name, failures: 2, retryInMs: 200 } },
        { close: { adapter: link.adapter.name } },
      ])
      link.delayMs = 0
      let calls = 0
      await cache.getOrSet('after', () => ++calls)
      expect(await cache.getOrSet('after', () => ++calls)).toBe(1)
      expect(link.calls('read')).toBe(reads + 3)
    })

    it('stays open for another duration when the probe fails', async () => {
      const { cache, link, transitions } = breaker({ circuitBreaker: { threshold: 2, duration: 200 } })
      link.mode = 'throw'
      expect(await failUntilOpen(cache, transitions, 10)).toBe(2)
      await sleep(250)
      const calls = link.calls()
      expect(await cache.getOrSet('probe', () => 'p')).toBe('p')
      expect(link.calls()).toBe(calls + 1)
      expect(await cache.getOrSet('skipped', () => 's')).toBe('s')
      await sleep(100)
      expect(await cache.getOrSet('skipped', () => 's')).toBe('s')
      expect(link.calls()).toBe(calls + 1)
      link.mode = 'ok'
      await sleep(150)
      expect(await cache.getOrSet('k', () => 'k')).toBe('k')
      expect(transitions).toHaveLength(2)
      expect(transitions[1]).toEqual({ close: { adapter: link.adapter.name } })
    })

    it('opens after 5 failures for 5 seconds by default', async () => {
      const { cache, link, transitions } = breaker()
      link.mode = 'throw'
      expect(await failUntilOpen(cache, transitions, 10)).toBe(5)
      expect(transitions).toEqual([{ open: { adapter: link.adapter.name, failures: 5, retryInMs: 5_000 } }])
    })

    it('never skips the backend with circuitBreaker: false', async () => {
      const { cache, link, transitions } = breaker({ circuitBreaker: false })
      link.mode = 'throw'
      for (let i = 0; i < 20; i++) {
        const reads = link.calls('read')
        expect(await cache.getOrSet(`k${i}`, () => i)).toBe(i)
        expect(link.calls('read')).toBe(reads + 1)
      }
      expect(transitions).toEqual([])
    })
  })
})

import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory.js'
import type { CacheAdapter, CacheClient, CacheClientOptions, CacheEventMap, Logger } from '../../src/index.js'
import { CacheOptionsError, createCacheClient } from '../../src/index.js'
import { Histogram } from '../../src/metrics.js'

const clients: CacheClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
const make = (options: CacheClientOptions = {}) => {
  const cache = createCacheClient({ namespace: 'app', ...options })
  clients.push(cache)
  return cache
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A pino-shaped logger that keeps every line it is given. */
function recordingLogger() {
  const lines: Array<{ level: string; object: Record<string, unknown>; message: string }> = []
  const at =
    (level: string) =>
    (object: Record<string, unknown>, message: string): void => {
      lines.push({ level, object, message })
    }
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  return { logger, lines }
}

describe('latency summaries', () => {
  it('report each percentile within 2.5 % of the exact nearest-rank percentile of the samples', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.002, max: 50_000, noNaN: true }), { minLength: 1, maxLength: 400 }),
        (samples) => {
          const h = new Histogram()
          for (const s of samples) h.record(s)
          const sorted = [...samples].sort((a, b) => a - b)
          const exact = (q: number) => sorted[Math.ceil(q * sorted.length) - 1] as number
          const summary = h.summary()
          expect(summary.count).toBe(samples.length)
          expect(summary.max).toBe(sorted.at(-1))
          for (const [q, got] of [
            [0.5, summary.p50],
            [0.95, summary.p95],
            [0.99, summary.p99],
          ] as const) {
            expect(Math.abs(got - exact(q)) / exact(q)).toBeLessThanOrEqual(0.025 + 1e-9)
          }
        },
      ),
    )
  })

  it('time hits and loads as the caller sees them, in milliseconds', async () => {
    const cache = make()
    await cache.getOrSet('slow', async () => {
      await sleep(30)
      return 1
    })
    for (let i = 0; i < 10; i++) await cache.getOrSet('slow', () => 2)
    const { latency } = cache.metrics()
    expect(latency.loads.count).toBe(1)
    expect(latency.loads.p50).toBeGreaterThanOrEqual(25)
    expect(latency.hits.count).toBe(10)
    expect(latency.hits.p50).toBeLessThan(latency.loads.p50)
    expect(latency.hits.p50).toBeLessThanOrEqual(latency.hits.p95)
    expect(latency.hits.p95).toBeLessThanOrEqual(latency.hits.p99)
    expect(latency.hits.p99).toBeLessThanOrEqual(latency.hits.max)
  })

  it('are kept per category too', async () => {
    const cache = make()
    await cache.getOrSet('a', () => 1, { category: 'rooms' })
    await cache.getOrSet('a', () => 1, { category: 'rooms' })
    await cache.getOrSet('b', () => 1)
    const m = cache.metrics()
    expect(m.categories.rooms?.latency.hits.count).toBe(1)
    expect(m.categories.rooms?.latency.loads.count).toBe(1)
    expect(m.latency.loads.count).toBe(2)
  })
})

describe('counters beyond hits and misses', () => {
  it('count a hardTimeout as a load timeout and a load error', async () => {
    const cache = make()
    await expect(cache.getOrSet('k', () => new Promise(() => {}), { hardTimeout: 20 })).rejects.toMatchObject({
      code: 'CACHEWARD_LOAD_TIMEOUT',
    })
    expect(cache.metrics()).toMatchObject({ loads: 1, loadErrors: 1, loadTimeouts: 1, misses: 1 })
  })

  it('count a wait for another process that runs out as a lock wait and a lock timeout, then load anyway', async () => {
    const shared = memoryAdapter()
    const a = make({ adapter: shared })
    const b = make({ adapter: shared, lockWait: 60 })
    let release!: () => void
    const first = a.getOrSet('k', () => new Promise<string>((resolve) => (release = () => resolve('a'))))
    await sleep(10)
    expect(await b.getOrSet('k', () => 'b')).toBe('b')
    release()
    await first
    expect(b.metrics()).toMatchObject({ lockWaits: 1, lockTimeouts: 1, loads: 1, misses: 1 })
  })

  it('report the circuit state: closed, open after failures, disabled when turned off', async () => {
    const down = () => Promise.reject(new Error('down'))
    const failing: CacheAdapter = { ...memoryAdapter(), read: down, release: down }
    const cache = make({ adapter: failing, circuitBreaker: { threshold: 2, duration: '1m' } })
    expect(cache.metrics().circuit).toBe('closed')
    await cache.getOrSet('a', () => 1)
    await cache.getOrSet('b', () => 1)
    expect(cache.metrics().circuit).toBe('open')
    expect(make({ circuitBreaker: false }).metrics().circuit).toBe('disabled')
  })

  it('name the namespace they belong to', () => {
    expect(make({ namespace: 'chat' }).metrics().namespace).toBe('chat')
  })
})

describe('the invalidate event', () => {
  it('says what each invalidation did, with its namespace', async () => {
    const cache = make().namespace('rooms')
    const seen: CacheEventMap['invalidate'][] = []
    cache.on('invalidate', (p) => seen.push(p))
    await cache.set('1', 'one', { tags: ['rooms'] })
    await cache.set('2', 'two')
    await cache.delete('1')
    await cache.invalidateTags(['rooms'])
    expect(await cache.invalidatePattern('2')).toBe(1)
    await cache.clear()
    expect(seen).toEqual([
      { kind: 'delete', namespace: 'app:rooms', key: '1' },
      { kind: 'tags', namespace: 'app:rooms', tags: ['rooms'] },
      { kind: 'pattern', namespace: 'app:rooms', pattern: '2', count: 1 },
      { kind: 'clear', namespace: 'app:rooms', count: 0 },
    ])
  })
})

describe('metrics: false', () => {
  it('counts nothing and samples no latency, while events still fire', async () => {
    const cache = make({ metrics: false })
    const events: string[] = []
    cache.on('miss', () => events.push('miss'))
    cache.on('hit', () => events.push('hit'))
    await cache.getOrSet('k', () => 1)
    await cache.getOrSet('k', () => 1)
    expect(events).toEqual(['miss', 'hit'])
    expect(cache.metrics()).toMatchObject({ hits: 0, misses: 0, loads: 0, latency: { hits: { count: 0 } } })
  })

  it('is checked like every option', () => {
    expect(() => createCacheClient({ metrics: 'yes' as never })).toThrow(CacheOptionsError)
    expect(() => createCacheClient({ metrics: 'yes' as never })).toThrow(/metrics/)
  })
})

describe('logger', () => {
  it('is silent by default: nothing reaches the console', async () => {
    const calls: unknown[] = []
    const original = { ...console }
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      console[level] = (...args: unknown[]) => void calls.push(args)
    }
    try {
      const failing: CacheAdapter = { ...memoryAdapter(), read: () => Promise.reject(new Error('down')) }
      const cache = make({ adapter: failing })
      await cache.getOrSet('k', () => 1)
    } finally {
      Object.assign(console, original)
    }
    expect(calls).toEqual([])
  })

  it('gets a warn line per backend failure with the typed code and redacted message, never a hit or miss', async () => {
    const { logger, lines } = recordingLogger()
    const failing: CacheAdapter = {
      ...memoryAdapter(),
      name: 'flaky',
      read: () => Promise.reject(new Error('connect redis://app:hunter2@10.0.0.5:6379 refused')),
    }
    const cache = make({ adapter: failing, logger, circuitBreaker: false })
    expect(await cache.getOrSet('k', () => 'v')).toBe('v')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 'warn',
      message: 'cacheward: backend operation failed',
      object: { event: 'error', operation: 'read', key: 'k', namespace: 'app', error: { code: 'CACHEWARD_BACKEND' } },
    })
    expect(JSON.stringify(lines)).not.toContain('hunter2')
  })

  it('gets circuit changes at warn and info, and loader failures at debug by kind only', async () => {
    const { logger, lines } = recordingLogger()
    let down = true
    const inner = memoryAdapter()
    const flaky: CacheAdapter = {
      ...inner,
      read: (...args) => (down ? Promise.reject(new Error('down')) : inner.read(...args)),
    }
    const cache = make({ adapter: flaky, logger, circuitBreaker: { threshold: 1, duration: 20 } })
    await cache.getOrSet('a', () => 1)
    down = false
    await sleep(30)
    await cache.getOrSet('b', () => 1)
    await cache
      .getOrSet('c', () => {
        throw new TypeError('password=hunter2 in a loader message')
      })
      .catch(() => {})
    expect(lines.map((l) => `${l.level} ${l.object.event}`)).toEqual([
      'warn circuit-open',
      'warn error',
      'info circuit-close',
      'debug load-error',
    ])
    expect(lines[3]?.object.error).toBe('TypeError')
    expect(JSON.stringify(lines)).not.toContain('hunter2')
  })

  it('must have the four pino methods', () => {
    expect(() => createCacheClient({ logger: { info: () => {} } as never })).toThrow(/logger/)
  })
})

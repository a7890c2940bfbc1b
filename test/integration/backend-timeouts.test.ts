/**
 * Real processes, real clients with their default settings: a dead, hung or misbehaving backend
 * delays a caller by at most the cache's `timeout`, never by the client's retry ladder
 * (ioredis 5 waits ~10.5 s, ioredis 6 ~73.5 s on a refused port; a hung server, forever;
 * @upstash/redis retries ~4.3 s), and the loader's value is returned.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { getFreePort, startRedisServer } from '../support/redis-server.js'
import { startUpstashRest, type UpstashRestMode } from '../support/upstash-rest.js'

const TIMEOUT = 200
const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

function cacheOver(adapter: CacheAdapter): { cache: CacheClient; errors: string[] } {
  const cache = createCacheClient({ adapter, namespace: 'faults', timeout: TIMEOUT })
  const errors: string[] = []
  cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`))
  cleanup.push(() => cache.close())
  return { cache, errors }
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work
  return { value, ms: performance.now() - started }
}

describe.each([
  ['ioredis 5', (url: string) => new Redis(url)],
  ['ioredis 6', (url: string) => new Redis6(url)],
])('%s with default client options', (_, connect) => {
  it('answers from the loader within the timeout when Redis refuses connections [F1]', async () => {
    const port = await getFreePort()
    const redis = connect(`redis://127.0.0.1:${port}`)
    redis.on('error', () => {}) // ioredis prints "Unhandled error event" without a listener
    cleanup.push(() => redis.disconnect())
    const { cache, errors } = cacheOver(ioredisAdapter(redis))
    const { value, ms } = await timed(cache.getOrSet('k', () => 'from-db'))
    expect(value).toBe('from-db')
    expect(ms).toBeLessThan(TIMEOUT + 300)
    expect(errors[0]).toMatch(/read did not answer within 200 ms/)
    expect(await cache.health()).toMatchObject({ ok: false })
  })

  it('answers from the loader within the timeout while Redis hangs, and recovers with no ghost lock after [F2, F9]', async () => {
    const server = await startRedisServer()
    cleanup.push(() => server.stop())
    const redis = connect(server.url)
    const other = connect(server.url)
    cleanup.push(
      () => redis.disconnect(),
      () => other.disconnect(),
    )
    const { cache } = cacheOver(ioredisAdapter(redis))
    const { cache: peer } = cacheOver(ioredisAdapter(other))
    await cache.set('warm', 1)

    server.pause()
    try {
      const { value, ms } = await timed(cache.getOrSet('k', () => 'from-db'))
      expect(value).toBe('from-db')
      expect(ms).toBeLessThan(TIMEOUT + 300)
    } finally {
      server.resume()
    }
    // The read that timed out still runs once the server resumes and takes the lock; the release sent
    // behind it frees it, so another process loads at once instead of waiting for the lock to expire.
    await new Promise((r) => setTimeout(r, 100))
    let calls = 0
    const { value, ms } = await timed(peer.getOrSet('k', () => ++calls))
    expect(value).toBe(1)
    expect(ms).toBeLessThan(500)
    expect(await cache.get('warm')).toBe(1)
  })
})

describe('@upstash/redis with default client options', () => {
  const url = inject('upstashUrl')
  const token = inject('upstashToken')

  it('answers from the loader within the timeout when the endpoint refuses connections (no 4 s retry ladder) [U2]', async () => {
    const port = await getFreePort()
    const { cache, errors } = cacheOver(upstashAdapter(new Upstash({ url: `http://127.0.0.1:${port}`, token })))
    const { value, ms } = await timed(cache.getOrSet('k', () => 'from-db'))
    expect(value).toBe('from-db')
    expect(ms).toBeLessThan(TIMEOUT + 300)
    expect(errors.join('\n')).not.toContain(token)
  })

  it.each<UpstashRestMode>(['hang', 'error-500', 'non-json', 'unauthorized'])(
    'answers from the loader when the endpoint is in mode %s, and no error carries the token or the value [F13, U3, U4]',
    async (mode) => {
      const endpoint = await startUpstashRest({ redisUrl: inject('redisUrl') })
      cleanup.push(() => endpoint.stop())
      const { cache, errors } = cacheOver(upstashAdapter(new Upstash({ url: endpoint.url, token: endpoint.token })))
      await cache.set('k', 'cached-secret-value')
      endpoint.setMode(mode)
      const { value, ms } = await timed(cache.getOrSet('k2', () => 'from-db'))
      expect(value).toBe('from-db')
      expect(ms).toBeLessThan(TIMEOUT + 300)
      expect(errors.length).toBeGreaterThan(0)
      const write = await cache.set('k', 'another-secret-value').catch((e: Error) => e)
      expect(write).toMatchObject({ code: expect.stringMatching(/CACHEWARD_(BACKEND|TIMEOUT)/) })
      const everything = [...errors, String(write), JSON.stringify(write)].join('\n')
      expect(everything).not.toContain(endpoint.token)
      expect(everything).not.toContain('secret-value')
      endpoint.setMode('ok')
      expect(await cache.getOrSet('k3', () => 'back')).toBe('back')
    },
  )

  it('works against the shared endpoint with the client’s own retry disabled', async () => {
    const { cache } = cacheOver(upstashAdapter(new Upstash({ url, token, retry: false })))
    expect(await cache.getOrSet('ok', () => 1)).toBe(1)
    expect(await cache.get('ok')).toBe(1)
  })
})

describe('secrets', () => {
  it('a wrong password in the Redis URL never reaches an error, event or health report [S1, S2]', async () => {
    const server = await startRedisServer({ extraArgs: ['--requirepass', 'right-horse-battery'] })
    cleanup.push(() => server.stop())
    const redis = new Redis(`redis://:wrong-staple-battery@127.0.0.1:${server.port}`, { maxRetriesPerRequest: 1 })
    redis.on('error', () => {})
    cleanup.push(() => redis.disconnect())
    const { cache, errors } = cacheOver(ioredisAdapter(redis))
    expect(await cache.getOrSet('k', () => 'from-db')).toBe('from-db')
    const write = await cache.set('k', 'v').catch((e: Error) => e)
    const health = await cache.health()
    expect(health.ok).toBe(false)
    const everything = [...errors, String(write), JSON.stringify(write), JSON.stringify(health)].join('\n')
    expect(errors.length).toBeGreaterThan(0)
    expect(everything).not.toContain('wrong-staple-battery')
    expect(everything).not.toContain('right-horse-battery')
  })

  it('an out-of-memory Redis rejects writes with a typed error that carries neither the value nor a password', async () => {
    const server = await startRedisServer({ extraArgs: ['--requirepass', 'oom-pass'] })
    cleanup.push(() => server.stop())
    const redis = new Redis(`redis://:oom-pass@127.0.0.1:${server.port}`, { maxRetriesPerRequest: 1 })
    cleanup.push(() => redis.disconnect())
    const { cache, errors } = cacheOver(ioredisAdapter(redis))
    await redis.config('SET', 'maxmemory', '1')
    const big = { blob: 'confidential-'.repeat(1000) }
    // Reads still work and the loader answers; the write fails and is reported, not thrown.
    expect(await cache.getOrSet('big', () => big)).toEqual(big)
    const write = await cache.set('big', big).catch((e: Error) => e)
    expect(write).toMatchObject({ code: 'CACHEWARD_BACKEND' })
    expect(String(write)).toMatch(/OOM/)
    const everything = [...errors, String(write), JSON.stringify(write), String((write as Error).cause)].join('\n')
    expect(everything).not.toContain('confidential-')
    expect(everything).not.toContain('oom-pass')
    await redis.config('SET', 'maxmemory', '0')
  })
})

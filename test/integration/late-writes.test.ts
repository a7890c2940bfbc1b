/**
 * A `set()` that rejected never lands afterwards (RELIABILITY F4, the ghost write). Clients send a command
 * and then give up on it; the server may still run it later: a stalled link delivers it late, ioredis
 * replays its offline queue after a reconnect (ioredis #2130), an HTTP request is executed after the
 * client timed out. Each write carries a deadline on the backend clock, the moment its caller was told
 * it failed, and the script refuses it after that.
 */
import { Redis as Upstash } from '@upstash/redis'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { upstashAdapter } from '../../src/adapters/upstash.js'
import type { CacheAdapter, CacheClient } from '../../src/index.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'
import { startRedisServer } from '../support/redis-server.js'
import { startTcpProxy } from '../support/tcp-proxy.js'
import { startUpstashRest } from '../support/upstash-rest.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('late')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function connect(url: string, options: { maxRetriesPerRequest?: number } = {}) {
  const redis = new Redis(url, options)
  redis.on('error', () => {})
  cleanup.push(() => redis.disconnect())
  return redis
}

function cache(adapter: CacheAdapter, namespace: string, timeout = 200): CacheClient {
  const c = createCacheClient({ adapter, namespace, timeout, circuitBreaker: false })
  cleanup.push(() => c.close())
  return c
}

describe('a set() stuck on a stalled link (TCP proxy holding the request)', () => {
  it('rejects at its timeout and does not land when the link delivers it after another client’s delete() [F4]', async () => {
    const proxy = await startTcpProxy(Number(new URL(inject('redisUrl')).port))
    cleanup.push(() => proxy.stop())
    const namespace = ns()
    const stalled = cache(ioredisAdapter(connect(proxy.url, { maxRetriesPerRequest: 1 })), namespace)
    const other = cache(ioredisAdapter(connect(inject('redisUrl'))), namespace)
    // A process that has talked to Redis before (it knows the server's clock).
    expect(await stalled.get('warm')).toBeUndefined()

    proxy.mode = 'hold'
    const rejected = await stalled.set('k', 'old').catch((e: unknown) => e)
    expect(rejected).toMatchObject({ code: 'CACHEWARD_TIMEOUT', name: 'CacheTimeoutError' })
    await other.delete('k')
    proxy.mode = 'forward'
    await sleep(100)
    expect(await other.get('k')).toBeUndefined()
    // The link works again: a set() now lands.
    await stalled.set('k', 'new')
    expect(await other.get('k')).toBe('new')
  })
})

describe('a set() in the ioredis offline queue while the server is down (default client options)', () => {
  it('rejects at its timeout and is not applied when ioredis replays it after the server comes back [F4]', async () => {
    const server = await startRedisServer()
    let current = server
    cleanup.push(() => current.stop())
    const namespace = ns()
    const redis = connect(server.url)
    const writer = cache(ioredisAdapter(redis), namespace)
    expect(await writer.get('warm')).toBeUndefined()
    await server.stop()
    const rejected = await writer.set('k', 'old').catch((e: unknown) => e)
    expect(rejected).toMatchObject({ code: 'CACHEWARD_TIMEOUT' })
    current = await startRedisServer({ port: server.port })
    // ioredis reconnects and sends what it queued while offline.
    const deadline = Date.now() + 5_000
    while (redis.status !== 'ready' && Date.now() < deadline) await sleep(20)
    expect(redis.status).toBe('ready')
    await sleep(100)
    const admin = connect(current.url)
    expect(await admin.exists(`${namespace}:k`)).toBe(0)
  })
})

describe('a set() that the Upstash endpoint runs after the client gave up (slow HTTP)', () => {
  it('rejects at its timeout and is not applied when the request is executed later [F4, U3]', async () => {
    const endpoint = await startUpstashRest({ redisUrl: inject('redisUrl') })
    cleanup.push(() => endpoint.stop())
    const namespace = ns()
    const slow = cache(
      upstashAdapter(new Upstash({ url: endpoint.url, token: endpoint.token, retry: false, enableTelemetry: false })),
      namespace,
      150,
    )
    const other = cache(ioredisAdapter(connect(inject('redisUrl'))), namespace)
    expect(await slow.get('warm')).toBeUndefined()
    endpoint.setDelay(400)
    const rejected = await slow.set('k', 'old').catch((e: unknown) => e)
    expect(rejected).toMatchObject({ code: 'CACHEWARD_TIMEOUT', name: 'CacheTimeoutError' })
    await other.delete('k')
    await sleep(400)
    expect(await other.get('k')).toBeUndefined()
    endpoint.setDelay(0)
  })
})

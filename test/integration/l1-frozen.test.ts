/**
 * The tier shares one value between callers, deeply frozen, over redis-server (node-redis). It can make read-only
 * plain objects, arrays, Dates, Maps and Sets; an object whose state `Object.freeze` does not reach (a URL, as
 * superjson and similar codecs revive one: internal slots, prototype setters) was shared all the same on the old
 * code, so one caller's change reached every other. Such a value now stays out of the tier.
 */
import { createClient } from '@redis/client'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { nodeRedisAdapter } from '../../src/adapters/node-redis.js'
import { createCacheClient } from '../../src/index.js'
import { keygen } from '../support/keygen.js'

const cleanup: Array<() => unknown> = []
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
})
const ns = keygen('l1frozen')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// A codec that keeps URLs (as superjson does).
const serializer = {
  serialize: (value: unknown) =>
    JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
      const raw = this[key]
      return raw instanceof URL ? { $url: raw.href } : v
    }),
  deserialize: (text: string) =>
    JSON.parse(text, (_key, v: { $url?: string }) => (typeof v?.$url === 'string' ? new URL(v.$url) : v)),
}

describe('l1: a value shared through the tier', () => {
  it('a URL in a tier value cannot be changed by one caller under the others', async () => {
    const client = createClient({ url: inject('redisUrl') })
    client.on('error', () => {})
    await client.connect()
    cleanup.push(() => client.destroy())
    const cache = createCacheClient({ adapter: nodeRedisAdapter(client), namespace: ns(), l1: true, serializer })
    cleanup.push(() => cache.close())
    await cache.has('__start__')
    for (let i = 0; i < 500 && cache.metrics().l1?.live !== true; i++) await sleep(5)

    const load = () => ({ link: new URL('https://example.com/room/42') })
    await cache.getOrSet('room', load)
    await cache.getOrSet('room', load) // backend hit: fills the tier
    const first = (await cache.getOrSet('room', load)) as { link: URL }

    // One caller changes what it got (no error is thrown: the object is "frozen")…
    try {
      first.link.pathname = '/room/666'
      first.link.searchParams.set('admin', '1')
    } catch {
      // a throw would be the read-only behaviour the contract promises
    }
    // …and another caller gets that change.
    const second = (await cache.getOrSet('room', load)) as { link: URL }
    expect(second.link.href).toBe('https://example.com/room/42')
    // Kept out of the tier: every read decoded its own copy from Redis.
    expect(cache.metrics()).toMatchObject({ l1Hits: 0, hits: 3 })
    // A plain value of the same client still is shared through the tier.
    await cache.getOrSet('plain', () => ({ n: 1 }))
    await cache.getOrSet('plain', () => ({ n: 2 }))
    expect(await cache.getOrSet('plain', () => ({ n: 3 }))).toEqual({ n: 1 })
    expect(cache.metrics().l1Hits).toBe(1)
  })
})

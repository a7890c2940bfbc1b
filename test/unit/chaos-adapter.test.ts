import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory.js'
import { type CacheAdapter, createCacheClient } from '../../src/index.js'
import { chaosAdapter } from '../../src/testing/index.js'

// cacheward/testing's chaosAdapter, as a user drives it: faults injected into a real (memory) adapter, per operation
// and at run time, observed through the adapter and through a client.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const settledWithin = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    sleep(ms).then(() => 'pending' as const),
  ])
const entry = {
  fence: null,
  gen: 'g1',
  ttl: 60_000,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  expireIn: 60_000,
  body: '{"w":1,"v":1}',
}

describe('chaosAdapter', () => {
  it('passes calls through untouched with no faults, and counts them per operation', async () => {
    const chaos = chaosAdapter(memoryAdapter())
    expect(await chaos.write('k', entry)).toBe('written')
    expect((await chaos.read('k')).slot?.gen).toBe('g1')
    await chaos.ping()
    expect([chaos.calls('write'), chaos.calls('read'), chaos.calls('ping'), chaos.calls()]).toEqual([1, 1, 1, 3])
    expect(chaos.name).toBe('memory')
  })

  it('delays each call by latency before it reaches the backend', async () => {
    const chaos = chaosAdapter(memoryAdapter(), { latency: 60 })
    const started = performance.now()
    await chaos.ping()
    expect(performance.now() - started).toBeGreaterThanOrEqual(55)
  })

  it('with errorRate 1 rejects every call with a ChaosError before it reaches the backend', async () => {
    const inner = memoryAdapter()
    const chaos = chaosAdapter(inner, { errorRate: 1 })
    await expect(chaos.write('k', entry)).rejects.toMatchObject({ name: 'ChaosError', message: 'chaos: write failed' })
    expect((await inner.read('k')).slot).toBeNull()
  })

  it('fails the share of calls errorRate asks for, drawing from the random source given', async () => {
    const draws = [0.1, 0.9, 0.2, 0.8]
    const chaos = chaosAdapter(memoryAdapter(), { errorRate: 0.5 }, { random: () => draws.shift() ?? 1 })
    const outcomes = await Promise.allSettled([chaos.ping(), chaos.ping(), chaos.ping(), chaos.ping()])
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled'])
  })

  it('with hang never settles a call, and never reaches the backend', async () => {
    const inner = memoryAdapter()
    const chaos = chaosAdapter(inner, { write: { hang: true } })
    expect(await settledWithin(chaos.write('k', entry), 100)).toBe('pending')
    expect((await inner.read('k')).slot).toBeNull()
  })

  it('with dropAfterWrite lets the write land and loses its reply: an error, or nothing at all with hang', async () => {
    const inner = memoryAdapter()
    const chaos = chaosAdapter(inner, { write: { dropAfterWrite: true } })
    await expect(chaos.write('a', entry)).rejects.toMatchObject({ message: 'chaos: the reply to write was lost' })
    expect((await inner.read('a')).slot?.gen).toBe('g1')
    chaos.setFaults({ write: { dropAfterWrite: true, hang: true } })
    expect(await settledWithin(chaos.write('b', entry), 100)).toBe('pending')
    expect((await inner.read('b')).slot?.gen).toBe('g1')
  })

  it('lets an operation override the shared faults', async () => {
    const chaos = chaosAdapter(memoryAdapter(), { errorRate: 1, ping: { errorRate: 0 } })
    await chaos.ping()
    await expect(chaos.read('k')).rejects.toMatchObject({ name: 'ChaosError' })
  })

  it('changes faults at run time for calls that start afterwards; a call already waiting keeps its own', async () => {
    const chaos = chaosAdapter(memoryAdapter(), { latency: 50 })
    const before = chaos.ping()
    chaos.setFaults({ errorRate: 1 })
    expect(chaos.faults).toEqual({ errorRate: 1 })
    await expect(before).resolves.toBeUndefined()
    await expect(chaos.ping()).rejects.toMatchObject({ name: 'ChaosError' })
    chaos.setFaults({})
    await chaos.ping()
  })

  it('refuses an unknown fault or operation, a negative latency and an errorRate outside 0..1', () => {
    const inner = memoryAdapter()
    expect(() => chaosAdapter(inner, { reads: { hang: true } } as never)).toThrow(/unknown fault "reads"/)
    expect(() => chaosAdapter(inner, { read: { hung: true } } as never)).toThrow(/unknown fault "read.hung"/)
    expect(() => chaosAdapter(inner, { latency: -1 })).toThrow(/latency/)
    expect(() => chaosAdapter(inner).setFaults({ write: { errorRate: 2 } })).toThrow(
      /"write.errorRate" must be from 0 to 1/,
    )
  })

  it('keeps the optional members the adapter has and adds none it lacks; unknown members pass through', async () => {
    const inner = memoryAdapter()
    const chaos = chaosAdapter(inner)
    expect([typeof chaos.extend, typeof chaos.invalidateMatching, typeof chaos.peek]).toEqual([
      'function',
      'function',
      'undefined',
    ])
    const extra = { ...inner, peek: async () => null, announce: () => 'kept' } as CacheAdapter & { announce(): string }
    const wrapped = chaosAdapter(extra) as unknown as typeof extra
    expect(await wrapped.peek?.('k')).toBeNull()
    expect(wrapped.announce()).toBe('kept')
  })

  it('makes a client answer from the loader within its timeout when reads hang, and reject a set whose reply was lost', async () => {
    const chaos = chaosAdapter(memoryAdapter(), { read: { hang: true } })
    const cache = createCacheClient({ adapter: chaos, timeout: 50, circuitBreaker: false })
    const started = performance.now()
    expect(await cache.getOrSet('k', () => 'from-db')).toBe('from-db')
    expect(performance.now() - started).toBeLessThan(200)
    expect(cache.metrics().errors).toBeGreaterThanOrEqual(1)

    chaos.setFaults({ write: { dropAfterWrite: true } })
    await expect(cache.set('k', 'v')).rejects.toMatchObject({ code: 'CACHEWARD_BACKEND' })
    chaos.setFaults({})
    expect(await cache.get('k')).toBe('v') // the caller saw it fail; it landed all the same
    await cache.close()
  })
})

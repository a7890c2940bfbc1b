/**
 * The contract's cache-aside race: a load that began before an invalidation never writes its value back, in this
 * process or another; and the fence behind it, checked on the adapter directly: absent keys, the fence window,
 * deadlines, lock hand-over, keys left behind.
 * @module
 */
import type { CacheClient, Fence, WriteRequest } from '../../index.js'
import { eventually, gate, type Suite, sleep } from '../suite.js'

export function raceCases(s: Suite): void {
  const { expect } = s
  s.describe('the cache-aside race', () => {
    const race = async (invalidate: (cache: CacheClient) => Promise<unknown>) => {
      const cache = s.make()
      const dbRead = gate()
      const loaderStarted = gate()
      const load = cache.getOrSet('room:1', async () => {
        loaderStarted.open()
        await dbRead.promise
        return 'old'
      })
      await loaderStarted.promise
      await invalidate(cache)
      dbRead.open()
      expect(await load).toBe('old')
      expect(await cache.get('room:1')).toBeUndefined()
      expect(await cache.getOrSet('room:1', () => 'new')).toBe('new')
    }

    s.it('a load that began before delete() resolved cannot write its value back [C5]', () =>
      race((c) => c.delete('room:1')),
    )
    s.marked('a load that began before clear() resolved cannot write its value back [C5]', () => race((c) => c.clear()))
    s.marked('a load that began before invalidatePattern() resolved cannot write its value back [C5]', () =>
      race((c) => c.invalidatePattern('room:*')),
    )

    for (const how of ['clear', 'invalidatePattern'] as const) {
      s.marked(`a load that outlives its lock still cannot write back after ${how}()`, async () => {
        // The lock ends after lockTtl, but the key it marked stays for the fence window, so the scan finds it.
        const cache = s.make({ lockTtl: 50 })
        const dbRead = gate()
        const started = gate()
        const load = cache.getOrSet('slow', async () => {
          started.open()
          await dbRead.promise
          return 'old'
        })
        await started.promise
        await sleep(120)
        expect(how === 'clear' ? await cache.clear() : await cache.invalidatePattern('slo*')).toBe(0)
        dbRead.open()
        await load
        expect(await cache.get('slow')).toBeUndefined()
      })
    }

    s.timed(
      'a key this process found fresh is reloaded after another process deletes or tag-invalidates it',
      async () => {
        const namespace = s.ns()
        const a = s.make({ namespace })
        const b = s.make({ namespace }, s.makePeer())
        let n = 0
        const load = () => ++n
        expect(await a.getOrSet('k', load)).toBe(1)
        expect(await a.getOrSet('k', load)).toBe(1)
        await b.delete('k')
        await eventually(async () => expect(await a.getOrSet('k', load)).toBe(2))
        const tagged = (ctx: { setTags(tags: readonly string[]): void }) => {
          ctx.setTags(['late-tag'])
          return 'tagged'
        }
        // A tag first seen through ctx.setTags gets its record when the value is written, after the load
        // began, so that first value is usually not stored (trusting it could revive entries of a lost
        // record); the second load is.
        await a.getOrSet('t', tagged)
        await a.getOrSet('t', tagged)
        expect(await a.getOrSet('t', () => 'unused')).toBe('tagged')
        await b.invalidateTags(['late-tag'])
        await eventually(async () => expect(await a.getOrSet('t', () => 'reloaded')).toBe('reloaded'))
      },
    )

    s.it('a load in another process that began before delete() cannot write back either [C5]', async () => {
      const namespace = s.ns()
      const a = s.make({ namespace })
      const b = s.make({ namespace }, s.makePeer())
      const dbRead = gate()
      const started = gate()
      const load = a.getOrSet('k', async () => {
        started.open()
        await dbRead.promise
        return 'old'
      })
      await started.promise
      await b.delete('k')
      dbRead.open()
      await load
      expect(await b.get('k')).toBeUndefined()
    })
  })

  s.describe('the fence does not depend on the backend keeping every key', () => {
    const token = () => crypto.randomUUID().replaceAll('-', '')
    const entry = (fence: Fence | null, extra: Partial<WriteRequest> = {}): WriteRequest => ({
      fence,
      gen: token(),
      ttl: 60_000,
      staleWhileRevalidate: 0,
      staleIfError: 0,
      expireIn: 60_000,
      body: '{"w":1,"v":"x"}',
      ...extra,
    })
    const lock = (t: string, ttl = 5_000) => ({ token: t, ttl, keep: 60_000 })

    if (s.options.deleteRaw) {
      const deleteRaw = s.options.deleteRaw
      s.it(
        'a load that began before delete() cannot write back when the tombstone is lost (evicted, flushed)',
        async () => {
          const namespace = s.ns()
          const cache = s.make({ namespace })
          const dbRead = gate()
          const started = gate()
          const load = cache.getOrSet('k', async () => {
            started.open()
            await dbRead.promise
            return 'old'
          })
          await started.promise
          await cache.delete('k')
          await deleteRaw(`${namespace}:k`)
          dbRead.open()
          expect(await load).toBe('old')
          expect(await cache.get('k')).toBeUndefined()
          expect(await cache.getOrSet('k', () => 'new')).toBe('new')
        },
      )
    }

    s.it('refuses a fenced write to a key that is absent, whatever generation it carries', async () => {
      const adapter = s.makeAdapter()
      const key = `${s.ns()}:absent`
      const { now } = await adapter.read(key)
      expect(await adapter.write(key, entry({ gen: token(), readAt: now, window: 60_000 }))).toBe('refused')
      expect((await adapter.read(key)).slot).toBe(null)
    })

    s.timed(
      'refuses a fenced write that reaches the backend a fence window after the read that fenced it',
      async () => {
        const adapter = s.makeAdapter()
        const key = `${s.ns()}:window`
        const locked = await adapter.read(key, lock(token()))
        expect(locked.lock).toBe('acquired')
        const gen = locked.slot?.gen as string
        expect(await adapter.write(key, entry({ gen, readAt: locked.now - 60_001, window: 60_000 }))).toBe('refused')
        expect(await adapter.write(key, entry({ gen, readAt: locked.now, window: 60_000 }))).toBe('written')
      },
    )

    s.timed('refuses a write that reaches the backend after its deadline (a set() its caller saw fail)', async () => {
      const adapter = s.makeAdapter()
      const key = `${s.ns()}:deadline`
      const { now } = await adapter.read(key)
      expect(await adapter.write(key, entry(null, { deadline: now - 1 }))).toBe('late')
      expect((await adapter.read(key)).slot).toBe(null)
      expect(await adapter.write(key, entry(null, { deadline: now + 60_000 }))).toBe('written')
    })

    s.timed('an expired holder’s release or extend never touches the next holder’s lock [C4]', async () => {
      const adapter = s.makeAdapter()
      const key = `${s.ns()}:c4`
      const [first, second, third] = [token(), token(), token()]
      expect((await adapter.read(key, lock(first, 50))).lock).toBe('acquired')
      await sleep(80)
      expect((await adapter.read(key, lock(second))).lock).toBe('acquired')
      await adapter.release(key, first)
      expect((await adapter.extend?.(key, first, 5_000)) === true).toBe(false)
      expect((await adapter.read(key, lock(third))).lock).toBe('held')
    })

    if (s.options.pttl) {
      const pttl = s.options.pttl
      s.it(
        'a read of an id that holds nothing leaves no key living longer than the fence window, tags included',
        async () => {
          const namespace = s.ns()
          const cache = s.make({ namespace })
          expect(await cache.getOrSet('meeting:99999', () => undefined, { tags: ['meeting:99999'] })).toBeUndefined()
          expect(await pttl(`{${namespace}:tags}:meeting:99999`)).toBeLessThanOrEqual(60_000)
          expect(await pttl(`${namespace}:meeting:99999`)).toBeLessThanOrEqual(60_000)
          expect(await cache.get('other', { allowStale: true })).toBeUndefined()
          // A stored entry keeps its tag records as long as it may be served, and longer.
          await cache.getOrSet('meeting:1', () => 'm', { tags: ['meeting:1'], staleIfError: '1h' })
          expect(await pttl(`{${namespace}:tags}:meeting:1`)).toBeGreaterThan(65 * 60_000)
        },
      )
    }
  })
}

/**
 * The contract's plain reads and writes (get, set, has, delete, getMany), the client's lifecycle, foreign data in
 * the store, and the backend expiry of an entry.
 * @module
 */
import { json1k, rejection, type Suite, sleep } from '../suite.js'

export function readWriteCases(s: Suite): void {
  const { expect } = s
  s.describe('get, set, has, delete, getMany', () => {
    s.it('returns what set stored; delete removes it', async () => {
      const cache = s.make()
      expect(await cache.get('k')).toBeUndefined()
      await cache.set('k', json1k)
      expect(await cache.get('k')).toEqual(json1k)
      expect(await cache.has('k')).toBe(true)
      await cache.delete('k')
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.has('k')).toBe(false)
      expect(await cache.getOrSet('k', () => 'after')).toBe('after')
    })

    s.timed('sees fresh entries only, unless allowStale', async () => {
      const cache = s.make({ ttl: 100, staleWhileRevalidate: '10s' })
      await cache.set('s', 'v')
      await sleep(200)
      expect(await cache.get('s')).toBeUndefined()
      expect(await cache.has('s')).toBe(false)
      expect(await cache.get('s', { allowStale: true })).toBe('v')
      expect(await cache.has('s', { allowStale: true })).toBe(true)
    })

    s.it('reads many keys at once, in order', async () => {
      const cache = s.make()
      await cache.set('a', 1)
      await cache.set('c', 3)
      expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, undefined, 3])
      expect(cache.metrics()).toMatchObject({ hits: 2, misses: 1 })
    })

    s.it('refuses to set undefined or a value JSON cannot encode, with a typed error [B4]', async () => {
      const cache = s.make()
      expect(await rejection(cache.set('u', undefined))).toMatchObject({ code: 'CACHEWARD_VALUE' })
      expect(await rejection(cache.set('b', { n: 10n }))).toMatchObject({ code: 'CACHEWARD_VALUE' })
    })

    s.it('returns an unencodable loaded value without caching it, and counts the failure [B4]', async () => {
      const cache = s.make()
      const circular: Record<string, unknown> = {}
      circular.self = circular
      expect(await cache.getOrSet('circ', () => circular)).toBe(circular)
      expect(await cache.get('circ')).toBeUndefined()
      expect(cache.metrics().errors).toBe(1)
    })
  })

  s.describe('lifecycle', () => {
    s.it('rejects calls after close() with a typed error', async () => {
      const cache = s.make()
      await cache.close()
      expect(await rejection(cache.get('k'))).toMatchObject({ code: 'CACHEWARD_CLOSED' })
      expect(await rejection(cache.getOrSet('k', () => 1))).toMatchObject({ code: 'CACHEWARD_CLOSED' })
    })

    s.it('with enabled: false always calls the loader and stores nothing', async () => {
      const cache = s.make({ enabled: false })
      let calls = 0
      await cache.getOrSet('k', () => ++calls)
      await cache.getOrSet('k', () => ++calls)
      await cache.set('k', 1)
      expect(calls).toBe(2)
      expect(await cache.get('k')).toBeUndefined()
    })
  })

  if (s.options.writeRaw) {
    const writeRaw = s.options.writeRaw
    s.describe('foreign and corrupted data', () => {
      for (const [what, raw] of [
        ['a foreign string', 'hello'],
        ['JSON', '{"a":1}'],
        ['a truncated entry', 'cw1|g||0|1|99999999999999|99999999999999|99999999999999\n{"w":1,"v":'],
        ['an entry of another version', 'cw1|g||0|1|99999999999999|99999999999999|99999999999999\n{"w":99,"v":1}'],
        ['a broken header', 'cw1|g|x\n{"w":1,"v":1}'],
      ] as const) {
        s.it(`treats ${what} as a miss, counts it, and replaces it [F13]`, async () => {
          const namespace = s.ns()
          const cache = s.make({ namespace })
          await writeRaw(`${namespace}:k`, raw)
          expect(await cache.get('k')).toBeUndefined()
          expect(await cache.getOrSet('k', () => 'loaded')).toBe('loaded')
          expect(await cache.get('k')).toBe('loaded')
          expect(cache.metrics().errors).toBeGreaterThanOrEqual(1)
        })
      }

      s.it('never lets a __proto__ payload reach Object.prototype [B5]', async () => {
        const namespace = s.ns()
        const cache = s.make({ namespace })
        const evil =
          'cw1|g||0|1|99999999999999|99999999999999|99999999999999\n{"w":1,"v":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}}'
        await writeRaw(`${namespace}:p`, evil)
        const value = (await cache.get('p')) as Record<string, unknown>
        expect(value).toEqual({ ok: 1 })
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
        expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      })
    })
  }

  if (s.options.pttl) {
    const pttl = s.options.pttl
    s.it('sets the backend expiry to ttl + max(staleWhileRevalidate, staleIfError)', async () => {
      const namespace = s.ns()
      const cache = s.make({ namespace, ttl: '1m', staleWhileRevalidate: '2m', staleIfError: '5m' })
      await cache.set('e', 1)
      const ms = await pttl(`${namespace}:e`)
      expect(ms).toBeGreaterThan(6 * 60_000 - 5_000)
      expect(ms).toBeLessThanOrEqual(6 * 60_000)
    })
  }
}

/**
 * The contract's tags: invalidateTags reaches every entry carrying a tag, loads under way and tags added by the
 * loader included, across namespaces and processes, and survives a lost tag record.
 * @module
 */
import type { CacheAdapter } from '../../index.js'
import { gate, rejection, type Suite } from '../suite.js'

export function tagCases(s: Suite): void {
  const { expect } = s
  // Not registered at all where tag ordering is not reproducible (an empty suite is an error).
  const tagSuite = s.options.faithful?.timeWindows === false ? (_name: string, _body: () => void) => {} : s.describe
  tagSuite('tags', () => {
    s.timed('invalidateTags makes every entry carrying a tag a miss, and leaves the others', async () => {
      const cache = s.make()
      await cache.getOrSet('room:1', () => 'r1', { tags: ['rooms', 'room:1'] })
      await cache.getOrSet('room:2', () => 'r2', { tags: ['rooms', 'room:2'] })
      await cache.set('user:1', 'u1', { tags: ['users'] })
      await cache.invalidateTags(['room:2'])
      expect(await cache.get('room:1')).toBe('r1')
      expect(await cache.get('room:2')).toBeUndefined()
      await cache.invalidateTags(['rooms'])
      expect(await cache.get('room:1')).toBeUndefined()
      expect(await cache.get('user:1')).toBe('u1')
      let calls = 0
      expect(await cache.getOrSet('room:1', () => ++calls, { tags: ['rooms'] })).toBe(1)
      expect(await cache.getOrSet('room:1', () => ++calls, { tags: ['rooms'] })).toBe(1)
      expect(await cache.get('room:1')).toBe(1)
    })

    s.timed('an invalidated entry is not served stale, even inside staleWhileRevalidate or staleIfError', async () => {
      const cache = s.make({ staleWhileRevalidate: '1h', staleIfError: '1h' })
      await cache.getOrSet('k', () => 'old', { tags: ['t'] })
      await cache.invalidateTags(['t'])
      expect(await cache.get('k', { allowStale: true })).toBeUndefined()
      const boom = new Error('db down')
      expect(await rejection(cache.getOrSet('k', () => Promise.reject(boom), { tags: ['t'] }))).toBe(boom)
    })

    s.timed('a load that began before invalidateTags is never returned after it resolved [C6]', async () => {
      const cache = s.make()
      const dbRead = gate()
      const started = gate()
      const load = cache.getOrSet(
        'k',
        async () => {
          started.open()
          await dbRead.promise
          return 'old'
        },
        { tags: ['t'] },
      )
      await started.promise
      await cache.invalidateTags(['t'])
      dbRead.open()
      expect(await load).toBe('old')
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.getOrSet('k', () => 'new', { tags: ['t'] })).toBe('new')
    })

    s.timed('tags set by the loader with ctx.setTags count from the load’s start too [C6, C12]', async () => {
      const cache = s.make()
      const dbRead = gate()
      const started = gate()
      const load = cache.getOrSet('k', async (ctx) => {
        started.open()
        await dbRead.promise
        ctx.setTags(['late'])
        return 'old'
      })
      await started.promise
      await cache.invalidateTags(['late'])
      dbRead.open()
      await load
      expect(await cache.get('k')).toBeUndefined()
    })

    s.timed('tags are shared by a namespace and its children, and across processes', async () => {
      const namespace = s.ns()
      const a = s.make({ namespace })
      const b = s.make({ namespace }, s.makePeer())
      await a.namespace('rooms').set('1', 'one', { tags: ['rooms'] })
      expect(await b.namespace('rooms').get('1')).toBe('one')
      await b.invalidateTags(['rooms'])
      expect(await a.namespace('rooms').get('1')).toBeUndefined()
    })

    s.timed(
      'releases a lock it took for a tag-invalidated entry when another process’s fresh value answers instead',
      async () => {
        const namespace = s.ns()
        const writer = s.make({ namespace }, s.makePeer())
        const inner = s.makeAdapter()
        let interleaved = false
        // Between this process's first read and its forced re-read, another process stores a valid value.
        const racing: CacheAdapter = {
          ...inner,
          read: async (key, lock, tags) => {
            if (lock?.force && !interleaved) {
              interleaved = true
              await writer.set('k', 'fresh from b', { tags: ['t'] })
            }
            return inner.read(key, lock, tags)
          },
        }
        const reader = s.make({ namespace, adapter: racing, lockWait: 3_000 })
        await writer.set('k', 'old', { tags: ['t'] })
        await writer.invalidateTags(['t'])
        expect(await reader.getOrSet('k', () => 'unused', { tags: ['t'] })).toBe('fresh from b')
        expect(interleaved).toBe(true)
        // Had the reader kept its lock, this load would wait lockWait (3 s) for it.
        await writer.invalidateTags(['t'])
        const started = performance.now()
        expect(await writer.getOrSet('k', () => 'reloaded', { tags: ['t'] })).toBe('reloaded')
        expect(performance.now() - started).toBeLessThan(1_000)
      },
    )

    s.timed('rejects tags that are not non-empty strings with a typed error', async () => {
      const cache = s.make()
      expect(await rejection(cache.invalidateTags(['ok', '']))).toMatchObject({ code: 'CACHEWARD_OPTIONS' })
      expect(await rejection(cache.getOrSet('k', () => 1, { tags: [1 as never] }))).toMatchObject({
        code: 'CACHEWARD_OPTIONS',
      })
    })

    if (s.options.deleteRaw) {
      const deleteRaw = s.options.deleteRaw
      s.timed(
        'losing a tag record (eviction, FLUSHALL of it) never makes an invalidated entry valid again [C7, F11]',
        async () => {
          const namespace = s.ns()
          const cache = s.make({ namespace })
          await cache.set('k', 'old', { tags: ['t'] })
          await cache.invalidateTags(['t'])
          await deleteRaw(`{${namespace}:tags}:t`)
          expect(await cache.get('k')).toBeUndefined()
          expect(await cache.getOrSet('k', () => 'new', { tags: ['t'] })).toBe('new')
          expect(await cache.get('k')).toBe('new')
        },
      )
    }
  })
}

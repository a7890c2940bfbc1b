/**
 * The contract's namespaces: child clients, isolation between namespaces whose names are prefixes or globs of one
 * another, clear() and invalidatePattern() over every shard.
 * @module
 */
import { createCacheClient, escapeGlob } from '../../index.js'
import { rejection, type Suite } from '../suite.js'

export function namespaceCases(s: Suite): void {
  const { expect } = s
  s.describe('namespaces, clear and invalidatePattern', () => {
    s.it('a child namespace shares the backend and metrics, and is cleared by the parent', async () => {
      const parent = s.make()
      const child = parent.namespace('rooms', { ttl: '1m' })
      await child.set('1', 'one')
      await parent.set('1', 'parent-one')
      expect(await child.get('1')).toBe('one')
      expect(await parent.get('1')).toBe('parent-one')
      expect(parent.metrics().hits).toBe(2)
      expect(await parent.clear()).toBe(2)
      expect(await child.get('1')).toBeUndefined()
    })

    s.it('clear() of namespace "app" never touches "apple" or "app2" [S4]', async () => {
      const base = s.ns()
      const app = s.make({ namespace: `${base}app` })
      const apple = s.make({ namespace: `${base}apple` })
      const app2 = s.make({ namespace: `${base}app2` })
      await Promise.all([app.set('k', 1), apple.set('k', 2), app2.set('k', 3)])
      expect(await app.clear()).toBe(1)
      expect([await app.get('k'), await apple.get('k'), await app2.get('k')]).toEqual([undefined, 2, 3])
    })

    for (const glob of ['*', '?', '[1]', '\\']) {
      s.globbed(
        `clear() and invalidatePattern() of a namespace ending in ${glob} never touch a sibling that the namespace matches as a glob`,
        async () => {
          const base = s.ns()
          const globbed = s.make({ namespace: `${base}${glob}` })
          const sibling = s.make({ namespace: `${base}1` })
          await sibling.set('k', 'kept')
          await globbed.set('k', 'gone')
          expect(await globbed.invalidatePattern('*')).toBe(1)
          await globbed.set('k', 'gone')
          expect(await globbed.clear()).toBe(1)
          expect(await sibling.get('k')).toBe('kept')
          expect(await globbed.get('k')).toBeUndefined()
        },
      )
    }

    s.it('refuses clear() and invalidatePattern() without a namespace, so other keys are never touched', async () => {
      const bare = createCacheClient({ adapter: s.makeAdapter() })
      s.track(bare)
      const refused = await rejection(bare.clear())
      expect(refused).toMatchObject({ code: 'CACHEWARD_OPTIONS' })
      expect(refused.message).toMatch(/clear\(\) needs a namespace/)
      expect(await rejection(bare.invalidatePattern('*'))).toMatchObject({ code: 'CACHEWARD_OPTIONS' })
    })

    s.it('invalidatePattern deletes matching keys only and returns the count', async () => {
      const cache = s.make()
      await Promise.all(
        ['meetings:user:1', 'meetings:user:2', 'meetings:user:10', 'meetings:all'].map((k) => cache.set(k, k)),
      )
      expect(await cache.invalidatePattern('meetings:user:*')).toBe(3)
      expect(await cache.get('meetings:all')).toBe('meetings:all')
      expect(await cache.get('meetings:user:1')).toBeUndefined()
    })

    s.globbed(
      'a pattern built with escapeGlob matches only that id, whatever glob characters it holds [B1]',
      async () => {
        const cache = s.make()
        const ids = ['1', '10', '*', '[1]', '?', 'a\\b', '1]']
        await Promise.all(ids.map((id) => cache.set(`user:${id}:profile`, id)))
        for (const id of ids) {
          expect(await cache.invalidatePattern(`user:${escapeGlob(id)}:*`)).toBe(1)
          expect(await cache.get(`user:${id}:profile`)).toBeUndefined()
        }
      },
    )

    s.it('finds keys whatever slot they hash to (every master of a cluster) [K1]', async () => {
      const cache = s.make()
      const keys = Array.from({ length: 120 }, (_, i) => `spread:${i}`)
      await Promise.all(keys.map((k) => cache.set(k, 1)))
      expect(await cache.clear()).toBe(120)
      expect(await cache.getMany(keys.slice(0, 5))).toEqual([undefined, undefined, undefined, undefined, undefined])
    })
  })
}

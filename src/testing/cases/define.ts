/**
 * The contract's typed key definitions (`define()`): keys built in one place, tags from the key's arguments, globs
 * that escape each argument.
 * @module
 */
import type { CacheClient } from '../../index.js'
import { rejection, type Suite, thrown } from '../suite.js'

export function defineCases(s: Suite): void {
  const { expect } = s
  s.describe('define: typed key definitions', () => {
    const sessions = (cache: CacheClient, db: Map<string, number>, loads: string[]) =>
      cache.define({
        key: (userId: string, page: number) => `sessions:${userId}:page:${page}`,
        load: async ([userId, page]) => {
          loads.push(`${userId}/${page}`)
          return { userId, page, count: db.get(userId) ?? 0 }
        },
        tags: (userId) => [`user:${userId}`],
        ttl: '1m',
      })

    s.globbed(
      'loads once per key, builds keys in one place, and invalidates one key or all of a user’s pages',
      async () => {
        const cache = s.make()
        const db = new Map([
          ['u1', 1],
          ['u*', 7],
        ])
        const loads: string[] = []
        const pages = sessions(cache, db, loads)
        expect(pages.key('u1', 2)).toBe('sessions:u1:page:2')
        await pages.get('u1', 1)
        await pages.get('u1', 2)
        await pages.get('u*', 1)
        expect(await pages.get('u1', 1)).toEqual({ userId: 'u1', page: 1, count: 1 })
        expect(loads).toEqual(['u1/1', 'u1/2', 'u*/1'])
        expect(await pages.peek('u1', 2)).toEqual({ userId: 'u1', page: 2, count: 1 })

        db.set('u1', 2)
        await pages.invalidate('u1', 1)
        expect(await pages.peek('u1', 1)).toBeUndefined()
        expect(await pages.peek('u1', 2)).toMatchObject({ userId: 'u1', page: 2 })

        // The glob escapes the id: "u*" must not match u1's pages.
        expect(pages.pattern('u*')).toBe('sessions:u\\*:page:*')
        expect(await pages.invalidateAll('u*')).toBe(1)
        expect(await pages.peek('u1', 2)).toMatchObject({ userId: 'u1', page: 2 })
        expect(await pages.invalidateAll('u1')).toBe(1)
        expect(await pages.get('u1', 2)).toEqual({ userId: 'u1', page: 2, count: 2 })
      },
    )

    s.it('tags entries from the key arguments, and set() stores a value you already have', async () => {
      const cache = s.make()
      const pages = sessions(cache, new Map(), [])
      await pages.set(['u2', 1], { userId: 'u2', page: 1, count: 42 })
      expect(await pages.peek('u2', 1)).toMatchObject({ count: 42 })
      await cache.invalidateTags(['user:u2'])
      expect(await pages.peek('u2', 1)).toBeUndefined()
    })

    s.it('builds the glob wherever key() puts each argument', async () => {
      const cache = s.make()
      const reversed = cache.define({ key: (a: string, b: string) => `x:${b}:${a}`, load: ([a, b]) => `${a}${b}` })
      expect(reversed.pattern('A*')).toBe('x:*:A\\*')
      expect(reversed.pattern()).toBe('x:*:*')
    })

    s.it('gives parameters with defaults their own * (key.length omits them), and rest parameters one', async () => {
      const cache = s.make()
      // As JavaScript writes it: KeyArgs has no `undefined`, so TypeScript refuses optional key arguments.
      const withDefaults = (userId: string, page = 1, size = 20) => `p:${userId}:${page}:${size}`
      const pages = cache.define({
        key: withDefaults as unknown as (...args: (string | number)[]) => string,
        load: ([userId, page, size]) => `${userId}/${page ?? 1}/${size ?? 20}`,
      })
      expect(pages.pattern()).toBe('p:*:*:*')
      expect(pages.pattern('u1')).toBe('p:u1:*:*')
      await pages.get('u1')
      await pages.get('u1', 2)
      await pages.get('u2', 3, 50)
      expect(await pages.invalidateAll()).toBe(3)
      expect(await pages.peek('u2', 3, 50)).toBeUndefined()
      const joined = cache.define({ key: (...parts: string[]) => `j:${parts.join(':')}`, load: () => 1 })
      expect(joined.pattern()).toBe('j:*')
      expect(joined.pattern('a')).toBe('j:a:*')
    })

    s.it('refuses to build a glob from a key that does not embed its arguments', async () => {
      const cache = s.make()
      const hashed = cache.define({ key: (id: string) => `h:${id.length}`, load: () => 1 })
      expect(thrown(() => hashed.pattern()).message).toMatch(/does not embed argument 1/)
      expect(await rejection(hashed.invalidateAll())).toMatchObject({ code: 'CACHEWARD_KEY' })
      expect(hashed.pattern('abc')).toBe('h:3')
    })
  })

  s.describe('define().getMany', () => {
    s.it('reads every entry in one batch and loads the missing ones with one loadMany call, in order', async () => {
      const cache = s.make()
      const loaded: (readonly [string, number])[][] = []
      const sessions = cache.define({
        key: (user: string, page: number) => `sessions:${user}:${page}`,
        load: async ([user, page]) => `${user}/${page}`,
        loadMany: async (argsList) => {
          loaded.push(argsList)
          return argsList.map(([user, page]) => (user === 'nobody' ? undefined : `${user}/${page}`))
        },
        tags: (user) => [`user:${user}`],
      })
      await sessions.set(['ann', 1], 'cached')
      expect(
        await sessions.getMany([
          ['ann', 1],
          ['ann', 2],
          ['bob', 1],
          ['nobody', 1],
        ]),
      ).toEqual(['cached', 'ann/2', 'bob/1', undefined])
      // One call per distinct tag list (tags come from the arguments here).
      expect(loaded.map((list) => list.map(([u, p]) => `${u}:${p}`)).sort()).toEqual([
        ['ann:2'],
        ['bob:1'],
        ['nobody:1'],
      ])
      await cache.invalidateTags(['user:ann'])
      expect(await sessions.getMany([['ann', 1]])).toEqual(['ann/1'])
    })

    s.it('refuses a list over maxBatchKeys, or an item that is no argument list, before any read or load', async () => {
      const cache = s.make({ maxBatchKeys: 3 })
      const loads: string[] = []
      const record = (id: number) => {
        loads.push(String(id))
        return `user ${id}`
      }
      // Split into one batch per tag list, or into single calls without loadMany: the limit is the whole list's.
      const byShard = cache.define({
        key: (id: number) => `user:${id}`,
        load: async ([id]) => record(id),
        loadMany: async (argsList) => argsList.map(([id]) => record(id)),
        tags: (id) => [`shard:${id % 2}`],
      })
      const single = cache.define({ key: (id: number) => `one:${id}`, load: async ([id]) => record(id) })
      for (const definition of [byShard, single]) {
        const tooMany = await rejection(definition.getMany([[1], [2], [3], [4]]))
        expect(tooMany.code).toBe('CACHEWARD_KEY')
        expect(tooMany.message).toMatch(/maxBatchKeys/)
        // Ids where argument lists belong (from JavaScript): 'u1' would be spread into key('u', '1').
        const notLists = await rejection(definition.getMany(['u1', 'u2'] as unknown as [number][]))
        expect(notLists.code).toBe('CACHEWARD_KEY')
        expect(notLists.message).toMatch(/argsList\[0\]/)
      }
      expect(loads).toEqual([])
      expect(cache.metrics()).toMatchObject({ hits: 0, misses: 0 })
    })

    s.it('without loadMany, gets each entry with load', async () => {
      const cache = s.make()
      const rooms = cache.define({ key: (id: number) => `room:${id}`, load: async ([id]) => ({ id }) })
      expect(await rooms.getMany([[1], [2]])).toEqual([{ id: 1 }, { id: 2 }])
      expect(await rooms.peek(2)).toEqual({ id: 2 })
    })
  })
}

/**
 * The contract's batch writes: `setMany` and `deleteMany`, with the promises of `set` and `delete` per key.
 * @module
 */
import { gate, rejection, type Suite, sleep } from '../suite.js'

export function batchWriteCases(s: Suite): void {
  const { expect } = s
  s.describe('setMany and deleteMany', () => {
    s.it('setMany stores every value (a Map or pairs), deleteMany removes every key', async () => {
      const cache = s.make()
      await cache.setMany([
        ['m1', 1],
        ['m2', 2],
      ])
      await cache.setMany(new Map([['m3', 3]]), { tags: ['nums'] })
      expect(await cache.getMany(['m1', 'm2', 'm3'])).toEqual([1, 2, 3])
      await cache.deleteMany(['m1', 'm3'])
      expect(await cache.getMany(['m1', 'm2', 'm3'])).toEqual([undefined, 2, undefined])
      const bad = await rejection(cache.setMany([['', 1]]))
      expect(bad.code).toBe('CACHEWARD_KEY')
      const undef = await rejection(cache.setMany([['u', undefined]]))
      expect(undef.code).toBe('CACHEWARD_VALUE')
    })

    s.it(
      'setMany refused for one value (it cannot be encoded, or is too large) writes none of the others',
      async () => {
        const cache = s.make({ maxValueBytes: 1_000 })
        await cache.set('kept', 'before')
        const unencodable = await rejection(
          cache.setMany<unknown>([
            ['kept', 'after'],
            ['n1', 1],
            ['big', 10n],
          ]),
        )
        expect(unencodable.code).toBe('CACHEWARD_VALUE')
        const tooLarge = await rejection(
          cache.setMany<unknown>(
            [
              ['kept', 'after'],
              ['n2', 2],
              ['huge', 'y'.repeat(5_000)],
            ],
            { tags: ['t'] },
          ),
        )
        expect(tooLarge.name).toBe('CacheValueTooLargeError')
        // A rejected call lands nothing, not even later.
        await sleep(50)
        expect(await cache.getMany(['kept', 'n1', 'n2', 'big', 'huge'])).toEqual([
          'before',
          undefined,
          undefined,
          undefined,
          undefined,
        ])
      },
    )

    s.it('deleteMany fences loads that began before it', async () => {
      const cache = s.make()
      const held = gate()
      const started = gate()
      const pending = cache.getOrSetMany(['d1', 'd2'], async (keys) => {
        started.open()
        await held.promise
        return keys.map(() => 'old')
      })
      await started.promise
      await cache.deleteMany(['d1', 'd2'])
      held.open()
      await pending
      expect(await cache.getMany(['d1', 'd2'])).toEqual([undefined, undefined])
    })
  })
}

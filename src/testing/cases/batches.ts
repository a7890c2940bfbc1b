/**
 * The contract's batch cases: `getOrSetMany`, `setMany`, `deleteMany`, with every per-key rule of `getOrSet`.
 * @module
 */
import type { StandardSchemaV1 } from '../../index.js'
import { eventually, gate, rejection, type Suite, sleep, thrown } from '../suite.js'

const Num: StandardSchemaV1<unknown, number> = {
  '~standard': {
    version: 1,
    vendor: 'cacheward-contract',
    validate: (value) => (typeof value === 'number' ? { value } : { issues: [{ message: 'expected a number' }] }),
  },
}

/** A loadMany that records each call's keys and answers `value:<key>`. */
function recorder(delay = 0) {
  const calls: string[][] = []
  const loadMany = async (keys: string[]) => {
    calls.push([...keys])
    if (delay > 0) await sleep(delay)
    return keys.map((k) => `value:${k}`)
  }
  return { calls, loadMany }
}

export function batchCases(s: Suite): void {
  const { expect } = s
  s.describe('getOrSetMany', () => {
    s.it('answers in the order of the keys, loading only the missing ones in one call', async () => {
      const cache = s.make()
      await cache.set('b', 'cached:b')
      const { calls, loadMany } = recorder()
      expect(await cache.getOrSetMany(['a', 'b', 'c'], loadMany)).toEqual(['value:a', 'cached:b', 'value:c'])
      expect(calls).toEqual([['a', 'c']])
      expect(await cache.getOrSetMany(['c', 'a', 'b'], loadMany)).toEqual(['value:c', 'value:a', 'cached:b'])
      expect(calls.length).toBe(1)
      expect(cache.metrics()).toMatchObject({ hits: 4, misses: 2, loads: 2 })
    })

    s.it('reads and loads a key given twice once, and answers it at both places', async () => {
      const cache = s.make()
      const { calls, loadMany } = recorder()
      expect(await cache.getOrSetMany(['x', 'y', 'x'], loadMany)).toEqual(['value:x', 'value:y', 'value:x'])
      expect(calls).toEqual([['x', 'y']])
      expect(cache.metrics()).toMatchObject({ misses: 2, hits: 0 })
    })

    s.it('takes a Map; a key it leaves out, or undefined, is answered undefined and not stored', async () => {
      const cache = s.make()
      let calls = 0
      const loadMany = async (keys: string[]) => {
        calls++
        return new Map(keys.filter((k) => k !== 'gone').map((k) => [k, k.length]))
      }
      expect(await cache.getOrSetMany(['one', 'gone'], loadMany)).toEqual([3, undefined])
      expect(await cache.get('one')).toBe(3)
      expect(await cache.get('gone')).toBeUndefined()
      expect(await cache.getOrSetMany(['one', 'gone'], loadMany)).toEqual([3, undefined])
      expect(calls).toBe(2)
    })

    s.it('rejects with the loader’s own error and stores nothing; the next call loads again', async () => {
      const cache = s.make()
      const boom = new Error('db down')
      const error = await rejection(
        cache.getOrSetMany(['e1', 'e2'], async () => {
          throw boom
        }),
      )
      expect(error).toBe(boom)
      expect(await cache.get('e1')).toBeUndefined()
      const { loadMany } = recorder()
      expect(await cache.getOrSetMany(['e1', 'e2'], loadMany)).toEqual(['value:e1', 'value:e2'])
    })

    s.it('rejects a loader that answers a different number of values, naming loadMany', async () => {
      const cache = s.make()
      const error = await rejection(cache.getOrSetMany(['p', 'q'], async () => ['only one']))
      expect(error.code).toBe('CACHEWARD_OPTIONS')
      expect(error.message).toMatch(/loadMany/)
      expect(await cache.get('p')).toBeUndefined()
    })

    s.it('refuses bad input with a typed error before any backend work or load', async () => {
      const cache = s.make({ maxBatchKeys: 3 })
      const { calls, loadMany } = recorder()
      const notArray = await rejection(cache.getOrSetMany('a' as unknown as string[], loadMany))
      expect(notArray.code).toBe('CACHEWARD_KEY')
      const empty = await rejection(cache.getOrSetMany(['a', ''], loadMany))
      expect(empty.code).toBe('CACHEWARD_KEY')
      expect(empty.message).toMatch(/keys\[1\]/)
      const tooMany = await rejection(cache.getOrSetMany(['a', 'b', 'c', 'd'], loadMany))
      expect(tooMany.code).toBe('CACHEWARD_KEY')
      expect(tooMany.message).toMatch(/maxBatchKeys/)
      const noLoader = await rejection(cache.getOrSetMany(['a'], 'nope' as never))
      expect(noLoader.code).toBe('CACHEWARD_OPTIONS')
      expect(calls.length).toBe(0)
      expect(cache.metrics()).toMatchObject({ hits: 0, misses: 0, errors: 0 })
      const option = thrown(() => s.make({ maxBatchKeys: 0 }))
      expect(option.code).toBe('CACHEWARD_OPTIONS')
      expect(option.message).toMatch(/maxBatchKeys/)
    })

    s.it('answers an empty list with an empty array without calling the loader', async () => {
      const cache = s.make()
      const { calls, loadMany } = recorder()
      expect(await cache.getOrSetMany([], loadMany)).toEqual([])
      expect(calls.length).toBe(0)
    })

    s.it('does not write back a key deleted while its batch was loading (the fence, per key)', async () => {
      const cache = s.make()
      const held = gate()
      const started = gate()
      const pending = cache.getOrSetMany(['f1', 'f2'], async (keys) => {
        started.open()
        await held.promise
        return keys.map((k) => `old:${k}`)
      })
      await started.promise
      await cache.delete('f1')
      held.open()
      expect(await pending).toEqual(['old:f1', 'old:f2'])
      expect(await cache.get('f1')).toBeUndefined()
      expect(await cache.get('f2')).toBe('old:f2')
    })

    s.timed(
      'does not store values whose tag was invalidated during the load, and drops tagged ones after',
      async () => {
        const cache = s.make()
        const held = gate()
        const started = gate()
        const pending = cache.getOrSetMany(
          ['t1', 't2'],
          async (keys) => {
            started.open()
            await held.promise
            return keys.map((k) => `old:${k}`)
          },
          { tags: ['users'] },
        )
        await started.promise
        await cache.invalidateTags(['users'])
        held.open()
        await pending
        expect(await cache.get('t1')).toBeUndefined()
        const { calls, loadMany } = recorder()
        await cache.getOrSetMany(['t1', 't2'], loadMany, { tags: ['users'] })
        await cache.invalidateTags(['users'])
        expect(await cache.getOrSetMany(['t1', 't2'], loadMany, { tags: ['users'] })).toEqual(['value:t1', 'value:t2'])
        expect(calls).toEqual([
          ['t1', 't2'],
          ['t1', 't2'],
        ])
      },
    )

    s.it('runs the schema per key: a cached value failing it is a miss, a loaded one rejects', async () => {
      const cache = s.make()
      await cache.set('s1', 'not a number')
      await cache.set('s2', 2)
      expect(await cache.getOrSetMany(['s1', 's2'], async (keys) => keys.map(() => 1), { schema: Num })).toEqual([1, 2])
      const error = await rejection(
        cache.getOrSetMany(['s3'], async (): Promise<unknown[]> => ['three'], { schema: Num }),
      )
      expect(error.code).toBe('CACHEWARD_SCHEMA')
      expect(await cache.get('s3')).toBeUndefined()
    })

    s.it('shares its load with a concurrent getOrSet of one of its keys (one load per key)', async () => {
      const cache = s.make()
      let single = 0
      const { calls, loadMany } = recorder(30)
      const [many, one] = await Promise.all([
        cache.getOrSetMany(['j1', 'j2'], loadMany),
        cache.getOrSet('j1', async () => {
          single++
          return 'single'
        }),
      ])
      expect(many).toEqual(['value:j1', 'value:j2'])
      expect(one).toBe('value:j1')
      expect(single).toBe(0)
      expect(calls).toEqual([['j1', 'j2']])
    })

    s.it('loads each key once across two processes running overlapping batches', async () => {
      const namespace = s.ns()
      const a = s.make({ namespace })
      const b = s.make({ namespace }, s.makePeer())
      const loaded: string[] = []
      const loadMany = async (keys: string[]) => {
        loaded.push(...keys)
        await sleep(100)
        return keys.map((k) => `v:${k}`)
      }
      const [ra, rb] = await Promise.all([
        a.getOrSetMany(['o1', 'o2', 'o3'], loadMany),
        b.getOrSetMany(['o2', 'o3', 'o4'], loadMany),
      ])
      expect(ra).toEqual(['v:o1', 'v:o2', 'v:o3'])
      expect(rb).toEqual(['v:o2', 'v:o3', 'v:o4'])
      expect(loaded.sort()).toEqual(['o1', 'o2', 'o3', 'o4'])
    })

    // Timed: the tag half compares a load's start with the tag's stamp on the backend clock, which ioredis-mock
    // does not keep apart within a millisecond (the tags suite is not registered there either).
    s.timed('loads again a key another client deleted or tag-invalidated since this one last read it', async () => {
      const namespace = s.ns()
      const a = s.make({ namespace })
      const b = s.make({ namespace }, s.makePeer())
      let version = 1
      const loadMany = async (keys: string[]) => keys.map((k) => `${k}@${version}`)
      await a.getOrSetMany(['r1', 'r2', 'r3'], loadMany, { tags: ['rooms'] })
      expect(await a.getOrSetMany(['r1', 'r2', 'r3'], loadMany, { tags: ['rooms'] })).toEqual(['r1@1', 'r2@1', 'r3@1'])
      version = 2
      await b.deleteMany(['r1'])
      await eventually(async () => {
        expect(await a.getOrSetMany(['r1', 'r2', 'r3'], loadMany, { tags: ['rooms'] })).toEqual([
          'r1@2',
          'r2@1',
          'r3@1',
        ])
      })
      version = 3
      await b.invalidateTags(['rooms'])
      await eventually(async () => {
        expect(await a.getOrSetMany(['r1', 'r2', 'r3'], loadMany, { tags: ['rooms'] })).toEqual([
          'r1@3',
          'r2@3',
          'r3@3',
        ])
      })
    })

    s.timed('serves stale keys at once and refreshes them with one background call', async () => {
      const cache = s.make({ ttl: 150, staleWhileRevalidate: '10s' })
      let round = 0
      const calls: string[][] = []
      const both = ['w1', 'w2']
      // The refresh's loader is held until the stale answer is in: "at once" means before the load ends, on any machine.
      let held: Promise<void> = Promise.resolve()
      const loadMany = async (keys: string[]) => {
        calls.push([...keys])
        await held
        return keys.map((k) => `${k}@${round}`)
      }
      expect(await cache.getOrSetMany(['w1', 'w2'], loadMany)).toEqual(['w1@0', 'w2@0'])
      await sleep(250)
      round = 1
      const refresh = gate()
      held = refresh.promise
      expect(await cache.getOrSetMany(['w1', 'w2'], loadMany)).toEqual(['w1@0', 'w2@0'])
      const refreshes: string[] = []
      cache.on('refresh', (event) => refreshes.push(event.key))
      refresh.open()
      await eventually(async () => expect(refreshes.length).toBe(2))
      expect(calls).toEqual([both, both])
      expect(await cache.getOrSetMany(['w1', 'w2'], loadMany)).toEqual(['w1@1', 'w2@1'])
      expect(cache.metrics()).toMatchObject({ staleHits: 2, hits: 2, misses: 2 })
    })

    s.timed('serves the stale value of each key when the loader fails inside staleIfError', async () => {
      const cache = s.make({ ttl: 150, staleIfError: '10s' })
      await cache.set('i1', 'old')
      await sleep(250)
      const boom = new Error('db down')
      expect(
        await cache.getOrSetMany(['i1'], async () => {
          throw boom
        }),
      ).toEqual(['old'])
      // A key without a stale value rejects the call with the loader's error.
      const error = await rejection(
        cache.getOrSetMany(['i1', 'i2'], async () => {
          throw boom
        }),
      )
      expect(error).toBe(boom)
    })

    s.it('with ttl 0 calls the loader with every key and stores nothing', async () => {
      const cache = s.make()
      const { calls, loadMany } = recorder()
      expect(await cache.getOrSetMany(['z1', 'z2'], loadMany, { ttl: 0 })).toEqual(['value:z1', 'value:z2'])
      expect(await cache.get('z1')).toBeUndefined()
      expect(calls).toEqual([['z1', 'z2']])
    })

    s.it('rejects a batch whose signal aborts during its first read; the load finishes for the others', async () => {
      const namespace = s.ns()
      const a = s.make({ namespace })
      const b = s.make({ namespace }, s.makePeer())
      const first = async (keys: string[]) => keys.map((k) => `v1:${k}`)
      await a.getOrSetMany(['s1', 's2'], first)
      expect(await a.getOrSetMany(['s1', 's2'], first)).toEqual(['v1:s1', 'v1:s2'])
      // Another client deletes s2 (with l1, this one hears of it one hop later).
      await b.delete('s2')
      await eventually(async () => {
        expect(await a.get('s2')).toBeUndefined()
      }, 2_000)
      const g = gate<string[]>()
      const loading = gate()
      const loadMany = async (keys: string[]) => {
        loading.open()
        await g.promise
        return keys.map((k) => `v2:${k}`)
      }
      const controller = new AbortController()
      const batch = a.getOrSetMany(['s1', 's2'], loadMany, { signal: controller.signal })
      // Aborted at once, while the batch's first read is still on its way (over a network backend).
      controller.abort(new Error('client went away'))
      // A rejection comes at once, or one round trip after the call; the old code never rejected (the race then ends
      // at 5 s).
      const outcome = await Promise.race([rejection(batch), sleep(5_000).then(() => 'still waiting for the load')])
      expect(outcome instanceof Error ? outcome.message : outcome).toMatch(/client went away/)
      // The read goes on without the caller, and the load it starts for s2 finishes and is stored.
      await loading.promise
      g.open([])
      await eventually(async () => {
        expect(await a.getOrSet('s2', () => 'unused')).toBe('v2:s2')
      }, 2_000)
    })

    s.it('counts one miss per distinct key of a batch aborted while it loads, as getOrSet counts one', async () => {
      const cache = s.make()
      const started = gate()
      const held = gate()
      const controller = new AbortController()
      const batch = cache.getOrSetMany(
        ['a1', 'a2', 'a1'],
        async (keys) => {
          started.open()
          await held.promise
          return keys.map((k) => `v:${k}`)
        },
        { signal: controller.signal },
      )
      await started.promise
      controller.abort(new Error('client went away'))
      expect((await rejection(batch)).message).toMatch(/client went away/)
      held.open()
      await sleep(20)
      expect(cache.metrics()).toMatchObject({ hits: 0, staleHits: 0, misses: 2 })
    })

    s.it('gives loadMany the keys, a signal, and choices that apply to every key', async () => {
      const cache = s.make()
      let seen: { keys: readonly string[]; aborted: boolean } | undefined
      await cache.getOrSetMany(['k1', 'k2'], async (keys, ctx) => {
        seen = { keys: ctx.keys, aborted: ctx.signal.aborted }
        ctx.skipCache()
        return keys.map(() => 1)
      })
      expect(seen).toEqual({ keys: ['k1', 'k2'], aborted: false })
      expect(await cache.get('k1')).toBeUndefined()
    })
  })
}

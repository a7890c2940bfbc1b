/**
 * The contract's getOrSet cases: loads, single-flight, freshness windows, the loader's context, schemas.
 * @module
 */
import type { StandardSchemaV1 } from '../../index.js'
import { eventually, gate, json1k, rejection, type Suite, sleep } from '../suite.js'

/** A Standard Schema from a check: the kit carries its own rather than depend on a validation library. */
function schema<Output>(
  check: (value: unknown) => Output | undefined,
  expected: string,
): StandardSchemaV1<unknown, Output> {
  return {
    '~standard': {
      version: 1,
      vendor: 'cacheward-contract',
      validate: (value) => {
        const output = check(value)
        return output === undefined ? { issues: [{ message: `expected ${expected}` }] } : { value: output }
      },
    },
  }
}

interface Room {
  id: number
  title: string
}
const Room = schema<Room>((value) => {
  const room = value as Partial<Room> | null
  return typeof room === 'object' && room !== null && typeof room.id === 'number' && typeof room.title === 'string'
    ? { id: room.id, title: room.title }
    : undefined
}, '{ id: number, title: string }')
const Doubled = schema((value) => (typeof value === 'number' ? value * 2 : undefined), 'a number')
const Parsed = schema((value) => (typeof value === 'string' ? Number(value) : undefined), 'a string')

export function getOrSetCases(s: Suite): void {
  const { expect } = s
  s.describe('getOrSet', () => {
    s.it('calls the loader on a miss, then serves the stored value without calling it again', async () => {
      const cache = s.make()
      let calls = 0
      const loader = async () => {
        calls++
        return json1k
      }
      expect(await cache.getOrSet('room:7', loader)).toEqual(json1k)
      expect(await cache.getOrSet('room:7', loader)).toEqual(json1k)
      expect(calls).toBe(1)
      expect(cache.metrics()).toMatchObject({ hits: 1, misses: 1, loads: 1, hitRate: 0.5 })
    })

    s.it('never stores undefined, and round-trips null, 0, false and empty strings [C11]', async () => {
      const cache = s.make()
      let calls = 0
      const undef = async () => {
        calls++
        return undefined
      }
      await cache.getOrSet('u', undef)
      await cache.getOrSet('u', undef)
      expect(calls).toBe(2)
      for (const [k, v] of [
        ['null', null],
        ['zero', 0],
        ['false', false],
        ['empty', ''],
      ] as const) {
        await cache.getOrSet(k, () => v)
        expect(await cache.getOrSet(k, () => 'reloaded')).toBe(v)
      }
    })

    s.it(
      'calls the loader once for 200 concurrent misses in one process; every caller gets the value [C1]',
      async () => {
        const cache = s.make()
        let calls = 0
        const results = await Promise.all(
          Array.from({ length: 200 }, () =>
            cache.getOrSet('hot', async () => {
              calls++
              await sleep(30)
              return { v: 1 }
            }),
          ),
        )
        expect(calls).toBe(1)
        expect(results.every((r) => r.v === 1)).toBe(true)
        expect(cache.metrics()).toMatchObject({ misses: 200, hits: 0, loads: 1 })
      },
    )

    s.it('calls the loader once across two processes missing the same key together [C2]', async () => {
      const namespace = s.ns()
      const a = s.make({ namespace })
      const b = s.make({ namespace }, s.makePeer())
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(100)
        return 'shared'
      }
      const results = await Promise.all([
        ...Array.from({ length: 20 }, () => a.getOrSet('cold', loader)),
        ...Array.from({ length: 20 }, () => b.getOrSet('cold', loader)),
      ])
      expect(calls).toBe(1)
      expect([...new Set(results)]).toEqual(['shared'])
    })

    s.it(
      'rejects every waiter with the loader’s own error, stores nothing, and loads again next time [C1]',
      async () => {
        const cache = s.make()
        const boom = new Error('db down')
        let calls = 0
        const failing = async () => {
          calls++
          await sleep(10)
          throw boom
        }
        const settled = await Promise.allSettled(Array.from({ length: 5 }, () => cache.getOrSet('f', failing)))
        expect(settled.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true)
        expect(calls).toBe(1)
        expect(await cache.getOrSet('f', () => 'ok')).toBe('ok')
        expect(cache.metrics()).toMatchObject({ loadErrors: 1, loads: 2 })
      },
    )

    s.timed('loads again once ttl has passed', async () => {
      const cache = s.make({ ttl: 150 })
      let n = 0
      const loader = () => ++n
      expect(await cache.getOrSet('t', loader)).toBe(1)
      expect(await cache.getOrSet('t', loader)).toBe(1)
      await sleep(250)
      expect(await cache.getOrSet('t', loader)).toBe(2)
    })

    s.it('with ttl 0 stores nothing but still single-flights', async () => {
      const cache = s.make()
      let calls = 0
      const loader = async () => {
        calls++
        await sleep(20)
        return 'x'
      }
      await Promise.all([cache.getOrSet('z', loader, { ttl: 0 }), cache.getOrSet('z', loader, { ttl: 0 })])
      expect(calls).toBe(1)
      expect(await cache.get('z')).toBeUndefined()
    })

    s.timed('serves a stale value at once inside staleWhileRevalidate and refreshes it exactly once [C9]', async () => {
      const cache = s.make({ ttl: 150, staleWhileRevalidate: '10s' })
      let n = 0
      // The refresh's loader is held until the stale answers are in: "at once" means before the load ends.
      let held: Promise<void> = Promise.resolve()
      const loader = async () => {
        n++
        await held
        return n
      }
      expect(await cache.getOrSet('swr', loader)).toBe(1)
      await sleep(250)
      const refresh = gate()
      held = refresh.promise
      const stale = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet('swr', loader)))
      expect([...new Set(stale)]).toEqual([1])
      const refreshes: string[] = []
      cache.on('refresh', (event) => refreshes.push(event.key))
      refresh.open()
      await eventually(async () => expect(refreshes.length).toBe(1))
      expect(n).toBe(2)
      expect(await cache.getOrSet('swr', loader)).toBe(2)
      expect(cache.metrics().staleHits).toBe(50)
    })

    s.timed(
      'serves the stale value when the loader fails inside staleIfError, and the loader’s error after it [F6]',
      async () => {
        const cache = s.make({ ttl: 150, staleIfError: 400 })
        await cache.getOrSet('sie', () => 'old')
        await sleep(250)
        const boom = new Error('db down')
        expect(await cache.getOrSet('sie', () => Promise.reject(boom))).toBe('old')
        await sleep(350)
        expect(await rejection(cache.getOrSet('sie', () => Promise.reject(boom)))).toBe(boom)
        expect(cache.metrics()).toMatchObject({ staleHits: 1, loadErrors: 2 })
      },
    )

    s.timed('rejects a failing loader at once when staleIfError is off', async () => {
      const cache = s.make({ ttl: 100 })
      await cache.getOrSet('nosie', () => 'old')
      await sleep(200)
      const boom = new Error('nope')
      expect(await rejection(cache.getOrSet('nosie', () => Promise.reject(boom)))).toBe(boom)
    })

    s.timed('lets the loader choose its ttl, and skip the cache [C12]', async () => {
      const cache = s.make()
      await cache.getOrSet('short', (ctx) => {
        ctx.setTtl(100)
        return 'a'
      })
      await cache.getOrSet('skip', (ctx) => {
        ctx.skipCache()
        return 'b'
      })
      expect(await cache.get('short')).toBe('a')
      expect(await cache.get('skip')).toBeUndefined()
      await sleep(200)
      expect(await cache.get('short')).toBeUndefined()
    })

    s.timed('gives the loader its key, an AbortSignal, and the stale value on a refresh', async () => {
      const cache = s.make({ ttl: 100, staleWhileRevalidate: '10s' })
      const seen: unknown[] = []
      const loader = (ctx: { key: string; signal: AbortSignal; stale: number | undefined }) => {
        seen.push([ctx.key, ctx.signal instanceof AbortSignal, ctx.stale])
        return (ctx.stale ?? 0) + 1
      }
      await cache.getOrSet('ctx', loader)
      await sleep(200)
      await cache.getOrSet('ctx', loader)
      await sleep(50)
      expect(seen).toEqual([
        ['ctx', true, undefined],
        ['ctx', true, 1],
      ])
    })

    s.it(
      'treats a cached value failing the schema as a miss, and rejects a loaded one without storing it [B6]',
      async () => {
        const cache = s.make()
        await cache.set('room', { id: 'not-a-number' })
        expect(await cache.getOrSet('room', () => ({ id: 1, title: 'ok' }), { schema: Room })).toEqual({
          id: 1,
          title: 'ok',
        })
        const bad = await rejection(cache.getOrSet('room2', () => ({ id: 2 }) as never, { schema: Room }))
        expect(bad).toMatchObject({ code: 'CACHEWARD_SCHEMA' })
        expect(bad.message).toMatch(/room2.*not cached/)
        expect(await cache.get('room2')).toBeUndefined()
      },
    )

    s.it('runs a transforming schema once per call: a hit returns what the miss returned', async () => {
      const cache = s.make()
      let loads = 0
      const twentyOne = () => {
        loads++
        return 21
      }
      expect(await cache.getOrSet('doubled', twentyOne, { schema: Doubled })).toBe(42)
      expect(await cache.getOrSet('doubled', twentyOne, { schema: Doubled })).toBe(42)
      expect(await cache.get('doubled', { schema: Doubled })).toBe(42)
      // The loader returns the schema's input (a string); callers get its output (a number).
      const five = (() => {
        loads++
        return '5'
      }) as unknown as () => number
      expect(await cache.getOrSet('parsed', five, { schema: Parsed })).toBe(5)
      expect(await cache.getOrSet('parsed', five, { schema: Parsed })).toBe(5)
      expect(loads).toBe(2)
      expect(cache.metrics()).toMatchObject({ hits: 3, misses: 2, errors: 0 })
    })

    s.it(
      'returns a value whose toJSON() gives undefined without storing it: not cacheable, never read back as corrupt',
      async () => {
        const cache = s.make()
        const operations: string[] = []
        cache.on('error', (e) => operations.push(e.operation))
        const odd = { toJSON: () => undefined }
        let loads = 0
        for (let i = 0; i < 3; i++) {
          expect(
            await cache.getOrSet('odd', () => {
              loads++
              return odd
            }),
          ).toBe(odd)
        }
        expect(loads).toBe(3)
        expect(await cache.get('odd')).toBeUndefined()
        expect(operations).toEqual(['encode', 'encode', 'encode'])
      },
    )

    s.it('rejects an aborted caller only; the shared load finishes for the others [C13]', async () => {
      const cache = s.make()
      const g = gate<string>()
      const controller = new AbortController()
      const first = cache.getOrSet('ab', () => g.promise, { signal: controller.signal })
      const second = cache.getOrSet('ab', () => 'unused')
      controller.abort(new Error('client went away'))
      expect((await rejection(first)).message).toMatch(/client went away/)
      g.open('done')
      expect(await second).toBe('done')
      expect(await cache.get('ab')).toBe('done')
    })

    s.it('stores keys containing braces, glob characters and unicode [B2]', async () => {
      const cache = s.make()
      for (const key of ['{}', '}{', '{a}b', 'x{y}', '*', '[1]', 'a\\b', '?', 'ключ:🔑', ' spaced key ']) {
        expect(await cache.getOrSet(key, () => `v:${key}`)).toBe(`v:${key}`)
        expect(await cache.get(key)).toBe(`v:${key}`)
      }
    })
  })
}

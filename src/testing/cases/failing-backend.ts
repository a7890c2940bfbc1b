/**
 * The contract's failing backend: reads degrade to the loader, writes surface a typed error, nothing leaks a secret.
 * The adapter under test is replaced by one that throws or hangs, so these cases check the client's handling of an
 * adapter's failures, whatever the adapter.
 * @module
 */
import { type CacheAdapter, isCacheBackendError } from '../../index.js'
import { rejection, type Suite } from '../suite.js'

export function failingBackendCases(s: Suite): void {
  const { expect } = s
  s.describe('a failing backend', () => {
    const broken = (inner: CacheAdapter, mode: 'throw' | 'hang'): CacheAdapter => {
      const fail = () =>
        mode === 'throw'
          ? Promise.reject(new Error('ECONNREFUSED redis://:s3cret@10.0.0.1:6379'))
          : new Promise<never>(() => {})
      // Every required member fails; optional ones are left out, but for a subscription that never goes live (so a
      // client with `l1` can be built over it, and its tier stays bypassed). Nothing is spread from `inner`: an
      // adapter written as a class keeps its methods on the prototype, where a spread does not reach.
      return {
        name: inner.name,
        read: fail,
        write: fail,
        release: fail,
        invalidate: fail,
        readTags: fail,
        invalidateTags: fail,
        ping: fail,
        subscribe: (listener) => {
          listener.live(false)
          return () => {}
        },
      }
    }

    for (const mode of ['throw', 'hang'] as const) {
      s.it(`never fails a getOrSet the loader can answer (backend that ${mode}s), counts and emits it`, async () => {
        const cache = s.make({ adapter: broken(s.makeAdapter(), mode), timeout: 100 })
        const events: unknown[] = []
        cache.on('error', (e) => events.push(e))
        const started = performance.now()
        expect(await cache.getOrSet('k', () => 'from-db')).toBe('from-db')
        expect(performance.now() - started).toBeLessThan(400)
        expect(await cache.get('k')).toBeUndefined()
        expect(cache.metrics().errors).toBeGreaterThanOrEqual(2)
        expect(JSON.stringify(events.map(String)).includes('s3cret')).toBe(false)
        for (const e of events as { error: Error }[]) expect(e.error.message.includes('s3cret')).toBe(false)
      })
    }

    for (const mode of ['throw', 'hang'] as const) {
      s.it(`answers a getOrSetMany with one loadMany call when the backend ${mode}s, within the timeout`, async () => {
        const inner = s.makeAdapter()
        const failing = broken(inner, mode)
        const fail = failing.read
        // A batch-capable adapter fails its batched read (and cheap peek) the same way.
        const cache = s.make({
          adapter: { ...failing, readMany: fail as never, peekMany: fail as never },
          timeout: 100,
        })
        const calls: string[][] = []
        const started = performance.now()
        const values = await cache.getOrSetMany(['b1', 'b2', 'b1'], async (keys) => {
          calls.push(keys)
          return keys.map((k) => `db:${k}`)
        })
        expect(values).toEqual(['db:b1', 'db:b2', 'db:b1'])
        expect(calls).toEqual([['b1', 'b2']])
        expect(performance.now() - started).toBeLessThan(400)
        expect(cache.metrics()).toMatchObject({ misses: 2 })
        expect(cache.metrics().errors).toBeGreaterThanOrEqual(1)
        // Nothing was stored; this read (bounded by the timeout too) also outlasts the lock releases the failed read
        // left in the background, which a runner like node:test would otherwise find pending at the suite's end.
        expect(await cache.get('b1')).toBeUndefined()
      })
    }

    s.it(
      'rejects with the loader’s own error when the backend fails too; the backend failure is only counted [F8]',
      async () => {
        const cache = s.make({ adapter: broken(s.makeAdapter(), 'throw'), timeout: 100 })
        const boom = new Error('database down')
        expect(
          await rejection(
            cache.getOrSet('k', () => {
              throw boom
            }),
          ),
        ).toBe(boom)
        expect(cache.metrics()).toMatchObject({ loads: 1, loadErrors: 1 })
        expect(cache.metrics().errors).toBeGreaterThanOrEqual(1)
      },
    )

    s.it('rejects writes with a typed backend error that carries no secret [S1]', async () => {
      const cache = s.make({ adapter: broken(s.makeAdapter(), 'throw'), timeout: 100 })
      const error = await rejection(cache.set('k', 'v'))
      expect(isCacheBackendError(error)).toBe(true)
      expect(String(error.message).includes('s3cret')).toBe(false)
      expect(await rejection(cache.delete('k'))).toMatchObject({ code: 'CACHEWARD_BACKEND' })
    })

    s.it('reports health without rejecting', async () => {
      const good = await s.make().health()
      expect(good).toMatchObject({ ok: true })
      expect(good.latencyMs).toBeGreaterThanOrEqual(0)
      const bad = await s.make({ adapter: broken(s.makeAdapter(), 'hang'), timeout: 50 }).health()
      expect(bad).toMatchObject({ ok: false })
    })
  })
}

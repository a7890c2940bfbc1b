import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { classify, expiryOf, type Freshness } from '../../src/freshness.js'

const slot = (freshUntil: number, staleUntil: number, errorUntil: number, body = '{"w":1,"v":1}') => ({
  body,
  freshUntil,
  staleUntil,
  errorUntil,
})

const ORDER: readonly Freshness[] = ['fresh', 'stale', 'stale-if-error', 'expired']

describe('classify', () => {
  // ttl ends at 1000, stale-while-revalidate at 2000, stale-if-error at 3000.
  const entry = slot(1_000, 2_000, 3_000)

  it.each([
    [0, 'fresh'],
    [999, 'fresh'],
    [1_000, 'stale'],
    [1_999, 'stale'],
    [2_000, 'stale-if-error'],
    [2_999, 'stale-if-error'],
    [3_000, 'expired'],
    [1e15, 'expired'],
  ] as const)('at %d an entry fresh until 1000, stale until 2000, servable on error until 3000 is %s', (now, state) => {
    expect(classify(entry, now)).toBe(state)
  })

  it('is never stale when staleWhileRevalidate is 0: it goes from fresh to stale-if-error', () => {
    const noSwr = slot(1_000, 1_000, 3_000)
    expect(classify(noSwr, 999)).toBe('fresh')
    expect(classify(noSwr, 1_000)).toBe('stale-if-error')
  })

  it('goes from fresh straight to expired when both stale windows are 0', () => {
    const plain = slot(1_000, 1_000, 1_000)
    expect(classify(plain, 999)).toBe('fresh')
    expect(classify(plain, 1_000)).toBe('expired')
  })

  it('serves stale (and refreshes) through the whole stale-while-revalidate window even when it outlasts stale-if-error', () => {
    const longSwr = slot(1_000, 3_000, 2_000)
    expect(classify(longSwr, 2_500)).toBe('stale')
    expect(classify(longSwr, 3_000)).toBe('expired')
  })

  it('calls a marker (tombstone or lock, empty body) expired at any time, whatever its times say', () => {
    const marker = slot(5_000, 6_000, 7_000, '')
    for (const now of [0, 4_999, 5_000, 6_500, 7_000, 1e15]) expect(classify(marker, now)).toBe('expired')
  })

  it('never goes back: as time passes an entry only moves from fresh to stale to stale-if-error to expired', () => {
    const time = fc.integer({ min: 0, max: 1e13 })
    const window = fc.integer({ min: 0, max: 1e9 })
    fc.assert(
      fc.property(
        time,
        window,
        window,
        fc.array(time, { minLength: 2, maxLength: 12 }),
        fc.string(),
        (freshUntil, swr, sie, times, body) => {
          const s = slot(freshUntil, freshUntil + swr, freshUntil + sie, body)
          const ranks = times.sort((a, b) => a - b).map((now) => ORDER.indexOf(classify(s, now)))
          for (let i = 1; i < ranks.length; i++) expect(ranks[i]).toBeGreaterThanOrEqual(ranks[i - 1] as number)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('never goes back even for slots whose times are out of order (corrupted or hand-written)', () => {
    const time = fc.integer({ min: -1e6, max: 1e6 })
    fc.assert(
      fc.property(time, time, time, fc.array(time, { minLength: 2, maxLength: 12 }), (f, s, e, times) => {
        const ranks = times.sort((a, b) => a - b).map((now) => ORDER.indexOf(classify(slot(f, s, e), now)))
        for (let i = 1; i < ranks.length; i++) expect(ranks[i]).toBeGreaterThanOrEqual(ranks[i - 1] as number)
      }),
      { numRuns: 500 },
    )
  })
})

describe('expiryOf', () => {
  it('keeps an entry in the backend for ttl plus the longer of the two stale windows', () => {
    expect(expiryOf(1_000, 0, 0)).toBe(1_000)
    expect(expiryOf(1_000, 500, 0)).toBe(1_500)
    expect(expiryOf(1_000, 0, 3_000)).toBe(4_000)
    expect(expiryOf(1_000, 2_000, 3_000)).toBe(4_000)
    expect(expiryOf(1_000, 3_000, 2_000)).toBe(4_000)
  })

  it('outlives every servable moment of the entry it stores', () => {
    const ms = fc.integer({ min: 0, max: 2_147_483_647 })
    fc.assert(
      fc.property(ms, ms, ms, (ttl, swr, sie) => {
        const written = 1_000
        const expiresAt = written + expiryOf(ttl, swr, sie)
        const s = slot(written + ttl, written + ttl + swr, written + ttl + sie)
        // The last moment classify calls servable is one millisecond before the backend drops the key, or earlier.
        expect(classify(s, expiresAt)).toBe('expired')
        if (ttl > 0) expect(classify(s, expiresAt - 1)).not.toBe('expired')
      }),
    )
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  classify,
  type Decision,
  decide,
  expiryOf,
  type Freshness,
  jitter,
  shouldRefreshEarly,
} from '../../src/freshness.js'

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

// Where stale-while-revalidate is decided: every input of decide(), and what a call does about it.
describe('decide', () => {
  const cases: [Freshness, 'acquired' | 'held' | 'none', boolean, Decision][] = [
    // A fresh entry is served; a lock the read took anyway (a forced read after a tag check) is released.
    ['fresh', 'none', false, { action: 'serve', release: false }],
    ['fresh', 'none', true, { action: 'serve', release: false }],
    ['fresh', 'acquired', false, { action: 'serve', release: true }],
    ['fresh', 'acquired', true, { action: 'serve', release: true }],
    ['fresh', 'held', false, { action: 'serve', release: false }],
    ['fresh', 'held', true, { action: 'serve', release: false }],
    // Inside staleWhileRevalidate: served at once; the caller that took the lock refreshes, unless the loader
    // just failed (errorBackoff), when it lets the lock go; the others leave it to the holder.
    ['stale', 'acquired', false, { action: 'refresh' }],
    ['stale', 'acquired', true, { action: 'serve-stale', release: true }],
    ['stale', 'held', false, { action: 'serve-stale', release: false }],
    ['stale', 'held', true, { action: 'serve-stale', release: false }],
    ['stale', 'none', false, { action: 'serve-stale', release: false }],
    ['stale', 'none', true, { action: 'serve-stale', release: false }],
    // Inside staleIfError only: load (or wait for the holder) with the stale value as the fallback; while
    // backing off after a failure, serve it without calling the loader.
    ['stale-if-error', 'acquired', false, { action: 'load', fallback: true }],
    ['stale-if-error', 'acquired', true, { action: 'serve-stale', release: true }],
    ['stale-if-error', 'held', false, { action: 'wait', fallback: true }],
    ['stale-if-error', 'held', true, { action: 'serve-stale', release: false }],
    ['stale-if-error', 'none', false, { action: 'load', fallback: true }],
    ['stale-if-error', 'none', true, { action: 'serve-stale', release: false }],
    // Nothing servable: load, or wait for whoever holds the lock; back-off changes nothing without a value.
    ['expired', 'acquired', false, { action: 'load', fallback: false }],
    ['expired', 'acquired', true, { action: 'load', fallback: false }],
    ['expired', 'held', false, { action: 'wait', fallback: false }],
    ['expired', 'held', true, { action: 'wait', fallback: false }],
    ['expired', 'none', false, { action: 'load', fallback: false }],
    ['expired', 'none', true, { action: 'load', fallback: false }],
  ]

  it('covers every combination of freshness, lock and back-off exactly once', () => {
    const seen = new Set(cases.map(([f, l, b]) => `${f}/${l}/${b}`))
    expect(seen.size).toBe(ORDER.length * 3 * 2)
  })

  it.each(cases)('%s entry, lock %s, backing off %s: %o', (freshness, lock, backingOff, expected) => {
    expect(decide({ freshness, lock, backingOff })).toEqual(expected)
  })
})

describe('jitter', () => {
  it('only ever shortens ttl, by at most the fraction, never below 1 ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_147_483_647 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (ttl, fraction, random) => {
          const out = jitter(ttl, fraction, random)
          expect(out).toBeLessThanOrEqual(ttl)
          expect(out).toBeGreaterThanOrEqual(Math.max(1, Math.floor(ttl * (1 - fraction))))
        },
      ),
    )
  })

  it('leaves ttl alone with no jitter', () => {
    expect(jitter(60_000, 0, 0.99)).toBe(60_000)
  })
})

describe('shouldRefreshEarly (XFetch)', () => {
  it('never refreshes when off, or without a measured load time', () => {
    expect(shouldRefreshEarly(100, 0, 1, 0.0001)).toBe(false)
    expect(shouldRefreshEarly(0, 1, 1, 0.0001)).toBe(false)
  })

  it('refreshes iff -loadMs × beta × ln(random) reaches the time left', () => {
    // -100 × 1 × ln(e^-1) = 100
    expect(shouldRefreshEarly(100, 1, 100, Math.exp(-1))).toBe(true)
    expect(shouldRefreshEarly(100, 1, 100.01, Math.exp(-1))).toBe(false)
    expect(shouldRefreshEarly(100, 2, 200, Math.exp(-1))).toBe(true)
  })

  it('refreshes a key read every 10 ms shortly before it expires in nearly every fresh period (beta 1) [C10]', () => {
    // A key loaded in 100 ms: a read with `left` ms to go refreshes with probability e^(-left / 100), so the
    // first refresh lands in the last few hundred ms of the period, and almost never fails to come.
    const loadMs = 100
    let hits = 0
    let earliest = 0
    let seed = 1
    const random = () => {
      seed = (seed * 48271) % 2147483647
      return seed / 2147483647
    }
    for (let round = 0; round < 200; round++) {
      for (let left = 60_000; left > 0; left -= 10) {
        if (shouldRefreshEarly(loadMs, 1, left, random())) {
          hits++
          earliest = Math.max(earliest, left)
          break
        }
      }
    }
    expect(hits).toBeGreaterThan(180)
    expect(earliest).toBeLessThan(2_000)
  })
})

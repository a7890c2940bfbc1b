/**
 * A clock that moves only when the test moves it.
 * @module
 */
import type { Clock } from '../index.js'

/** A {@link Clock} the test moves by hand. Give it to `createCacheClient({ clock })` and `memoryAdapter({ clock })`. */
export interface ManualClock extends Clock {
  /** The current time in milliseconds; changes only through `advance` and `set`. */
  now(): number
  /** Moves the clock forward by `ms` (not backward: use `set` for that) and returns the new time. */
  advance(ms: number): number
  /** Sets the clock to `ms`, forward or backward, and returns it. */
  set(ms: number): number
}

const finite = (name: string, ms: number) => {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TypeError(`[cacheward] manualClock ${name}(ms) expected a finite number of milliseconds, got ${ms}`)
  }
}

/**
 * Creates a clock that starts at `start` (default: 2030-01-01T00:00:00Z, a fixed time so runs repeat) and stays
 * there until moved.
 * @example
 * const clock = manualClock()
 * const cache = createCacheClient({ clock, adapter: memoryAdapter({ clock }), ttl: '5m' })
 * await cache.set('k', 1)
 * clock.advance(5 * 60_000) // past ttl: get() now misses
 */
export function manualClock(start = Date.UTC(2030, 0, 1)): ManualClock {
  finite('start', start)
  let now = start
  return {
    now: () => now,
    advance(ms) {
      finite('advance', ms)
      if (ms < 0) throw new RangeError(`[cacheward] manualClock advance(ms) moves forward only; use set() to go back`)
      now += ms
      return now
    },
    set(ms) {
      finite('set', ms)
      now = ms
      return now
    },
  }
}

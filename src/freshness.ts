/**
 * Pure decisions about an entry and time: how fresh a slot is, what a call does about it (serve,
 * serve stale and refresh, wait for another process, load), how much jitter shortens a ttl, and
 * whether a hit near expiry refreshes early. No I/O and no clock reads: callers pass the time in.
 * @module
 */
import type { Slot } from './adapters/adapter.js'

/**
 * - `fresh`: before `ttl` ends; served without loading.
 * - `stale`: inside `staleWhileRevalidate`; served at once while one refresh runs.
 * - `stale-if-error`: inside `staleIfError` only; served when the loader or backend fails.
 * - `expired`: nothing servable.
 */
export type Freshness = 'fresh' | 'stale' | 'stale-if-error' | 'expired'

/** Classifies a slot at backend time `now`. Markers (no body) are always `expired`. */
export function classify(
  slot: Pick<Slot, 'body' | 'freshUntil' | 'staleUntil' | 'errorUntil'>,
  now: number,
): Freshness {
  if (slot.body === '') return 'expired'
  if (now < slot.freshUntil) return 'fresh'
  if (now < slot.staleUntil) return 'stale'
  if (now < slot.errorUntil) return 'stale-if-error'
  return 'expired'
}

/** Backend expiry of an entry: `ttl + max(staleWhileRevalidate, staleIfError)`. */
export function expiryOf(ttl: number, staleWhileRevalidate: number, staleIfError: number): number {
  return ttl + Math.max(staleWhileRevalidate, staleIfError)
}

/** What a `getOrSet` read found, as {@link decide} needs it. */
export interface Situation {
  /** Freshness of the entry at the read's backend time; `expired` when there is none usable. */
  freshness: Freshness
  /** What the read did about the stampede lock: took it, found it held by another caller, or took none (fresh). */
  lock: 'acquired' | 'held' | 'none'
  /** The loader failed a moment ago and was answered stale: don't call it again yet (`errorBackoff`). */
  backingOff: boolean
}

/**
 * What a call does next:
 * - `serve`: a fresh hit. `release` when the read took the lock anyway (a forced read after a tag check).
 * - `refresh`: serve the stale value at once and refresh it in the background, holding the lock.
 * - `serve-stale`: serve the stale value without refreshing (another caller holds the lock, or the loader
 *   just failed); `release` a lock the read took.
 * - `wait`: another caller holds the lock: wait for its value (`fallback`: a stale-if-error value exists).
 * - `load`: call the loader now (`fallback`: a stale-if-error value answers if it fails).
 */
export type Decision =
  | { action: 'serve'; release: boolean }
  | { action: 'refresh' }
  | { action: 'serve-stale'; release: boolean }
  | { action: 'wait'; fallback: boolean }
  | { action: 'load'; fallback: boolean }

/** Where stale-while-revalidate, stale-if-error's back-off, lock waits and loads are decided. */
export function decide({ freshness, lock, backingOff }: Situation): Decision {
  const holding = lock === 'acquired'
  if (freshness === 'fresh') return { action: 'serve', release: holding }
  if (freshness === 'stale') {
    return holding && !backingOff ? { action: 'refresh' } : { action: 'serve-stale', release: holding }
  }
  const fallback = freshness === 'stale-if-error'
  if (fallback && backingOff) return { action: 'serve-stale', release: holding }
  if (lock === 'held') return { action: 'wait', fallback }
  return { action: 'load', fallback }
}

/**
 * Shortens `ttl` by a random fraction up to `fraction` (0 to 1), so entries written together expire
 * apart; never lengthens it, never below 1 ms. `random` is in [0, 1).
 */
export function jitter(ttl: number, fraction: number, random: number): number {
  if (fraction <= 0) return ttl
  return Math.max(1, Math.round(ttl * (1 - fraction * random)))
}

/**
 * XFetch (Vattani et al., VLDB 2015): refresh a fresh entry early with a probability that rises as
 * expiry nears, scaled by how long its last load took (`loadMs`) and by `beta`. `untilExpiry` is what is
 * left of its fresh period; `random` is in (0, 1].
 */
export function shouldRefreshEarly(loadMs: number, beta: number, untilExpiry: number, random: number): boolean {
  if (loadMs <= 0 || beta <= 0) return false
  return -loadMs * beta * Math.log(random) >= untilExpiry
}

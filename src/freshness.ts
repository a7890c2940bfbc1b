/**
 * Fresh, stale or expired: a pure function of a slot and the backend's time.
 * @module
 */
import type { Fence, Slot, WriteRequest } from './adapters/adapter.js'

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

/** The write of one entry: its windows, and a backend expiry of `ttl + max(swr, sie)`. */
export function entryWrite(
  fence: Fence | null,
  gen: string,
  ttl: number,
  staleWhileRevalidate: number,
  staleIfError: number,
  body: string,
): WriteRequest {
  return {
    fence,
    gen,
    ttl,
    staleWhileRevalidate,
    staleIfError,
    expireIn: expiryOf(ttl, staleWhileRevalidate, staleIfError),
    body,
  }
}

/**
 * Markers: slots without an entry (a tombstone left by an invalidation, a lock taken on an absent key).
 * One shape for every adapter and wrapper that writes one.
 * @module
 */
import type { Slot } from './adapter.js'

/** A marker of generation `gen`: no entry, no times; locked by `lock.token` until `lock.until` when given. */
export function markerSlot(gen: string, lock?: { token: string; until: number }): Slot {
  return {
    gen,
    lockToken: lock?.token ?? '',
    lockUntil: lock?.until ?? 0,
    createdAt: 0,
    freshUntil: 0,
    staleUntil: 0,
    errorUntil: 0,
    body: '',
  }
}

/** A slot as Redis stores it: `cw1|<gen>|<lockToken>|<lockUntil>|<createdAt>|<freshUntil>|<staleUntil>|<errorUntil>\n<body>`. */
export function formatSlot(s: Slot): string {
  return `cw1|${s.gen}|${s.lockToken}|${s.lockUntil}|${s.createdAt}|${s.freshUntil}|${s.staleUntil}|${s.errorUntil}\n${s.body}`
}

/**
 * Deadlines for backend calls and lock renewals: one timer per 10 ms bucket shared by every deadline in it.
 * @module
 */
import { requestBoundIo } from './runtime.js'

const BUCKET_MS = 10

/**
 * Timeouts of concurrent backend operations share one timer per 10 ms bucket: a timer per operation
 * cost a measurable share of a cache hit. A deadline fires up to one bucket late, never early.
 */
const deadlines = new Map<number, { fire: Set<() => void>; timer: ReturnType<typeof setTimeout> }>()

/** Calls `fire` once `ms` have passed (up to one bucket later); returns the function that cancels it. */
export function watchDeadline(ms: number, fire: () => void): () => void {
  if (requestBoundIo) {
    // Workers: a timer dies with the request that armed it, so a request never waits on another request's timer.
    const timer = setTimeout(fire, ms)
    return () => clearTimeout(timer)
  }
  const at = Math.ceil((Date.now() + ms) / BUCKET_MS) * BUCKET_MS
  let bucket = deadlines.get(at)
  if (!bucket) {
    const created = {
      fire: new Set<() => void>(),
      timer: setTimeout(() => {
        deadlines.delete(at)
        for (const f of created.fire) f()
      }, at - Date.now()),
    }
    // Never the reason a process stays alive: a pending backend call holds it through its own socket.
    ;(created.timer as { unref?: () => void }).unref?.()
    deadlines.set(at, created)
    bucket = created
  }
  const current = bucket
  current.fire.add(fire)
  // An emptied bucket keeps its timer, which then fires on nothing: clearing it would cost a sequential caller (one
  // operation at a time, so every bucket empties) a timer per operation.
  return () => {
    current.fire.delete(fire)
  }
}

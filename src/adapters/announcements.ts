/**
 * What a Redis adapter does with the change announcements its own subscriber connection receives: wake
 * the callers waiting on another process's lock for those keys, and pass every announcement on to the
 * listeners (an in-process tier), with whether the subscription is live. The connection itself is the
 * adapter's (ioredis, node-redis): it calls {@link AnnouncementHub.receive} and {@link AnnouncementHub.live}.
 * @module
 */
import type { Announcement, AnnouncementListener } from './adapter.js'

export class AnnouncementHub {
  readonly #waiting = new Map<string, Set<() => void>>()
  readonly #listeners = new Set<AnnouncementListener>()
  readonly #open: () => void
  #opened = false
  #live = false

  /** `open` starts the subscriber connection; called once, when first needed. */
  constructor(open: () => void) {
    this.#open = open
  }

  #start(): void {
    if (this.#opened) return
    this.#opened = true
    this.#open()
  }

  /** Whether the subscriber was opened and not closed since: an adapter opens none unless this holds. */
  get started(): boolean {
    return this.#opened
  }

  /** A message from the channel: wakes the waiters of the keys it names, then tells every listener. */
  receive(message: unknown): void {
    const announcement = parseAnnouncement(message)
    if (!announcement) return
    // A glob names no key a caller waits on: the scripts announce every key a pattern invalidation tombstones.
    if (announcement.kind === 'keys' || announcement.kind === 'release') {
      for (const key of announcement.keys) this.#wake(key)
    }
    for (const listener of this.#listeners) listener.message(announcement)
  }

  /** The subscription was confirmed (`true`), or may have missed messages (`false`). */
  live(up: boolean): void {
    if (up === this.#live) return
    this.#live = up
    for (const listener of this.#listeners) listener.live(up)
  }

  #wake(key: string): void {
    const wake = this.#waiting.get(key)
    if (!wake) return
    this.#waiting.delete(key)
    for (const done of wake) done()
  }

  /** Resolves when a write or release at `key` is announced, or after `ms` at the latest. */
  waitForWrite(key: string, ms: number): Promise<void> {
    this.#start()
    return new Promise<void>((resolve) => {
      let group = this.#waiting.get(key)
      if (!group) {
        group = new Set()
        this.#waiting.set(key, group)
      }
      const set = group
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0 && this.#waiting.get(key) === set) this.#waiting.delete(key)
        resolve()
      }
      const timer = setTimeout(done, ms)
      ;(timer as { unref?: () => void }).unref?.()
      set.add(done)
    })
  }

  /** Adds a listener; it hears at once whether the subscription is live. Returns the function that removes it. */
  subscribe(listener: AnnouncementListener): () => void {
    this.#start()
    this.#listeners.add(listener)
    listener.live(this.#live)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /**
   * Ends every wait and tells listeners the subscription is gone (dispose). The next wait or listener opens
   * the subscriber again: an adapter outlives the client that disposed it (a later client may use it).
   */
  close(): void {
    this.#opened = false
    this.live(false)
    for (const group of [...this.#waiting.values()]) for (const done of [...group]) done()
    this.#listeners.clear()
  }
}

/**
 * The announcement of a pattern invalidation, published on the change channel once its walk is done: `["g", gen,
 * glob]`. The scripts announce each key they tombstone; this names the keys no script saw (gone from the backend,
 * still held by some process's tier). Not `p`: the Upstash adapter's heartbeats use it.
 */
export function patternAnnouncement(glob: string, gen: string): string {
  return JSON.stringify(['g', gen, glob])
}

/** An announcement as the change channel carries it, parsed; `undefined` for a message that is not one. */
export function parseAnnouncement(message: unknown): Announcement | undefined {
  let parsed: unknown = message
  if (typeof message === 'string') {
    try {
      parsed = JSON.parse(message)
    } catch {
      return undefined
    }
  }
  if (!Array.isArray(parsed) || parsed.length < 2) return undefined
  const [kind, ...rest] = parsed as unknown[]
  if (!rest.every((k): k is string => typeof k === 'string')) return undefined
  if (kind === 'k') {
    const [gen, ...keys] = rest
    return keys.length === 0 || gen === undefined ? undefined : { kind: 'keys', keys, gen }
  }
  if (kind === 'g') {
    const [gen, glob] = rest
    return rest.length === 2 && gen !== undefined && glob !== undefined
      ? { kind: 'pattern', keys: [glob], gen }
      : undefined
  }
  const keys = rest
  if (kind === 't') return { kind: 'tags', keys }
  if (kind === 'r') return { kind: 'release', keys }
  return undefined
}

export type { Announcement }

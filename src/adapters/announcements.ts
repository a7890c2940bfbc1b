/**
 * What a Redis adapter does with the change announcements its own subscriber connection receives: wake
 * the callers waiting on another process's lock for those keys, and pass every announcement on to the
 * listeners (an in-process tier), with whether the subscription is live. The connection itself is the
 * adapter's (ioredis, node-redis): it calls {@link AnnouncementHub.receive} and {@link AnnouncementHub.live}.
 * @module
 */
import type { Announcement, AnnouncementListener } from './adapter.js'
import { parseAnnouncement } from './redis-wire.js'

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
    if (announcement.kind !== 'tags') for (const key of announcement.keys) this.#wake(key)
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

export type { Announcement }

/**
 * In-process single-flight: concurrent callers of one key share one read and one load.
 * @module
 */

/** Runs at most one task per key at a time; callers arriving meanwhile share its promise. */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>()

  /** `joined` is true for callers that shared a task another caller started. */
  run(key: string, task: () => Promise<T>): { promise: Promise<T>; joined: boolean } {
    const existing = this.#inFlight.get(key)
    if (existing) return { promise: existing, joined: true }
    const promise = task().finally(() => {
      this.#inFlight.delete(key)
    })
    this.#inFlight.set(key, promise)
    return { promise, joined: false }
  }

  /** Keys with a task under way (for leak checks). */
  get size(): number {
    return this.#inFlight.size
  }
}

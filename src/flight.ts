/**
 * In-process single-flight: concurrent callers of one key share one read and one load.
 *
 * A flight is joinable until its load starts. A caller arriving later must not get a value whose
 * load began before it arrived (an invalidation may have resolved in between), so it starts the
 * next flight, which waits for the current one to settle and then reads again: usually a hit on the
 * value just stored, never a second concurrent load.
 * @module
 */

interface Flight<T> {
  promise: Promise<T>
  joinable: boolean
}

/** Runs at most one task per key at a time; callers arriving meanwhile share its promise. */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>()

  /**
   * `joined` is true for callers that shared a task another caller started. The task receives
   * `seal()`, to call when later callers may no longer join it (its load is starting).
   */
  run(key: string, task: (seal: () => void) => Promise<T>): { promise: Promise<T>; joined: boolean } {
    const current = this.#flights.get(key)
    if (current?.joinable) return { promise: current.promise, joined: true }
    const flight: Flight<T> = { promise: Promise.resolve(undefined as T), joinable: true }
    const seal = () => {
      flight.joinable = false
    }
    const start = current ? current.promise.then(settled, settled).then(() => task(seal)) : task(seal)
    flight.promise = start.finally(() => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
    })
    this.#flights.set(key, flight)
    return { promise: flight.promise, joined: false }
  }

  /** Keys with a task under way (for leak checks). */
  get size(): number {
    return this.#flights.size
  }
}

function settled(): void {}

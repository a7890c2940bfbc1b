/**
 * In-process single-flight: concurrent callers of one key share one read and one load.
 *
 * A caller must not get a value read or loaded before it arrived: an invalidation may have resolved
 * in between. So a flight is joinable only until its read can have left the process (microtasks run
 * before any I/O, so a burst of callers, a stampede, shares everything), and never once its load has
 * started. A caller arriving later queues the next flight, which every later caller joins while it
 * waits; once the current one settles it reads again (usually a hit on the value just stored), so a
 * hot key costs one read per round trip in a process, never one per caller, nor a second load.
 * @module
 */

interface Flight<T> {
  promise: Promise<T>
  joinable: boolean
}

/** Runs at most one task per key at a time; callers arriving meanwhile share its promise. */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>()
  readonly #queue: boolean

  /**
   * `queue: false` is for runtimes that bind pending work to the request that started it (Cloudflare Workers, see
   * runtime.ts): a caller then joins a task only in the tick it began (the same request's code), and one arriving
   * later starts its own task at once instead of waiting behind a task that may belong to a request that has ended,
   * and so may never settle. The backend's lock still keeps concurrent loads of a key to one.
   */
  constructor(options: { queue?: boolean } = {}) {
    this.#queue = options.queue ?? true
  }

  /**
   * `joined` is true for callers that shared a task another caller started. The task receives
   * `seal()`, to call when later callers may no longer join it (its load is starting). With
   * `'while-running'` (pass-throughs that cache nothing) the flight stays joinable until sealed.
   */
  run(
    key: string,
    task: (seal: () => void) => Promise<T>,
    joinable: 'this-tick' | 'while-running' = 'this-tick',
  ): { promise: Promise<T>; joined: boolean } {
    const current = this.#flights.get(key)
    if (current?.joinable) return { promise: current.promise, joined: true }
    const flight: Flight<T> = { promise: Promise.resolve(undefined as T), joinable: true }
    const seal = () => {
      flight.joinable = false
    }
    const sealAfterTick = joinable === 'this-tick' || !this.#queue
    // Joinable until one microtask after the task begins: callers queued behind an earlier flight all
    // share the read this one makes once that flight settles, and every joiner arrived before it left.
    const begin = () => {
      if (sealAfterTick) queueMicrotask(seal)
      return task(seal)
    }
    const start = current && this.#queue ? current.promise.then(settled, settled).then(begin) : begin()
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

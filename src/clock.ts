/**
 * The clock the client uses for durations it measures itself (load times, back-off windows).
 * Entry freshness uses the backend's clock, reported with every read, not this one.
 * @module
 */

/** A source of milliseconds. Tests inject one to move time instead of sleeping. */
export interface Clock {
  /** The current time in milliseconds, like `Date.now()`. */
  now(): number
}

/** `Date.now()`. */
export const systemClock: Clock = { now: () => Date.now() }

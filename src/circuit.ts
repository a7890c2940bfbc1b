/**
 * Circuit breaker around the backend: after `threshold` consecutive failures it opens for
 * `duration` (calls skip the backend at once), then lets one call through as a probe; success
 * closes it, failure opens it again.
 * @module
 */
import type { Clock } from './clock.js'
import type { CircuitState } from './metrics.js'

/** What a breaker reports when it opens or closes. */
export type CircuitChange = { state: 'open'; failures: number; retryInMs: number } | { state: 'closed' }

export class CircuitBreaker {
  #failures = 0
  /** Distinct incidents among the failures since the last success (see {@link failure}). */
  #incidents = 0
  /** Incidents since construction; a call notes it when it starts (see {@link mark}). */
  #epoch = 0
  #openUntil = 0
  #open = false
  #probing = false
  readonly #threshold: number
  readonly #duration: number
  readonly #clock: Clock
  readonly #onChange: (change: CircuitChange) => void

  constructor(threshold: number, duration: number, clock: Clock, onChange: (change: CircuitChange) => void) {
    this.#threshold = threshold
    this.#duration = duration
    this.#clock = clock
    this.#onChange = onChange
  }

  get isOpen(): boolean {
    return this.#open
  }

  /** Whether a call may reach the backend now. While open, one call per `duration` gets through as a probe. */
  allow(): boolean {
    if (!this.#open) return true
    if (this.#probing || this.#clock.now() < this.#openUntil) return false
    this.#probing = true
    return true
  }

  success(): void {
    this.#failures = 0
    this.#incidents = 0
    if (this.#open) {
      this.#open = false
      this.#probing = false
      this.#onChange({ state: 'closed' })
    }
  }

  /**
   * What a call notes when it starts, to pass to {@link failure} if it fails. A failure of a call that was
   * already in flight when another failure was counted belongs to the same incident: a connection reset
   * fails every command in flight at once (node-redis does), and so does a client flushing its offline queue.
   */
  get mark(): number {
    return this.#epoch
  }

  /**
   * Counts a failure; `threshold` of them open the breaker, as long as they come from two incidents at least
   * (one, with a threshold of 1). So one reset that fails many commands at once, after which the next call
   * succeeds, never opens it, while a server that stays down fails the calls made after it too and opens it
   * one attempt later. `mark` is what the call noted when it started; timeouts pass none, so each is an
   * incident of its own and a hung server opens the breaker after `threshold` timeouts, as before.
   */
  failure(mark?: number): void {
    const incident = mark === undefined || mark >= this.#epoch
    if (incident) {
      this.#epoch++
      this.#incidents++
    }
    this.#failures++
    if (this.#open) {
      // The probe failed (not a call from before it opened): stay open for another period.
      if (!incident) return
      this.#probing = false
      this.#openUntil = this.#clock.now() + this.#duration
    } else if (this.#failures >= this.#threshold && this.#incidents >= Math.min(2, this.#threshold)) {
      this.#open = true
      this.#openUntil = this.#clock.now() + this.#duration
      this.#onChange({ state: 'open', failures: this.#failures, retryInMs: this.#duration })
    }
  }
}

/** What metrics report for a breaker: `disabled` when there is none. */
export function circuitState(breaker: CircuitBreaker | undefined): CircuitState {
  return breaker ? (breaker.isOpen ? 'open' : 'closed') : 'disabled'
}

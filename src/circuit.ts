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
    if (this.#open) {
      this.#open = false
      this.#probing = false
      this.#onChange({ state: 'closed' })
    }
  }

  failure(): void {
    this.#failures++
    if (this.#open) {
      // The probe failed: stay open for another period.
      this.#probing = false
      this.#openUntil = this.#clock.now() + this.#duration
    } else if (this.#failures >= this.#threshold) {
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

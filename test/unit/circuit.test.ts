import { describe, expect, it } from 'vitest'
import { CircuitBreaker, type CircuitChange, circuitState } from '../../src/circuit.js'

function breaker(threshold = 3, duration = 1_000) {
  let now = 0
  const changes: CircuitChange[] = []
  const b = new CircuitBreaker(threshold, duration, { now: () => now }, (c) => changes.push(c))
  return { b, changes, advance: (ms: number) => (now += ms) }
}

describe('CircuitBreaker', () => {
  it('opens after threshold consecutive failures, not before; a success in between starts over [F5]', () => {
    const { b, changes } = breaker(3)
    b.failure()
    b.failure()
    b.success()
    b.failure()
    b.failure()
    expect(b.isOpen).toBe(false)
    b.failure()
    expect(b.isOpen).toBe(true)
    expect(changes).toEqual([{ state: 'open', failures: 3, retryInMs: 1_000 }])
  })

  it('refuses every call while open, then lets exactly one probe through after duration', () => {
    const { b, advance } = breaker(1, 1_000)
    b.failure()
    expect(b.allow()).toBe(false)
    advance(999)
    expect(b.allow()).toBe(false)
    advance(1)
    expect(b.allow()).toBe(true)
    expect(b.allow()).toBe(false)
    expect(b.allow()).toBe(false)
  })

  it('closes when the probe succeeds and reports it once', () => {
    const { b, changes, advance } = breaker(1, 100)
    b.failure()
    advance(100)
    expect(b.allow()).toBe(true)
    b.success()
    expect(b.isOpen).toBe(false)
    expect(b.allow()).toBe(true)
    expect(changes).toEqual([{ state: 'open', failures: 1, retryInMs: 100 }, { state: 'closed' }])
  })

  it('stays open for another duration when the probe fails, without reporting a second opening', () => {
    const { b, changes, advance } = breaker(1, 100)
    b.failure()
    advance(100)
    expect(b.allow()).toBe(true)
    b.failure()
    expect(b.allow()).toBe(false)
    advance(99)
    expect(b.allow()).toBe(false)
    advance(1)
    expect(b.allow()).toBe(true)
    expect(changes).toHaveLength(1)
  })

  it('reports its state for metrics', () => {
    const { b } = breaker(1)
    expect(circuitState(undefined)).toBe('disabled')
    expect(circuitState(b)).toBe('closed')
    b.failure()
    expect(circuitState(b)).toBe('open')
  })
})

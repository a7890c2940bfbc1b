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

  it('one incident that fails many calls at once does not open it; a call after it that fails too does [F3]', () => {
    const { b, changes } = breaker(3)
    // Ten commands in flight when the connection resets: all fail at once.
    const inFlight = Array.from({ length: 10 }, () => b.mark)
    for (const mark of inFlight) b.failure(mark)
    expect(b.isOpen).toBe(false)
    // The server stays down: a call made after the reset fails as well, a second incident.
    b.failure(b.mark)
    expect(b.isOpen).toBe(true)
    expect(changes).toEqual([{ state: 'open', failures: 11, retryInMs: 1_000 }])
  })

  it('a reset followed by a success starts over: the reset alone never opens it', () => {
    const { b } = breaker(3)
    for (const mark of Array.from({ length: 10 }, () => b.mark)) b.failure(mark)
    b.success()
    b.failure(b.mark)
    expect(b.isOpen).toBe(false)
  })

  it('counts every timeout (no mark), so a hung server opens it after threshold timeouts of calls waiting together [F2]', () => {
    const { b } = breaker(3)
    b.failure()
    b.failure()
    b.failure()
    expect(b.isOpen).toBe(true)
  })

  it('while open, a late failure of a call from before it opened does not push the probe back', () => {
    const { b, advance } = breaker(1, 100)
    const early = b.mark
    b.failure(b.mark)
    advance(100)
    b.failure(early)
    expect(b.allow()).toBe(true)
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

/**
 * Backend deadlines (src/deadline.ts): one timer per 10 ms bucket, shared by every deadline in it. A deadline fires
 * once its time has passed (up to one bucket late, never early), a cancelled one never fires, and a caller that runs
 * one operation at a time (arm, answer, cancel; again) does not arm a timer per operation.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { watchDeadline } from '../../src/deadline.js'

describe('watchDeadline', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_003 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('fires after its time has passed, never before, and at most one 10 ms bucket late', () => {
    const fired: number[] = []
    const armedAt = Date.now()
    watchDeadline(250, () => fired.push(Date.now() - armedAt))
    vi.advanceTimersByTime(249)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(20)
    expect(fired).toHaveLength(1)
    expect(fired[0]).toBeGreaterThanOrEqual(250)
    expect(fired[0]).toBeLessThanOrEqual(260)
  })

  it('never fires once cancelled, and leaves the other deadlines of its bucket armed', () => {
    const fired: string[] = []
    const cancelA = watchDeadline(100, () => fired.push('a'))
    watchDeadline(101, () => fired.push('b'))
    cancelA()
    vi.advanceTimersByTime(200)
    expect(fired).toEqual(['b'])
  })

  it('arms a handful of timers, not one per operation, for a caller that runs one operation at a time', () => {
    const armed = vi.spyOn(globalThis, 'setTimeout')
    const fired: number[] = []
    // 1,000 operations of 1 ms each, one after the other, with a 5 s timeout: each bucket empties before the next
    // operation arms its deadline.
    for (let i = 0; i < 1_000; i++) {
      const cancel = watchDeadline(5_000, () => fired.push(i))
      vi.advanceTimersByTime(1)
      cancel()
    }
    // One timer per 10 ms bucket the operations' deadlines fall in: 1,000 ms of them, ~100 buckets.
    expect(armed.mock.calls.length).toBeLessThanOrEqual(101)
    vi.advanceTimersByTime(10_000)
    expect(fired).toEqual([])
    // A deadline armed in a bucket whose earlier deadlines were all cancelled still fires.
    const late: string[] = []
    watchDeadline(5_000, () => late.push('late'))
    watchDeadline(5_000, () => undefined)()
    vi.advanceTimersByTime(5_010)
    expect(late).toEqual(['late'])
  })
})

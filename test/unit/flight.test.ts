import { describe, expect, it } from 'vitest'
import { SingleFlight } from '../../src/flight.js'

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('SingleFlight', () => {
  it('runs one task per key; callers arriving meanwhile join it and share its promise', async () => {
    const flight = new SingleFlight<string>()
    const gate = deferred<string>()
    let runs = 0
    const task = () => {
      runs++
      return gate.promise
    }
    const first = flight.run('k', task)
    const second = flight.run('k', task)
    expect(first.joined).toBe(false)
    expect(second.joined).toBe(true)
    expect(second.promise).toBe(first.promise)
    expect(runs).toBe(1)
    expect(flight.size).toBe(1)
    gate.resolve('v')
    await expect(first.promise).resolves.toBe('v')
    await expect(second.promise).resolves.toBe('v')
  })

  it('runs different keys separately', () => {
    const flight = new SingleFlight<number>()
    const a = flight.run('a', () => deferred<number>().promise)
    const b = flight.run('b', () => deferred<number>().promise)
    expect(a.joined).toBe(false)
    expect(b.joined).toBe(false)
    expect(flight.size).toBe(2)
  })

  it('forgets a key once its task resolves, so the next caller starts a new task', async () => {
    const flight = new SingleFlight<number>()
    const first = flight.run('k', async () => 1)
    await first.promise
    expect(flight.size).toBe(0)
    const next = flight.run('k', async () => 2)
    expect(next.joined).toBe(false)
    await expect(next.promise).resolves.toBe(2)
    expect(flight.size).toBe(0)
  })

  it('forgets a key once its task rejects, and every caller sees the rejection', async () => {
    const flight = new SingleFlight<number>()
    const gate = deferred<number>()
    const first = flight.run('k', () => gate.promise)
    const second = flight.run('k', () => gate.promise)
    gate.reject(new Error('loader failed'))
    await expect(first.promise).rejects.toThrow('loader failed')
    await expect(second.promise).rejects.toThrow('loader failed')
    expect(flight.size).toBe(0)
    expect(flight.run('k', async () => 3).joined).toBe(false)
  })

  it('leaves nothing behind when a task throws before returning a promise', () => {
    const flight = new SingleFlight<number>()
    expect(() =>
      flight.run('k', () => {
        throw new Error('sync failure')
      }),
    ).toThrow('sync failure')
    expect(flight.size).toBe(0)
  })

  it('is empty again after 10,000 distinct keys settle, half resolving and half rejecting [L2]', async () => {
    const flight = new SingleFlight<number>()
    const runs = Array.from({ length: 10_000 }, (_, i) =>
      flight.run(`key:${i}`, () => (i % 2 === 0 ? Promise.resolve(i) : Promise.reject(new Error(`failed ${i}`)))),
    )
    expect(flight.size).toBe(10_000)
    expect(runs.every((r) => !r.joined)).toBe(true)
    const settled = await Promise.allSettled(runs.map((r) => r.promise))
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(5_000)
    expect(flight.size).toBe(0)
  })
})

// Cloudflare Workers: a task belongs to the request that started it and may never settle once that request ends.
describe('SingleFlight without queueing (queue: false)', () => {
  const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

  it('still shares one task among the callers of the tick it began in', async () => {
    const flight = new SingleFlight<string>({ queue: false })
    const gate = deferred<string>()
    let runs = 0
    const first = flight.run('k', () => {
      runs++
      return gate.promise
    })
    const second = flight.run('k', async () => 'never')
    expect(second.joined).toBe(true)
    expect(runs).toBe(1)
    gate.resolve('v')
    await expect(second.promise).resolves.toBe('v')
    await expect(first.promise).resolves.toBe('v')
  })

  it('never makes a later caller wait on a task that does not settle: it runs its own at once', async () => {
    const flight = new SingleFlight<string>({ queue: false })
    flight.run('k', () => new Promise<string>(() => {}))
    await tick()
    let ran = false
    const later = flight.run('k', async () => {
      ran = true
      return 'own'
    })
    expect(later.joined).toBe(false)
    expect(ran).toBe(true)
    await expect(later.promise).resolves.toBe('own')
    // The task that never settled holds nothing: the key is free once the later one is done.
    expect(flight.size).toBe(0)
  })

  it('closes a pass-through task (while-running) to callers after its first tick too', async () => {
    const flight = new SingleFlight<string>({ queue: false })
    const gate = deferred<string>()
    flight.run('k', () => gate.promise, 'while-running')
    expect(flight.run('k', async () => 'other', 'while-running').joined).toBe(true)
    await tick()
    const later = flight.run('k', async () => 'own', 'while-running')
    expect(later.joined).toBe(false)
    await expect(later.promise).resolves.toBe('own')
    gate.resolve('v')
  })

  it('queues by default: a caller arriving after the first tick waits for the running task, then runs its own', async () => {
    const flight = new SingleFlight<string>()
    const gate = deferred<string>()
    flight.run('k', () => gate.promise)
    await tick()
    let ran = false
    const later = flight.run('k', async () => {
      ran = true
      return 'next'
    })
    await tick()
    expect(ran).toBe(false)
    gate.resolve('v')
    await expect(later.promise).resolves.toBe('next')
    expect(ran).toBe(true)
  })
})

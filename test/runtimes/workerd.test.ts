import { describe, expect, test } from 'vitest'
import { startWorkerd } from './harness.js'
import { backends, describeRuntime } from './suite.js'

// Beyond what every runtime passes (suite.ts): what an isolate serving many requests changes. workerd binds timers,
// fetches and promise continuations to the request that started them, and cancels them when that request ends, so
// no request may wait on a promise or a timer that another request created.
const app = describeRuntime('workerd', startWorkerd)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves `promise` with how long it took; rejects when it takes longer than `ms` (a request workerd left hanging). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<{ value: T; elapsed: number }> {
  const started = performance.now()
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  try {
    return { value: await Promise.race([promise, late]), elapsed: performance.now() - started }
  } finally {
    clearTimeout(timer)
  }
}

describe.each(backends)('workerd: single-flight across requests over the %s adapter', (client) => {
  test('a request whose caller gives up during its load stalls no other request: the next loads the key after lockWait', async () => {
    // The first request's loader would take 3 s, but its caller gives up after 50 ms: the response ends the request
    // and workerd cancels the load with it. The second request arrives during that load.
    const first = app().get(`/get?client=${client}&key=abandoned&delay=3000&abortAfter=50`)
    await sleep(20)
    const second = within(2_000, 'the second request', app().get(`/get?client=${client}&key=abandoned&delay=10`))
    expect((await first).body.error).toMatch(/TimeoutError/)
    const { value: reply } = await second
    expect(reply.status, JSON.stringify(reply.body)).toBe(200)
    // Its own load, the second: the first never finished.
    expect(reply.body.value).toEqual({ key: 'abandoned', load: 2 })
    expect((await app().get(`/get?client=${client}&key=abandoned`)).body.value).toEqual({ key: 'abandoned', load: 2 })
  })
})

describe('workerd: backend timeouts', () => {
  test('a backend call that never answers is cut at `timeout`, even when a request that called just before it has ended', async () => {
    // Each round: one request gives up after 50 ms and ends while its backend call is pending; one sent with it must
    // still get the loader's value once `timeout` (500 ms in the app) passes, from a timer workerd has not cancelled.
    for (let round = 1; round <= 3; round++) {
      const [gaveUp, waited] = await Promise.all([
        app().get(`/get?client=hanging&key=gives-up-${round}&abortAfter=50`),
        within(3_000, `round ${round}`, app().get(`/get?client=hanging&key=waits-${round}`)),
      ])
      expect(gaveUp.body.error, `round ${round}`).toMatch(/TimeoutError/)
      expect(waited.value.body.value, `round ${round}`).toEqual({ key: `waits-${round}`, load: 1 })
    }
  })
})

describe('workerd: background work', () => {
  test("a stale-while-revalidate refresh outlives the response that started it, through cloudflare:workers' waitUntil", async () => {
    const path = '/get?client=memory&key=refreshed&ttl=100&swr=60000'
    expect((await app().get(path)).body.value.load).toBe(1)
    await sleep(150)
    // Stale: answered at once with the first value, while the refresh (a 300 ms loader) goes on after the response.
    const { value: stale, elapsed } = await within(2_000, 'the stale read', app().get(`${path}&delay=300`))
    expect(stale.body.value.load).toBe(1)
    expect(elapsed).toBeLessThan(300)
    await sleep(600)
    expect((await app().get(`/loads?client=memory&key=refreshed`)).body.loads).toBe(2)
    expect((await app().get(path)).body.value.load).toBe(2)
  })
})

import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { type PreparedApp, prepareApp, type RuntimeApp } from './harness.js'

/** The app's clients over a real backend: the memory adapter, and Upstash over the local REST endpoint. */
export const backends = ['memory', 'upstash'] as const

/**
 * Registers the tests every runtime passes: one app whose clients were created at module scope answers every
 * request. Returns a getter for the running app, for the runtime's own tests.
 */
export function describeRuntime(runtime: string, start: (app: PreparedApp) => Promise<RuntimeApp>): () => RuntimeApp {
  let prepared: PreparedApp | undefined
  let running: RuntimeApp | undefined
  const app = () => {
    if (!running) throw new Error(`${runtime} did not start`)
    return running
  }

  beforeAll(async () => {
    prepared = await prepareApp(runtime)
    running = await start(prepared)
  })

  afterAll(async () => {
    await running?.stop()
    await prepared?.close()
  })

  describe.each(backends)(`${runtime}: a client created at module scope over the %s adapter`, (client) => {
    test('serves 15 requests in a row from one load: every request after the first is a hit', async () => {
      const before = (await app().get(`/metrics?client=${client}`)).body
      const replies = []
      for (let i = 0; i < 15; i++) replies.push(await app().get(`/get?client=${client}&key=sequential`))
      for (const reply of replies) {
        expect(reply.status, JSON.stringify(reply.body)).toBe(200)
        expect(reply.body.value).toEqual({ key: 'sequential', load: 1 })
      }
      expect(replies.at(-1)?.body.loads).toBe(1)
      const after = (await app().get(`/metrics?client=${client}`)).body
      expect(after.hits - before.hits).toBe(14)
      expect(after.misses - before.misses).toBe(1)
    })

    test('answers 15 concurrent requests for a cold key with one load', async () => {
      const replies = await Promise.all(
        Array.from({ length: 15 }, () => app().get(`/get?client=${client}&key=concurrent&delay=100`)),
      )
      for (const reply of replies) {
        expect(reply.status, JSON.stringify(reply.body)).toBe(200)
        expect(reply.body.value).toEqual({ key: 'concurrent', load: 1 })
      }
      expect((await app().get(`/loads?client=${client}&key=concurrent`)).body.loads).toBe(1)
    })

    test('a tag invalidated by one request makes the next request load again', async () => {
      const first = await app().get(`/get?client=${client}&key=tagged&tag=rooms`)
      expect(first.body.value).toEqual({ key: 'tagged', load: 1 })
      expect((await app().get(`/get?client=${client}&key=tagged&tag=rooms`)).body.value.load).toBe(1)
      expect((await app().get(`/invalidate-tag?client=${client}&tag=rooms`)).status).toBe(200)
      expect((await app().get(`/get?client=${client}&key=tagged&tag=rooms`)).body.value).toEqual({
        key: 'tagged',
        load: 2,
      })
    })

    test('a key deleted by one request is loaded again by the next', async () => {
      expect((await app().get(`/get?client=${client}&key=deleted`)).body.value.load).toBe(1)
      expect((await app().get(`/delete?client=${client}&key=deleted`)).status).toBe(200)
      expect((await app().get(`/get?client=${client}&key=deleted`)).body.value.load).toBe(2)
      expect((await app().get(`/get?client=${client}&key=deleted`)).body.value.load).toBe(2)
    })

    test('health() reports the backend as reachable', async () => {
      const health = await app().get(`/health?client=${client}`)
      expect(health.body).toMatchObject({ ok: true, adapter: client })
    })
  })

  describe(`${runtime}: compress over Upstash`, () => {
    test('caches with compress on (gzipped with the runtime’s CompressionStream, plain where it has none), and a client without compress reads it [L4]', async () => {
      const first = await app().get('/get?client=compressed&key=zipped&size=400')
      expect(first.status, JSON.stringify(first.body)).toBe(200)
      expect(first.body.value).toMatchObject({ key: 'zipped', load: 1 })
      expect((await app().get('/get?client=compressed&key=zipped&size=400')).body.value.load).toBe(1)
      const plain = await app().get('/get?client=upstash&key=zipped&size=400')
      expect(plain.body.value).toMatchObject({ key: 'zipped', load: 1 })
      expect(plain.body.value.filler).toHaveLength(400 * 'a meeting room with a view '.length)
      expect(plain.body.loads).toBe(0)
      expect((await app().get('/errors?client=compressed')).body.errors).toEqual([])
    })
  })

  describe(`${runtime}: a client whose Upstash URL refuses connections`, () => {
    test('answers every request with the loader, reports the failure, and never shows the token', async () => {
      const replies = [await app().get('/get?client=refused&key=down'), await app().get('/get?client=refused&key=down')]
      expect(replies.map((reply) => reply.status)).toEqual([200, 200])
      expect(replies.map((reply) => reply.body.value)).toEqual([
        { key: 'down', load: 1 },
        { key: 'down', load: 2 },
      ])
      const health = (await app().get('/health?client=refused')).body
      expect(health).toMatchObject({ ok: false, adapter: 'upstash' })
      const { errors } = (await app().get('/errors?client=refused')).body as { errors: string[] }
      expect(errors.length).toBeGreaterThan(0)
      const token = inject('upstashToken')
      for (const text of [...errors, health.error]) expect(text).not.toContain(token)
    })
  })

  describe(`${runtime}: a client created inside the first request that needs it`, () => {
    test('serves the requests after that one', async () => {
      const replies = []
      for (let i = 0; i < 3; i++) replies.push(await app().get('/get?client=lazy&key=lazy'))
      expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200])
      expect(replies.map((reply) => reply.body.value.load)).toEqual([1, 1, 1])
    })
  })

  return app
}

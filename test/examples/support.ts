/**
 * What the example tests share: an app served over real HTTP on a free loopback port, JSON requests to it,
 * the backend environment for each kind the global setup provides, and the counters a test compares.
 * @module
 */
import { serve } from '@hono/node-server'
import type { CacheClient } from 'cacheward'
import { afterEach, expect, inject } from 'vitest'
import { type Backend, openBackend } from '../../examples/shared/backend.js'
import { type Database, openDatabase } from '../../examples/shared/db.js'

/** What every example's `createApp` resolves to, as far as these helpers need it. */
interface ExampleLike {
  app: { fetch: Parameters<typeof serve>[0]['fetch'] }
  db: { queries: number }
  cache: Pick<CacheClient, 'metrics' | 'clear'>
  close(): Promise<void>
}

/** An app listening on a free loopback port. */
export interface Listening {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string
  /** Drops open connections and stops listening. */
  close(): Promise<void>
}

/** Serves `app.fetch` over real HTTP on a free port of 127.0.0.1; resolves once the server listens. */
export function listen(app: ExampleLike['app']): Promise<Listening> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, ({ port }) =>
      resolve({
        url: `http://127.0.0.1:${port}`,
        async close() {
          // Keep-alive connections would hold close() open until they time out.
          if ('closeAllConnections' in server) server.closeAllConnections()
          await new Promise((done) => server.close(done))
        },
      }),
    )
  })
}

/** A reply: its status and its JSON body (undefined when the body is empty). */
export interface Reply {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: replies are JSON of several shapes; the assertions check them
  body: any
}

/** Fetches `url` and reads the reply as JSON. */
export async function request(url: string, init?: RequestInit): Promise<Reply> {
  const response = await fetch(url, init)
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined }
}

/** Sends `json` with a JSON content type; a string is sent as it is, so tests can send malformed bodies. */
export function sendJson(url: string, json: unknown, method = 'POST'): Promise<Reply> {
  return request(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: typeof json === 'string' ? json : JSON.stringify(json),
  })
}

/** The one error body every example answers with: `{ error: { code, message } }`, nothing else. */
export function apiError(code: string) {
  return { error: { code, message: expect.any(String) } }
}

/**
 * Sends a well-formed JSON body of `bytes` bytes (5 MB by default) twice: once with a Content-Length, as most
 * clients do, and once streamed in 64 KB chunks without one, as a client that does not announce its size.
 * Resolves both replies.
 */
export async function sendOversized(url: string, method = 'POST', bytes = 5 * 1024 * 1024): Promise<Reply[]> {
  const json = `{"pad":"${'x'.repeat(bytes - 10)}"}`
  const headers = { 'content-type': 'application/json' }
  const announced = await request(url, { method, headers, body: json })
  const bytesOf = new TextEncoder().encode(json)
  let offset = 0
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytesOf.length) return controller.close()
      controller.enqueue(bytesOf.subarray(offset, offset + 65_536))
      offset += 65_536
    },
  })
  // Node's fetch needs duplex: 'half' to send a stream; the DOM RequestInit type does not list it.
  const chunked: RequestInit & { duplex: 'half' } = { method, headers, body: stream, duplex: 'half' }
  const streamed = await request(url, chunked)
  return [announced, streamed]
}

/** The environment `openBackend` reads to pick this kind, pointed at the servers the global setup started. */
export function backendEnv(kind: Backend['kind']): Record<string, string> {
  if (kind === 'redis') return { REDIS_URL: inject('redisUrl') }
  if (kind === 'upstash') {
    return { UPSTASH_REDIS_REST_URL: inject('upstashUrl'), UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') }
  }
  return {}
}

/** An example app with a database and a backend of its own, served over HTTP. */
export interface Started<App> {
  example: App
  db: Database
  backend: Backend
  namespace: string
  url: string
  /** Closes the server, the app, the database and the backend. */
  stop(): Promise<void>
}

/**
 * Opens an in-process database and a backend of this kind, builds the app over them with `create` and serves
 * it on a free port until `stop`; `namespace` is the one the caller gave the app, kept for key assertions.
 */
export async function startExample<App extends ExampleLike>(
  kind: Backend['kind'],
  namespace: string,
  create: (db: Database, backend: Backend) => Promise<App>,
): Promise<Started<App>> {
  const db = await openDatabase({ url: undefined })
  const backend = await openBackend(backendEnv(kind))
  const example = await create(db, backend)
  const server = await listen(example.app)
  return {
    example,
    db,
    backend,
    namespace,
    url: server.url,
    async stop() {
      await server.close()
      await example.close()
      await backend.close()
      await db.close()
    },
  }
}

/** Registers a teardown list for the test file: what is added runs after the current test, the last added first. */
export function cleanupAfterEach(): (fn: () => Promise<unknown>) => void {
  const pending: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const fn of pending.splice(0).reverse()) await fn()
  })
  return (fn) => void pending.push(fn)
}

/** Database queries and cache counters. */
export interface Counts {
  queries: number
  hits: number
  misses: number
  loads: number
}

/** An example app served for one test, with the counters the test compares. */
export type Served<App> = App & {
  url: string
  /** Database queries and cache counters since the last call. */
  delta(): Counts
}

/**
 * Serves `example` on a free port for the current test; after it, `cleanup` stops the server, clears the
 * cache when `clear` (so tests sharing a backend start cold) and closes the app.
 */
export async function serveForTest<App extends ExampleLike>(
  example: App,
  cleanup: (fn: () => Promise<unknown>) => void,
  clear: boolean,
): Promise<Served<App>> {
  const server = await listen(example.app)
  cleanup(async () => {
    await server.close()
    if (clear) await example.cache.clear()
    await example.close()
  })
  return { ...example, url: server.url, delta: countsSince(example) }
}

/** Returns a function that answers the database queries and cache counters since its previous call. */
function countsSince(example: ExampleLike): () => Counts {
  const read = () => ({ queries: example.db.queries, ...example.cache.metrics() })
  let last = read()
  return () => {
    const now = read()
    const delta = {
      queries: now.queries - last.queries,
      hits: now.hits - last.hits,
      misses: now.misses - last.misses,
      loads: now.loads - last.loads,
    }
    last = now
    return delta
  }
}

/**
 * The app every runtime test runs: cache clients created once, when the module is evaluated (module scope,
 * as a Worker or an edge function creates them), then shared by every request the runtime sends to `handle`.
 * It imports cacheward by its package name, from the packed tarball the harness installed.
 */
import { Redis } from '@upstash/redis'
import { type CacheClient, type CacheClientOptions, createCacheClient } from 'cacheward'
import { memoryAdapter } from 'cacheward/memory'
import { upstashAdapter } from 'cacheward/upstash'
import { config } from './config.js'

/** What a runtime lends the app: in Workers, `waitUntil` and the Upstash secrets from `cloudflare:workers`. */
export interface Platform {
  waitUntil?: (promise: Promise<unknown>) => void
  upstash?: { url: string; token: string }
}

type ClientName = 'memory' | 'upstash' | 'refused' | 'hanging' | 'compressed'

/** A fetch handler: `GET /<action>?client=<name>&key=…` (see the switch below for each action's parameters). */
export type Handler = (request: Request) => Promise<Response>

/** Builds every client now, at module scope of the entry that calls it, and returns the request handler. */
export function createApp(platform: Platform = {}): Handler {
  const base: CacheClientOptions = {
    namespace: config.namespace,
    // Short, so a test that waits on a lock or a silent backend finishes in well under a second.
    lockWait: '300ms',
    timeout: '500ms',
    ...(platform.waitUntil ? { waitUntil: platform.waitUntil } : {}),
  }
  // retry: false, as the adapter's docs advise: a cache must not wait through the client's retry ladder.
  const secrets = platform.upstash ?? { url: config.upstashUrl, token: config.upstashToken }
  const upstash = (url: string, token: string) =>
    upstashAdapter(new Redis({ url, token, retry: false, enableTelemetry: false }))
  const clients: Record<ClientName, CacheClient> = {
    memory: createCacheClient({ ...base, adapter: memoryAdapter() }),
    upstash: createCacheClient({ ...base, adapter: upstash(secrets.url, secrets.token) }),
    refused: createCacheClient({ ...base, adapter: upstash(config.refusedUrl, config.upstashToken) }),
    hanging: createCacheClient({ ...base, adapter: upstash(config.hangingUrl, config.upstashToken) }),
    // Gzips every body it can shrink: CompressionStream of the runtime itself, base64 over Upstash's JSON.
    compressed: createCacheClient({
      ...base,
      adapter: upstash(secrets.url, secrets.token),
      compress: { threshold: 0 },
    }),
  }
  const errors: Record<string, string[]> = {}
  for (const [name, client] of Object.entries(clients)) {
    errors[name] = []
    client.on('error', (event) => errors[name]?.push(event.error.message))
  }
  // A client created inside the first request that asks for it, then kept for the next ones.
  let lazy: CacheClient | undefined
  const loads = new Map<string, number>()

  return async (request) => {
    const url = new URL(request.url)
    const q = url.searchParams
    const name = q.get('client') ?? 'memory'
    if (name === 'lazy') lazy ??= createCacheClient(base)
    const client = name === 'lazy' ? lazy : clients[name as ClientName]
    if (!client) return json({ error: `no client ${name}` }, 404)
    const key = q.get('key') ?? 'key'
    try {
      switch (url.pathname) {
        case '/get': {
          const counter = `${name}:${key}`
          const delay = Number(q.get('delay') ?? 0)
          const abortAfter = Number(q.get('abortAfter') ?? 0)
          const filler = 'a meeting room with a view '.repeat(Number(q.get('size') ?? 0))
          const value = await client.getOrSet(
            key,
            async (ctx) => {
              const load = (loads.get(counter) ?? 0) + 1
              loads.set(counter, load)
              if (delay > 0) await sleep(delay, ctx.signal)
              return filler ? { key, load, filler } : { key, load }
            },
            {
              tags: q.getAll('tag'),
              ...(q.has('ttl') ? { ttl: Number(q.get('ttl')) } : {}),
              ...(q.has('swr') ? { staleWhileRevalidate: Number(q.get('swr')) } : {}),
              ...(abortAfter > 0 ? { signal: AbortSignal.timeout(abortAfter) } : {}),
            },
          )
          return json({ value, loads: loads.get(counter) ?? 0 })
        }
        case '/loads':
          return json({ loads: loads.get(`${name}:${key}`) ?? 0 })
        case '/invalidate-tag':
          await client.invalidateTags(q.getAll('tag'))
          return json({ ok: true })
        case '/delete':
          await client.delete(key)
          return json({ ok: true })
        case '/health':
          return json(await client.health())
        case '/metrics':
          return json(client.metrics())
        case '/errors':
          return json({ errors: errors[name] ?? [] })
        default:
          return json({ error: `no route ${url.pathname}` }, 404)
      }
    } catch (error) {
      return json({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, 500)
    }
  }
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })
}

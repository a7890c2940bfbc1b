// Cloudflare Workers entry (module syntax). The clients are built while workerd evaluates this module: the global
// scope, where workerd refuses timers, random numbers and I/O objects. `env` (the Worker's bindings, here the Upstash
// secrets) and `waitUntil` (for the current request) are importable there.
// @ts-expect-error: 'cloudflare:workers' exists only inside workerd (its types come with @cloudflare/workers-types).
import { env, waitUntil } from 'cloudflare:workers'
import { createApp } from './app.js'

const bindings = env as { UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string }
const handle = createApp({
  waitUntil: waitUntil as (promise: Promise<unknown>) => void,
  upstash: { url: bindings.UPSTASH_REDIS_REST_URL, token: bindings.UPSTASH_REDIS_REST_TOKEN },
})

export default {
  fetch: (request: Request) => handle(request),
}

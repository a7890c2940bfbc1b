// Cloudflare Workers entry (module syntax). The clients are built while workerd evaluates this module: the
// global scope, where workerd refuses timers, random numbers and I/O objects.
// @ts-expect-error: 'cloudflare:workers' exists only inside workerd (its types come with @cloudflare/workers-types).
import { waitUntil } from 'cloudflare:workers'
import { createApp } from './app.js'

const handle = createApp({ waitUntil: waitUntil as (promise: Promise<unknown>) => void })

export default {
  fetch: (request: Request) => handle(request),
}

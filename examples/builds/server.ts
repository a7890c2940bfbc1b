/**
 * Runs the builds example: `npx tsx examples/builds/server.ts` (PORT, default 3003).
 * Uses PGlite unless DATABASE_URL is set, and the memory cache unless REDIS_URL (or the Upstash
 * variables) is set. Only the kinds are printed, never a URL or a token.
 */
import { serve } from '@hono/node-server'
import { openBackend } from '../shared/backend.js'
import { createApp } from './app.js'

const port = Number(process.env.PORT ?? 3003)
const backend = await openBackend()
const example = await createApp({ backend })
const server = serve({ fetch: example.app.fetch, port }, (info) => {
  console.log(`builds example on http://localhost:${info.port}`)
  console.log(`database: ${example.db.kind}, cache backend: ${backend.kind}`)
  console.log('try: GET /builds, /builds?class=mage&page=2, /builds/1, /classes, /users/1/likes, /metrics')
})

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  console.log(`${signal}: shutting down`)
  server.close()
  await example.close()
  await backend.close()
  process.exit(0)
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))

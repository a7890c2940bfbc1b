/**
 * Runs the chat example: `npx tsx examples/chat/server.ts` (PORT, default 3004).
 * Uses PGlite unless DATABASE_URL is set, and the memory cache unless REDIS_URL (or the Upstash
 * variables) is set. Only the kinds are printed, never a URL or a token.
 */
import { serve } from '@hono/node-server'
import { openBackend } from '../shared/backend.js'
import { createApp } from './app.js'

const port = Number(process.env.PORT ?? 3004)
const backend = await openBackend()
const example = await createApp({ backend })
const server = serve({ fetch: example.app.fetch, port }, (info) => {
  console.log(`chat example on http://localhost:${info.port}`)
  console.log(`database: ${example.db.kind}, cache backend: ${backend.kind}`)
  console.log(
    'try: GET /users/1/sessions?page=2, /users/1/credits, /stats, /search?q=lisbon, /sessions/1/messages/latest?userId=1',
  )
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

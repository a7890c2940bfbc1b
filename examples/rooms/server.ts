/** Starts the rooms example: `npx tsx examples/rooms/server.ts` (PORT, DATABASE_URL, REDIS_URL, NODE_ENV). */
import { serve } from '@hono/node-server'
import { pino } from 'pino'
import { openBackend } from '../shared/backend.js'
import { openDatabase } from '../shared/db.js'
import { createApp } from './app.js'

const logger = pino({ name: 'rooms' })
const db = await openDatabase()
const backend = await openBackend()
const rooms = await createApp({ db, backend, logger })
const port = Number(process.env.PORT ?? 3001)

const server = serve({ fetch: rooms.app.fetch, port }, (info) => {
  // Kinds only: a connection string or token is never logged.
  logger.info(
    { database: db.kind, backend: backend.kind, env: rooms.settings.env, cache: rooms.settings.cacheEnabled },
    `rooms listening on http://localhost:${info.port}`,
  )
})

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  logger.info({ signal }, 'shutting down')
  server.close()
  await rooms.close()
  await backend.close()
  await db.close()
  process.exit(0)
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))

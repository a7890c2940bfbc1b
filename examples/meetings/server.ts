/** Starts the meetings example: `npx tsx examples/meetings/server.ts` (PORT, DATABASE_URL, REDIS_URL). */
import { serve } from '@hono/node-server'
import { pino } from 'pino'
import { openBackend } from '../shared/backend.js'
import { openDatabase } from '../shared/db.js'
import { createApp } from './app.js'

const logger = pino({ name: 'meetings' })
const db = await openDatabase()
const backend = await openBackend()
const meetings = await createApp({ db, backend })
meetings.cache.on('error', ({ operation, error }) =>
  logger.warn({ operation, code: error.code }, 'cache backend error'),
)
const port = Number(process.env.PORT ?? 3002)

const server = serve({ fetch: meetings.app.fetch, port }, (info) => {
  // Kinds only: a connection string or token is never logged.
  logger.info({ database: db.kind, backend: backend.kind }, `meetings listening on http://localhost:${info.port}`)
})

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  logger.info({ signal }, 'shutting down')
  server.close()
  await meetings.close()
  await backend.close()
  await db.close()
  process.exit(0)
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))

/**
 * Runs an example app as a server, the way each example's server.ts needs it: the database and the
 * cache backend from the environment, a pino logger that cacheward logs to as well, one line with the
 * URL and the kinds of database and backend (never a connection string or a token), and a clean
 * shutdown on SIGINT and SIGTERM.
 */
import { serve } from '@hono/node-server'
import type { CacheClientOptions } from 'cacheward'
import type { Hono } from 'hono'
import { type Logger, pino } from 'pino'
import { type Backend, openBackend } from './backend.js'
import { type Database, openDatabase } from './db.js'

/** What an example's createApp gets from the server. */
export interface ServerDeps {
  db: Database
  backend: Backend
  logger: Logger
  /** Hands the logger to cacheward: backend failures and circuit changes show up in the app's log. */
  cacheOptions: Partial<CacheClientOptions>
}

export interface RunServerOptions {
  name: string
  /** Used when PORT is not set. */
  port: number
  /** A few URLs to try, printed at start. */
  hint?: string
  start(deps: ServerDeps): Promise<{ app: Hono; close(): Promise<void> }>
}

export async function runServer(options: RunServerOptions): Promise<void> {
  const logger = pino({ name: options.name })
  const db = await openDatabase()
  const backend = await openBackend()
  const example = await options.start({ db, backend, logger, cacheOptions: { logger } })
  const port = Number(process.env.PORT ?? options.port)
  const server = serve({ fetch: example.app.fetch, port }, (info) => {
    logger.info(
      { database: db.kind, backend: backend.kind, ...(options.hint ? { try: options.hint } : {}) },
      `${options.name} listening on http://localhost:${info.port}`,
    )
  })

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    server.close()
    await example.close()
    await backend.close()
    await db.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}

/**
 * The examples' database: embedded PGlite (in memory) by default, PostgreSQL when DATABASE_URL is set.
 * Every query through `query()` is counted, so an example (and its tests, and the demo) can show how
 * many database round trips the cache saved.
 */
import { PGlite } from '@electric-sql/pglite'

export interface Database {
  /** Runs one parameterised statement and returns its rows; counted in `queries`. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  /** Runs schema or seed SQL (several statements, no parameters); not counted. */
  exec(sql: string): Promise<void>
  /** Queries run through `query()` since the database was opened or `resetCount()` was called. */
  readonly queries: number
  resetCount(): void
  /** 'pglite' (embedded) or 'postgres' (DATABASE_URL). */
  readonly kind: 'pglite' | 'postgres'
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; defaults to DATABASE_URL. Without one, an in-memory PGlite is used. */
  url?: string | undefined
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const url = 'url' in options ? options.url : process.env.DATABASE_URL
  if (url) {
    // pg is only loaded on this path; the connection string is never printed.
    const { default: pg } = await import('pg')
    const pool = new pg.Pool({ connectionString: url, max: 5 })
    return counted('postgres', {
      query: async (sql, params) => (await pool.query(sql, params)).rows,
      exec: async (sql) => void (await pool.query(sql)),
      close: () => pool.end(),
    })
  }
  const db = await PGlite.create()
  return counted('pglite', {
    query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params)).rows,
    exec: async (sql) => void (await db.exec(sql)),
    close: () => db.close(),
  })
}

interface Driver {
  query(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>
  exec(sql: string): Promise<void>
  close(): Promise<void>
}

/** The same Database over either driver, counting what goes through `query()`. */
function counted(kind: Database['kind'], driver: Driver): Database {
  let queries = 0
  return {
    kind,
    get queries() {
      return queries
    },
    resetCount() {
      queries = 0
    },
    async query<T>(sql: string, params: unknown[] = []) {
      queries++
      return (await driver.query(sql, params)) as T[]
    },
    exec: (sql) => driver.exec(sql),
    close: () => driver.close(),
  }
}

/**
 * Input checking and error replies. Every bad request is answered with a 4xx JSON body before any
 * cache or database call, so malformed input can neither cost a query nor write a cache key. Every error
 * reply of every example has one shape, `{ "error": { "code": "...", "message": "..." } }`: a client
 * branches on `code` and shows `message`.
 */
import type { CacheClient } from 'cacheward'
import type { Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import * as z from 'zod'

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** A positive integer id as written in a URL: digits only, no sign, no exponent, within int4. */
export const Id = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, 'expected a positive integer')
  .transform(Number)
  .refine((n) => n <= 2_147_483_647, 'too large')

/** The same for ids inside JSON bodies. */
export const JsonId = z.number().int().positive().max(2_147_483_647)

/** `?page=`: absent means 1; otherwise 1 to 1000, digits only. */
export const Page = z
  .string()
  .regex(/^[1-9][0-9]{0,3}$/, 'expected a page number from 1')
  .transform(Number)
  .refine((n) => n <= 1000, 'at most 1000')
  .optional()
  .transform((n) => n ?? 1)

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ` : '') + issue.message).join('; ')
}

/** Parses one path parameter or throws a 400 naming it. */
export function param<S extends z.ZodType>(c: Context, name: string, schema: S): z.output<S> {
  const result = schema.safeParse(c.req.param(name))
  if (!result.success) throw new ApiError(400, 'invalid_param', `${name}: ${describe(result.error)}`)
  return result.data
}

/** Parses the query string (single values only) or throws a 400. */
export function query<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const result = schema.safeParse(c.req.query())
  if (!result.success) throw new ApiError(400, 'invalid_query', describe(result.error))
  return result.data
}

/** Parses a JSON body or throws a 400 (malformed JSON, or fields missing or of the wrong type). */
export async function body<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let json: unknown
  try {
    json = await c.req.json()
  } catch {
    throw new ApiError(400, 'invalid_json', 'the request body is not valid JSON')
  }
  const result = schema.safeParse(json)
  if (!result.success) throw new ApiError(400, 'invalid_body', describe(result.error))
  return result.data
}

/**
 * The largest request body the examples accept. Every valid body fits with room to spare: the longest field
 * is 2,000 characters, 12,000 bytes even if a client writes each one as a `\uXXXX` escape.
 */
export const MAX_BODY_BYTES = 16 * 1024

/**
 * Answers a body over `maxBytes` with a 413 before any route reads it: a Content-Length over the limit is
 * refused without reading the body, and a body sent without one (chunked) is read only up to the limit.
 * Register it before the routes.
 */
export function limitBodies(app: Hono, maxBytes: number = MAX_BODY_BYTES): void {
  app.use(
    bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new ApiError(413, 'body_too_large', `the request body is larger than ${maxBytes} bytes`)
      },
    }),
  )
}

/** JSON 404 for unknown routes and JSON errors for everything thrown; a 500 never leaks details. */
export function installErrorHandlers(app: Hono, log: (error: unknown) => void = console.error): void {
  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'no such route' } }, 404))
  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json({ error: { code: error.code, message: error.message } }, error.status)
    log(error)
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500)
  })
}

/** GET /metrics: what the cache did (counters, hit rate, latency, per category), its backend's health and the query count. */
export function metricsRoute(
  app: Hono,
  cache: CacheClient,
  db: { kind: string; queries: number },
  backend: string,
): void {
  app.get('/metrics', async (c) =>
    c.json({
      ...cache.metrics(),
      health: await cache.health(),
      database: { kind: db.kind, queries: db.queries },
      backend,
    }),
  )
}

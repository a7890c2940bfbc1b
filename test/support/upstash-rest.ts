import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Redis } from 'ioredis'

export type UpstashRestMode = 'ok' | 'error-500' | 'non-json' | 'hang' | 'unauthorized'

export interface UpstashRestServer {
  url: string
  token: string
  requests: number
  /** Ends every open subscription stream (a dropped connection, as a proxy or a deploy would do). */
  dropStreams(): void
  setMode(mode: UpstashRestMode): void
  /** Holds each request this long before running it (a slow edge or a congested link: the client may give up first). */
  setDelay(ms: number): void
  /**
   * Per-item faults of `/pipeline` and `/multi-exec`: a command for which `fault` returns a message is not run and
   * its item answers `{ "error": message }`, as Upstash does for a command that failed; the other items run. Each
   * faulted command is recorded in `faulted`. `undefined` stops it.
   */
  failItems(fault: ((command: string, args: readonly string[]) => string | undefined) | undefined): void
  readonly faulted: Array<{ path: string; command: string }>
  stop(): Promise<void>
}

type Arg = string | number | boolean
type Item = { result: unknown } | { error: string }

const MAX_BODY_BYTES = 10 * 1024 * 1024 // Upstash's documented request limit

// Commands that would change the state of the one shared connection or block it for every other request.
const UNSUPPORTED = new Set([
  'subscribe',
  'psubscribe',
  'ssubscribe',
  'unsubscribe',
  'punsubscribe',
  'sunsubscribe',
  'monitor',
  'quit',
  'reset',
  'select',
  'multi',
  'exec',
  'discard',
  'watch',
  'unwatch',
  'blpop',
  'brpop',
  'brpoplpush',
  'blmove',
  'blmpop',
  'bzpopmin',
  'bzpopmax',
  'bzmpop',
])

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const isReplyError = (error: unknown): error is Error => error instanceof Error && error.name === 'ReplyError'

function parseCommand(value: unknown): [string, string[]] {
  if (!Array.isArray(value) || value.length === 0) throw new HttpError(400, 'ERR command must be a non-empty array')
  const parts = value as unknown[]
  if (!parts.every((p): p is Arg => ['string', 'number', 'boolean'].includes(typeof p))) {
    throw new HttpError(400, 'ERR command arguments must be strings or numbers')
  }
  const [name, ...args] = parts.map(String)
  const lower = name!.toLowerCase()
  if (UNSUPPORTED.has(lower)) throw new HttpError(400, `ERR command is not supported over REST: ${lower}`)
  // Upper-case name: ioredis applies reply transformers (HGETALL → object) to lower-case names only,
  // and the REST protocol returns raw RESP shapes.
  return [lower.toUpperCase(), args]
}

/** RESP reply → JSON result; with base64 every string is encoded ("OK" too: the client decodes it back to "OK"). */
function encodeReply(reply: unknown, base64: boolean): unknown {
  if (reply === null || reply === undefined) return null
  if (typeof reply === 'number') return reply
  if (Array.isArray(reply)) return reply.map((r) => encodeReply(r, base64))
  const text = reply instanceof Error ? reply.message : Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply)
  return base64 ? Buffer.from(text, 'utf8').toString('base64') : text
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= MAX_BODY_BYTES) chunks.push(chunk) // keep draining so the response can still be sent
  }
  if (size > MAX_BODY_BYTES) throw new HttpError(400, `ERR max request size exceeded. Limit: ${MAX_BODY_BYTES} bytes`)
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'ERR failed to parse command')
  }
}

export async function startUpstashRest(options: { redisUrl: string; token?: string }): Promise<UpstashRestServer> {
  const token = options.token ?? randomBytes(16).toString('hex')
  // ioredis 5 speaks RESP2 only (it has no `protocol` option), which is what the REST protocol mirrors.
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {}) // connection faults surface as HTTP 500 per request
  let mode: UpstashRestMode = 'ok'
  let delayMs = 0
  let itemFault: ((command: string, args: readonly string[]) => string | undefined) | undefined
  const faulted: Array<{ path: string; command: string }> = []
  let requests = 0
  let syncToken = 0
  const sockets = new Set<Socket>()

  const single = async (body: unknown, base64: boolean): Promise<unknown> => {
    const [name, args] = parseCommand(body)
    try {
      return encodeReply(await redis.call(name, ...args), base64)
    } catch (error) {
      if (isReplyError(error)) throw new HttpError(400, error.message)
      throw error
    }
  }

  const batch = async (body: unknown, base64: boolean, atomic: boolean): Promise<Item[]> => {
    if (!Array.isArray(body) || body.length === 0) throw new HttpError(400, 'ERR pipeline must be a non-empty array')
    const parsed = (body as unknown[]).map(parseCommand)
    const faults = parsed.map(([name, args]) => itemFault?.(name, args))
    for (const [i, message] of faults.entries()) {
      if (message !== undefined) faulted.push({ path: atomic ? '/multi-exec' : '/pipeline', command: parsed[i]![0] })
    }
    const commands = parsed.filter((_, i) => faults[i] === undefined)
    let settled: [Error | null, unknown][]
    if (atomic) {
      const tx = redis.multi()
      for (const [name, args] of commands) tx.call(name, ...args)
      try {
        settled = ((await tx.exec()) ?? []) as [Error | null, unknown][]
      } catch (error) {
        if (isReplyError(error)) throw new HttpError(400, error.message) // EXECABORT
        throw error
      }
    } else {
      // Sent back to back on one connection, so order is kept; not atomic, like Upstash's /pipeline.
      const results = await Promise.allSettled(commands.map(([name, args]) => redis.call(name, ...args)))
      settled = results.map((r) => (r.status === 'fulfilled' ? [null, r.value] : [r.reason as Error, null]))
    }
    let ran = 0
    return faults.map((fault) => {
      if (fault !== undefined) return { error: fault }
      const [error, result] = settled[ran++] ?? [null, null]
      if (!error) return { result: encodeReply(result, base64) }
      if (isReplyError(error)) return { error: error.message }
      throw error // connection failure: the whole request fails, as it would upstream
    })
  }

  /**
   * `POST /subscribe/<channel>`, as @upstash/redis' `subscribe()` sends it: a server-sent event stream of
   * `data: subscribe,<channel>,<count>` once the subscription is confirmed, then `data: message,<channel>,<message>`
   * per message (raw text: the client decodes nothing, and JSON-parses messages unless told not to). One Redis
   * connection per stream; closing either side ends both.
   */
  const subscriptions = new Set<Redis>()
  const subscribe = async (req: http.IncomingMessage, res: http.ServerResponse, channel: string) => {
    await readBody(req)
    const sub = redis.duplicate()
    sub.on('error', () => {})
    subscriptions.add(sub)
    const end = () => {
      subscriptions.delete(sub)
      sub.disconnect()
      if (!res.writableEnded) res.end()
    }
    res.once('close', end)
    sub.once('end', end)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    sub.on('message', (from: string, message: string) => {
      res.write(`data: message,${from},${message}\n\n`)
    })
    const count = (await sub.subscribe(channel).catch(() => undefined)) as number | undefined
    if (count === undefined) return end()
    res.write(`data: subscribe,${channel},${count}\n\n`)
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'upstash-sync-token': String(++syncToken) })
      res.end(JSON.stringify(payload))
    }
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    switch (mode) {
      case 'hang':
        return // never answer; stop() destroys the socket
      case 'error-500':
        return send(500, { error: 'internal' })
      case 'unauthorized':
        return send(401, { error: 'Unauthorized' })
      case 'non-json':
        res.writeHead(200, { 'content-type': 'text/html' })
        return res.end('<html>gateway</html>')
    }
    try {
      const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')
      if (!auth) throw new HttpError(400, 'Missing/Invalid authorization header')
      if (auth[1] !== token) throw new HttpError(401, 'Unauthorized')
      const path = new URL(req.url ?? '/', 'http://localhost').pathname
      if (path.startsWith('/subscribe/')) return await subscribe(req, res, decodeURIComponent(path.slice(11)))
      if (!['/', '/pipeline', '/multi-exec'].includes(path)) throw new HttpError(404, 'Not Found')
      if (req.method !== 'POST') throw new HttpError(405, 'Method Not Allowed')
      const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64'
      const body = await readBody(req)
      if (path === '/') send(200, { result: await single(body, base64) })
      else send(200, await batch(body, base64, path === '/multi-exec'))
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500
      if (!res.headersSent && !res.destroyed) send(status, { error: (error as Error).message })
    }
  }

  const server = http.createServer((req, res) => void handle(req, res))
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  let stopped: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    get requests() {
      return requests
    },
    setMode(next) {
      mode = next
    },
    setDelay(ms) {
      delayMs = ms
    },
    failItems(fault) {
      itemFault = fault
    },
    faulted,
    dropStreams() {
      for (const sub of [...subscriptions]) sub.disconnect()
    },
    stop() {
      stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const socket of sockets) socket.destroy() // includes sockets held open by 'hang' and streams
        for (const sub of subscriptions) sub.disconnect()
        await closed
        redis.disconnect()
      })()
      return stopped
    },
  }
}

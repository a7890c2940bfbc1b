/**
 * One process of the stampede benchmark (bench/stampede.ts starts it; not meant to be run by hand).
 *
 *   node --import tsx bench/stampede-worker.ts <redis url> <namespace> <go channel> <worker id>
 *
 * Protocol, one JSON object per line. stdin (from the parent): `{ type: 'round', ... }` arms a round,
 * `{ type: 'exit' }` ends the process (so does stdin closing). stdout (to the parent): `ready` once connected
 * and warmed up, `armed` once a round is armed, `result` when every caller of the round has settled. The round
 * starts when the parent publishes `go:<round>` on the channel, so all processes fire at the same moment.
 * Times are epoch milliseconds with sub-millisecond precision (`performance.timeOrigin + performance.now()`),
 * comparable across processes on one machine.
 * @module
 */
import { createInterface } from 'node:readline'
import { createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import { makeRoom } from './value.js'

export type StampedeMode = 'cacheward' | 'raw'

export interface RoundRequest {
  type: 'round'
  round: string
  mode: StampedeMode
  /** Logical key (cacheward) or raw key (raw) every caller asks for. */
  key: string
  /** Raw key the loader INCRs, so loads are counted across processes. */
  counterKey: string
  callers: number
  loaderMs: number
  ttlMs: number
}

export interface RoundResult {
  type: 'result'
  worker: number
  round: string
  /** Per caller: when it called and when its promise settled (epoch ms). */
  starts: number[]
  ends: number[]
  /** Loader calls in this process, and how long each took (ms). */
  loads: number
  loaderMs: number[]
  /** Callers that rejected or got a value different from the loader's. */
  failures: string[]
  /** cacheward only: backend errors counted by the client during the round. */
  errors: number
}

export type WorkerMessage =
  | { type: 'ready'; worker: number }
  | { type: 'armed'; worker: number; round: string }
  | RoundResult

const argv = process.argv.slice(2)
if (argv.length !== 4) throw new Error('usage: stampede-worker.ts <redis url> <namespace> <go channel> <worker id>')
const [url, namespace, channel, workerArg] = argv as [string, string, string, string]
const worker = Number(workerArg)
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const send = (message: WorkerMessage) => process.stdout.write(`${JSON.stringify(message)}\n`)

// Three connections: the cache's (or the raw cache-aside's), the "database" the loader counts on, and the
// subscriber that receives the start signal (a subscribed ioredis connection takes no other commands).
const conn = new Redis(url)
const db = new Redis(url)
const sub = new Redis(url)
const cache = createCacheClient({ adapter: ioredisAdapter(conn), namespace, ttl: '10m' })
const value = makeRoom()
const json = JSON.stringify(value)

let armed: RoundRequest | undefined

async function fire(req: RoundRequest): Promise<RoundResult> {
  const loaderMs: number[] = []
  const loader = async () => {
    const started = now()
    await db.incr(req.counterKey)
    await sleep(req.loaderMs)
    loaderMs.push(now() - started)
    return value
  }
  // What applications hand-write: GET, and on a miss load and SET. No lock, no single-flight.
  const naive = async () => {
    const text = await conn.get(req.key)
    if (text !== null) return JSON.parse(text) as unknown
    const loaded = await loader()
    await conn.set(req.key, JSON.stringify(loaded), 'PX', req.ttlMs)
    return loaded
  }
  const call = req.mode === 'cacheward' ? () => cache.getOrSet(req.key, loader) : naive
  cache.resetMetrics()
  const starts = new Array<number>(req.callers).fill(0)
  const ends = new Array<number>(req.callers).fill(0)
  const values = new Array<unknown>(req.callers)
  const failures: string[] = []
  const tasks: Promise<void>[] = []
  for (let i = 0; i < req.callers; i++) {
    starts[i] = now()
    tasks.push(
      call().then(
        (v) => {
          ends[i] = now()
          values[i] = v
        },
        (error: unknown) => {
          ends[i] = now()
          failures.push(error instanceof Error ? error.message : String(error))
        },
      ),
    )
  }
  await Promise.all(tasks)
  // Checked after the clock stopped, so checking costs no caller any time.
  let wrong = 0
  for (const v of values) if (v !== undefined && JSON.stringify(v) !== json) wrong++
  if (wrong > 0) failures.push(`${wrong} callers got a value that differs from the loader's`)
  return {
    type: 'result',
    worker,
    round: req.round,
    starts,
    ends,
    loads: loaderMs.length,
    loaderMs,
    failures,
    errors: cache.metrics().errors,
  }
}

async function main(): Promise<void> {
  await Promise.all([conn.ping(), db.ping()])
  // Warm-up: load the scripts into Redis and let the JIT see every path once, outside any measured round.
  for (let i = 0; i < 3; i++) {
    const key = `warmup:${worker}:${i}`
    await cache.getOrSet(key, () => value)
    await cache.getOrSet(key, () => value)
    await conn.get(`${namespace}:raw-warmup:${worker}`)
  }
  sub.on('message', (_channel: string, message: string) => {
    const req = armed
    if (!req || message !== `go:${req.round}`) return
    armed = undefined
    fire(req).then(send, (error: unknown) => {
      process.stderr.write(`stampede worker ${worker}: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(1)
    })
  })
  await sub.subscribe(channel)
  send({ type: 'ready', worker })

  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    if (line.trim() === '') continue
    const message = JSON.parse(line) as RoundRequest | { type: 'exit' }
    if (message.type === 'exit') break
    armed = message
    send({ type: 'armed', worker, round: message.round })
  }
  await cache.close()
  await Promise.all([conn.quit(), db.quit(), sub.quit()])
}

main().catch((error: unknown) => {
  process.stderr.write(`stampede worker ${worker}: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})

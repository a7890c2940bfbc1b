/**
 * The demo: every example app gets the same seeded request mix twice, once with caching off
 * (`cacheOptions: { enabled: false }`) and once with it on, each time over a fresh embedded database.
 * Requests go through `app.request()` in the process (no sockets), one at a time, so latencies are the
 * app's own: routing, the cache and the database.
 */
import { writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { type CacheAdapter, escapeGlob } from 'cacheward'
import { memoryAdapter } from 'cacheward/memory'
import { type Backend, openBackend } from '../shared/backend.js'
import { openDatabase } from '../shared/db.js'
import { renderHtml, renderTable } from './report.js'
import { scenarios as allScenarios, type DemoRequest, type Scenario, type Step, seeded } from './scenarios.js'

export interface DemoOptions {
  /** Requests per app and per run. @default 1000 */
  requests?: number
  /** Where the HTML report goes. @default examples/report.html */
  reportPath?: string
  /** No progress and no table. @default false */
  quiet?: boolean
  /** The apps to run (by name). @default all */
  apps?: readonly string[]
  /** Seed of the request mix. @default 42 */
  seed?: number
  /** REDIS_URL and friends; Redis when REDIS_URL is set. @default process.env */
  env?: Record<string, string | undefined>
}

export interface RunStats {
  requests: number
  queries: number
  hitRate: number
  /** Hits answered by the in-process tier (`l1`, on Redis and Upstash), of all hits. */
  hits: number
  l1Hits: number
  p50: number
  p99: number
  /** Responses by status code. */
  statuses: Record<string, number>
}

export interface Invalidation {
  write: string
  /** The calls the cache made on the backend for this write, as the app wrote them. */
  calls: string[]
  nextRead: string
  /** Database queries the read right after the write made. */
  nextQueries: number
  /** How many writes of this route the run made. */
  count: number
}

export interface AppResult {
  name: string
  mix: string
  without: RunStats
  with: RunStats
  invalidations: Invalidation[]
  /** Requests whose status differed between the two runs (0: the cache changed no answer). */
  statusMismatches: number
}

export interface DemoResult {
  backend: Backend['kind']
  requestsPerApp: number
  apps: AppResult[]
  reportPath: string
}

const label = (r: DemoRequest) => r.route ?? `${r.method} ${r.path}`

/** Wraps an adapter to note the invalidations the cache sends it, in the app's own (logical) names. */
function recording(adapter: CacheAdapter, namespace: string) {
  const calls: string[] = []
  const keyPrefix = `${namespace}:`
  const tagPrefix = `{${namespace}:tags}:`
  const globPrefix = `${escapeGlob(namespace)}:`
  const strip = (s: string, prefix: string) => (s.startsWith(prefix) ? s.slice(prefix.length) : s)
  const list = (xs: readonly string[], prefix: string) => xs.map((x) => `'${strip(x, prefix)}'`).join(', ')
  const wrapped: Partial<CacheAdapter> = {
    invalidate: (keys, gen, ttl) => {
      calls.push(`delete(${list(keys, keyPrefix)})`)
      return adapter.invalidate(keys, gen, ttl)
    },
    invalidateTags: (keys, ttl) => {
      calls.push(`invalidateTags([${list(keys, tagPrefix)}])`)
      return adapter.invalidateTags(keys, ttl)
    },
  }
  if (adapter.invalidateMatching) {
    const scan = adapter.invalidateMatching.bind(adapter)
    wrapped.invalidateMatching = (pattern, gen, ttl, step) => {
      calls.push(`invalidatePattern('${strip(pattern, globPrefix)}')`)
      return scan(pattern, gen, ttl, step)
    }
  }
  const proxy = new Proxy(adapter, {
    get(target, property) {
      const own = wrapped[property as keyof CacheAdapter]
      if (own) return own
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { adapter: proxy, take: () => calls.splice(0) }
}

const percentile = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0

async function send(app: { request(input: string, init?: RequestInit): Response | Promise<Response> }, r: DemoRequest) {
  const init: RequestInit = { method: r.method }
  if (r.body !== undefined) {
    init.body = JSON.stringify(r.body)
    init.headers = { 'content-type': 'application/json' }
  }
  const started = performance.now()
  const response = await app.request(`http://demo.local${r.path}`, init)
  await response.arrayBuffer()
  return { status: response.status, ms: performance.now() - started }
}

interface RunOutput {
  stats: RunStats
  statuses: number[]
  invalidations: Invalidation[]
}

async function runOnce(
  scenario: Scenario,
  steps: Step[],
  cached: boolean,
  backend: Backend,
  progress: (done: number) => void,
): Promise<RunOutput> {
  const createApp = await scenario.load()
  // A fresh embedded database per run: both runs start from the same seeded rows.
  const db = await openDatabase({ url: undefined })
  const namespace = `cacheward-demo:${scenario.name}:${process.pid}:${cached ? 'on' : 'off'}`
  const recorder = recording(backend.adapter ?? memoryAdapter(), namespace)
  const example = await createApp({
    db,
    backend,
    cacheOptions: { namespace, enabled: cached, adapter: recorder.adapter },
    ...scenario.options?.(namespace),
  })
  // Start-up work (schema, seed, warming) is not part of the measurement.
  db.resetCount()
  example.cache.resetMetrics()
  recorder.take()

  const latencies: number[] = []
  const statuses: number[] = []
  const byWrite = new Map<string, Invalidation>()
  let done = 0
  try {
    for (const step of steps) {
      const first = await send(example.app, step.request)
      latencies.push(first.ms)
      statuses.push(first.status)
      done++
      if (step.next) {
        const calls = recorder.take()
        const before = db.queries
        const after = await send(example.app, step.next)
        latencies.push(after.ms)
        statuses.push(after.status)
        done++
        const write = label(step.request)
        const seen = byWrite.get(write)
        if (seen) seen.count++
        else {
          byWrite.set(write, { write, calls, nextRead: label(step.next), nextQueries: db.queries - before, count: 1 })
        }
      }
      if (done % 50 === 0) progress(done)
    }
    progress(done)
    const metrics = example.cache.metrics()
    const sorted = [...latencies].sort((a, b) => a - b)
    const counts: Record<string, number> = {}
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1
    return {
      stats: {
        requests: latencies.length,
        queries: db.queries,
        hitRate: metrics.hitRate,
        hits: metrics.hits,
        l1Hits: metrics.l1Hits,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        statuses: counts,
      },
      statuses,
      invalidations: [...byWrite.values()],
    }
  } finally {
    if (cached && backend.kind !== 'memory') await example.cache.clear().catch(() => {})
    await example.close()
    await db.close()
  }
}

/** Runs the demo; resolves the numbers it printed and wrote to the report. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const requests = options.requests ?? 1000
  const reportPath = options.reportPath ?? new URL('../report.html', import.meta.url).pathname
  const quiet = options.quiet ?? false
  const chosen = allScenarios.filter((s) => !options.apps || options.apps.includes(s.name))
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`)
  }
  const backend = await openBackend(options.env ?? process.env)
  say(
    `cache backend: ${backend.kind}${backend.kind === 'memory' ? ' (set REDIS_URL to use Redis)' : ', with l1 (the in-process tier)'}`,
  )
  say(`database: embedded PGlite, fresh and identically seeded for every run`)
  say(`${chosen.length} apps × ${requests} requests × 2 runs (cache off, then on), in-process app.request()`)

  const apps: AppResult[] = []
  try {
    for (const [index, scenario] of chosen.entries()) {
      const steps = scenario.plan(requests, seeded(options.seed ?? 42))
      const total = steps.reduce((n, s) => n + (s.next ? 2 : 1), 0)
      const runs: RunOutput[] = []
      for (const cached of [false, true]) {
        const phase = `[${index + 1}/${chosen.length}] ${scenario.name}, cache ${cached ? 'on ' : 'off'}`
        const tty = !quiet && process.stderr.isTTY
        const progress = (done: number) => {
          if (tty) process.stderr.write(`\r${phase}  ${done}/${total}`)
        }
        if (!tty) say(`${phase}: ${total} requests...`)
        runs.push(await runOnce(scenario, steps, cached, backend, progress))
        if (tty) process.stderr.write('\n')
      }
      const [off, on] = runs as [RunOutput, RunOutput]
      apps.push({
        name: scenario.name,
        mix: scenario.mix,
        without: off.stats,
        with: on.stats,
        invalidations: on.invalidations,
        statusMismatches: off.statuses.filter((s, i) => s !== on.statuses[i]).length,
      })
    }
  } finally {
    await backend.close()
  }

  const result: DemoResult = { backend: backend.kind, requestsPerApp: requests, apps, reportPath }
  await writeFile(reportPath, renderHtml(result))
  if (!quiet) {
    process.stdout.write(`\n${renderTable(result)}\n`)
    process.stdout.write(`\nHTML report: ${reportPath}\n`)
  }
  return result
}

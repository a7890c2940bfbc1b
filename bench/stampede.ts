/**
 * Stampede section of `npm run bench` (`--only stampede`): 1,000 concurrent `getOrSet` calls on one cold
 * key whose loader takes 50 ms, in one process and in 4 processes × 250, against the naive cache-aside
 * applications hand-write with raw ioredis (GET, and on a miss load and SET). See bench/README.md.
 *
 * Every process is a child (bench/stampede-worker.ts) with its own connections and its own cacheward client
 * on the same namespace. The parent arms a round in every child over stdin, then publishes `go` on a Redis
 * channel: all processes fire at the same moment. The loader INCRs a Redis counter, so loads are counted
 * across processes.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createCacheClient } from 'cacheward'
import { ioredisAdapter } from 'cacheward/ioredis'
import { Redis } from 'ioredis'
import { formatInt, formatMs, percentile, table } from './lib.js'
import type { StampedeResult, StampedeRound, StampedeScenarioResult } from './results-file.js'
import type { RoundRequest, RoundResult, StampedeMode, WorkerMessage } from './stampede-worker.js'
import { quit, ROUNDS, type SectionEnv, STAMPEDE_CALLERS, STAMPEDE_LOADER_MS, TTL_MS } from './workload.js'

const here = path.dirname(fileURLToPath(import.meta.url))

/** One-process target: every caller served within the loader's time plus this. */
const OVERHEAD_TARGET_MS = 10
const MAX_PROCESSES = 4
const WORKER_TIMEOUT_MS = 30_000

/** The section has no quick mode: its rounds are short already. */
export type StampedeEnv = Pick<SectionEnv, 'url' | 'runId' | 'log'>

interface Scenario {
  id: string
  label: string
  mode: StampedeMode
  processes: number
}

const SCENARIOS: readonly Scenario[] = [
  { id: 'cacheward-1p', label: `cacheward, 1 process x ${STAMPEDE_CALLERS}`, mode: 'cacheward', processes: 1 },
  {
    id: 'cacheward-4p',
    label: `cacheward, ${MAX_PROCESSES} processes x ${STAMPEDE_CALLERS / MAX_PROCESSES}`,
    mode: 'cacheward',
    processes: MAX_PROCESSES,
  },
  { id: 'raw-1p', label: `raw GET+SET, 1 process x ${STAMPEDE_CALLERS}`, mode: 'raw', processes: 1 },
  {
    id: 'raw-4p',
    label: `raw GET+SET, ${MAX_PROCESSES} processes x ${STAMPEDE_CALLERS / MAX_PROCESSES}`,
    mode: 'raw',
    processes: MAX_PROCESSES,
  },
]

// ---- child processes ----------------------------------------------------------------------------

class Worker {
  readonly #child: ChildProcess
  readonly #queue: WorkerMessage[] = []
  #waiter: ((message: WorkerMessage | Error) => void) | undefined
  #exited: Error | undefined
  readonly exited: Promise<void>

  constructor(
    readonly id: number,
    url: string,
    namespace: string,
    channel: string,
  ) {
    const script = path.join(here, 'stampede-worker.ts')
    this.#child = spawn(process.execPath, ['--import', 'tsx', script, url, namespace, channel, String(id)], {
      cwd: path.join(here, '..'),
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    live.add(this.#child)
    // A write after the child died would otherwise be an unhandled 'error' event; its exit is reported below.
    this.#child.stdin?.on('error', () => {})
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        live.delete(this.#child)
        this.#exited = new Error(`stampede worker ${id} exited (${signal ?? `code ${code}`})`)
        this.#waiter?.(this.#exited)
        resolve()
      })
    })
    if (!this.#child.stdout) throw new Error('stampede worker: no stdout pipe')
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      if (line.trim() === '') return
      const message = JSON.parse(line) as WorkerMessage
      if (this.#waiter) this.#waiter(message)
      else this.#queue.push(message)
    })
  }

  send(message: RoundRequest | { type: 'exit' }): void {
    this.#child.stdin?.write(`${JSON.stringify(message)}\n`)
  }

  /** The next message, which must be of `type`. */
  async next<T extends WorkerMessage['type']>(type: T): Promise<Extract<WorkerMessage, { type: T }>> {
    const queued = this.#queue.shift()
    const message =
      queued ??
      (await new Promise<WorkerMessage>((resolve, reject) => {
        if (this.#exited) return reject(this.#exited)
        const timer = setTimeout(() => {
          this.#waiter = undefined
          reject(new Error(`stampede worker ${this.id}: no '${type}' within ${WORKER_TIMEOUT_MS} ms`))
        }, WORKER_TIMEOUT_MS)
        this.#waiter = (m) => {
          clearTimeout(timer)
          this.#waiter = undefined
          if (m instanceof Error) reject(m)
          else resolve(m)
        }
      }))
    if (message.type !== type) throw new Error(`stampede worker ${this.id}: expected '${type}', got '${message.type}'`)
    return message as Extract<WorkerMessage, { type: T }>
  }

  async stop(): Promise<void> {
    if (this.#exited) return
    this.send({ type: 'exit' })
    this.#child.stdin?.end()
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 5_000)))
    if ((await Promise.race([this.exited, late])) === 'late') this.#child.kill('SIGKILL')
    clearTimeout(timer)
  }
}

// Children must not outlive the bench, whatever way it ends.
const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

// ---- running ------------------------------------------------------------------------------------

async function runRound(
  workers: readonly Worker[],
  publisher: Redis,
  channel: string,
  scenario: Scenario,
  round: string,
  key: string,
  counterKey: string,
): Promise<{ stats: StampedeRound; results: RoundResult[] }> {
  const used = workers.slice(0, scenario.processes)
  const callers = STAMPEDE_CALLERS / scenario.processes
  for (const w of used) {
    w.send({
      type: 'round',
      round,
      mode: scenario.mode,
      key,
      counterKey,
      callers,
      loaderMs: STAMPEDE_LOADER_MS,
      ttlMs: TTL_MS,
    })
  }
  await Promise.all(used.map((w) => w.next('armed')))
  const pending = used.map((w) => w.next('result'))
  const receivers = await publisher.publish(channel, `go:${round}`)
  if (receivers < used.length) throw new Error(`stampede: go reached ${receivers} of ${used.length} processes`)
  const results = await Promise.all(pending)

  const starts = results.flatMap((r) => r.starts)
  const ends = results.flatMap((r) => r.ends)
  const latencies = Float64Array.from(ends.map((end, i) => end - (starts[i] ?? end))).sort()
  const loaderMs = Float64Array.from(results.flatMap((r) => r.loaderMs)).sort()
  const firstStarts = results.map((r) => r.starts[0] ?? 0)
  const stats: StampedeRound = {
    loaderCalls: Number(await publisher.get(counterKey)),
    totalMs: Math.max(...ends) - Math.min(...starts),
    loaderMs: percentile(loaderMs, 0.5),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    startSkewMs: Math.max(...firstStarts) - Math.min(...firstStarts),
  }
  return { stats, results }
}

export async function runStampede(env: StampedeEnv): Promise<StampedeResult> {
  const namespace = `stampede-${env.runId}`
  const channel = `${namespace}:go`
  const admin = new Redis(env.url)
  // Reads back what the stampede stored, through cacheward, outside the timing.
  const checker = createCacheClient({ adapter: ioredisAdapter(admin), namespace, ttl: '10m' })
  const workers: Worker[] = []
  const anomalies: string[] = []
  const rounds = new Map<string, StampedeRound[]>(SCENARIOS.map((s) => [s.id, []]))
  try {
    await admin.flushdb()
    env.log(`  stampede: starting ${MAX_PROCESSES} worker processes...`)
    for (let i = 0; i < MAX_PROCESSES; i++) workers.push(new Worker(i, env.url, namespace, channel))
    await Promise.all(workers.map((w) => w.next('ready')))

    // Round 0 is a warm-up of every scenario; rounds then rotate the scenario order, like the other cases.
    for (let round = 0; round <= ROUNDS; round++) {
      for (let k = 0; k < SCENARIOS.length; k++) {
        const scenario = SCENARIOS[(k + round) % SCENARIOS.length] as Scenario
        const name = `${scenario.id}-${round}`
        // Raw keys live outside the namespace (cacheward never reads them); fresh keys every round.
        const key = scenario.mode === 'cacheward' ? `cold:${name}` : `${namespace}-raw:cold:${name}`
        const counterKey = `${namespace}-loads:${name}`
        const { stats, results } = await runRound(workers, admin, channel, scenario, name, key, counterKey)
        const where = `${scenario.label}, round ${round === 0 ? 'warm-up' : round}`
        const reported = results.reduce((sum, r) => sum + r.loads, 0)
        if (reported !== stats.loaderCalls) {
          anomalies.push(`${where}: counter says ${stats.loaderCalls} loads, processes reported ${reported}`)
        }
        for (const r of results) {
          if (r.failures.length > 0)
            anomalies.push(`${where}: worker ${r.worker}: ${r.failures.slice(0, 3).join('; ')}`)
          if (r.errors > 0) anomalies.push(`${where}: worker ${r.worker}: ${r.errors} backend errors`)
        }
        if (scenario.mode === 'cacheward') {
          const stored = await checker.get(key)
          if (stored === undefined) anomalies.push(`${where}: the loaded value was not stored`)
        } else if ((await admin.exists(key)) !== 1) {
          anomalies.push(`${where}: the loaded value was not stored`)
        }
        if (round > 0) rounds.get(scenario.id)?.push(stats)
      }
      if (round > 0) {
        env.log(
          `  stampede: round ${round}/${ROUNDS} ` +
            SCENARIOS.map((s) => {
              const r = rounds.get(s.id)?.at(-1)
              return `${s.id} ${r?.loaderCalls ?? '?'} loads ${r?.totalMs.toFixed(1) ?? '?'} ms`
            }).join(', '),
        )
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
    await checker.close()
    await quit(admin)
  }

  const scenarios = SCENARIOS.map((s): StampedeScenarioResult => {
    const list = rounds.get(s.id) ?? []
    const sorted = [...list].sort((a, b) => a.totalMs - b.totalMs)
    const median = sorted[Math.floor((sorted.length - 1) / 2)]
    if (!median) throw new Error(`stampede: no rounds for ${s.id}`)
    const maxLoaderCalls = Math.max(...list.map((r) => r.loaderCalls))
    let pass: boolean | null = null
    let targets = 'none (baseline)'
    if (s.mode === 'cacheward') {
      pass = maxLoaderCalls === 1
      targets = 'loader calls = 1'
      if (s.processes === 1) {
        pass = pass && median.totalMs <= median.loaderMs + OVERHEAD_TARGET_MS
        targets += `, total <= loader + ${OVERHEAD_TARGET_MS} ms`
      }
    }
    return {
      id: s.id,
      label: s.label,
      mode: s.mode,
      processes: s.processes,
      callersPerProcess: STAMPEDE_CALLERS / s.processes,
      median,
      maxLoaderCalls,
      rounds: list,
      pass,
      targets,
    }
  })
  return { callers: STAMPEDE_CALLERS, loaderMs: STAMPEDE_LOADER_MS, rounds: ROUNDS, scenarios, anomalies }
}

// ---- reporting ----------------------------------------------------------------------------------

export function formatStampede(result: StampedeResult): string {
  const head = [
    'stampede',
    'loader calls',
    'max calls',
    'total ms',
    'loader ms',
    'total-loader',
    'p50 ms',
    'p99 ms',
    'start skew',
    'targets',
    'verdict',
  ]
  const rows = result.scenarios.map((s) => [
    s.label,
    formatInt(s.median.loaderCalls),
    formatInt(s.maxLoaderCalls),
    formatMs(s.median.totalMs),
    formatMs(s.median.loaderMs),
    formatMs(s.median.totalMs - s.median.loaderMs),
    formatMs(s.median.p50Ms),
    formatMs(s.median.p99Ms),
    formatMs(s.median.startSkewMs),
    s.targets,
    s.pass === null ? 'context' : s.pass ? 'PASS' : 'FAIL',
  ])
  const align = head.map((_, c) => (c === 0 || c >= 9 ? 'left' : 'right') as 'left' | 'right')
  const perRound = result.scenarios.map((s) => [
    s.label,
    s.rounds.map((r) => formatMs(r.totalMs)).join(' / '),
    s.rounds.map((r) => formatInt(r.loaderCalls)).join(' / '),
  ])
  const perRoundHead = ['stampede', `total ms per round (${result.rounds})`, 'loader calls per round']
  return [
    `Stampede: ${formatInt(result.callers)} concurrent getOrSet on one cold key, loader ${result.loaderMs} ms ` +
      `(INCR of a shared counter + sleep); median round of ${result.rounds} by total time, fresh key each round`,
    '',
    table(head, rows, align),
    '',
    'loader calls = shared Redis counter in the median round; max calls = most over all rounds. total = first call to',
    "last settlement across processes; latency per caller from its call. start skew = spread of the processes' first",
    'calls after the go signal. raw GET+SET = naive cache-aside (GET, on nil load and SET), no lock, no single-flight.',
    '',
    table(perRoundHead, perRound, ['left', 'right', 'right']),
  ].join('\n')
}

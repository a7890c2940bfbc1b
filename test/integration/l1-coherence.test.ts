/**
 * The in-process tier's promise across processes, checked strictly: 2 and 4 processes (each a client with l1 on a
 * real backend) read and invalidate ten keys at random, and no read that started after its process received the
 * announcement of an invalidation returns a value older than it (see test/support/l1-checker-worker.ts for how
 * announcements are tied to versions). On redis-server, the 3-master cluster and Upstash; ≥ 10,000 operations each.
 * A negative control (a process that loses entry announcements) proves the checker catches a stale tier.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, inject, it } from 'vitest'
import { keygen } from '../support/keygen.js'
import type { WorkerReport, WorkerSettings } from '../support/l1-checker-worker.js'

const WORKER = fileURLToPath(new URL('../support/l1-checker-worker.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ns = keygen('l1c')

function run(settings: WorkerSettings): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(settings)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8')
    })
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8')
    })
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${err.slice(-2000)}`))
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as WorkerReport)
      } catch (error) {
        reject(new Error(`worker report unreadable: ${String(error)}\n${err.slice(-2000)}`))
      }
    })
  })
}

/** Reads that started after their process received marker V of their key, yet returned a version below V. */
function violations(report: WorkerReport): number {
  // Per key, the versions marked so far on this process's clock: sorted by receipt, a running maximum.
  const marks = new Map<number, { at: number; max: number }[]>()
  const sorted = [...report.marks].sort((a, b) => a[2] - b[2])
  for (const [key, version, at] of sorted) {
    const list = marks.get(key) ?? []
    list.push({ at, max: Math.max(version, list.at(-1)?.max ?? 0) })
    marks.set(key, list)
  }
  let bad = 0
  for (const [key, startedAt, version] of report.reads) {
    const list = marks.get(key) ?? []
    let floor = 0
    for (const m of list) {
      if (m.at < startedAt) floor = m.max
      else break
    }
    if (version < floor) bad++
  }
  return bad
}

async function check(backend: WorkerSettings['backend'], processes: number, opsEach: number, lose = false) {
  const namespace = ns()
  const base = {
    backend,
    redisUrl: inject('redisUrl'),
    clusterNodes: inject('clusterNodes'),
    upstashUrl: inject('upstashUrl'),
    upstashToken: inject('upstashToken'),
    namespace,
    ops: opsEach,
  }
  const started = performance.now()
  const reports = await Promise.all(
    Array.from({ length: processes }, (_, i) => run({ ...base, seed: 1 + i * 7919, ...(lose ? { lose } : {}) })),
  )
  const total = {
    reads: reports.reduce((n, r) => n + r.reads.length, 0),
    marks: reports.reduce((n, r) => n + r.marks.length, 0),
    hits: reports.reduce((n, r) => n + r.metrics.hits, 0),
    l1Hits: reports.reduce((n, r) => n + r.metrics.l1Hits, 0),
    errors: reports.reduce((n, r) => n + r.metrics.errors, 0),
    violations: reports.reduce((n, r) => n + violations(r), 0),
  }
  console.log(
    `l1 coherence ${backend} ${lose ? '(losing announcements) ' : ''}${processes} processes: ` +
      `${processes * opsEach} ops, ${total.reads} reads (${total.l1Hits} from l1, ${total.hits} hits), ` +
      `${total.marks} markers received, ${total.violations} violations, ${total.errors} backend errors, ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
  return total
}

describe('l1 coherence across processes (strict checker)', () => {
  for (const backend of ['redis', 'cluster', 'upstash', 'node-redis', 'node-redis-cluster'] as const) {
    // node-redis: the adapter's own subscriber is what differs, so 2 processes are enough to check it.
    for (const processes of backend.startsWith('node-redis') ? [2] : [2, 4]) {
      it(`${backend}, ${processes} processes: no read after an announcement returns an older version`, async () => {
        const total = await check(backend, processes, Math.ceil(10_000 / processes))
        expect(total.violations).toBe(0)
        expect(total.errors).toBe(0)
        // Not vacuous: the tier answered a good share of the reads, and every process heard the markers.
        expect(total.l1Hits).toBeGreaterThan(total.reads / 10)
        expect(total.marks).toBeGreaterThan(processes * 100)
      }, 120_000)
    }
  }

  it('catches a tier that loses announcements (negative control)', async () => {
    const total = await check('redis', 2, 3_000, true)
    expect(total.violations).toBeGreaterThan(0)
  }, 120_000)
})

/**
 * Batches across processes: two processes run `getOrSetMany` at the same moment over overlapping keys. Each key is
 * loaded once in total (the batch read takes each missing key's lock; the other process waits for its value instead
 * of loading it), and both get every value. Standalone Redis and the 3-master cluster.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, inject, it } from 'vitest'
import type { BatchWorkerReport, BatchWorkerSettings } from '../support/batch-worker.js'
import { keygen } from '../support/keygen.js'

const WORKER = fileURLToPath(new URL('../support/batch-worker.ts', import.meta.url))
const ns = keygen('batch-procs')

function runWorker(settings: BatchWorkerSettings): Promise<BatchWorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(settings)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
    })
    child.stderr.on('data', (chunk) => {
      err += chunk
    })
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${err.slice(-2000)}`))
      try {
        resolve(JSON.parse(out) as BatchWorkerReport)
      } catch (error) {
        reject(new Error(`worker report unreadable: ${String(error)}\n${err.slice(-2000)}`))
      }
    })
  })
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `item:${from + i}`)

describe('getOrSetMany across two processes', () => {
  for (const backend of ['redis', 'cluster'] as const) {
    it(`loads each key once in total when their batches overlap (${backend})`, { timeout: 30_000 }, async () => {
      const namespace = ns()
      const base = {
        backend,
        redisUrl: inject('redisUrl'),
        clusterNodes: inject('clusterNodes'),
        namespace,
        // Both processes have started (tsx takes a moment) before either reads.
        startAt: Date.now() + 2_500,
        loaderMs: 300,
      }
      const [a, b] = await Promise.all([
        runWorker({ ...base, keys: range(0, 60) }),
        runWorker({ ...base, keys: range(30, 90) }),
      ])
      const loaded = [...a.loaded, ...b.loaded].sort()
      expect(loaded).toEqual(range(0, 90).sort())
      expect(a.values).toEqual(range(0, 60).map((k) => `value of ${k}`))
      expect(b.values).toEqual(range(30, 90).map((k) => `value of ${k}`))
      // Each process counts one miss per key it asked for, whoever loaded it.
      expect(a.metrics.misses + a.metrics.hits).toBe(60)
      expect(b.metrics.misses + b.metrics.hits).toBe(60)
      expect(a.metrics.errors + b.metrics.errors).toBe(0)
    })
  }
})

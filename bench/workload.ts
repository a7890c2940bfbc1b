/**
 * What the sections of `npm run bench` share: the environment run.ts hands each of them, the workload
 * parameters that must be equal for their tables to be read side by side, and closing their connections.
 * @module
 */
import type { Room } from './value.js'

/** What run.ts gives every section. */
export interface SectionEnv {
  /** The redis-server run.ts started. */
  url: string
  /** Unique per run; sections build key prefixes from it. */
  runId: string
  /** BENCH_QUICK=1: ~10x fewer operations (smoke test). */
  quick: boolean
  log: (line: string) => void
}

/** For the sections that cache the shared ~1 KB value: the value, and its JSON to check what comes back. */
export interface ValueEnv extends SectionEnv {
  value: Room
  json: string
}

/** Distinct keys the hit cases cycle through. */
export const HIT_KEYS = 2_000
/** Measured rounds per side; the median round is reported. Odd, so the median is a real round. */
export const ROUNDS = 5
/** Callers in the concurrent cases. */
export const CONCURRENCY = 256
/** TTL of every entry, every side alike; long enough that nothing expires during a run. */
export const TTL_MS = 10 * 60_000
/** Concurrent calls on one cold key in a stampede round, whatever the number of processes. */
export const STAMPEDE_CALLERS = 1_000
/** How long a stampede round's loader takes. */
export const STAMPEDE_LOADER_MS = 50

/** Closes connections politely, or drops them when the polite way fails (e.g. the server is already gone). */
export async function quit(...clients: { quit(): Promise<unknown>; disconnect(): void }[]): Promise<void> {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())))
}

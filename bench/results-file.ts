/**
 * The shape of bench/results/*.json: the run's metadata and each section's results. The sections build these,
 * run.ts writes them, report.ts and its renderers read them; this module imports none of them.
 * @module
 */
import type { Run } from './lib.js'
import type { StampedeMode } from './stampede-worker.js'

// ---- the run ------------------------------------------------------------------------------------

/** The hit/miss cases' two kinds. */
export type Kind = 'hits' | 'misses'
/** Sections with their own shape and tables (bench/stampede.ts, invalidation.ts, peers.ts, metrics.ts, l1.ts). */
export type Section = 'stampede' | 'invalidation' | 'peers' | 'metrics' | 'l1' | 'big-values' | 'batches'
/** What `--only` selects: one kind of hit/miss case, or one section. */
export type Only = Kind | Section

/** The run's machine, versions and workload, as the results file records them. */
export interface Meta {
  date: string
  node: string
  ioredis: string
  /** @redis/client, the node-redis the node-redis sides use (older results files lack it). */
  nodeRedis: string
  redisServer: string
  cpu: string
  cpus: number
  platform: string
  /** The distribution's name (PRETTY_NAME of /etc/os-release) where there is one, else os.version(). */
  os: string
  /** How this run was started, for the docs. */
  command: string
  cacheward: string
  commit: string
  quick: boolean
  only: Only | null
  valueBytes: number
  hitKeys: number
  rounds: number
  warmupOps: number
}

// ---- hits and misses (hits-misses.ts) -----------------------------------------------------------

/**
 * The sides of a hit/miss case: raw ioredis, cacheward over ioredis, cacheward's memory default, raw node-redis,
 * cacheward over node-redis.
 */
export type SideName = 'raw' | 'cacheward' | 'memory' | 'raw-node-redis' | 'cacheward-node-redis'

/** Every side, in the order the tables show them. */
export const SIDES: readonly SideName[] = ['raw', 'cacheward', 'memory', 'raw-node-redis', 'cacheward-node-redis']

/** One side of one case: its median round (by throughput) and every round. */
export interface SideResult {
  median: Run
  rounds: Run[]
}

/** One hit/miss case: every side, and cacheward ÷ raw against its target. */
export interface CaseResult {
  id: string
  label: string
  kind: Kind
  workers: number
  ops: number
  target: number
  /** cacheward over ioredis ÷ raw ioredis (median ops/s). */
  ratio: number
  pass: boolean
  /** cacheward over node-redis ÷ raw node-redis (median ops/s), against the same target. */
  nodeRedisRatio: number
  nodeRedisPass: boolean
  sides: Record<SideName, SideResult>
  anomalies: string[]
}

// ---- stampede (stampede.ts) ---------------------------------------------------------------------

/** One round of one stampede scenario. */
export interface StampedeRound {
  /** Loader calls, read from the shared Redis counter. */
  loaderCalls: number
  /** First call to last settlement, across processes (ms). */
  totalMs: number
  /** Median duration of the round's loader calls (ms): the 50 ms sleep plus the INCR. */
  loaderMs: number
  /** Per-caller latency, call to settlement (ms). */
  p50Ms: number
  p99Ms: number
  /** Latest first call minus earliest first call over the processes (ms): how well the start barrier held. */
  startSkewMs: number
}

/** One stampede scenario over its rounds. */
export interface StampedeScenarioResult {
  id: string
  label: string
  mode: StampedeMode
  processes: number
  callersPerProcess: number
  median: StampedeRound
  maxLoaderCalls: number
  rounds: StampedeRound[]
  /** Targets apply to cacheward only; `null` for the raw baseline. */
  pass: boolean | null
  targets: string
}

/** The stampede section. */
export interface StampedeResult {
  callers: number
  loaderMs: number
  rounds: number
  scenarios: StampedeScenarioResult[]
  anomalies: string[]
}

// ---- invalidation (invalidation.ts) -------------------------------------------------------------

/** invalidateTags on a tag carried by `entries` entries. */
export interface TagCase {
  entries: number
  /** Per call, in call order. */
  ms: number[]
  medianMs: number
  maxMs: number
  /** Round trips (commands the client sent) per call, in call order. */
  commands: number[]
  /** Of the first call: commands sent, and commands Redis executed (scripts' own included). */
  sent: Record<string, number>
  executed: Record<string, number>
}

/** invalidateTags on a big and a small tag: the cost must not grow with the entries. */
export interface TagsResult {
  big: TagCase
  small: TagCase
  pass: boolean
}

/** One invalidatePattern run, with other clients' GETs timed during it. */
export interface PatternRun {
  keys: number
  invalidated: number
  ms: number
  keysPerSec: number
  /** Commands the cache sent during the scan (SCAN pages + invalidation scripts): its round trips. */
  commands: Record<string, number>
  getsDuring: number
  getP50Ms: number
  getP99Ms: number
  getMaxMs: number
  baselineGets: number
  baselineP50Ms: number
  baselineP99Ms: number
  dbsizeBefore: number
  dbsizeAfter: number
  /** Per command of the scan: how long each call ran inside Redis (ms), from SLOWLOG (calls over 100 µs). */
  redisBusy: Record<string, { logged: number; p50Ms: number; maxMs: number; totalMs: number }>
}

/** invalidatePattern over its runs. */
export interface PatternResult {
  median: PatternRun
  runs: PatternRun[]
  pass: boolean
}

/** Tagged or untagged hits: throughput and commands per hit. */
export interface ReadSide {
  median: Run
  rounds: Run[]
  sent: Record<string, number>
  executed: Record<string, number>
}

/** Tagged hits against untagged ones. */
export interface ReadsResult {
  ops: number
  /** Per hit: commands sent (round trips) and commands Redis executed, scripts' own included. */
  untagged: ReadSide
  tagged: ReadSide
  /** Time per tagged hit ÷ time per untagged hit (median rounds). */
  costRatio: number
  pass: boolean
}

/** The invalidation section. */
export interface InvalidationResult {
  tags: TagsResult
  pattern: PatternResult
  reads: ReadsResult
  /** The targets the verdicts were computed against, so reports quote them from the results. */
  targets: { tagMedianMs: number; patternKeysPerSec: number; getP99Ms: number; taggedCostRatio: number }
  anomalies: string[]
}

// ---- peer libraries (peers.ts) ------------------------------------------------------------------

/** The libraries the peers section compares (raw ioredis included, as the limit). */
export type PeerId = 'raw' | 'cacheward' | 'bentocache' | 'bentocache-l1' | 'cachified' | 'cache-manager'

/** One library in one configuration, as the results file and the docs describe it. */
export interface PeerInfo {
  id: PeerId
  label: string
  /** npm package whose version the report shows. */
  pkg: string
  /** 'redis': every hit reads Redis. 'l1+redis': hits are answered from process memory; not comparable. */
  tier: 'redis' | 'l1+redis'
  /** The Redis client the library talks through. */
  client: 'ioredis' | 'node-redis'
  /** The configuration used, for the docs' caveats. */
  config: string
}

/** One library in one peer case. */
export interface PeerSideResult {
  median: Run
  rounds: Run[]
  /** Median ops/s ÷ raw ioredis median ops/s. */
  ratioToRaw: number
  spreadPercent: number
}

/** One peer case (hits or misses, sequential or concurrent) over every library. */
export interface PeerCaseResult {
  id: string
  label: string
  kind: 'hits' | 'misses'
  workers: number
  ops: number
  sides: Record<PeerId, PeerSideResult>
}

/** One round of the one-process peer stampede. */
export interface PeerStampedeRound {
  loaderCalls: number
  totalMs: number
  p50Ms: number
  p99Ms: number
}

/** One library in the peer stampede. */
export interface PeerStampedeResult {
  id: PeerId
  median: PeerStampedeRound
  maxLoaderCalls: number
  rounds: PeerStampedeRound[]
}

/** The peers section. */
export interface PeersResult {
  peers: readonly PeerInfo[]
  versions: Record<string, string>
  hitKeys: number
  rounds: number
  ttlMs: number
  cases: PeerCaseResult[]
  stampede: { callers: number; loaderMs: number; rounds: number; results: PeerStampedeResult[] }
  anomalies: string[]
}

// ---- metrics cost (metrics.ts) ------------------------------------------------------------------

/** The two sides of a metrics case: metrics on (the default) and `metrics: false`. */
export type MetricsSide = 'on' | 'off'

/** One metrics case: hits with metrics on against off. */
export interface MetricsCaseResult {
  id: string
  label: string
  backend: 'memory' | 'redis'
  workers: number
  ops: number
  target: number
  /** Metrics on ÷ metrics off, median ops/s. */
  ratio: number
  pass: boolean
  sides: Record<MetricsSide, { median: Run; rounds: Run[]; spreadPercent: number }>
}

/** The metrics section. */
export interface MetricsResult {
  hitKeys: number
  rounds: number
  target: number
  cases: MetricsCaseResult[]
  /** Set when the client does not accept `metrics: false` yet: the section did not run. */
  skipped?: string
  anomalies: string[]
}

// ---- the in-process tier (l1.ts) -------------------------------------------------------------------

/** The sides of the tier's hit cases. */
export type L1Side =
  | 'lru-cache (the limit)'
  | 'cacheward l1'
  | 'cacheward l1 + { ttl, tags }'
  | 'bentocache L1'
  | 'cacheable (no clone)'
  | 'cacheable (clone)'

/** Hits answered in process, one mode. */
export interface L1HitCase {
  mode: 'sequential' | 'concurrent'
  opsPerSec: Record<L1Side, number>
  p50Us: Record<L1Side, number>
  spreadPercent: Record<L1Side, number>
}

/** The l1 section: tier hits beside the peers', propagation to other processes, memory-adapter hits, freezing. */
export interface L1Result {
  hits: L1HitCase[]
  /** From an invalidation resolving here to other processes' tiers dropping the key (IPC hop included). */
  /** Call resolved here → tier dropped there, on the machine's clock; `viaIpcP99Ms`: to the IPC message's arrival (newer runs). */
  propagation: {
    invalidations: number
    processes: number
    p50Ms: number
    p99Ms: number
    maxMs: number
    viaIpcP99Ms?: number
  }
  /** The default memory adapter's hits (no tier: its own synchronous path). */
  memoryHits: { sequential: number; concurrent: number }
  /** Decoding the ~1 KB value, and decoding plus deep-freezing it (what a tier fill adds on a miss), µs. */
  freeze: { parseUs: number; parseAndFreezeUs: number }
  /** The targets the verdicts were judged against. */
  targets: { hits: number; hitsWithOptions: number; propagationP99Ms: number; memoryHits: number }
  anomalies: string[]
}

// ---- big values (big-values.ts) -----------------------------------------------------------------

/** Latency of sequential operations (ms), and the longest event-loop stall while they ran (ms). */
export interface Latency {
  p50Ms: number
  p99Ms: number
  maxStallMs: number
}

/** One value size: raw GET + parse beside cacheward's hit and miss, plain and gzipped. */
export interface BigValueCase {
  label: string
  /** The value's JSON, UTF-8 bytes. */
  jsonBytes: number
  ops: number
  raw: Latency
  plain: { hit: Latency; miss: Latency; storedBytes: number }
  compressed: { hit: Latency; miss: Latency; storedBytes: number }
  /** Stored bytes gzipped (base64 included) ÷ stored bytes plain. */
  ratio: number
  gzipMsPerMB: number
  gunzipMsPerMB: number
}

/** The big-values section. */
export interface BigValuesResult {
  cases: BigValueCase[]
  anomalies: string[]
}

// ---- batches (batches.ts) -------------------------------------------------------------------------

/** The sides of the batch case: one op reads the same 100 cached keys. */
export type BatchSide =
  | 'raw MGET + JSON.parse (the limit)'
  | 'cacheward getOrSetMany'
  | 'cacheward getOrSet x100, sequential'

/** The batches section: 100 cached keys per op, beside raw MGET and 100 sequential getOrSet calls. */
export interface BatchesResult {
  /** Keys per batch. */
  keys: number
  opsPerSec: Record<BatchSide, number>
  p50Us: Record<BatchSide, number>
  spreadPercent: Record<BatchSide, number>
  /** Commands one getOrSetMany of the cached keys sends (the most of a client's first batch and its next). */
  roundTrips: number
  /** The targets the verdicts were judged against. */
  targets: { vsSequential: number; vsRaw: number; roundTrips: number }
  anomalies: string[]
}

// ---- the file -----------------------------------------------------------------------------------

/** bench/results/*.json as a run writes it; a section the run left out is absent. */
export interface ResultsFile {
  meta: Meta
  cases: CaseResult[]
  stampede?: StampedeResult
  invalidation?: InvalidationResult
  peers?: PeersResult
  metrics?: MetricsResult
  l1?: L1Result
  bigValues?: BigValuesResult
  batches?: BatchesResult
}

/** The parts of a results file the report reads; older files may lack the newer fields and sections. */
export interface StoredResults {
  meta: Omit<Meta, 'os' | 'command' | 'nodeRedis'> & Partial<Pick<Meta, 'os' | 'command' | 'nodeRedis'>>
  /** Files written before the node-redis sides lack them. */
  cases: (Pick<CaseResult, 'id' | 'label' | 'ops' | 'target' | 'ratio' | 'pass'> &
    Partial<Pick<CaseResult, 'nodeRedisRatio' | 'nodeRedisPass'>> & {
      sides: Record<'raw' | 'cacheward' | 'memory', SideResult> &
        Partial<Record<'raw-node-redis' | 'cacheward-node-redis', SideResult>>
    })[]
  stampede?: StampedeResult
  invalidation?: InvalidationResult
  peers?: PeersResult
  metrics?: MetricsResult
  l1?: L1Result
  bigValues?: BigValuesResult
  batches?: BatchesResult
}

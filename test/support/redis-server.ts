import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export class RedisServerMissingError extends Error {
  constructor() {
    super(
      'redis-server not found on PATH: install it (apt-get install -y redis-server, or brew install redis) or set REDIS_URL',
    )
    this.name = 'RedisServerMissingError'
  }
}

let installed: boolean | undefined

export function assertRedisServerInstalled(): void {
  if (installed === undefined) {
    const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
    installed = (probe.error as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT'
  }
  if (!installed) throw new RedisServerMissingError()
}

export interface RedisServer {
  host: '127.0.0.1'
  port: number
  url: string
  pid: number
  dir: string
  stop(): Promise<void>
  pause(): void
  resume(): void
  /**
   * SIGKILLs the server and starts it again on the same port and directory (a crash and a restart: no data, as
   * nothing is persisted, but a cluster node keeps its identity from nodes.conf). Resolves the new server; the old
   * object's stop() then does nothing.
   */
  restart(): Promise<RedisServer>
}

export interface RedisCluster {
  /** The masters as created (seed nodes for a client). */
  nodes: { host: '127.0.0.1'; port: number }[]
  /** Every server: the masters first, then (with `replicas`) one replica per master, in the masters' order. */
  servers: RedisServer[]
  /** With `replicas`: `replicaOf[i]` is the server replicating `servers[i]` when the cluster was created. */
  replicaOf: RedisServer[]
  stop(): Promise<void>
}

const HOST = '127.0.0.1'
const START_TIMEOUT_MS = 10_000
const CLUSTER_TIMEOUT_MS = 20_000
const OUTPUT_TAIL = 8192

// Last-resort cleanup: a crashed or interrupted test run must not leave servers or temp dirs behind.
// Vitest turns SIGINT/SIGTERM into process.exit(), so 'exit' covers those too.
const live = new Map<ChildProcess, string>()
process.on('exit', () => {
  for (const [child, dir] of live) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})

// Ports handed out by this process; avoids giving one node's bus port (P+10000) to another node.
const reserved = new Set<number>()

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** A free loopback port P whose cluster bus port P+10000 is free as well. */
export async function getFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralPort()
    if (port + 10_000 > 65_535 || reserved.has(port) || reserved.has(port + 10_000)) continue
    if (!(await canListen(port + 10_000))) continue
    reserved.add(port)
    reserved.add(port + 10_000)
    return port
  }
  throw new Error('getFreePort: no free loopback port P with P+10000 also free after 50 attempts')
}

/** Sends one command over a fresh socket; returns a simple, integer or bulk string reply, rejects on an error reply. */
function rawCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: HOST })
    let buffer = Buffer.alloc(0)
    const done = (error: Error | undefined, value = '') => {
      socket.destroy()
      if (error) reject(error)
      else resolve(value)
    }
    socket.setTimeout(timeoutMs, () => done(new Error(`no reply from ${HOST}:${port} within ${timeoutMs} ms`)))
    socket.once('error', (error) => done(error))
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      const eol = buffer.indexOf('\r\n')
      if (eol < 0) return
      const head = buffer.subarray(0, eol).toString('utf8')
      if (head[0] === '-') return done(new Error(head.slice(1)))
      if (head[0] !== '$') return done(undefined, head.slice(1))
      const length = Number(head.slice(1))
      if (length < 0) return done(undefined, '')
      const start = eol + 2
      if (buffer.length >= start + length + 2) done(undefined, buffer.subarray(start, start + length).toString('utf8'))
    })
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

class StartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message)
  }
}

async function spawnOnce(
  port: number,
  extraArgs: string[],
  env?: NodeJS.ProcessEnv,
  reuseDir?: string,
): Promise<RedisServer> {
  const dir = reuseDir ?? mkdtempSync(path.join(os.tmpdir(), 'cacheward-redis-'))
  const args = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--protected-mode',
    'no',
    ...extraArgs,
  ]
  const child = spawn('redis-server', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  })
  live.set(child, dir)
  // Redis logs to stdout; keep a tail of both streams for error messages and keep draining the pipes.
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let spawnError: Error | undefined
  child.once('error', (error) => {
    spawnError = error
  })

  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    if (!spawnError && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL') // works on a SIGSTOPped process too
      let timer: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))])
      clearTimeout(timer)
    }
    live.delete(child)
    reserved.delete(port)
    reserved.delete(port + 10_000)
    rmSync(dir, { recursive: true, force: true })
  }

  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      await stop()
      if ((spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new RedisServerMissingError()
      const reason = spawnError ? spawnError.message : `exit code ${child.exitCode ?? child.signalCode}`
      throw new StartError(
        `redis-server on port ${port} failed to start (${reason}):\n${output.trim()}`,
        output.includes('Address already in use'),
      )
    }
    // Check the pid too: a foreign server already on this port would answer PING while ours fails to bind.
    // With --requirepass, INFO needs AUTH: our own child's log line proves it bound the port.
    if (output.includes('Ready to accept connections')) break
    const info = await rawCommand(port, ['INFO', 'server'], 500).catch(() => '')
    if (info.includes(`\r\nprocess_id:${child.pid}\r\n`)) break
    if (Date.now() > deadline) {
      await stop()
      throw new StartError(
        `redis-server on port ${port} did not answer within ${START_TIMEOUT_MS} ms:\n${output.trim()}`,
        false,
      )
    }
    await sleep(25)
  }

  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    pid: child.pid!,
    dir,
    stop,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    restart: async () => {
      if (stopped) throw new Error(`redis-server on port ${port} was stopped`)
      stopped = true
      child.kill('SIGKILL')
      await exited
      live.delete(child)
      return spawnOnce(port, extraArgs, env, dir)
    },
  }
}

export async function startRedisServer(
  options: { port?: number; extraArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<RedisServer> {
  assertRedisServerInstalled()
  const extraArgs = options.extraArgs ?? []
  if (options.port !== undefined) return spawnOnce(options.port, extraArgs, options.env)
  // A port found free can be taken by someone else before redis binds it: retry with a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnOnce(await getFreePort(), extraArgs, options.env)
    } catch (error) {
      if (!(error instanceof StartError && error.addressInUse) || attempt >= 5) throw error
    }
  }
}

function runRedisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8')
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      // redis-cli --cluster exits 0 on some failures, so also look for its error marker.
      if (code === 0 && !output.includes('[ERR]')) resolve(output)
      else reject(new Error(`redis-cli ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`))
    })
  })
}

/** The first line of `CLUSTER NODES` of every node, parsed: id, port, flags, master id. */
async function clusterNodes(port: number) {
  const text = await rawCommand(port, ['CLUSTER', 'NODES'])
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', address = '', flags = '', master = ''] = line.split(' ')
      return { id, port: Number(address.split('@')[0]?.split(':')[1]), flags: flags.split(','), master }
    })
}

/**
 * Starts a Redis Cluster of `masters` masters (3 by default) on free loopback ports. With `replicas: 1`, each
 * master also gets a replica (started only by the tests that kill masters; `nodeTimeout` small so a failover
 * takes seconds). Resolves once every node reports the full slot map and every replica's link is up.
 */
export async function startRedisCluster(
  options: {
    masters?: number
    replicas?: 0 | 1
    /** cluster-node-timeout (ms): how long a silent master takes to be failed over. Default 2000. */
    nodeTimeout?: number
    env?: (index: number) => NodeJS.ProcessEnv | undefined
  } = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 0
  if (masters < 3) throw new Error(`startRedisCluster: Redis Cluster needs at least 3 masters, got ${masters}`)
  const total = masters * (1 + replicas)
  const clusterArgs = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(options.nodeTimeout ?? 2000),
    // A replica's first sync starts at once, not after the default 5 s wait for more replicas to join it.
    '--repl-diskless-sync-delay',
    '0',
  ]
  const started = await Promise.allSettled(
    Array.from({ length: total }, (_, i) => {
      const env = options.env?.(i)
      return startRedisServer({ extraArgs: clusterArgs, ...(env ? { env } : {}) })
    }),
  )
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()))
  }
  const replicaOf: RedisServer[] = []
  try {
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    const deadline = Date.now() + CLUSTER_TIMEOUT_MS
    await runRedisCli(
      [
        '--cluster',
        'create',
        ...servers.slice(0, masters).map((s) => `${HOST}:${s.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      CLUSTER_TIMEOUT_MS,
    )
    // Replicas are attached by hand, so which one follows which master is ours to choose (redis-cli's
    // --cluster-replicas shuffles them when every node is on one host).
    if (replicas > 0) {
      const ids = await clusterNodes(servers[0]!.port)
      for (let i = 0; i < masters; i++) {
        const master = servers[i]!
        const replica = servers[masters + i]!
        const id = ids.find((n) => n.port === master.port)?.id
        if (!id) throw new Error(`cluster: no node id for master ${master.port}`)
        await rawCommand(replica.port, ['CLUSTER', 'MEET', HOST, String(master.port)])
        // The replica must know the master's id before it can follow it: retry until the MEET has spread.
        for (;;) {
          const ok = await rawCommand(replica.port, ['CLUSTER', 'REPLICATE', id]).then(
            () => true,
            () => false,
          )
          if (ok) break
          if (Date.now() > deadline) throw new Error(`cluster: ${replica.port} could not replicate ${master.port}`)
          await sleep(50)
        }
        replicaOf.push(replica)
      }
    }
    // redis-cli returns once the config is consistent; wait until every node also reports the full slot map
    // (and every replica's link to its master is up).
    for (;;) {
      const infos = await Promise.all(servers.map((s) => rawCommand(s.port, ['CLUSTER', 'INFO']).catch(String)))
      const links = await Promise.all(replicaOf.map((s) => rawCommand(s.port, ['INFO', 'replication']).catch(String)))
      const ready =
        infos.every(
          (info) =>
            info.includes('cluster_state:ok') &&
            info.includes('cluster_slots_ok:16384') &&
            info.includes(`cluster_known_nodes:${total}\r\n`),
        ) && links.every((info) => info.includes('master_link_status:up'))
      if (ready) break
      if (Date.now() > deadline) {
        const down = links.filter((info) => !info.includes('master_link_status:up'))
        throw new Error(
          `cluster did not reach cluster_state:ok within ${CLUSTER_TIMEOUT_MS} ms:\n${[...infos, ...down].join('\n')}`,
        )
      }
      await sleep(50)
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { nodes: servers.slice(0, masters).map((s) => ({ host: HOST, port: s.port })), servers, replicaOf, stop }
}

/**
 * The slot map as the node at `port` sees it now: a function from a slot to the port of the master serving it
 * (undefined while no live master has it, e.g. between a master's failure and its replica's promotion).
 */
export async function slotOwners(port: number): Promise<(slot: number) => number | undefined> {
  const text = await rawCommand(port, ['CLUSTER', 'NODES'])
  const ranges: [from: number, to: number, port: number][] = []
  for (const line of text.trim().split('\n')) {
    const parts = line.split(' ')
    const flags = parts[2]?.split(',') ?? []
    if (!flags.includes('master') || flags.includes('fail') || flags.includes('fail?')) continue
    const owner = Number(parts[1]?.split('@')[0]?.split(':')[1])
    for (const range of parts.slice(8)) {
      if (range.startsWith('[')) continue
      const [from = 0, to = from] = range.split('-').map(Number)
      ranges.push([from, to, owner])
    }
  }
  return (slot) => ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]
}

export { rawCommand as rawRedisCommand }

/**
 * close() ends a client for good, whatever is under way when it is called: a call whose read is on its way runs no
 * loader and writes nothing after close() resolved; a `hardTimeout` timer does not keep the process alive; a second
 * close() resolves only when the first has finished; health() after close() reports it closed and sends nothing.
 * (On redis-server where Redis is involved; the memory store for the purely in-process case.)
 */
import { spawn } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ioredisAdapter } from '../../src/adapters/ioredis.js'
import { createCacheClient } from '../../src/client.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const INDEX = pathToFileURL(fileURLToPath(new URL('../../src/index.ts', import.meta.url))).href
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const conns: Redis[] = []
afterAll(() => {
  for (const c of conns) c.disconnect()
})

describe('close() with work under way', () => {
  it('a getOrSet whose read was in flight at close() neither runs its loader nor writes after close() resolved', async () => {
    const admin = new Redis(inject('redisUrl'))
    const redis = new Redis(inject('redisUrl'))
    conns.push(admin, redis)
    const namespace = `closing${Date.now()}`
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace, timeout: '5s' })
    await cache.health() // connected, scripts ready
    await cache.set('warm', 1)
    // Pause write commands (the read script takes the lock: a write script) for a moment.
    await admin.call('CLIENT', 'PAUSE', '400', 'WRITE')
    let loaderCalledAfterClose = false
    let closed = false
    const pending = cache.getOrSet('k', () => {
      if (closed) loaderCalledAfterClose = true
      return 'loaded-after-close'
    })
    pending.catch(() => {})
    await sleep(50)
    await cache.close()
    closed = true
    await pending.catch(() => {})
    await sleep(200)
    const raw = await admin.get(`${namespace}:k`)
    expect({ loaderCalledAfterClose, writtenAfterClose: (raw ?? '').includes('loaded-after-close') }).toEqual({
      loaderCalledAfterClose: false,
      writtenAfterClose: false,
    })
  })

  it('close() leaves no hardTimeout timer keeping the process alive while a loader ignores its signal', async () => {
    const code = [
      `const { createCacheClient } = await import(${JSON.stringify(INDEX)})`,
      `const cache = createCacheClient({ namespace: 'x', hardTimeout: '20s' })`,
      `const p = cache.getOrSet('k', () => new Promise(() => {}))`,
      `p.catch(() => {})`,
      `await new Promise((r) => setTimeout(r, 50))`,
      `await cache.close()`,
      `console.log('closed')`,
    ].join('\n')
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString('utf8')
    })
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString('utf8')
    })
    const exited = new Promise<number | string>((resolve) => child.once('exit', (c, s) => resolve(c ?? `${s}`)))
    const exit = await Promise.race([exited, sleep(5_000).then(() => 'still running 5 s after close()')])
    child.kill('SIGKILL')
    expect(output).toBe('closed\n')
    expect(exit).toBe(0)
  }, 15_000)
})

describe('close() called twice', () => {
  it('a second close() resolves only once the first has finished its background work', async () => {
    const { chaosAdapter } = await import('../../src/testing/chaos.js')
    const { memoryAdapter } = await import('../../src/adapters/memory.js')
    const cache = createCacheClient({ adapter: chaosAdapter(memoryAdapter(), { release: { latency: 300 } }) })
    // A failed load releases its lock in the background (tracked for close()); the release takes 300 ms.
    await cache.getOrSet('k', () => Promise.reject(new Error('db down'))).catch(() => {})
    let firstDone = false
    const first = cache.close().then(() => {
      firstDone = true
    })
    const started = performance.now()
    await cache.close() // e.g. a shutdown hook and a test's afterEach both close the client
    const secondTook = performance.now() - started
    const firstDoneWhenSecondResolved = firstDone
    await first
    expect({ firstDoneWhenSecondResolved, secondTookAtLeast200ms: secondTook >= 200 }).toEqual({
      firstDoneWhenSecondResolved: true,
      secondTookAtLeast200ms: true,
    })
  })
})

describe('health() after close()', () => {
  it('reports the client closed instead of pinging the backend', async () => {
    const redis = new Redis(inject('redisUrl'))
    conns.push(redis)
    const cache = createCacheClient({ adapter: ioredisAdapter(redis), namespace: `closed-health${Date.now()}` })
    await cache.health()
    await cache.close()
    const sent: string[] = []
    const original = redis.sendCommand.bind(redis)
    redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      sent.push(command.name)
      return (original as (...a: unknown[]) => unknown)(command, ...rest)
    }) as typeof redis.sendCommand
    const report = await cache.health()
    expect({ ok: report.ok, sent }).toEqual({ ok: false, sent: [] })
  })
})

import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { EdgeRuntime } from 'edge-runtime'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { inject } from 'vitest'
import { root } from '../package/helpers.js'

/** One runtime running the app (app/app.ts) behind a fetch-shaped door. */
export interface RuntimeApp {
  /** Sends `GET path` to the app; resolves its status and JSON body. */
  get(path: string): Promise<Reply>
  stop(): Promise<void>
}

export interface Reply {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: each route answers its own JSON shape; tests read what they asked for.
  body: any
}

const appSource = fileURLToPath(new URL('./app/', import.meta.url))

/** A copy of the app under the packed install, with its own namespace and endpoints; `close` stops what it started. */
export interface PreparedApp {
  dir: string
  /** What app/config.ts holds in this copy. */
  config: { namespace: string; upstashUrl: string; upstashToken: string; refusedUrl: string; hangingUrl: string }
  close(): Promise<void>
}

/**
 * Copies app/ next to the packed package (so `import 'cacheward'` resolves to the tarball) and writes its config:
 * the local Upstash endpoint, a refused port and an endpoint that never answers.
 */
export async function prepareApp(runtime: string): Promise<PreparedApp> {
  const dir = join(inject('runtimeInstall'), `${runtime}-${randomBytes(3).toString('hex')}`)
  await mkdir(dir)
  for (const file of await readdir(appSource)) await copyFile(join(appSource, file), join(dir, file))
  const hanging = await startSilentServer()
  const refusedPort = await closedPort()
  const config = {
    namespace: `rt-${runtime}-${randomBytes(4).toString('hex')}`,
    upstashUrl: inject('upstashUrl'),
    upstashToken: inject('upstashToken'),
    refusedUrl: `http://127.0.0.1:${refusedPort}`,
    hangingUrl: hanging.url,
  }
  await writeFile(join(dir, 'config.ts'), `export const config = ${JSON.stringify(config, null, 2)}\n`)
  return { dir, config, close: hanging.stop }
}

/** Accepts every request and never answers: a backend that hangs. */
async function startSilentServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = http.createServer(() => {})
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A loopback port that was just free: listened on, then closed, so a connection to it is refused. */
async function closedPort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Bundles an entry of the app the way the platform's own tooling does (esbuild with its export conditions). */
async function bundle(entry: string, conditions: string[], format: 'esm' | 'iife'): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format,
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions,
    external: ['cloudflare:*'],
    logLevel: 'silent',
  })
  const [output] = result.outputFiles
  if (!output) throw new Error(`esbuild produced no output for ${entry}`)
  return output.text
}

async function reply(response: { status: number; text(): Promise<string> }): Promise<Reply> {
  const text = await response.text()
  try {
    return { status: response.status, body: JSON.parse(text) }
  } catch {
    return { status: response.status, body: text }
  }
}

/** workerd through Miniflare, local only: `cf: false` keeps Miniflare from fetching Cloudflare's request metadata. */
export async function startWorkerd({ dir, config }: PreparedApp): Promise<RuntimeApp & { output(): string }> {
  // The conditions wrangler passes to esbuild for a Worker.
  const script = await bundle(join(dir, 'workerd.ts'), ['workerd', 'worker', 'browser'], 'esm')
  // workerd's own output (uncaught errors, warnings) is kept, to show in a failure: Miniflare only points at it.
  let output = ''
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2025-09-01',
    cf: false,
    // As `wrangler secret put` would set them; the app reads them from `env` of 'cloudflare:workers' at module scope.
    bindings: { UPSTASH_REDIS_REST_URL: config.upstashUrl, UPSTASH_REDIS_REST_TOKEN: config.upstashToken },
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk
        })
      }
    },
  })
  try {
    await mf.ready
  } catch (error) {
    await mf.dispose().catch(() => {})
    throw new Error(`workerd did not start the app:\n${output.trim()}`, { cause: error })
  }
  return {
    get: async (path) => reply(await mf.dispatchFetch(`http://app${path}`)),
    stop: () => mf.dispose(),
    output: () => output,
  }
}

/** Vercel's edge-runtime: the app bundled with the conditions Vercel's edge bundler uses, run in its VM. */
export async function startEdgeRuntime({ dir }: PreparedApp): Promise<RuntimeApp> {
  const initialCode = await bundle(join(dir, 'edge.ts'), ['edge-light', 'worker', 'browser'], 'iife')
  const runtime = new EdgeRuntime({ initialCode })
  return {
    get: async (path) => {
      const response = await runtime.dispatchFetch(`http://app${path}`)
      const answered = await reply(response)
      await response.waitUntil()
      return answered
    },
    stop: async () => {},
  }
}

/** Bun from the `bun` npm package, running the app's TypeScript as is, resolving packages itself. */
export function startBun({ dir }: PreparedApp): Promise<RuntimeApp> {
  return startServerProcess(bunExecutable(), ['--no-install', 'bun.ts'], dir, {})
}

/**
 * Bun's postinstall script moves its binary from the platform package into bun/bin/bun.exe, a placeholder until then.
 * package.json's allowScripts approves that script; should an install skip it anyway (--ignore-scripts), the binary
 * is still where the platform package put it.
 */
function bunExecutable(): string {
  const arch = process.arch === 'arm64' ? 'aarch64' : process.arch
  const unmoved = join(root, 'node_modules', '@oven', `bun-${process.platform}-${arch}`, 'bin', 'bun')
  return existsSync(unmoved) ? unmoved : join(root, 'node_modules', 'bun', 'bin', 'bun.exe')
}

/** Deno from the `deno` npm package, with the packed install as its node_modules and network access to loopback only. */
export function startDeno({ dir }: PreparedApp): Promise<RuntimeApp> {
  const args = [
    'run',
    '--quiet',
    '--no-lock',
    '--no-prompt',
    '--unstable-sloppy-imports',
    '--node-modules-dir=manual',
    '--allow-net=127.0.0.1',
    '--allow-read',
    // @upstash/redis reads its settings (UPSTASH_*) from the environment when a client is built.
    '--allow-env',
    'deno.ts',
  ]
  const env = { DENO_DIR: join(dir, '.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }
  return startServerProcess(denoExecutable(), args, dir, env)
}

/**
 * The deno binary itself, never node_modules/.bin/deno: when Deno's postinstall did not run, that is a Node wrapper
 * that spawns the binary, and stopping the wrapper would leave Deno running. The postinstall links the binary into
 * the deno package; without it, the binary is in the platform package.
 */
function denoExecutable(): string {
  const linked = join(root, 'node_modules', 'deno', 'deno')
  if (existsSync(linked)) return linked
  const target = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-glibc' : ''}`
  return join(root, 'node_modules', '@deno', target, 'deno')
}

/** Starts a runtime serving the app over HTTP; it prints `{"port":…}` once listening. */
async function startServerProcess(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<RuntimeApp> {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('did not print its port within 20 s')), 20_000)
    const fail = (error: Error) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${output}`))
    }
    child.on('error', fail)
    child.on('exit', (code, signal) => fail(new Error(`exited (${signal ?? code}) before listening`)))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      const match = /\{"port":(\d+)\}/.exec(output)
      if (match) {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve(Number(match[1]))
      }
    })
  })
  return {
    get: async (path) => reply(await fetch(`http://127.0.0.1:${port}${path}`)),
    stop: () => stopChild(child),
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

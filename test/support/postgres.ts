import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { chmod, chown } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { getFreePort } from './redis-server.js'

/**
 * A throwaway PostgreSQL server for the examples' DATABASE_URL path: initdb into a temporary directory,
 * `postgres` on a free loopback port with trust auth, stopped and deleted afterwards. As root (CI), the
 * server runs as the `postgres` system user, since PostgreSQL refuses to run as root.
 */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  url(database?: string): string
  stop(): Promise<void>
}

/** The directory holding initdb and postgres: PATH first, then Debian's /usr/lib/postgresql/<version>/bin. */
export function findPostgresBin(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres'))) return dir
  }
  const debian = '/usr/lib/postgresql'
  if (!existsSync(debian)) return undefined
  const versions = readdirSync(debian)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
  for (const version of versions) {
    const bin = path.join(debian, version, 'bin')
    if (existsSync(path.join(bin, 'initdb'))) return bin
  }
  return undefined
}

const isRoot = () => process.getuid?.() === 0

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function command(bin: string, name: string, args: string[]): [string, string[]] {
  const file = path.join(bin, name)
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args]
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin()
  if (!bin) {
    throw new Error('PostgreSQL is not installed: apt-get install -y postgresql (or brew install postgresql)')
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'cacheward-pg-'))
  const data = path.join(dir, 'data')
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
    await chown(dir, uid, gid)
    await chmod(dir, 0o700)
  }
  const [initdb, initArgs] = command(bin, 'initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'])
  execFileSync(initdb, initArgs, { stdio: 'pipe' })

  const port = await getFreePort()
  const [postgres, args] = command(bin, 'postgres', [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
  ])
  const child: ChildProcess = spawn(postgres, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8')
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))

  const { default: pg } = await import('pg')
  const deadline = Date.now() + 20_000
  for (;;) {
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` })
    try {
      await client.connect()
      await client.end()
      break
    } catch (error) {
      await client.end().catch(() => {})
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL')
        throw new Error(`postgres did not start on port ${port}: ${String(error)}\n${log.slice(-2000)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  return {
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async stop() {
      // pg_ctl, not a signal to our child: as root the child is runuser, which need not pass signals on.
      const [pgCtl, stopArgs] = command(bin, 'pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w'])
      try {
        execFileSync(pgCtl, stopArgs, { stdio: 'pipe', timeout: 15_000 })
      } catch {
        child.kill('SIGKILL')
      }
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

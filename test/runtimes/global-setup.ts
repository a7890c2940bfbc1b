import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { assertBuilt, describeRun, readPackageJson, root, run } from '../package/helpers.js'
import { assertRedisServerInstalled, startRedisServer } from '../support/redis-server.js'
import { startUpstashRest } from '../support/upstash-rest.js'

/** Packages the app needs besides cacheward: its dependencies, and the Upstash client the app builds. */
const appPackages = ['@upstash/redis']

/**
 * Installs the packed tarball (what `npm publish` would upload) into a temporary directory as a user's app would
 * have it, and starts a redis-server with the local Upstash REST endpoint in front of it. Each runtime test copies
 * the app into its own folder there (harness.ts); node_modules is shared.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  assertBuilt()
  assertRedisServerInstalled()
  const dir = await mkdtemp(join(tmpdir(), 'cacheward-runtimes-'))
  const envUrl = process.env.REDIS_URL
  const server = envUrl ? undefined : await startRedisServer()
  const stops: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })]
  if (server) stops.unshift(() => server.stop())
  const teardown = async () => {
    for (const stop of stops) await stop()
  }
  try {
    const upstash = await startUpstashRest({ redisUrl: server?.url ?? (envUrl as string) })
    stops.unshift(() => upstash.stop())
    await installPackedPackage(dir)
    project.provide('runtimeInstall', dir)
    project.provide('upstashUrl', upstash.url)
    project.provide('upstashToken', upstash.token)
  } catch (error) {
    await teardown()
    throw error
  }
  return teardown
}

async function installPackedPackage(dir: string): Promise<void> {
  const pkg = readPackageJson()
  // --ignore-scripts: a future prepack script must not rebuild dist/ under the package tests running beside these.
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir])
  if (pack.code !== 0) throw new Error(describeRun('npm pack', pack))
  const [packed] = JSON.parse(pack.stdout) as { filename: string }[]
  if (!packed) throw new Error(describeRun('npm pack (no JSON result)', pack))
  const installDir = join(dir, 'node_modules', pkg.name)
  await mkdir(installDir, { recursive: true })
  const untar = await run('tar', ['-xzf', join(dir, packed.filename), '-C', installDir, '--strip-components=1'])
  if (untar.code !== 0) throw new Error(describeRun('tar', untar))
  // The dependencies come from the repository's own install: the same versions npm would resolve, without a
  // registry. Node, Bun, Deno and esbuild all resolve a symlinked package's own imports from its real path.
  for (const name of [...Object.keys(pkg.dependencies ?? {}), ...appPackages]) {
    const link = join(dir, 'node_modules', name)
    await mkdir(dirname(link), { recursive: true })
    await symlink(join(root, 'node_modules', name), link, 'dir')
  }
  // Deno reads node_modules only beside a package.json (its "bring your own node_modules" mode).
  const manifest = { name: 'cacheward-runtime-app', private: true, type: 'module' }
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
}

import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { assertBuilt, describeRun, readPackageJson, root, run } from './helpers.js'

// Checks the tarball `npm publish` would upload, not the working tree: what users install is what gets linted,
// type-checked and imported here.

/** The value exports each public subpath must keep; types are checked by attw below. */
const expectedValueExports: Record<string, readonly string[]> = {
  '.': ['CachewardError', 'createCacheClient', 'isCachewardError'],
  './memory': ['memoryAdapter'],
  './ioredis': ['ioredisAdapter'],
  './node-redis': ['nodeRedisAdapter'],
  './upstash': ['upstashAdapter'],
  './redlock': ['redlockAdapter'],
  './prometheus': ['registerPrometheus'],
  './opentelemetry': ['instrumentOpenTelemetry'],
  './testing': ['adapterContract', 'chaosAdapter', 'expectFromAssert', 'manualClock'],
}

/**
 * Peers linked into the consumer: those of the exporters, which exist to call them. The adapters' peers
 * (ioredis, node-redis, @upstash/redis, redlock) stay out: adapters take a ready-made client and import its types only.
 */
const exporterPeers = ['prom-client', '@opentelemetry/api']

/** Top-level tarball entries besides dist/. npm adds README/LICENSE on its own; others add the files later. */
const allowedOutsideDist = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'])

interface NpmPackResult {
  filename: string
  files: { path: string }[]
}

interface AttwProblem {
  kind: string
  entrypoint?: string
  resolutionKind?: string
  [detail: string]: unknown
}

interface AttwReport {
  analysis: { types: unknown; problems: AttwProblem[] }
}

const pkg = readPackageJson()
let workDir = ''
let tarball = ''
let packedPaths: string[] = []

beforeAll(async () => {
  assertBuilt()
  workDir = await mkdtemp(join(tmpdir(), 'cacheward-pack-'))
  // --ignore-scripts: a future prepack/prepare script must not rebuild dist/ under the bundle test running in parallel.
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', workDir])
  if (pack.code !== 0) throw new Error(describeRun('npm pack', pack))
  const [result] = JSON.parse(pack.stdout) as NpmPackResult[]
  if (!result) throw new Error(describeRun('npm pack (no JSON result)', pack))
  tarball = join(workDir, result.filename)
  packedPaths = result.files.map((file) => file.path)
})

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true })
})

describe('the packed tarball', () => {
  test('publint reports no errors or warnings', async () => {
    const bytes = new Uint8Array(await readFile(tarball))
    const { messages, pkg: packedPkg } = await publint({ pack: { tarball: bytes.buffer }, level: 'warning' })
    const problems = messages.map(
      (message) => `${message.type} ${message.code}: ${formatMessage(message, packedPkg, { color: false }) ?? ''}`,
    )
    expect(problems, `publint:\n${problems.join('\n')}`).toEqual([])
  })

  test('TypeScript resolves correct types for every entrypoint, from import and from require', async () => {
    const attwBin = join(
      dirname(createRequire(import.meta.url).resolve('@arethetypeswrong/cli/package.json')),
      'dist/index.js',
    )
    // A local .tgz is analysed offline (attw only fetches from npm with --from-npm). Every resolution attw knows is
    // checked: node10 (what a CommonJS project such as NestJS's default tsconfig uses; it reads no `exports`, so the
    // subpaths resolve through `typesVersions`), node16 from CommonJS and from ESM, and bundler.
    const attw = await run(process.execPath, [attwBin, tarball, '--format', 'json'])
    let report: AttwReport
    try {
      report = JSON.parse(attw.stdout) as AttwReport
    } catch {
      throw new Error(describeRun('attw (output is not JSON)', attw))
    }
    expect(report.analysis.types, 'attw found no type declarations in the tarball').toBeTruthy()
    const problems = report.analysis.problems.map(({ kind, entrypoint, resolutionKind, ...detail }) => {
      const where = entrypoint ? `${entrypoint} (${resolutionKind ?? 'any resolution'})` : 'package'
      return `${where}: ${kind} ${JSON.stringify(detail)}`
    })
    expect(problems, `attw:\n${problems.join('\n')}`).toEqual([])
    expect(attw.code, describeRun('attw', attw)).toBe(0)
  })

  test('the tarball ships nothing but dist/, package.json, README.md, LICENSE and CHANGELOG.md', () => {
    const unexpected = packedPaths.filter((path) => !path.startsWith('dist/') && !allowedOutsideDist.has(path))
    const message = `unexpected files in the tarball (fix "files" in package.json):\n${unexpected.join('\n')}`
    expect(unexpected, message).toEqual([])
    expect(packedPaths).toContain('package.json')
  })
})

describe('installed from the tarball with its dependencies but none of its adapters’ peers', () => {
  let consumerDir = ''
  // Without NODE_PATH, the consumer can only resolve what is linked into its own node_modules.
  const { NODE_PATH: _nodePath, ...childEnv } = process.env

  beforeAll(async () => {
    consumerDir = join(workDir, 'consumer')
    const installDir = join(consumerDir, 'node_modules', pkg.name)
    await mkdir(installDir, { recursive: true })
    const untar = await run('tar', ['-xzf', tarball, '-C', installDir, '--strip-components=1'])
    if (untar.code !== 0) throw new Error(describeRun('tar', untar))
    // Link the runtime dependencies and the exporters’ peers. ioredis and @upstash/redis stay out on purpose: adapters take a
    // ready-made client and import its types only, so loading an adapter must not need the peer installed.
    for (const dependency of [...Object.keys(pkg.dependencies ?? {}), ...exporterPeers]) {
      const link = join(consumerDir, 'node_modules', dependency)
      await mkdir(dirname(link), { recursive: true })
      await symlink(join(root, 'node_modules', dependency), link, 'dir')
    }
  })

  /** Loads `specifier` in a fresh Node process and returns `{ exportName: typeof value }`. */
  async function loadExports(format: 'esm' | 'cjs', specifier: string): Promise<Record<string, string>> {
    const load = format === 'esm' ? 'await import(process.argv[1])' : 'require(process.argv[1])'
    const script = `const m = ${load}
process.stdout.write(JSON.stringify(Object.fromEntries(Object.keys(m).sort().map((k) => [k, typeof m[k]]))))`
    const args = format === 'esm' ? ['--input-type=module', '-e', script, specifier] : ['-e', script, specifier]
    const result = await run(process.execPath, args, { cwd: consumerDir, env: childEnv })
    const call = `${format === 'esm' ? 'import' : 'require'}('${specifier}')`
    if (result.code !== 0) throw new Error(describeRun(call, result))
    return JSON.parse(result.stdout) as Record<string, string>
  }

  test('every subpath in package.json exports has its expected exports listed in this test', () => {
    const subpaths = Object.keys(pkg.exports).filter((subpath) => subpath !== './package.json')
    expect(subpaths.sort()).toEqual(Object.keys(expectedValueExports).sort())
  })

  test.each(Object.entries(expectedValueExports))(
    '%s loads from ESM and from CommonJS with the same value exports',
    async (subpath, names) => {
      const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`
      const [esm, cjs] = await Promise.all([loadExports('esm', specifier), loadExports('cjs', specifier)])
      const expected = Object.fromEntries(names.map((name) => [name, 'function']))
      expect(esm, `import('${specifier}')`).toMatchObject(expected)
      expect(cjs, `require('${specifier}')`).toMatchObject(expected)
      expect(cjs, `require('${specifier}') and import('${specifier}') disagree`).toEqual(esm)
    },
  )

  test('a CommonJS project resolving with node10 (NestJS’s default tsconfig) type-checks an import of every subpath', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/node10/', import.meta.url))
    const source = await readFile(join(fixture, 'consumer.ts'), 'utf8')
    const imported = [...source.matchAll(/from '([^']+)'/g)].map((match) => match[1])
    const subpaths = Object.keys(pkg.exports)
      .filter((subpath) => subpath !== './package.json')
      .map((subpath) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`))
    expect(imported.sort(), 'fixtures/node10/consumer.ts must import every public subpath').toEqual(subpaths.sort())

    const project = join(consumerDir, 'node10')
    await cp(fixture, project, { recursive: true })
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const result = await run(process.execPath, [tsc, '-p', project], { cwd: project, env: childEnv })
    expect(result.code, describeRun('tsc -p fixtures/node10 (module commonjs, moduleResolution node10)', result)).toBe(
      0,
    )
  })

  test('the installed package.json links the repository, the README and the issue tracker (npm shows them)', async () => {
    const installed = JSON.parse(
      await readFile(join(consumerDir, 'node_modules', pkg.name, 'package.json'), 'utf8'),
    ) as Record<string, unknown>
    expect(installed.repository).toEqual({ type: 'git', url: 'git+https://github.com/cacheward/cacheward.git' })
    expect(installed.homepage).toBe('https://github.com/cacheward/cacheward#readme')
    expect(installed.bugs).toEqual({ url: 'https://github.com/cacheward/cacheward/issues' })
  })

  test('tools can read the version through cacheward/package.json', async () => {
    const script = `process.stdout.write(require(process.argv[1]).version)`
    const result = await run(process.execPath, ['-e', script, `${pkg.name}/package.json`], {
      cwd: consumerDir,
      env: childEnv,
    })
    expect(result.stdout, describeRun('require(package.json)', result)).toBe(pkg.version)
  })
})

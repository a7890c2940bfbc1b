import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { type BuildFailure, type BuildOptions, build, type Metafile } from 'esbuild'
import { beforeAll, describe, expect, test } from 'vitest'
import { assertBuilt, root } from './helpers.js'

// "The core runs wherever fetch runs": bundle the built entry points the way an edge runtime's bundler would and
// prove that nothing Node-only or Redis-client-shaped comes along.

/**
 * Gzip ceilings for what an app that imports `cacheward` and `cacheward/memory` ships: the minified core + memory
 * adapter, client libraries external (the core imports none). Edge users pay for every kB: Workers and Vercel Edge
 * cap script size and every cold start parses the bundle. Anchors, same measure: cachified 3.3 kB, cache-manager
 * 5.3 kB, cacheable 18.9 kB, BentoCache 34.4 kB.
 *
 * The bytes, measured when this was set (minified → gzipped): cacheward's own code 38.7 kB → 13.6 kB (get-or-set
 * 10.6, options 5.9, client 5.5, errors 3.2, memory adapter 2.9, telemetry 2.2 kB minified, the rest under 2 kB
 * each); lru-cache 18.2 kB → 5.8 kB; together 56.9 kB → 19.1 kB. zod, which checked the options, was 72.5 of the
 * 128.6 minified kB (40.3 kB gz) until the checks became hand-written; it must not come back on the import path.
 *
 * The target is 12 kB gz and it is not met. Getting there takes both halves: lru-cache's place (memory adapter, l1)
 * taken by a Map-based LRU of under 1 kB, and ~2 kB gz trimmed from cacheward's own code. The ceilings leave ~5 %
 * headroom over the figures above; raise them deliberately, in a reviewed change that says what the bytes buy.
 */
// Raised from 23.75 kB when big values, per-server clocks (clock skew on a cluster) and the two-generation set of
// present keys met on main (24.1 kB gz), then for batches: 26.8 kB gz measured (cacheward 63.4 kB minified). Then by
// 0.25 kB for the fixes that followed (see OWN_CODE_GZIP_CEILING): 27.52 kB gz measured. Then by 0.25 kB for tier
// and memory hits that read the clock once: 27.76 kB gz measured. Then by 0.75 kB for the correctness fixes listed at
// OWN_CODE_GZIP_CEILING: 28.4 kB gz measured.
const CORE_GZIP_CEILING = 28.75 * 1024
/**
 * Cacheward's own share of the same bundle (lru-cache left external). Raised from 14.25 kB for the fence of issue 11
 * (absent keys, the backend-clock window, set() deadlines and their clock probe, tag records committed by the write,
 * the out-of-memory fallback) and the Backend wrapper of issue 12: 14.5 kB gz, 41.4 kB minified then. Raised again
 * for the in-process tier of issue 13 (l1.ts, the announcement hub, the hit path, fills and drops): 47.5 kB
 * minified, ~16.2 kB gz; the whole bundle 22.0 kB gz. Then Dates kept through the codec (+0.3 kB) and the memory
 * store's synchronous hit path (its hits twice as fast): 49.4 kB minified, 17.1 kB gz. Raised again for big values
 * (issue 17): `maxValueBytes` with its event, counter and typed error, and `compress` (gzip through the web streams,
 * base64 without Buffer, the marked stored form read on every path): 52.7 kB minified, 18.1 kB gz. Raised again for
 * the batches of issue 15 (many.ts, load-many.ts, setMany/deleteMany, define().getMany, the MGET peek of a batch):
 * 59.1 kB minified, 19.9 kB gz on their own; with big values and per-server clocks: 63.4 kB minified, 21.3 kB gz
 * (the whole bundle 26.8 kB gz). The 12 kB target of issue 16 is further away than ever: see the comment above.
 * Raised by 0.25 kB after the batches of 4,000 keys per adapter call, the decode-once copy of memory hits, a batch
 * whose signal aborted during its first read (it waited for the loads), a tier hit's one settled promise and the
 * three-needle pollution scan: 66.0 kB minified, 22.05 kB gz. Raised by 0.25 kB for tier and memory hits that read
 * the clock once (a second reading for one in 16, weighed for the others: +18 % tier hits with 256 callers, A/B in
 * one process): 66.7 kB minified, 22.35 kB gz. Raised by 0.75 kB for seven correctness fixes a review found: keys,
 * tags and namespaces with a lone UTF-16 surrogate refused (one key in Redis for many, missed by the tier's drops);
 * a batch's abort counted and heard during its cheap read, and a failed cheap read answered by the loader at once;
 * setMany encoding every value before its first write; define().getMany checking its whole list; the tier keeping
 * out what it cannot freeze; batch replies teaching each master's clock; the exporters' category label taken from
 * the client's metrics: 68.4 kB minified, 23.03 kB gz. Raised by 0.25 kB for the next correctness fixes: a load
 * tagged by ctx.setTags starting on its tags' master's clock; close() refusing loads that would start after it, one
 * close for every caller, health() after close(); setMany sizing each tagged, compressed value with its real start
 * before any write; define() giving parameters with defaults their own glob slot: 69.6 kB minified, 23.37 kB gz.
 */
const OWN_CODE_GZIP_CEILING = 23.5 * 1024

/**
 * What an edge bundler asks for. platform 'neutral' gives no node/browser defaults, so we add the conditions that
 * Cloudflare's wrangler (workerd, worker, browser) and Vercel Edge (edge-light, worker, browser) pass; esbuild adds
 * `import` and `default` itself. The `browser` condition matters: lru-cache's condition-less build does a guarded
 * dynamic `import('node:diagnostics_channel')`, which esbuild leaves in a neutral bundle as an external import
 * (caught at runtime, but a Node import all the same); its browser build, which edge bundlers pick, has none.
 */
const edgeOptions = {
  absWorkingDir: root,
  bundle: true,
  logLevel: 'silent',
  format: 'esm',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['workerd', 'edge-light', 'worker', 'browser'],
} satisfies BuildOptions

/** Packages that must never be bundled into an edge entry point. */
const forbiddenPackages = [
  'ioredis',
  'redis',
  '@redis/client',
  'redlock',
  '@upstash/redis',
  'prom-client',
  '@opentelemetry/api',
]
const forbiddenInput = /(?:^|\/)node_modules\/(?:ioredis|redis|@redis|redlock|@upstash|prom-client|@opentelemetry)\//
const forbiddenSpecifier =
  /(?:from|import|require)\s*\(?\s*['"](?:ioredis|redis|@redis\/client|redlock|@upstash\/redis|prom-client|@opentelemetry\/api)(?:\/[^'"]*)?['"]/g
const nodeSpecifier = /(?:from|import|require)\s*\(?\s*['"]node:[^'"]*['"]/g
// `__require` is esbuild's shim for a CommonJS require it could not inline; at runtime it throws on the edge.
const requireCall = /\b(?:__)?require\s*\(/g

interface EdgeBundle {
  text: string
  inputs: string[]
  externalImports: string[]
  metafile: Metafile
}

async function bundleForEdge(
  entry: string,
  { minify = false, external = [] as string[], exportsOf = [] as string[] } = {},
): Promise<EdgeBundle> {
  // exportsOf: bundle several entry points as one app would import them, every export kept.
  const input = exportsOf.length
    ? {
        stdin: {
          contents: exportsOf.map((path, i) => `export * as entry${i} from './${path}'`).join('\n'),
          resolveDir: root,
          sourcefile: entry,
        },
      }
    : { entryPoints: [entry] }
  try {
    const result = await build({ ...edgeOptions, ...input, minify, external, write: false, metafile: true })
    const [output] = result.outputFiles
    const [meta] = Object.values(result.metafile.outputs)
    if (!output || !meta) throw new Error(`esbuild produced no output for ${entry}`)
    return {
      text: output.text,
      inputs: Object.keys(result.metafile.inputs),
      externalImports: meta.imports.map((imported) => imported.path),
      metafile: result.metafile,
    }
  } catch (error) {
    const failure = error as Partial<BuildFailure>
    if (!failure.errors) throw error
    const lines = failure.errors.map((message) => {
      const at = message.location ? `${message.location.file}:${message.location.line}: ` : ''
      return `${at}${message.text}`
    })
    throw new Error(`esbuild could not bundle ${entry} for an edge runtime:\n${lines.join('\n')}`)
  }
}

/** Each match with some surrounding text, so a failure shows where in the bundle it is. */
function matchesInContext(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((match) => {
    const start = Math.max(0, match.index - 60)
    return `…${text.slice(start, match.index + match[0].length + 60).replace(/\s+/g, ' ')}…`
  })
}

beforeAll(() => {
  assertBuilt()
})

describe.each([
  { subpath: 'cacheward', entry: 'dist/index.js' },
  { subpath: 'cacheward/memory', entry: 'dist/adapters/memory.js' },
  { subpath: 'cacheward/upstash', entry: 'dist/adapters/upstash.js' },
  // The test kit runs in the user's tests, wherever those run (workerd's vitest pool, Deno, Bun): no Node built-in.
  { subpath: 'cacheward/testing', entry: 'dist/testing/index.js' },
])('$subpath bundled for an edge runtime', ({ entry }) => {
  let bundle: EdgeBundle

  beforeAll(async () => {
    bundle = await bundleForEdge(entry)
  })

  test('bundles completely, leaving no import for the runtime to resolve', () => {
    const external = bundle.externalImports
    expect(external, `${entry} leaves imports unbundled: ${external.join(', ')}`).toEqual([])
  })

  test('contains no node: built-in and no CommonJS require', () => {
    const nodeImports = matchesInContext(bundle.text, nodeSpecifier)
    expect(nodeImports, `${entry} imports Node built-ins:\n${nodeImports.join('\n')}`).toEqual([])
    const requires = matchesInContext(bundle.text, requireCall)
    expect(requires, `${entry} calls require:\n${requires.join('\n')}`).toEqual([])
  })

  test(`pulls in none of ${forbiddenPackages.join(', ')} (adapters import their client's types only)`, () => {
    const hint = 'an adapter must `import type` its client and take a ready-made instance'
    const inputs = bundle.inputs.filter((input) => forbiddenInput.test(input))
    expect(inputs, `${entry} bundles ${inputs.join(', ')}: ${hint}`).toEqual([])
    const specifiers = matchesInContext(bundle.text, forbiddenSpecifier)
    expect(specifiers, `${entry} imports:\n${specifiers.join('\n')}`).toEqual([])
  })
})

describe('cacheward/testing', () => {
  test('brings no test runner and no validation library: the runner is passed in, schemas are hand-written', async () => {
    const forbidden = /(?:^|\/)node_modules\/(?:vitest|@vitest|jest|@jest|chai|zod)\//
    const { inputs } = await bundleForEdge('dist/testing/index.js')
    // Imported as a package (bundled from node_modules), or inlined into dist/ by tsup (then only the source map knows).
    const inlined = inputs
      .filter((input) => input.startsWith('dist/'))
      .flatMap(
        (input) => (JSON.parse(readFileSync(join(root, `${input}.map`), 'utf8')) as { sources: string[] }).sources,
      )
    expect([...inputs, ...inlined].filter((path) => forbidden.test(path))).toEqual([])
  })
})

describe('the core + memory adapter bundle size', () => {
  const app = { exportsOf: ['dist/index.js', 'dist/adapters/memory.js'], minify: true }
  let bundle: EdgeBundle

  beforeAll(async () => {
    bundle = await bundleForEdge('cacheward + cacheward/memory', app)
  })

  /** Minified bytes per package (cacheward for dist/), largest first: says which one grew when a ceiling fails. */
  function breakdown(): string {
    const byPackage = new Map<string, number>()
    for (const output of Object.values(bundle.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? 'cacheward'
        byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput)
      }
    }
    return [...byPackage]
      .sort((a, b) => b[1] - a[1])
      .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(1)} kB`)
      .join(', ')
  }

  test('does not bundle zod: option checks are hand-written, zod is for users’ schemas only', () => {
    const zod = bundle.inputs.filter((input) => /(?:^|\/)node_modules\/zod\//.test(input))
    expect(zod, `zod is on the import path again (minified: ${breakdown()})`).toEqual([])
  })

  test('comes from a dist/ that inlines no package: tsup inlines what is not a dependency, zod (a devDependency) included', () => {
    // The size figures above attribute dist/ to cacheward; a package inlined into dist/ would hide in that share.
    const maps = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.js.map'),
    )
    const inlined = maps.flatMap((map) => {
      const { sources } = JSON.parse(readFileSync(join(root, 'dist', map), 'utf8')) as { sources: string[] }
      return sources.filter((source) => source.includes('node_modules/')).map((source) => `dist/${map}: ${source}`)
    })
    expect(inlined, 'import it as a dependency (package.json "dependencies") or not at all').toEqual([])
  })

  test(`stays under ${CORE_GZIP_CEILING / 1024} kB gzipped, lru-cache included`, () => {
    const gzipped = gzipSync(bundle.text).byteLength
    const summary = `core + memory is ${(gzipped / 1024).toFixed(1)} kB gz (minified: ${breakdown()})`
    expect(gzipped, summary).toBeLessThanOrEqual(CORE_GZIP_CEILING)
  })

  test(`keeps cacheward's own code under ${OWN_CODE_GZIP_CEILING / 1024} kB gzipped`, async () => {
    const own = await bundleForEdge('cacheward + cacheward/memory without lru-cache', {
      ...app,
      external: ['lru-cache'],
    })
    expect([...new Set(own.externalImports)], 'the only import left out should be lru-cache').toEqual(['lru-cache'])
    const gzipped = gzipSync(own.text).byteLength
    const summary = `cacheward's own code is ${(gzipped / 1024).toFixed(1)} kB gz, ${(own.text.length / 1024).toFixed(1)} kB minified`
    expect(gzipped, summary).toBeLessThanOrEqual(OWN_CODE_GZIP_CEILING)
  })
})

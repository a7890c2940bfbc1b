/**
 * Checks the code samples of the guides, as users would run them.
 *
 * 1. Every ```ts / ```typescript block of README.md and docs/**\/*.md (docs/api excepted) is written as a module
 *    under .tmp/doc-samples/ and the lot is type-checked in one program with the repository's strict flags. The
 *    samples import `cacheward`, `cacheward/ioredis`, ... by name: the package's self-reference resolves them to
 *    dist/, so run `npm run build` first. A block whose first line is `// <name>.ts` is written under that name, so
 *    later samples of the same page can import it (`./<name>.js`); `// <name>.d.ts` makes a declaration file, whose
 *    ambient declarations apply to the whole program, as in a user's project. ```ts no-check marks the rare sample
 *    that only compiles inside this repository (a contract-suite file under test/); keep it rare.
 * 2. Every name exported by a public entry point (read from package.json "exports") appears in at least one guide.
 *
 * Prints `file:line:column message` for each failure and exits 1 when there is any.
 * Run: npx tsx scripts/check-docs.ts
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = join(root, '.tmp', 'doc-samples')

interface Sample {
  /** Markdown file, relative to the repository root. */
  source: string
  /** 1-based line of the sample's first code line in the markdown file. */
  line: number
  /** Column offset: the fence's indentation, stripped from every line. */
  indent: number
  code: string
  /** Where the sample was written. */
  file: string
}

function markdownFiles(): string[] {
  const files = [join(root, 'README.md')]
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) {
        if (relative(root, path) !== join('docs', 'api')) walk(path)
      } else if (name.endsWith('.md')) {
        files.push(path)
      }
    }
  }
  walk(join(root, 'docs'))
  return files
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)(.*)$/

function extractSamples(path: string): Omit<Sample, 'file'>[] {
  const lines = readFileSync(path, 'utf8').split('\n')
  const samples: Omit<Sample, 'file'>[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '')
    if (!open) continue
    const [, indent = '', fence = '```', lang = '', meta = ''] = open
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const line = lines[j] ?? ''
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') break
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
    }
    if ((lang === 'ts' || lang === 'typescript') && !/\bno-check\b/.test(meta)) {
      samples.push({ source: relative(root, path), line: i + 2, indent: indent.length, code: body.join('\n') })
    }
    i = j
  }
  return samples
}

function writeSamples(): Sample[] {
  rmSync(outDir, { recursive: true, force: true })
  const samples: Sample[] = []
  for (const path of markdownFiles()) {
    // The samples of one page share a directory, so a page can show a module (`// rooms.ts` on its first line)
    // and import it from a later sample (`./rooms.js`), as the reader would in their project.
    const dir = join(
      outDir,
      relative(root, path)
        .replace(/\.md$/, '')
        .replace(/[^\w-]+/g, '_'),
    )
    mkdirSync(dir, { recursive: true })
    for (const s of extractSamples(path)) {
      const named = NAMED.exec(s.code.split('\n')[0] ?? '')?.[1]
      const file = join(dir, named ?? `L${s.line}.ts`)
      if (existsSync(file))
        throw new Error(`${s.source}:${s.line}: a sample named ${named} already exists on this page`)
      // A block without import or export would be a script, whose top-level names and awaits leak or fail;
      // `export {}` makes it a module, as every file of an ESM project is.
      const isModule = file.endsWith('.d.ts') || /^\s*(import|export)\s/m.test(s.code)
      writeFileSync(file, isModule ? `${s.code}\n` : `${s.code}\nexport {}\n`)
      samples.push({ ...s, file })
    }
  }
  return samples
}

/** `// rooms.ts` or `// redlock.d.ts` on a sample's first line names the module it shows. */
const NAMED = /^\/\/\s*([\w-]+(?:\.d)?\.ts)\s*$/

/** The repository's strict flags, with the samples as the only root files. */
function compilerOptions(): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json')
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
  return { ...parsed.options, noEmit: true, declaration: false, skipLibCheck: true }
}

function typeCheck(samples: Sample[]): string[] {
  const program = ts.createProgram(
    samples.map((s) => s.file),
    compilerOptions(),
  )
  const byFile = new Map(samples.map((s) => [resolve(s.file), s]))
  const failures: string[] = []
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ')
    const sample = d.file ? byFile.get(resolve(d.file.fileName)) : undefined
    if (d.file && sample && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
      failures.push(`${sample.source}:${sample.line + line}:${character + 1 + sample.indent} TS${d.code}: ${message}`)
    } else if (d.file && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
      failures.push(`${relative(root, d.file.fileName)}:${line + 1}:${character + 1} TS${d.code}: ${message}`)
    } else {
      failures.push(`TS${d.code}: ${message}`)
    }
  }
  return failures
}

/** The source file of each public subpath, from package.json "exports" (dist/x.d.ts → src/x.ts). */
function entryPoints(): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string
    exports: Record<string, string | { import?: { types?: string } }>
  }
  const entries = new Map<string, string>()
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'object' ? target.import?.types : undefined
    if (!types) continue
    const source = join(root, types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts'))
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`
    if (existsSync(source)) entries.set(specifier, source)
    else console.error(`package.json exports ${subpath}, but ${relative(root, source)} does not exist`)
  }
  return entries
}

function missingFromGuides(): string[] {
  const entries = entryPoints()
  const program = ts.createProgram([...entries.values()], compilerOptions())
  const checker = program.getTypeChecker()
  const guides = markdownFiles()
    .filter((path) => relative(root, path).startsWith('docs'))
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n')
  const missing: string[] = []
  for (const [specifier, path] of entries) {
    const file = program.getSourceFile(path)
    const symbol = file && checker.getSymbolAtLocation(file)
    if (!symbol) {
      missing.push(`${specifier}: could not read the exports of ${relative(root, path)}`)
      continue
    }
    for (const name of checker.getExportsOfModule(symbol).map((s) => s.name)) {
      if (!new RegExp(`\\b${name}\\b`).test(guides)) {
        missing.push(`${specifier}: export "${name}" is not mentioned in any guide under docs/`)
      }
    }
  }
  return missing
}

if (!existsSync(join(root, 'dist', 'index.d.ts'))) {
  console.error('dist/ is missing: run `npm run build` first (the samples import cacheward as users do).')
  process.exit(1)
}

const samples = writeSamples()
const failures = typeCheck(samples)
const missing = missingFromGuides()
const files = new Set(samples.map((s) => s.source)).size

for (const failure of failures) console.error(failure)
for (const name of missing) console.error(name)
if (failures.length > 0 || missing.length > 0) {
  console.error(
    `\ncheck-docs: ${failures.length} type error(s) in ${samples.length} samples from ${files} files; ` +
      `${missing.length} export(s) missing from the guides`,
  )
  process.exit(1)
}
console.log(`check-docs: ${samples.length} samples from ${files} files type-check; every public export is in a guide`)

import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Absolute path of the repository root (where package.json lives), with a trailing separator. */
export const root = fileURLToPath(new URL('../../', import.meta.url))

/** A value in package.json `exports`: a path, or conditions nested to any depth. */
export type ExportTarget = string | { [condition: string]: ExportTarget }

/** The package.json fields the package-shape tests read. */
export interface PackageJson {
  name: string
  version: string
  exports: Record<string, ExportTarget>
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

/** Reads the repository's package.json fresh each time, so a test never sees a stale copy. */
export function readPackageJson(): PackageJson {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson
}

/** Every file path an exports value points at, whatever the nesting of conditions. */
export function exportTargetPaths(target: ExportTarget): string[] {
  return typeof target === 'string' ? [target] : Object.values(target).flatMap(exportTargetPaths)
}

/**
 * Throws a readable error unless every dist file that package.json exports exists.
 * `npm test` builds first; running vitest on its own against a clean checkout lands here.
 */
export function assertBuilt(): void {
  const { exports } = readPackageJson()
  const distFiles = [...new Set(Object.values(exports).flatMap(exportTargetPaths))].filter((path) =>
    path.startsWith('./dist/'),
  )
  const missing = distFiles.filter((path) => !existsSync(join(root, path)))
  if (missing.length === distFiles.length) {
    throw new Error('[package tests] dist/ has not been built: run npm run build first')
  }
  if (missing.length > 0) {
    throw new Error(
      `[package tests] package.json exports files that are not in dist/: ${missing.join(', ')}. ` +
        'Run npm run build first; if they are still missing, tsup.config.ts does not build an entry that package.json exports.',
    )
  }
}

/** What a finished child process printed, and how it exited. */
export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command without a shell and collects its output; never rejects on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? root, env: options.env ?? process.env })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A failed command with its output, for assertion messages. */
export function describeRun(label: string, result: RunResult): string {
  return `${label} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The house's layout, kept true (DESIGN.md "Architecture", STYLE.md 2.1): one concept per file, no import
// circle anywhere in src/, and nothing below client.ts importing it.
const SRC = fileURLToPath(new URL('../../src', import.meta.url))

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    if (e.isDirectory()) return sources(full)
    return e.name.endsWith('.ts') ? [full] : []
  })
}

const files = sources(SRC)
const name = (file: string) => path.relative(SRC, file).replaceAll('\\', '/')
/** Relative imports of each file, type-only ones included: a circle of types is still a circle. */
const graph = new Map(
  files.map((file) => {
    const text = readFileSync(file, 'utf8')
    const targets = [...text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g)].map((m) =>
      name(path.resolve(path.dirname(file), (m[1] as string).replace(/\.js$/, '.ts'))),
    )
    return [name(file), [...new Set(targets)]]
  }),
)

describe('src/ layout', () => {
  it('has no import circle', () => {
    const state = new Map<string, 'open' | 'done'>()
    const circles: string[] = []
    const visit = (node: string, trail: string[]) => {
      if (state.get(node) === 'done') return
      if (state.get(node) === 'open') {
        circles.push([...trail.slice(trail.indexOf(node)), node].join(' → '))
        return
      }
      state.set(node, 'open')
      for (const next of graph.get(node) ?? []) visit(next, [...trail, node])
      state.set(node, 'done')
    }
    for (const node of graph.keys()) visit(node, [])
    expect(circles).toEqual([])
  })

  it('lets only what sits above the client import client.ts: the entry point and the integrations that observe one', () => {
    const importers = [...graph].filter(([, targets]) => targets.includes('client.ts')).map(([file]) => file)
    expect(importers.filter((file) => file !== 'index.ts' && !file.startsWith('integrations/'))).toEqual([])
  })

  it('keeps every file to one concept, about 350 lines at most', () => {
    const long = files
      .map((file) => [name(file), readFileSync(file, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > 380)
    expect(long).toEqual([])
  })
})

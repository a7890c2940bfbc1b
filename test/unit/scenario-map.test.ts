import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// docs/reliability-map.md kept true: every reliability scenario has a row, and every row names the tests whose titles
// carry its id as a tag (`... [F4]`), and no more or fewer. The scenarios are listed in the project's RELIABILITY.md,
// which lives beside the repository (../shared), not in it: a clean clone has only the copy of the ids below, which is
// compared with RELIABILITY.md wherever that file is present.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RELIABILITY = path.join(ROOT, '..', 'shared', 'RELIABILITY.md')
const MAP = path.join(ROOT, 'docs', 'reliability-map.md')

/** The scenario ids of RELIABILITY.md: a copy, as CI clones the repository alone. */
const SCENARIOS = Object.entries({ F: 14, C: 13, L: 5, B: 8, S: 5, K: 4, U: 5 }).flatMap(([group, count]) =>
  Array.from({ length: count }, (_, i) => `${group}${i + 1}`),
)

const ID = '[FCLBSKU]\\d{1,2}'
/** A tag closes a title: `[F4]` or `[F12, C7]` right before the string's closing quote. */
const TAG = new RegExp(`\\[(${ID}(?:, ${ID})*)\\](?=['"\`])`, 'g')

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(full)
    return e.name.endsWith('.ts') ? [full] : []
  })
}

/** id → the files (relative, with /) whose titles carry it. Contract cases are titles in src/testing/. */
function taggedFiles(): Map<string, Set<string>> {
  const tagged = new Map<string, Set<string>>()
  for (const file of [...sources(path.join(ROOT, 'test')), ...sources(path.join(ROOT, 'src', 'testing'))]) {
    const relative = path.relative(ROOT, file).replaceAll('\\', '/')
    if (relative === 'test/unit/scenario-map.test.ts') continue // its own examples are not tags
    for (const match of readFileSync(file, 'utf8').matchAll(TAG)) {
      for (const id of (match[1] as string).split(', ')) {
        if (!tagged.has(id)) tagged.set(id, new Set())
        tagged.get(id)?.add(relative)
      }
    }
  }
  return tagged
}

interface Row {
  id: string
  status: string
  files: string[]
}

function mapRows(): Row[] {
  const rows: Row[] = []
  for (const line of readFileSync(MAP, 'utf8').split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim())
    if (!new RegExp(`^${ID}$`).test(cells[1] ?? '')) continue
    const files = [...(cells[4] ?? '').matchAll(/`([^`]+\.ts)`/g)].map((m) => m[1] as string)
    rows.push({ id: cells[1] as string, status: cells[3] ?? '', files })
  }
  return rows
}

describe('the reliability scenario map (docs/reliability-map.md)', () => {
  const rows = mapRows()
  const tagged = taggedFiles()

  it('has the scenario ids of RELIABILITY.md, when the file is beside the repository', () => {
    expect(SCENARIOS).toHaveLength(54)
    if (!existsSync(RELIABILITY)) return // a clean clone: the copy above is all there is
    const listed = [...readFileSync(RELIABILITY, 'utf8').matchAll(new RegExp(`^- \\*\\*(${ID}) —`, 'gm'))].map(
      (m) => m[1],
    )
    expect(listed, 'RELIABILITY.md changed its scenarios: update SCENARIOS and docs/reliability-map.md').toEqual(
      SCENARIOS,
    )
  })

  it('has one row per scenario, in order, each covered, partly or pending', () => {
    expect(rows.map((r) => r.id)).toEqual(SCENARIOS)
    const statuses = rows.filter((r) => !['covered', 'partly', 'pending'].includes(r.status))
    expect(statuses, 'status must be covered, partly or pending').toEqual([])
  })

  it('tags a test title with every scenario that is not pending, in exactly the files its row names', () => {
    const wrong = rows
      .filter((r) => r.status !== 'pending')
      .map((r) => ({ id: r.id, inMap: [...r.files].sort(), tagged: [...(tagged.get(r.id) ?? [])].sort() }))
      .filter((r) => r.tagged.length === 0 || JSON.stringify(r.inMap) !== JSON.stringify(r.tagged))
    expect(wrong, 'a row names files whose titles do not carry its tag, or misses some that do').toEqual([])
  })

  it('tags no test with a pending scenario: a test that lands moves its row out of pending', () => {
    const landed = rows.filter((r) => r.status === 'pending' && tagged.has(r.id)).map((r) => r.id)
    expect(landed, 'say in docs/reliability-map.md what these tests cover').toEqual([])
    expect(rows.filter((r) => r.status === 'pending' && r.files.length > 0)).toEqual([])
  })

  it('knows every tag used in a test title', () => {
    expect([...tagged.keys()].filter((id) => !SCENARIOS.includes(id))).toEqual([])
  })

  it('states the counts the table holds', () => {
    const count = (status: string) => rows.filter((r) => r.status === status).length
    const summary = `**Coverage: ${count('covered')} covered, ${count('partly')} partly, ${count('pending')} pending.**`
    expect(readFileSync(MAP, 'utf8')).toContain(summary)
  })
})

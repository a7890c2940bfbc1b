/**
 * Markdown helpers shared by the section renderers of docs/benchmarks.md.
 * @module
 */

/** Column alignment in a markdown table: left or right. */
export type Align = 'l' | 'r'

/** A markdown table; `|` inside a cell is escaped. */
export function md(head: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|')
  const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(' | ')} |`
  const rule = `| ${head.map((_, c) => (align[c] === 'r' ? '---:' : '---')).join(' | ')} |`
  return [line(head), rule, ...rows.map(line)].join('\n')
}

/** A ratio as the page prints it: `0.81x`. */
export const x = (ratio: number, digits = 2) => `${ratio.toFixed(digits)}x`

/** PASS, below target, or context (a baseline that has no target). */
export const verdict = (pass: boolean | null) => (pass === null ? 'context' : pass ? 'PASS' : 'below target')

/** What a section shows when the results file does not have it (a partial run, an older file). */
export const NOT_IN_FILE = '_Not in this results file._'

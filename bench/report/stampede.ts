/**
 * docs/benchmarks.md, "Stampede": 1,000 callers on one cold key, in one process and across processes
 * (bench/stampede.ts).
 * @module
 */
import { formatInt, formatMs } from '../lib.js'
import type { StampedeResult } from '../results-file.js'
import { md, NOT_IN_FILE, verdict } from './markdown.js'

/** Loader calls and times per scenario (median round), against the targets. */
export function renderStampede(s: StampedeResult | undefined): string {
  if (!s) return NOT_IN_FILE
  const rows = s.scenarios.map((sc) => [
    sc.label,
    formatInt(sc.median.loaderCalls),
    formatInt(sc.maxLoaderCalls),
    formatMs(sc.median.totalMs),
    formatMs(sc.median.loaderMs),
    formatMs(sc.median.p99Ms),
    sc.targets,
    verdict(sc.pass),
  ])
  const head = ['scenario', 'loader calls', 'max over rounds', 'total ms', 'loader ms', 'p99 ms', 'target', 'verdict']
  return [
    `${formatInt(s.callers)} concurrent callers on one cold key, loader ${s.loaderMs} ms; median of ${s.rounds} rounds by total time.`,
    '',
    md(head, rows, ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'l']),
  ].join('\n')
}

/**
 * docs/benchmarks.md, "Metrics cost on the hit path": hits with metrics on against off (bench/metrics.ts).
 * @module
 */
import { formatInt } from '../lib.js'
import type { MetricsResult } from '../results-file.js'
import { md, NOT_IN_FILE, verdict, x } from './markdown.js'

/** Ops/s with metrics off and on per case, their ratio against the target, and the spreads. */
export function renderMetrics(m: MetricsResult | undefined): string {
  if (!m) return NOT_IN_FILE
  if (m.skipped) return `_Skipped in this run: ${m.skipped}._`
  const rows = m.cases.map((c) => [
    c.label,
    formatInt(c.sides.off.median.opsPerSec),
    formatInt(c.sides.on.median.opsPerSec),
    x(c.ratio, 3),
    `≥ ${c.target.toFixed(2)}`,
    verdict(c.pass),
    `${c.sides.off.spreadPercent.toFixed(1)}% / ${c.sides.on.spreadPercent.toFixed(1)}%`,
  ])
  const head = ['case', 'metrics off ops/s', 'metrics on ops/s', 'on/off', 'target', 'verdict', 'spread off / on']
  return [
    `\`getOrSet\` hits with metrics on (the default) against \`createCacheClient({ metrics: false })\`; ` +
      `median of ${m.rounds} rounds in interleaved slices. **on/off** = ops/s with metrics ÷ ops/s without; ` +
      `the target allows metrics to cost ${((1 - m.target) * 100).toFixed(0)} % of a hit.`,
    '',
    md(head, rows, ['l', 'r', 'r', 'r', 'l', 'l', 'r']),
  ].join('\n')
}

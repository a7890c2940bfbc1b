/**
 * docs/benchmarks.md, "Invalidation": invalidateTags, invalidatePattern and tagged hits (bench/invalidation.ts).
 * @module
 */
import { formatInt, formatMs } from '../lib.js'
import type { InvalidationResult } from '../results-file.js'
import { md, NOT_IN_FILE, verdict, x } from './markdown.js'

/** The three invalidation tables, each followed by its targets and verdict. */
export function renderInvalidation(inv: InvalidationResult | undefined): string {
  if (!inv) return NOT_IN_FILE
  const t = inv.targets as InvalidationResult['targets'] | undefined
  const tagRows = (['big', 'small'] as const).map((name) => {
    const c = inv.tags[name]
    return [
      `invalidateTags, tag on ${formatInt(c.entries)} entries`,
      formatMs(c.medianMs),
      formatMs(c.maxMs),
      formatInt(c.commands[0] ?? Number.NaN),
    ]
  })
  const p = inv.pattern.median
  const lines = [
    md(['case', 'median ms', 'max ms', 'round trips'], tagRows, ['l', 'r', 'r', 'r']),
    '',
    `Target: median below ${t ? t.tagMedianMs : '?'} ms and the same round trips for both tags: ${verdict(inv.tags.pass)}.`,
    '',
    md(
      ['invalidatePattern', 'keys', 'ms', 'keys/s', 'other GETs p99 ms (during)', 'GET p99 ms (before)'],
      [
        [
          'median run',
          formatInt(p.keys),
          formatMs(p.ms),
          formatInt(p.keysPerSec),
          p.getP99Ms.toFixed(2),
          p.baselineP99Ms.toFixed(2),
        ],
      ],
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Targets: at least ${t ? formatInt(t.patternKeysPerSec) : '?'} keys/s and other clients' GET p99 below ` +
      `${t ? t.getP99Ms : '?'} ms: ${verdict(inv.pattern.pass)}.`,
    '',
    md(
      ['hits', 'untagged ops/s', 'tagged ops/s', 'cost ratio', 'target', 'verdict'],
      [
        [
          'sequential getOrSet',
          formatInt(inv.reads.untagged.median.opsPerSec),
          formatInt(inv.reads.tagged.median.opsPerSec),
          x(inv.reads.costRatio),
          `≤ ${t ? x(t.taggedCostRatio) : '?'}`,
          verdict(inv.reads.pass),
        ],
      ],
      ['l', 'r', 'r', 'r', 'l', 'l'],
    ),
  ]
  return lines.join('\n')
}

import { defineConfig } from 'tsup'

// One entry per public subpath; dist mirrors src so package.json exports stay readable.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'adapters/memory': 'src/adapters/memory.ts',
    'adapters/ioredis': 'src/adapters/ioredis.ts',
    'adapters/node-redis': 'src/adapters/node-redis.ts',
    'adapters/upstash': 'src/adapters/upstash.ts',
    'adapters/redlock': 'src/adapters/redlock.ts',
    'integrations/prometheus': 'src/integrations/prometheus.ts',
    'integrations/opentelemetry': 'src/integrations/opentelemetry.ts',
    'testing/index': 'src/testing/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
})

import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.tmp/**'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Integration tests open real sockets and servers; a few files at a time keeps the 2-core
    // machine responsive and timing-sensitive tests (read timeouts, TTLs) honest.
    maxWorkers: 2,
  },
})

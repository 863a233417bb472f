import { beforeEach } from 'vitest'
import { runIdempotencyContract } from './contract.ts'
import { MemoryIdempotency } from './memory.ts'

// One process has one store: both "route nodes" of a test get the same instance.
let shared: MemoryIdempotency
beforeEach(() => { shared = new MemoryIdempotency() })
runIdempotencyContract('memory', async () => shared)

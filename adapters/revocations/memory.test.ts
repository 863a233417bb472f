import { beforeEach } from 'vitest'
import { runRevocationsContract } from './contract.ts'
import { MemoryRevocations } from './memory.ts'

// One process has one store: both "nodes" of a test get the same instance.
let shared: MemoryRevocations
beforeEach(() => { shared = new MemoryRevocations() })
runRevocationsContract('memory', async () => shared)

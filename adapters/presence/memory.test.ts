import { runPresenceContract } from './contract.ts'
import { MemoryPresence } from './memory.ts'

runPresenceContract('memory', async () => new MemoryPresence())

import { runInboxContract } from './contract.ts'
import { MemoryInbox } from './memory.ts'

runInboxContract('memory', async (limits) => new MemoryInbox(limits))

import { runAccountsContract } from './contract.ts'
import { MemoryAccounts } from './memory.ts'

runAccountsContract('memory', async () => new MemoryAccounts())

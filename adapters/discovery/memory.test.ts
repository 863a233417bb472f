import { runDiscoveryContract } from './contract.ts'
import { MemoryDiscovery } from './memory.ts'

runDiscoveryContract('memory', async () => {
  const d = new MemoryDiscovery()
  return [d, d]
})

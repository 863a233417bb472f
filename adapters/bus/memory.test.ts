import { runBusContract } from './contract.ts'
import { MemoryBus } from './memory.ts'

runBusContract('memory', async () => {
  const bus = new MemoryBus()
  return [bus, bus]
})

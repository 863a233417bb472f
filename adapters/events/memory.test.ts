import { beforeEach, describe, expect, it } from 'vitest'
import { runEventLogContract } from './contract.ts'
import { MemoryEventLog } from './memory.ts'

// One process has one store: both "nodes" of a test get the same instance.
let shared: MemoryEventLog
beforeEach(() => { shared = new MemoryEventLog() })
runEventLogContract('memory', async () => shared)

describe('MemoryEventLog bound', () => {
  it('takes at most maxEntries undelivered entries over all partitions; delivery makes room', async () => {
    const log = new MemoryEventLog(5)
    expect(await log.append(0, ['a', 'b', 'c'])).toBe(3)
    expect(await log.append(1, ['d', 'e', 'f', 'g'])).toBe(2)
    expect(await log.append(2, ['h'])).toBe(0)
    await log.acquire(0, 'me', 10_000)
    const { entries } = await log.read(0, '0-0', 10)
    await log.ack(0, 'me', entries[2]!.id)
    expect(await log.append(2, ['h', 'i'])).toBe(2)
  })
})

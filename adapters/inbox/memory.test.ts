import { describe, expect, it } from 'vitest'
import { runInboxContract } from './contract.ts'
import { MemoryInbox } from './memory.ts'
import type { InboxAppend } from './index.ts'

runInboxContract('memory', async (limits) => new MemoryInbox(limits))

const msg = (text: string): InboxAppend => ({ msgId: `m-${text}`, text, properties: {}, ts: Date.now(), ttlMs: 60_000 })

describe('memory inbox epochs', () => {
  it('a new process (its inboxes lost) starts every stream at seq 1 under a new epoch, even on a frozen clock', async () => {
    const frozen = () => 1_700_000_000_000
    const before = new MemoryInbox({}, frozen)
    for (let i = 1; i <= 57; i++) await before.append(1, msg(String(i)))
    await before.ack(1, 57)
    const old = await before.floor(1)
    expect(old.seq).toBe(57)
    const after = new MemoryInbox({}, frozen)
    expect(await after.floor(1)).toEqual({ seq: 0, epoch: '' })
    const restarted = await after.append(1, msg('58'))
    expect(restarted.seq).toBe(1)
    expect(restarted.epoch).not.toBe(old.epoch)
    // The old stream's ack point means nothing here: an ack made in it removes nothing.
    expect(await after.ack(1, 57, old.epoch)).toBe(0)
    expect((await after.list(1)).map((m) => m.text)).toEqual(['58'])
  })
})

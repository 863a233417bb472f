/** The behaviour every Inbox implementation must show. `make(limits)` builds an empty inbox with those caps. */
import { describe, it, expect, afterEach } from 'vitest'
import { storedBytesOf, type Inbox, type InboxAppend, type InboxLimits } from './index.ts'
import { sleep } from '../../test/support/wait.ts'

const msg = (text: string, ttlMs = 60_000): InboxAppend => ({
  msgId: `m-${text}-${Math.random()}`, text, properties: { sendUserId: '1' }, ts: Date.now(), ttlMs,
})

/** A message of exactly `bytes` stored bytes (storedBytesOf), with a unique msgId of fixed length. */
let made = 0
const sized = (bytes: number, ttlMs = 60_000): InboxAppend => {
  const base = { msgId: `s-${String(++made).padStart(8, '0')}`, text: '', properties: { sendUserId: '1' }, ts: Date.now(), ttlMs }
  return { ...base, text: 'x'.repeat(bytes - storedBytesOf(base)) }
}

export function runInboxContract(name: string, makeWith: (limits: Partial<InboxLimits>) => Promise<Inbox>): void {
  describe(`Inbox contract: ${name}`, () => {
    let inbox: Inbox
    afterEach(async () => { await inbox.close() })
    const make = (maxPerUser: number) => makeWith({ maxPerUser })

    it('assigns per-user seqs from 1 and lists them in order', async () => {
      inbox = await make(100)
      const a = await inbox.append(1747309836375, msg('a'))
      const b = await inbox.append(1747309836375, msg('b'))
      const other = await inbox.append(2, msg('x'))
      expect([a.seq, b.seq, other.seq]).toEqual([1, 2, 1])
      const list = await inbox.list(1747309836375)
      expect(list.map((m) => m.text)).toEqual(['a', 'b'])
      expect(list[0].properties).toEqual({ sendUserId: '1' })
      expect(list[0].msgId).toBe(a.msgId)
      expect((await inbox.list(1747309836375, 1)).map((m) => m.text)).toEqual(['b'])
    })

    it('a cumulative ack removes everything up to that seq, and seqs keep increasing', async () => {
      inbox = await make(100)
      for (const t of ['a', 'b', 'c']) await inbox.append(7, msg(t))
      expect(await inbox.ack(7, 2)).toBe(2)
      expect((await inbox.list(7)).map((m) => m.seq)).toEqual([3])
      expect((await inbox.append(7, msg('d'))).seq).toBe(4)
      expect(await inbox.ack(8, 10)).toBe(0)
    })

    it('pending: a user\'s stored messages and bytes, less what was acked', async () => {
      inbox = await make(100)
      expect(await inbox.pending(21)).toEqual({ messages: 0, bytes: 0 })
      const first = sized(1000)
      await inbox.append(21, first)
      await inbox.append(21, sized(2000))
      await inbox.append(22, sized(3000))
      expect(await inbox.pending(21)).toEqual({ messages: 2, bytes: 3000 })
      await inbox.ack(21, 1)
      expect(await inbox.pending(21)).toEqual({ messages: 1, bytes: 2000 })
      expect(await inbox.pending(22)).toEqual({ messages: 1, bytes: 3000 })
    })

    it('refuses past the cap with CIM_INBOX_FULL and keeps what it had', async () => {
      inbox = await make(2)
      await inbox.append(5, msg('a'))
      await inbox.append(5, msg('b'))
      await expect(inbox.append(5, msg('c'))).rejects.toMatchObject({ code: 'CIM_INBOX_FULL' })
      expect((await inbox.list(5)).map((m) => m.text)).toEqual(['a', 'b'])
    })

    it('floor: 0 for a new user, below the lowest stored seq, the last seq once all are acked', async () => {
      inbox = await make(100)
      expect((await inbox.floor(11)).seq).toBe(0)
      for (const t of ['a', 'b', 'c']) await inbox.append(11, msg(t))
      expect((await inbox.floor(11)).seq).toBe(0)
      await inbox.ack(11, 2)
      expect((await inbox.floor(11)).seq).toBe(2)
      await inbox.ack(11, 3)
      expect((await inbox.floor(11)).seq).toBe(3)
    })

    it('epoch: none before the first append, which makes one that every append, list and floor then name', async () => {
      inbox = await make(100)
      expect(await inbox.floor(31)).toEqual({ seq: 0, epoch: '' })
      const first = await inbox.append(31, msg('a'))
      expect(first.epoch).toMatch(/^[0-9a-z]{8,13}$/)
      const second = await inbox.append(31, msg('b'))
      expect(second).toMatchObject({ seq: 2, epoch: first.epoch })
      expect((await inbox.list(31)).map((m) => [m.seq, m.epoch])).toEqual([[1, first.epoch], [2, first.epoch]])
      expect(await inbox.floor(31)).toEqual({ seq: 0, epoch: first.epoch })
      await inbox.ack(31, 2)
      expect(await inbox.floor(31)).toEqual({ seq: 2, epoch: first.epoch })
      // Every user's stream has its own epoch.
      expect((await inbox.append(32, msg('x'))).epoch).not.toBe(first.epoch)
    })

    it('an ack naming another epoch (a stream since lost) removes nothing; its own epoch, or none, does', async () => {
      inbox = await make(100)
      const { epoch } = await inbox.append(33, msg('a'))
      for (const t of ['b', 'c']) await inbox.append(33, msg(t))
      expect(await inbox.ack(33, 3, 'an-old-one')).toBe(0)
      expect(await inbox.ack(33, 3, '')).toBe(0)
      expect((await inbox.list(33)).map((m) => m.seq)).toEqual([1, 2, 3])
      expect(await inbox.ack(33, 1, epoch)).toBe(1)
      expect(await inbox.ack(33, 2)).toBe(1)
      // A user with no stream: nothing to remove, whatever the epoch.
      expect(await inbox.ack(34, 5, 'x')).toBe(0)
    })

    it('floor passes expired messages (they will never come) and counts them', async () => {
      inbox = await make(100)
      await inbox.append(12, msg('short', 50))
      await inbox.append(12, msg('short too', 50))
      await inbox.append(12, msg('long', 60_000))
      await sleep(150)
      expect((await inbox.floor(12)).seq).toBe(2)
      expect((await inbox.stats()).expired).toBe(2)
    })

    it('drops expired messages and counts them', async () => {
      inbox = await make(100)
      await inbox.append(9, msg('short', 100))
      await inbox.append(9, msg('long', 60_000))
      await sleep(250)
      expect((await inbox.list(9)).map((m) => m.text)).toEqual(['long'])
      const stats = await inbox.stats()
      expect(stats.expired).toBe(1)
      expect(stats.stored).toBe(1)
    })

    it('refuses past the per-user bytes cap with CIM_INBOX_FULL (saying bytes) and keeps what it had', async () => {
      inbox = await makeWith({ maxBytesPerUser: 6_000 })
      await inbox.append(5, sized(2_000))
      await inbox.append(5, sized(3_000))
      await expect(inbox.append(5, sized(1_001))).rejects.toMatchObject({ code: 'CIM_INBOX_FULL', message: expect.stringContaining('6000 bytes') })
      expect((await inbox.list(5)).length).toBe(2)
      // Exactly at the cap fits; another user has a cap of its own.
      expect((await inbox.append(5, sized(1_000))).seq).toBe(3)
      expect((await inbox.append(6, sized(6_000))).seq).toBe(1)
      expect((await inbox.stats()).bytes).toBe(12_000)
    })

    it('counts text as JSON stores it: a control character costs 6 bytes', async () => {
      inbox = await makeWith({ maxBytesPerUser: 5_000 })
      const escaped = { msgId: 'e', text: '\u0001'.repeat(1_000), properties: {}, ts: Date.now(), ttlMs: 60_000 }
      expect(storedBytesOf(escaped)).toBeGreaterThan(6_000)
      await expect(inbox.append(1, escaped)).rejects.toMatchObject({ code: 'CIM_INBOX_FULL' })
      expect(await inbox.list(1)).toEqual([])
    })

    it('refuses past the global bytes cap with CIM_STORAGE_FULL for any user, evicting nothing', async () => {
      inbox = await makeWith({ maxTotalBytes: 10_000 })
      await inbox.append(1, sized(4_000))
      await inbox.append(2, sized(4_000))
      await expect(inbox.append(3, sized(2_001))).rejects.toMatchObject({ code: 'CIM_STORAGE_FULL' })
      await expect(inbox.append(1, sized(2_001))).rejects.toMatchObject({ code: 'CIM_STORAGE_FULL' })
      expect(await inbox.list(3)).toEqual([])
      expect((await inbox.floor(3)).seq).toBe(0)
      expect((await inbox.append(3, sized(2_000))).seq).toBe(1)
      expect(await inbox.stats()).toMatchObject({ stored: 3, bytes: 10_000 })
    })

    it('acks give the bytes back, to the user and to the global count', async () => {
      inbox = await makeWith({ maxBytesPerUser: 4_000, maxTotalBytes: 6_000 })
      await inbox.append(1, sized(2_000))
      await inbox.append(1, sized(2_000))
      await inbox.append(2, sized(2_000))
      await expect(inbox.append(1, sized(1_000))).rejects.toMatchObject({ code: 'CIM_INBOX_FULL' })
      await expect(inbox.append(2, sized(1_000))).rejects.toMatchObject({ code: 'CIM_STORAGE_FULL' })
      expect(await inbox.ack(1, 2)).toBe(2)
      expect((await inbox.stats()).bytes).toBe(2_000)
      await inbox.append(1, sized(4_000))
      expect((await inbox.stats()).bytes).toBe(6_000)
    })

    it('expired messages give their bytes back, even for users nobody reads', async () => {
      inbox = await makeWith({ maxBytesPerUser: 4_000, maxTotalBytes: 8_000 })
      await inbox.append(1, sized(3_000, 50))
      await inbox.append(2, sized(3_000, 50))
      await inbox.append(3, sized(2_000))
      await sleep(150)
      // User 1's own expired message makes room under its cap; user 2's under the global one.
      await inbox.append(1, sized(4_000))
      expect((await inbox.stats())).toMatchObject({ stored: 2, expired: 2, bytes: 6_000 })
      await inbox.append(4, sized(2_000))
      expect((await inbox.stats()).bytes).toBe(8_000)
    })
  })
}

/** The behaviour every Inbox implementation must show. `make(maxPerUser)` builds an empty inbox. */
import { describe, it, expect, afterEach } from 'vitest'
import type { Inbox, InboxAppend } from './index.ts'
import { sleep } from '../../test/support/wait.ts'

const msg = (text: string, ttlMs = 60_000): InboxAppend => ({
  msgId: `m-${text}-${Math.random()}`, text, properties: { sendUserId: '1' }, ts: Date.now(), ttlMs,
})

export function runInboxContract(name: string, make: (maxPerUser: number) => Promise<Inbox>): void {
  describe(`Inbox contract: ${name}`, () => {
    let inbox: Inbox
    afterEach(async () => { await inbox.close() })

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

    it('refuses past the cap with CIM_INBOX_FULL and keeps what it had', async () => {
      inbox = await make(2)
      await inbox.append(5, msg('a'))
      await inbox.append(5, msg('b'))
      await expect(inbox.append(5, msg('c'))).rejects.toMatchObject({ code: 'CIM_INBOX_FULL' })
      expect((await inbox.list(5)).map((m) => m.text)).toEqual(['a', 'b'])
    })

    it('floor: 0 for a new user, below the lowest stored seq, the last seq once all are acked', async () => {
      inbox = await make(100)
      expect(await inbox.floor(11)).toBe(0)
      for (const t of ['a', 'b', 'c']) await inbox.append(11, msg(t))
      expect(await inbox.floor(11)).toBe(0)
      await inbox.ack(11, 2)
      expect(await inbox.floor(11)).toBe(2)
      await inbox.ack(11, 3)
      expect(await inbox.floor(11)).toBe(3)
    })

    it('floor passes expired messages (they will never come) and counts them', async () => {
      inbox = await make(100)
      await inbox.append(12, msg('short', 50))
      await inbox.append(12, msg('short too', 50))
      await inbox.append(12, msg('long', 60_000))
      await sleep(150)
      expect(await inbox.floor(12)).toBe(2)
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
  })
}

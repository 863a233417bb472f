/**
 * Fan-out: a broadcast encoded once reaches every connection with its own receiveUserId, and a
 * client that stops reading is disconnected (bounded queue) while the others keep receiving.
 */
import { describe, expect, it } from 'vitest'
import { BaseCommand } from '../proto/codec.ts'
import { brokerFixture, type TestBroker } from './support/broker-harness.ts'
import { type RawClient } from './support/wire.ts'
import { eventually } from './support/wait.ts'

const fx = brokerFixture()
let tb: TestBroker | undefined

async function loginMany(t: TestBroker, n: number, proto2Every = 0): Promise<Array<{ c: RawClient; userId: number; proto2: boolean }>> {
  const out = []
  for (let i = 0; i < n; i++) {
    const { userId } = await t.adapters.accounts.register(`u${i}`)
    const c = await fx.client(t.ports.cimPort)
    const proto2 = proto2Every > 0 && i % proto2Every === 0
    c.login(userId, `u${i}`, proto2 ? { proto: '2' } : undefined)
    out.push({ c, userId, proto2 })
  }
  await eventually(async () => (await t.adapters.presence.users.count()) === n, 5000, `${n} logins`)
  return out
}

describe('broadcast', () => {
  it('reaches ~200 clients, each with its own receiveUserId; proto=2 ones also get msgId/ts', async () => {
    tb = await fx.broker()
    const users = await loginMany(tb, 200, 10)
    const replies = await tb.route.broadcast({ text: 'to all', msgId: 'b-1', properties: { sendUserId: '0', sendUserName: 'system' } })
    expect(replies).toEqual([expect.objectContaining({ type: 'broadcast-result', brokerId: tb.broker.id, users: 200 })])
    for (const { c, userId, proto2 } of users) {
      const f = await c.frame(BaseCommand.MESSAGE)
      expect(f.resMsg).toBe('to all')
      expect(f.responseId).toBe(userId)
      expect(f.properties.receiveUserId).toBe(String(userId))
      expect(f.properties.sendUserName).toBe('system')
      if (proto2) expect(f.properties).toMatchObject({ msgId: 'b-1' })
      else expect(f.properties.msgId).toBeUndefined()
    }
  })
})

describe('slow reader', () => {
  it('disconnects a client that never reads, while the others keep receiving', async () => {
    tb = await fx.broker({ maxQueuedBytes: 256 * 1024 })
    const [slow, fast] = await loginMany(tb, 2)
    slow.c.socket.pause() // never reads again: kernel buffers fill, then the broker's queue
    const text = 'x'.repeat(60_000)
    const slowGone = async () => !(await tb!.adapters.presence.users.get(String(slow.userId)))
    let sent = 0
    while (!(await slowGone())) {
      if (sent >= 2000) throw new Error('slow reader was never disconnected')
      for (let i = 0; i < 20; i++) await tb.route.broadcast({ text, properties: {} })
      sent += 20
      await fast.c.until(() => fast.c.frames.length >= sent, 10_000, `${sent} frames at the fast client`)
    }
    expect(tb.broker.connections()).toBe(1)
    await tb.route.broadcast({ text: 'after', properties: {} })
    await fast.c.until(() => fast.c.frames.some((f) => f.resMsg === 'after'))
    expect(fast.c.isOpen).toBe(true)
  })
})

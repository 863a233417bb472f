/**
 * A large stored backlog replayed at login is paced to the socket (broker/cim/replay.ts): it is
 * written as the socket drains, so it never trips the slow-consumer limit (--max-queued-bytes) by
 * itself, and live pushes still wait behind it in seq order (broker/cim/stream.ts).
 */
import { describe, expect, it } from 'vitest'
import { BaseCommand } from '../proto/codec.ts'
import { createMemoryAdapters, type AdapterOptions } from '../adapters/index.ts'
import { brokerFixture } from './support/broker-harness.ts'
import { eventually } from './support/wait.ts'

const fx = brokerFixture()

const COUNT = 900
const SIZE = 60 * 1024

describe('large backlog replay', () => {
  it(`a proto=2 client with ${COUNT} × 60 KB stored messages logs in and receives all of them in order without being cut off`, async () => {
    // Room for the whole backlog (54 MB): the inbox caps are not what this test is about.
    const adapters = createMemoryAdapters({ inboxMaxPerUser: 2000, inboxMaxBytesPerUser: 256 << 20, inboxMaxTotalBytes: 1 << 30 } as AdapterOptions)
    const tb = await fx.broker({}, adapters)
    const { userId } = await adapters.accounts.register('hoarder')
    const body = 'x'.repeat(SIZE)
    for (let i = 1; i <= COUNT; i++) {
      await adapters.inbox.append(userId, { msgId: `m${i}`, text: `${i}:${body}`, properties: {}, ts: Date.now(), ttlMs: 600_000 })
    }

    const c = await fx.client(tb.ports.cimPort)
    c.login(userId, 'hoarder', { proto: '2' })
    await c.frame(BaseCommand.LOGIN_REPLY)
    // A live qos 1 push while the replay runs: it waits behind the backlog (seq COUNT + 1).
    const live = await adapters.inbox.append(userId, { msgId: 'live', text: 'live', properties: {}, ts: Date.now(), ttlMs: 600_000 })
    const answer = await tb.route.push(tb.broker.id, { userIds: [userId], text: 'live', properties: {}, seqs: { [userId]: live.seq }, msgId: 'live', ts: live.ts })

    await c.until(() => c.messages().length >= COUNT + 1 || !c.isOpen, 60_000, 'the whole backlog')
    expect(c.frames.find((f) => f.cmd === BaseCommand.KICK)?.properties).toBeUndefined()
    expect(c.isOpen).toBe(true)
    expect([...(answer.queued ?? []), ...answer.delivered]).toContain(userId)
    const seqs = c.messages().map((m) => Number(m.properties.seq))
    expect(seqs).toEqual(Array.from({ length: COUNT + 1 }, (_, i) => i + 1))
    expect(c.messages()[COUNT - 1].resMsg.startsWith(`${COUNT}:`)).toBe(true)
    expect(c.messages()[COUNT].resMsg).toBe('live')
    c.ack(COUNT + 1)
    await eventually(async () => (await adapters.inbox.list(userId)).length === 0)
  }, 90_000)
})

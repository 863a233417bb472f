/**
 * Inbox replay: on every login (upstream: one OFFLINE batch, acked once written; proto=2: one
 * MESSAGE per stored message with msgId/seq/ts, removed by the client's cumulative ACK), on a
 * bus `replay` request, and pushes that carry seqs.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { BaseCommand } from '../proto/codec.ts'
import { brokerFixture, type TestBroker } from './support/broker-harness.ts'
import { eventually, sleep } from './support/wait.ts'

const fx = brokerFixture()
let tb: TestBroker
const client = () => fx.client(tb.ports.cimPort)

function store(userId: number, text: string, from = 'sam') {
  return tb.adapters.inbox.append(userId, {
    msgId: `m-${text}`, text, ts: Date.now(), ttlMs: 60_000,
    properties: { sendUserId: '1', sendUserName: from, receiveUserId: String(userId) },
  })
}

const stored = async (userId: number) => (await tb.adapters.inbox.list(userId)).map((m) => m.text)

beforeEach(async () => {
  tb = await fx.broker()
})

describe('offline replay', () => {
  it('sends upstream clients one OFFLINE batch on every login and acks it once written', async () => {
    const { userId } = await tb.adapters.accounts.register('olga')
    await store(userId, 'one')
    await store(userId, 'two')
    const c1 = await client()
    c1.login(userId, 'olga')
    const batch = await c1.frame(BaseCommand.OFFLINE)
    expect(batch.batchResMsg).toEqual(['one', 'two'])
    expect(batch.responseId).toBe(userId)
    expect(batch.properties).toMatchObject({ receiveUserId: String(userId), sendUserName: 'sam' })
    await eventually(async () => (await stored(userId)).length === 0, 3000, 'inbox acked')
    c1.close()
    await eventually(async () => !(await tb.adapters.presence.users.get(String(userId))))

    // New messages while offline: the next login replays them too (upstream fetched only once).
    await store(userId, 'three')
    const c2 = await client()
    c2.login(userId, 'olga')
    expect((await c2.frame(BaseCommand.OFFLINE)).batchResMsg).toEqual(['three'])
    await eventually(async () => (await stored(userId)).length === 0, 3000, 'inbox acked')
  })

  it('sends proto=2 clients individual pushes with seq and keeps them until ACK', async () => {
    const { userId } = await tb.adapters.accounts.register('pete')
    const m1 = await store(userId, 'a')
    const m2 = await store(userId, 'b')
    const c = await client()
    c.login(userId, 'pete', { proto: '2' })
    await c.frame(BaseCommand.LOGIN_REPLY)
    const first = await c.frame(BaseCommand.MESSAGE, 0)
    const second = await c.frame(BaseCommand.MESSAGE, 1)
    expect(first).toMatchObject({ resMsg: 'a', responseId: userId })
    expect(first.properties).toMatchObject({ seq: String(m1.seq), msgId: m1.msgId, ts: String(m1.ts), receiveUserId: String(userId), sendUserName: 'sam' })
    expect(second.properties.seq).toBe(String(m2.seq))
    await sleep(50)
    expect(await stored(userId)).toEqual(['a', 'b']) // nothing removed without an ACK

    c.ack(m1.seq)
    await eventually(async () => (await stored(userId)).join() === 'b', 3000, 'ack of seq 1')
    // Replayed again on request (fetchOfflineMsgs), then the cumulative ACK empties the inbox.
    expect(await tb.route.replay(tb.broker.id, userId)).toBe(1)
    const again = await c.frame(BaseCommand.MESSAGE, 2)
    expect(again.properties.seq).toBe(String(m2.seq))
    c.ack(m2.seq)
    await eventually(async () => (await stored(userId)).length === 0, 3000, 'ack of seq 2')
  })

  it('carries msgId/seq/ts on live pushes to proto=2 clients and acks stored pushes to upstream ones on write', async () => {
    const { userId: p2 } = await tb.adapters.accounts.register('quinn')
    const { userId: up } = await tb.adapters.accounts.register('rita')
    const c2 = await client()
    c2.login(p2, 'quinn', { proto: '2' })
    const c1 = await client()
    c1.login(up, 'rita')
    await eventually(() => tb.adapters.presence.users.get(String(up)))
    await c2.frame(BaseCommand.LOGIN_REPLY)
    const s2 = await store(p2, 'live')
    const s1 = await store(up, 'live')
    const reply = await tb.route.push(tb.broker.id, {
      userIds: [p2, up], text: 'live', msgId: 'mid-1', properties: { sendUserId: '1', sendUserName: 'sam' },
      seqs: { [p2]: s2.seq, [up]: s1.seq },
    })
    expect(reply.delivered.sort()).toEqual([p2, up].sort())
    const f2 = await c2.frame(BaseCommand.MESSAGE)
    expect(f2.properties).toMatchObject({ msgId: 'mid-1', seq: String(s2.seq), receiveUserId: String(p2) })
    expect(Number(f2.properties.ts)).toBeGreaterThan(0)
    const f1 = await c1.frame(BaseCommand.MESSAGE)
    expect(f1.properties).toEqual({ sendUserId: '1', sendUserName: 'sam', receiveUserId: String(up) })
    await eventually(async () => (await stored(up)).length === 0, 3000, 'upstream push acked')
    expect(await stored(p2)).toEqual(['live'])
  })
})

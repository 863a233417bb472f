/**
 * At-least-once pushes to users end to end — REST or the CIM-compatible p2p path → inbox → real
 * broker → real CIM TCP clients — on memory adapters and on Redis: stored before delivery,
 * acked cumulatively, redelivered after the ack timeout, replayed in seq order at the next login on
 * any broker, upstream clients acked on write, bounds and expiry visible in /v1/stats.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BaseCommand } from '../proto/codec.ts'
import { CimClient, type CimMessage } from '../client/index.ts'
import type { Config } from '../config.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { startNodes, type StoreKind, type TestNodes } from './support/nodes.ts'
import { RawClient, getJson, postJson } from './support/wire.ts'
import { eventually, sleep } from './support/wait.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const opened: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
})

const isLoginReply = (f: { cmd: number }) => f.cmd === BaseCommand.LOGIN_REPLY

describe.each(['memory', 'redis'] as StoreKind[])('qos 1 pushes to users (%s)', (kind) => {
  async function start(overrides: Partial<Config> = {}, brokers = 1): Promise<TestNodes> {
    const n = await startNodes(kind, overrides, { brokers, redisUrl: redis.url })
    opened.push(n)
    return n
  }
  async function user(n: TestNodes, userName: string): Promise<number> {
    return (await postJson(`${n.routeUrl}/v1/users`, { userName })).body.userId
  }
  async function login(n: TestNodes, id: number, name: string, proto2: boolean, broker = 0): Promise<RawClient> {
    const p = await RawClient.connectAndLogin(n.brokers[broker].ports.cimPort, id, name, proto2 ? { proto: '2' } : undefined)
    opened.push(p)
    if (proto2) await p.next(isLoginReply)
    else await eventually(async () => (await getJson(`${n.routeUrl}/v1/users/${id}/presence`)).body.online)
    return p
  }
  const push = async (n: TestNodes, id: number, body: object) => (await postJson(`${n.routeUrl}/v1/push/users/${id}`, body)).body.results[0]
  const stored = async (n: TestNodes, id: number) => (await n.adapters.inbox.list(id)).map((m) => m.text)

  it('stores before delivering: written with msgId, seq and ts, kept until the cumulative ACK', async () => {
    const n = await start()
    const id = await user(n, 'ack')
    const p = await login(n, id, 'ack', true)
    expect(p.frames.find(isLoginReply)!.properties.ackedSeq).toBe('0')
    const answers = [await push(n, id, { message: 'a', qos: 1 }), await push(n, id, { message: 'b', qos: 1 })]
    // A stored push names its msgId and seq, as the app's receipt (push.acked) will.
    expect(answers).toEqual([1, 2].map((seq) => ({ userId: id, status: 'delivered', msgId: expect.any(String), seq })))
    await eventually(() => p.messages().length === 2)
    const inbox = await n.adapters.inbox.list(id)
    expect(answers.map((a) => a.msgId)).toEqual(inbox.map((m) => m.msgId))
    expect(p.messages().map((f) => f.properties)).toEqual(inbox.map((m) => expect.objectContaining({
      msgId: m.msgId, seq: String(m.seq), ts: String(m.ts), receiveUserId: String(id), sendUserName: 'system',
    })))
    expect(inbox.map((m) => m.seq)).toEqual([1, 2])
    p.send({ cmd: BaseCommand.ACK, requestId: 1 })
    await eventually(async () => (await stored(n, id)).join() === 'b')
    p.send({ cmd: BaseCommand.ACK, requestId: 1 }) // a repeat is harmless
    p.send({ cmd: BaseCommand.ACK, requestId: 2 })
    await eventually(async () => (await stored(n, id)).length === 0)
  })

  it('redelivers on the same connection after the ack timeout, until acked', async () => {
    const n = await start({ ackTimeoutMs: 300 })
    const id = await user(n, 'slow-acker')
    const p = await login(n, id, 'slow-acker', true)
    await push(n, id, { message: 'again', qos: 1 })
    const copies = () => p.messages().filter((f) => f.resMsg === 'again')
    await eventually(() => copies().length === 2, 3_000)
    expect(copies()[1].properties).toMatchObject({ msgId: copies()[0].properties.msgId, seq: '1', prevSeq: '0' })
    p.send({ cmd: BaseCommand.ACK, requestId: 1 })
    await eventually(async () => (await stored(n, id)).length === 0)
    const count = copies().length
    await sleep(800)
    expect(copies().length).toBe(count)
    expect(p.isOpen).toBe(true)
  })

  it('replays in seq order at the next login on another broker; a live push waits behind the replay', async () => {
    const n = await start({}, 2)
    const id = await user(n, 'replay')
    for (const text of ['one', 'two', 'three']) expect((await push(n, id, { message: text, qos: 1 })).status).toBe('queued')
    // Hold the replay's inbox read open long enough for a live push to arrive in the middle of it.
    const inbox = n.adapters.inbox
    const list = inbox.list.bind(inbox)
    let signal!: () => void
    const listing = new Promise<void>((r) => { signal = r })
    let first = true
    inbox.list = async (...args) => {
      const out = await list(...args)
      if (first) { first = false; signal(); await sleep(300) }
      return out
    }
    const p = await login(n, id, 'replay', true, 1)
    expect(p.frames.find(isLoginReply)!.properties).toMatchObject({ ackedSeq: '0', brokerId: 'b2' })
    await listing
    expect((await push(n, id, { message: 'four', qos: 1 })).status).toBe('queued')
    await eventually(() => p.messages().length === 4)
    expect(p.messages().map((f) => [f.resMsg, f.properties.seq])).toEqual([['one', '1'], ['two', '2'], ['three', '3'], ['four', '4']])
    inbox.list = list

    // Acked up to 4: the next login, on the other broker, starts there and replays nothing.
    p.send({ cmd: BaseCommand.ACK, requestId: 4 })
    await eventually(async () => (await stored(n, id)).length === 0)
    p.close()
    await eventually(async () => !(await getJson(`${n.routeUrl}/v1/users/${id}/presence`)).body.online)
    const again = await login(n, id, 'replay', true, 0)
    expect(again.frames.find(isLoginReply)!.properties.ackedSeq).toBe('4')
    expect((await push(n, id, { message: 'five', qos: 1 })).status).toBe('delivered')
    expect((await again.next((f) => f.resMsg === 'five')).properties.seq).toBe('5')
    expect(again.messages()).toHaveLength(1)
  })

  it('upstream clients: an OFFLINE batch at every login, stored pushes delivered once written', async () => {
    const n = await start()
    const id = await user(n, 'upstream')
    for (const text of ['a', 'b']) await push(n, id, { message: text, qos: 1 })
    const p = await login(n, id, 'upstream', false)
    expect((await p.next((f) => f.cmd === BaseCommand.OFFLINE)).batchResMsg).toEqual(['a', 'b'])
    await eventually(async () => (await stored(n, id)).length === 0)
    expect(await push(n, id, { message: 'c', qos: 1 })).toEqual({ userId: id, status: 'delivered', msgId: expect.any(String), seq: 3 })
    const live = await p.next((f) => f.resMsg === 'c')
    // Exactly upstream's properties: nothing an upstream client does not know.
    expect(live.properties).toEqual({ sendUserId: '0', sendUserName: 'system', receiveUserId: String(id) })
    await eventually(async () => (await stored(n, id)).length === 0)
    p.close()
    await eventually(async () => !(await getJson(`${n.routeUrl}/v1/users/${id}/presence`)).body.online)
    await push(n, id, { message: 'd', qos: 1 })
    const again = await login(n, id, 'upstream', false)
    expect((await again.next((f) => f.cmd === BaseCommand.OFFLINE)).batchResMsg).toEqual(['d'])
  })

  it('upstream clients: a seq written before an earlier one keeps the earlier one stored until written', async () => {
    // Long enough that the check below comes before the redelivery even on a loaded machine.
    const n = await start({ ackTimeoutMs: 1_500 })
    const id = await user(n, 'gap')
    const p = await login(n, id, 'gap', false)
    // The login's inbox replay must be over first: it would find the message stored below and
    // rightly deliver it with the rest. A stored push that arrived and was acked shows it is.
    await push(n, id, { message: 'first', qos: 1 })
    await p.next((f) => f.resMsg === 'first')
    await eventually(async () => (await stored(n, id)).length === 0)
    // The next seq is stored but its push never arrives (its route died); the one after is pushed live.
    await n.adapters.inbox.append(id, { msgId: 'lost', text: 'lost', properties: { sendUserId: '0', sendUserName: 'system' }, ts: Date.now(), ttlMs: 60_000 })
    expect(await push(n, id, { message: 'after', qos: 1 })).toMatchObject({ status: 'delivered' })
    await p.next((f) => f.resMsg === 'after')
    await sleep(100)
    expect(await stored(n, id)).toEqual(['lost', 'after']) // acking 2 would have removed 1 unsent
    await p.next((f) => f.resMsg === 'lost')
    await eventually(async () => (await stored(n, id)).length === 0)
  })

  it('p2pRoute stores first: 9000 for an online receiver (kept until ACK), 7000 for an offline one', async () => {
    const n = await start()
    const from = await user(n, 'p2p-from')
    const to = await user(n, 'p2p-to')
    const off = await user(n, 'p2p-off')
    const p = await login(n, to, 'p2p-to', true)
    const sent = await postJson(`${n.routeUrl}/p2pRoute`, { userId: from, receiveUserId: to, msg: 'hi' })
    expect(sent.body.code).toBe('9000')
    const f = await p.next((x) => x.resMsg === 'hi')
    expect(f.properties).toMatchObject({ sendUserId: String(from), sendUserName: 'p2p-from', seq: '1' })
    expect(await stored(n, to)).toEqual(['hi'])
    p.send({ cmd: BaseCommand.ACK, requestId: 1 })
    await eventually(async () => (await stored(n, to)).length === 0)
    expect((await postJson(`${n.routeUrl}/p2pRoute`, { userId: from, receiveUserId: off, msg: 'later' })).body.code).toBe('7000')
    expect(await stored(n, off)).toEqual(['later'])
  })

  it('inbox bounds: a full inbox answers rejected and evicts nothing; expiry frees room and is counted', async () => {
    const n = await start({ inboxMaxPerUser: 2 })
    const id = await user(n, 'full')
    expect((await push(n, id, { message: 'short', qos: 1, ttlSeconds: 1 })).status).toBe('queued')
    expect((await push(n, id, { message: 'long', qos: 1 })).status).toBe('queued')
    expect(await push(n, id, { message: 'over', qos: 1 })).toEqual({ userId: id, status: 'rejected', code: 'CIM_INBOX_FULL' })
    expect(await stored(n, id)).toEqual(['short', 'long'])
    expect((await getJson(`${n.routeUrl}/v1/stats`)).body.inbox).toMatchObject({ stored: 2, expired: 0, maxPerUser: 2 })
    await sleep(1_100)
    expect((await getJson(`${n.routeUrl}/v1/stats`)).body.inbox).toMatchObject({ stored: 1, expired: 1 })
    expect((await push(n, id, { message: 'fits now', qos: 1 })).status).toBe('queued')
    expect(await stored(n, id)).toEqual(['long', 'fits now'])
  })

  it('CimClient: a message whose push was lost is redelivered, and the app sees everything once, in order', async () => {
    const n = await start({ ackTimeoutMs: 300 })
    const id = await user(n, 'sdk')
    const seen: CimMessage[] = []
    const client = (): CimClient => {
      const c = new CimClient({ routeUrl: n.routeUrl, userName: 'sdk', userId: id, reconnect: false, onMessage: (m) => seen.push(m) })
      opened.push(c)
      return c
    }
    const c = client()
    await c.connect()
    await push(n, id, { message: 'm1', qos: 1 })
    await eventually(() => seen.length === 1)
    // m2 is stored but its push is lost; m3 arrives live past the gap.
    await n.adapters.inbox.append(id, { msgId: 'm2-id', text: 'm2', properties: { sendUserId: '0', sendUserName: 'system' }, ts: Date.now(), ttlMs: 60_000 })
    await push(n, id, { message: 'm3', qos: 1 })
    await sleep(100)
    expect(seen.map((m) => m.text)).toEqual(['m1'])
    expect(await stored(n, id)).toEqual(['m2', 'm3']) // never acked past the gap
    await eventually(() => seen.length === 3, 3_000)
    expect(seen.map((m) => [m.text, m.seq])).toEqual([['m1', 1], ['m2', 2], ['m3', 3]])
    await eventually(async () => (await stored(n, id)).length === 0)
    expect(c.duplicatesDropped).toBeGreaterThanOrEqual(1)

    // A fresh client process: LOGIN_REPLY ackedSeq tells it where it stands; it gets only what is new.
    c.close()
    await eventually(async () => !(await getJson(`${n.routeUrl}/v1/users/${id}/presence`)).body.online)
    for (const text of ['m4', 'm5']) await push(n, id, { message: text, qos: 1 })
    seen.length = 0
    await client().connect()
    await eventually(() => seen.length === 2)
    expect(seen.map((m) => [m.text, m.seq])).toEqual([['m4', 4], ['m5', 5]])
  })
})

import { describe, it, expect, afterEach } from 'vitest'
import type { Config } from '../../../config.ts'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'

let h: RouteHarness
let brokers: FakeBroker[] = []

async function setup(overrides: Partial<Config> = {}, brokerIds = ['b1', 'b2']) {
  h = await routeHarness(overrides)
  brokers = []
  for (const id of brokerIds) brokers.push(await FakeBroker.start(h.adapters, { id }))
  return brokers
}
afterEach(async () => {
  for (const b of brokers) await b.stop()
  await h.close()
})

async function register(userName: string): Promise<number> {
  return (await h.adapters.accounts.register(userName)).userId
}

const post = (url: string, payload: object) => h.app.inject({ method: 'POST', url, payload })

describe('POST /v1/push/users/{userId}', () => {
  it('delivers to an online user through its broker, with system sender metadata', async () => {
    const [b1, b2] = await setup()
    const id = await register('a')
    await b1.connect(id, 'a')
    const res = await post(`/v1/push/users/${id}`, { message: 'hi', properties: { kind: 'alert' } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ results: [{ userId: id, status: 'delivered' }] })
    expect(b1.of('push')).toEqual([expect.objectContaining({
      userIds: [id], text: 'hi', properties: { sendUserId: '0', sendUserName: 'system', kind: 'alert' },
    })])
    expect(b2.of('push')).toHaveLength(0)
  })

  it('follows a user who reconnected to another broker while the push was in flight', async () => {
    const [b1, b2] = await setup()
    const id = await register('mover')
    await b2.connect(id, 'mover') // where the user is now
    // The route's first presence read raced the reconnect and still saw the old connection on b1.
    const table = h.adapters.presence.users
    const real = table.getMany.bind(table)
    let reads = 0
    table.getMany = async (ids) => (reads++ === 0
      ? ids.map((i) => ({ id: i, name: 'mover', brokerId: 'b1', connId: 'old', since: 1 }))
      : real(ids))
    const res = await post(`/v1/push/users/${id}`, { message: 'catch me' })
    expect(res.json()).toEqual({ results: [{ userId: id, status: 'delivered' }] })
    expect(b1.of('push')).toHaveLength(1)
    expect(b2.of('push')).toEqual([expect.objectContaining({ userIds: [id], text: 'catch me' })])
  })

  it('answers offline for an offline user with qos 0 and stores nothing', async () => {
    await setup()
    const id = await register('a')
    expect((await post(`/v1/push/users/${id}`, { message: 'hi' })).json()).toEqual({ results: [{ userId: id, status: 'offline' }] })
    expect(await h.adapters.inbox.list(id)).toEqual([])
  })

  it('stores the message for an offline user with qos 1 and answers queued', async () => {
    await setup()
    const id = await register('a')
    const res = await post(`/v1/push/users/${id}`, { message: 'later', qos: 1, ttlSeconds: 60, idempotencyKey: 'order-17' })
    const [stored] = await h.adapters.inbox.list(id)
    expect(res.json()).toEqual({ results: [{ userId: id, status: 'queued', msgId: stored.msgId, seq: stored.seq }] })
    expect(stored).toMatchObject({
      seq: 1, text: 'later',
      properties: { sendUserId: '0', sendUserName: 'system', receiveUserId: String(id) },
    })
    // The msgId is server-assigned: the idempotency key names the request, not the message.
    expect(stored.msgId).toMatch(/^[0-9a-f-]{36}$/)
    expect(stored.expiresAt - stored.ts).toBe(60_000)
  })

  it('qos 1 stores BEFORE delivering: the push carries the seq and msgId, and stays stored until acked', async () => {
    const [b1] = await setup()
    const id = await register('a')
    await b1.connect(id, 'a')
    for (const text of ['one', 'two']) {
      expect((await post(`/v1/push/users/${id}`, { message: text, qos: 1 })).json()).toEqual({ results: [{ userId: id, status: 'delivered', msgId: expect.any(String), seq: text === 'one' ? 1 : 2 }] })
    }
    const stored = await h.adapters.inbox.list(id)
    expect(stored.map((m) => [m.seq, m.text])).toEqual([[1, 'one'], [2, 'two']])
    expect(b1.of('push').map((p) => [p.seqs, p.msgId, p.text])).toEqual([
      [{ [id]: 1 }, stored[0].msgId, 'one'],
      [{ [id]: 2 }, stored[1].msgId, 'two'],
    ])
    expect(b1.of('push')[0].ts).toBe(stored[0].ts)
  })

  it('qos 0 sends no seqs and stores nothing for an online user', async () => {
    const [b1] = await setup()
    const id = await register('a')
    await b1.connect(id, 'a')
    expect((await post(`/v1/push/users/${id}`, { message: 'now' })).json().results[0].status).toBe('delivered')
    expect(b1.of('push')[0].seqs).toBeUndefined()
    expect(await h.adapters.inbox.list(id)).toEqual([])
  })

  it('answers queued when the broker holds the push behind a replay in progress', async () => {
    const [b1] = await setup()
    const id = await register('a')
    await b1.connect(id, 'a')
    b1.queuedUsers.add(id)
    expect((await post(`/v1/push/users/${id}`, { message: 'm', qos: 1 })).json().results[0].status).toBe('queued')
    expect(b1.of('push')).toHaveLength(1) // no second attempt: the broker has it
  })

  it('answers rejected with CIM_INBOX_FULL for an ONLINE user at the cap too, and sends nothing', async () => {
    const [b1] = await setup({ inboxMaxPerUser: 1 })
    const id = await register('a')
    await b1.connect(id, 'a')
    expect((await post(`/v1/push/users/${id}`, { message: '1', qos: 1 })).json().results[0].status).toBe('delivered')
    const res = await post(`/v1/push/users/${id}`, { message: '2', qos: 1 })
    expect(res.json()).toEqual({ results: [{ userId: id, status: 'rejected', code: 'CIM_INBOX_FULL' }] })
    expect(b1.of('push')).toHaveLength(1)
    expect((await h.adapters.inbox.list(id)).map((m) => m.text)).toEqual(['1'])
  })

  it('queues with qos 1 when the broker answers offline or does not answer at all', async () => {
    const [b1, b2] = await setup()
    const gone = await register('gone')
    const hung = await register('hung')
    await b1.connect(gone, 'gone')
    b1.users.delete(gone) // presence still says b1, but the connection is gone
    await b2.connect(hung, 'hung')
    b2.silent = true
    expect((await post(`/v1/push/users/${gone}`, { message: 'm', qos: 1 })).json().results[0].status).toBe('queued')
    expect((await post(`/v1/push/users/${hung}`, { message: 'm', qos: 1 })).json().results[0].status).toBe('queued')
    expect(await h.adapters.inbox.list(gone)).toHaveLength(1)
    expect(await h.adapters.inbox.list(hung)).toHaveLength(1)
  })

  it('answers rejected with CIM_INBOX_FULL when the inbox is at its cap', async () => {
    await setup({ inboxMaxPerUser: 1 })
    const id = await register('a')
    await post(`/v1/push/users/${id}`, { message: '1', qos: 1 })
    const res = await post(`/v1/push/users/${id}`, { message: '2', qos: 1 })
    expect(res.json()).toEqual({ results: [{ userId: id, status: 'rejected', code: 'CIM_INBOX_FULL' }] })
  })

  it('answers 404 for an unknown user, 400 for a bad qos, 413 for a message over the frame limit', async () => {
    // The limit is on the encoded frame, with the ~200 bytes the route and broker add (proto/push-frame.ts).
    await setup({ maxFrameBytes: 400 })
    const unknown = await post('/v1/push/users/42', { message: 'hi' })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().code).toBe('CIM_USER_NOT_FOUND')
    const id = await register('a')
    expect((await post(`/v1/push/users/${id}`, { message: 'hi', qos: 2 })).statusCode).toBe(400)
    const big = await post(`/v1/push/users/${id}`, { message: 'x'.repeat(401) })
    expect(big.statusCode).toBe(413)
    expect(big.json().code).toBe('CIM_PAYLOAD_TOO_LARGE')
  })
})

describe('POST /v1/push/users', () => {
  it('sends ONE bus message per broker and answers one result per user', async () => {
    const [b1, b2] = await setup()
    const ids = await Promise.all(['a', 'b', 'c', 'd', 'e'].map(register))
    await b1.connect(ids[0], 'a')
    await b1.connect(ids[1], 'b')
    await b2.connect(ids[2], 'c')
    await b2.connect(ids[3], 'd')
    const unknown = 99
    const res = await post('/v1/push/users', { userIds: [...ids, unknown, ids[0]], message: 'all of you' })
    expect(res.statusCode).toBe(200)
    expect(res.json().results).toEqual([
      { userId: ids[0], status: 'delivered' },
      { userId: ids[1], status: 'delivered' },
      { userId: ids[2], status: 'delivered' },
      { userId: ids[3], status: 'delivered' },
      { userId: ids[4], status: 'offline' },
      { userId: unknown, status: 'rejected', code: 'CIM_USER_NOT_FOUND' },
    ])
    expect(b1.of('push')).toHaveLength(1)
    expect(b1.of('push')[0].userIds.sort()).toEqual([ids[0], ids[1]].sort())
    expect(b2.of('push')).toHaveLength(1)
    expect(b2.of('push')[0].userIds.sort()).toEqual([ids[2], ids[3]].sort())
  })

  it('qos 1: stores for everyone first, ONE bus message per broker with each user\'s seq, queues the offline ones', async () => {
    const [b1, b2] = await setup()
    const [on1, on2, on3, off] = await Promise.all(['on1', 'on2', 'on3', 'off'].map(register))
    await b1.connect(on1, 'on1')
    await b1.connect(on2, 'on2')
    await b2.connect(on3, 'on3')
    await post(`/v1/push/users/${on2}`, { message: 'earlier', qos: 1 }) // on2's next seq is 2
    const unknown = 99
    const res = await post('/v1/push/users', { userIds: [on1, on2, on3, off, unknown], message: 'm', qos: 1 })
    const msgId = res.json().results[0].msgId
    expect(res.json().results).toEqual([
      { userId: on1, status: 'delivered', msgId, seq: 1 },
      { userId: on2, status: 'delivered', msgId, seq: 2 },
      { userId: on3, status: 'delivered', msgId, seq: 1 },
      { userId: off, status: 'queued', msgId, seq: 1 },
      { userId: unknown, status: 'rejected', code: 'CIM_USER_NOT_FOUND' },
    ])
    const batch = b1.of('push').filter((p) => p.text === 'm')
    expect(batch).toHaveLength(1)
    expect(batch[0].seqs).toEqual({ [on1]: 1, [on2]: 2 })
    expect(b2.of('push')).toEqual([expect.objectContaining({ userIds: [on3], seqs: { [on3]: 1 } })])
    for (const id of [on1, on2, on3, off]) expect((await h.adapters.inbox.list(id)).at(-1)?.text).toBe('m')
    // One msgId for the whole batch (each user's copy is told apart by its seq).
    expect(b2.of('push')[0].msgId).toBe(batch[0].msgId)
    expect(await h.adapters.inbox.list(unknown)).toEqual([])
  })

  it('rejects an empty list and more than 10,000 userIds', async () => {
    await setup()
    expect((await post('/v1/push/users', { userIds: [], message: 'm' })).statusCode).toBe(400)
    const many = Array.from({ length: 10_001 }, (_, i) => i + 1)
    const res = await post('/v1/push/users', { userIds: many, message: 'm' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('CIM_INVALID_ARGUMENT')
  })
})

describe('POST /v1/push/devices/{deviceId}', () => {
  it("publishes on the device's push topic through its broker", async () => {
    const [b1, b2] = await setup()
    await b2.connectDevice('sensor-1')
    const res = await post('/v1/push/devices/sensor-1', { payload: '{"on":true}', qos: 1 })
    expect(res.json()).toEqual({ results: [{ deviceId: 'sensor-1', status: 'delivered' }] })
    expect(b2.of('publish')).toEqual([expect.objectContaining({
      topic: 'devices/sensor-1/push', payload: Buffer.from('{"on":true}').toString('base64'), qos: 1, retain: false,
    })])
    expect(b1.of('publish')).toHaveLength(0)
  })

  it('answers offline (qos 0, nothing published) or queued (qos 1, published through a live broker)', async () => {
    const [b1, b2] = await setup()
    expect((await post('/v1/push/devices/d9', { payload: 'x' })).json().results[0].status).toBe('offline')
    expect(b1.of('publish').length + b2.of('publish').length).toBe(0)
    const res = await post('/v1/push/devices/d9', { payload: 'AAEC/w==', encoding: 'base64', qos: 1 })
    expect(res.json().results[0].status).toBe('queued')
    const published = [...b1.of('publish'), ...b2.of('publish')]
    expect(published).toEqual([expect.objectContaining({ topic: 'devices/d9/push', payload: 'AAEC/w==', qos: 1 })])
  })

  it('answers `unknown` and publishes nothing more when the device\'s broker does not answer (issue 9: no second delivery)', async () => {
    const [b1, b2] = await setup()
    await b2.connectDevice('sensor-1')
    b2.silent = true
    for (const qos of [0, 1]) {
      const res = await post('/v1/push/devices/sensor-1', { payload: 'x', qos })
      expect(res.json()).toEqual({ results: [{ deviceId: 'sensor-1', status: 'unknown', code: 'CIM_BACKEND_UNAVAILABLE' }] })
    }
    // Each push reached the silent broker once and nowhere else.
    expect(b2.of('publish')).toHaveLength(2)
    expect(b1.of('publish')).toHaveLength(0)
  })

  it('rejects invalid base64 and wildcard device ids; 503 when qos 1 finds no broker', async () => {
    await setup({}, [])
    expect((await post('/v1/push/devices/d1', { payload: 'not base64!', encoding: 'base64' })).json().code).toBe('CIM_INVALID_ARGUMENT')
    expect((await post('/v1/push/devices/a%2B', { payload: 'x' })).statusCode).toBe(400)
    const res = await post('/v1/push/devices/d1', { payload: 'x', qos: 1 })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('CIM_NO_BROKER')
  })
})

describe('POST /v1/push/all', () => {
  it('broadcasts to users with one bus message, and to devices with ONE publish on the broadcast topic', async () => {
    const [b1, b2] = await setup()
    await b1.connect(await register('a'), 'a')
    await b1.connect(await register('b'), 'b')
    await b2.connect(await register('c'), 'c')
    await b1.connectDevice('d1')
    await b2.connectDevice('d2')
    const res = await post('/v1/push/all', { message: 'maintenance at 22:00' })
    expect(res.json()).toEqual({ users: 3, devices: 2 })
    expect(b1.of('broadcast')).toHaveLength(1)
    expect(b2.of('broadcast')).toHaveLength(1)
    expect(b1.of('broadcast')[0]).toMatchObject({ text: 'maintenance at 22:00', properties: { sendUserId: '0', sendUserName: 'system' } })
    const published = [...b1.of('publish'), ...b2.of('publish')]
    expect(published).toEqual([expect.objectContaining({ topic: 'devices/broadcast', payload: Buffer.from('maintenance at 22:00').toString('base64') })])
  })

  it('can leave out devices or users, and answers 503 with no broker', async () => {
    const [b1] = await setup({}, ['b1'])
    await b1.connect(await register('a'), 'a')
    expect((await post('/v1/push/all', { message: 'm', devices: false })).json()).toEqual({ users: 1, devices: 0 })
    expect(b1.of('publish')).toHaveLength(0)
    expect((await post('/v1/push/all', { message: 'm', users: false })).json()).toEqual({ users: 0, devices: 0 })
    expect(b1.of('broadcast')).toHaveLength(1)
    await b1.stop()
    const res = await post('/v1/push/all', { message: 'm' })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('CIM_NO_BROKER')
  })
})

describe('POST /v1/publish', () => {
  it('publishes any topic through a live broker', async () => {
    const [b1, b2] = await setup()
    const res = await post('/v1/publish', { topic: 'alerts/room-1', payload: 'hot', qos: 1, retain: true })
    expect(res.statusCode).toBe(200)
    const { brokerId } = res.json()
    expect(['b1', 'b2']).toContain(brokerId)
    const published = [...b1.of('publish'), ...b2.of('publish')]
    expect(published).toEqual([expect.objectContaining({ topic: 'alerts/room-1', payload: Buffer.from('hot').toString('base64'), qos: 1, retain: true })])
  })

  it('answers 503 CIM_NO_BROKER when every broker is draining, 400 for a wildcard topic', async () => {
    const [b1, b2] = await setup()
    expect((await post('/v1/publish', { topic: 'a/#', payload: 'x' })).statusCode).toBe(400)
    await b1.setDraining(true)
    await b2.setDraining(true)
    const res = await post('/v1/publish', { topic: 'a/b', payload: 'x' })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('CIM_NO_BROKER')
  })

  it('answers 503 CIM_BACKEND_UNAVAILABLE when the broker does not answer', async () => {
    const [b1] = await setup({}, ['b1'])
    b1.silent = true
    const res = await post('/v1/publish', { topic: 'a/b', payload: 'x' })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('CIM_BACKEND_UNAVAILABLE')
  })
})

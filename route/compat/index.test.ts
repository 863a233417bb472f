import { describe, it, expect, afterEach } from 'vitest'
import type { Config } from '../../config.ts'
import { createBalancer } from '../balancer.ts'
import { FakeBroker, routeHarness, type RouteHarness } from '../../test/support/fake-broker.ts'

let h: RouteHarness
let brokers: FakeBroker[] = []
/** Everything a test opened (some tests set up twice, with another configuration). */
let opened: Array<{ h: RouteHarness; brokers: FakeBroker[] }> = []

async function setup(overrides: Partial<Config> = {}, ids = ['b1', 'b2', 'b3']) {
  h = await routeHarness(overrides)
  brokers = []
  for (const [i, id] of ids.entries()) {
    brokers.push(await FakeBroker.start(h.adapters, { id, host: `10.0.0.${i + 1}`, cimPort: 11211 + i, httpPort: 8081 + i }))
  }
  opened.push({ h, brokers })
  return brokers
}
afterEach(async () => {
  for (const o of opened) {
    for (const b of o.brokers) await b.stop()
    await o.h.close()
  }
  opened = []
})

const post = (url: string, payload: object) => h.app.inject({ method: 'POST', url, payload })

/** The upstream SDK's Jackson mapper fails on unknown fields: answers must carry exactly these. */
function expectWrapper(res: { statusCode: number; json(): any }, code: string) {
  expect(res.statusCode).toBe(200)
  const body = res.json()
  expect(Object.keys(body).sort()).toEqual(['code', 'dataBody', 'message', 'reqNo'])
  expect(body.code).toBe(code)
  expect(typeof body.message).toBe('string')
  return body
}

async function register(userName: string): Promise<number> {
  return (await h.adapters.accounts.register(userName)).userId
}

describe('POST /registerAccount', () => {
  it('answers {userId, userName} in the upstream wrapper, idempotent by name, echoing reqNo', async () => {
    await setup()
    const body = expectWrapper(await post('/registerAccount', { reqNo: 'r-1', timeStamp: 0, userName: 'zhangsan' }), '9000')
    expect(body).toEqual({ code: '9000', message: 'Success', reqNo: 'r-1', dataBody: { userId: expect.any(Number), userName: 'zhangsan' } })
    const again = expectWrapper(await post('/registerAccount', { userName: 'zhangsan' }), '9000')
    expect(again.dataBody).toEqual(body.dataBody)
    expect(again.reqNo).toBeNull()
  })
})

describe('POST /login', () => {
  it('answers the broker the configured strategy chooses (consistent hash by userId), and exactly {ip, cimServerPort, httpPort}', async () => {
    await setup()
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const userId = await register(name)
      const body = expectWrapper(await post('/login', { userId, userName: name }), '9000')
      const chosen = createBalancer('consistent-hash').choose(String(userId), h.adapters.discovery.brokers())
      expect(body.dataBody).toEqual({ ip: chosen.host, cimServerPort: chosen.cimPort, httpPort: chosen.httpPort })
      expect(body.reqNo).toBeNull()
    }
  })

  it('uses round-robin, least-connections and skips draining brokers when configured', async () => {
    await setup({ strategy: 'round-robin' })
    const id = await register('a')
    const ports = []
    for (let i = 0; i < 3; i++) ports.push((await post('/login', { userId: id, userName: 'a' })).json().dataBody.cimServerPort)
    expect(ports).toEqual([11211, 11212, 11213])
    await brokers[1].setDraining(true)
    for (let i = 0; i < 4; i++) expect((await post('/login', { userId: id, userName: 'a' })).json().dataBody.cimServerPort).not.toBe(11212)

    await setup({ strategy: 'least-connections' }, [])
    brokers.push(
      await FakeBroker.start(h.adapters, { id: 'busy', connections: 50, cimPort: 1 }),
      await FakeBroker.start(h.adapters, { id: 'idle', connections: 3, cimPort: 2 }),
    )
    const other = await register('b')
    expect((await post('/login', { userId: other, userName: 'b' })).json().dataBody.cimServerPort).toBe(2)
  })

  it('answers 9100 for an unknown account or a wrong name, 7100 with no live broker', async () => {
    await setup({}, [])
    const id = await register('a')
    expect(expectWrapper(await post('/login', { userId: 42, userName: 'a' }), '9100').dataBody).toBeNull()
    expectWrapper(await post('/login', { userId: id, userName: 'not-a' }), '9100')
    expect(expectWrapper(await post('/login', { userId: id, userName: 'a' }), '7100').dataBody).toBeNull()
  })

  it('answers 5000 for a second login with the reject policy, and lets it through with kick-old', async () => {
    const [b1] = await setup()
    const id = await register('a')
    await b1.connect(id, 'a')
    expectWrapper(await post('/login', { userId: id, userName: 'a' }), '5000')
    await b1.stop()
    // Its broker left discovery (crashed): the leftover presence entry is no repeat login.
    expectWrapper(await post('/login', { userId: id, userName: 'a' }), '9000')

    const [k1] = await setup({ repeatLogin: 'kick-old' })
    const other = await register('b')
    await k1.connect(other, 'b')
    expectWrapper(await post('/login', { userId: other, userName: 'b' }), '9000')
  })

  it('answers 3000 in the wrapper (HTTP 200) for invalid JSON, a missing field and a userId over 2^53-1', async () => {
    await setup()
    const bad = await h.app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: '{"userId":' })
    expect(expectWrapper(bad, '3000').dataBody).toBeNull()
    expectWrapper(await post('/login', { userName: 'a' }), '3000')
    const huge = await h.app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: '{"userId":9223372036854775807,"userName":"a"}' })
    expect(expectWrapper(huge, '3000').message).toContain('2^53-1')
  })
})

describe('POST /p2pRoute', () => {
  it('pushes to an online receiver through its broker with the sender metadata → 9000', async () => {
    const [b1, b2] = await setup()
    const from = await register('from')
    const to = await register('to')
    await b2.connect(to, 'to')
    const body = expectWrapper(await post('/p2pRoute', { userId: from, receiveUserId: to, msg: 'hello' }), '9000')
    expect(body.dataBody).toBeNull()
    expect(b2.of('push')).toEqual([expect.objectContaining({ userIds: [to], text: 'hello', properties: { sendUserId: String(from), sendUserName: 'from' } })])
    expect(b1.of('push')).toHaveLength(0)
  })

  it('stores the message for an offline receiver and answers 7000 (upstream behaviour)', async () => {
    await setup()
    const from = await register('from')
    const to = await register('to')
    expectWrapper(await post('/p2pRoute', { userId: from, receiveUserId: to, msg: 'later' }), '7000')
    expect(await h.adapters.inbox.list(to)).toEqual([expect.objectContaining({
      text: 'later', properties: { sendUserId: String(from), sendUserName: 'from', receiveUserId: String(to) },
    })])
  })

  it('sends every text of batchMsg (the SDK sends a batch without msg)', async () => {
    const [b1] = await setup()
    const from = await register('from')
    const to = await register('to')
    await b1.connect(to, 'to')
    expectWrapper(await post('/p2pRoute', { userId: from, receiveUserId: to, batchMsg: ['a', 'b', 'c'] }), '9000')
    expect(b1.of('push').map((p) => p.text)).toEqual(['a', 'b', 'c'])
  })

  it('answers 9100 for an unknown sender, 3000 with neither msg nor batchMsg', async () => {
    await setup()
    const to = await register('to')
    expectWrapper(await post('/p2pRoute', { userId: 5, receiveUserId: to, msg: 'x' }), '9100')
    expectWrapper(await post('/p2pRoute', { userId: to, receiveUserId: to, batchMsg: null }), '3000')
  })
})

describe('POST /groupRoute', () => {
  it('sends ONE bus message per broker to every online user but the sender → 9000', async () => {
    const [b1, b2, b3] = await setup()
    const ids = await Promise.all(['s', 'a', 'b', 'c', 'd'].map(register))
    await b1.connect(ids[0], 's')
    await b1.connect(ids[1], 'a')
    await b2.connect(ids[2], 'b')
    await b2.connect(ids[3], 'c')
    await b2.connect(ids[4], 'd')
    expectWrapper(await post('/groupRoute', { userId: ids[0], msg: 'hi all' }), '9000')
    expect(b1.of('push')).toEqual([expect.objectContaining({ userIds: [ids[1]], text: 'hi all', properties: { sendUserId: String(ids[0]), sendUserName: 's' } })])
    expect(b2.of('push')).toHaveLength(1)
    expect(b2.of('push')[0].userIds.sort()).toEqual(ids.slice(2).sort())
    expect(b3.of('push')).toHaveLength(0)
  })
})

describe('POST /offLine', () => {
  it("kicks the user's connection and clears its presence → 9000; 9000 as well when not online", async () => {
    const [b1] = await setup()
    const id = await register('a')
    await b1.connect(id, 'a')
    expectWrapper(await post('/offLine', { userId: id, msg: 'offLine' }), '9000')
    expect(b1.of('kick')).toEqual([expect.objectContaining({ userId: id, connId: `b1/${id}` })])
    expect(await h.adapters.presence.users.get(String(id))).toBeUndefined()
    expectWrapper(await post('/offLine', { userId: id }), '9000')
  })
})

describe('GET /onlineUser', () => {
  it('answers every online user as exactly {userId, userName}', async () => {
    const [b1, b2] = await setup()
    const a = await register('a')
    const b = await register('b')
    await b1.connect(a, 'a')
    await b2.connect(b, 'b')
    const body = expectWrapper(await h.app.inject({ method: 'GET', url: '/onlineUser' }), '9000')
    expect(body.reqNo).toBeNull()
    expect(body.dataBody).toEqual(expect.arrayContaining([{ userId: a, userName: 'a' }, { userId: b, userName: 'b' }]))
    expect(body.dataBody).toHaveLength(2)
    for (const u of body.dataBody) expect(Object.keys(u).sort()).toEqual(['userId', 'userName'])
  })
})

describe('POST /fetchOfflineMsgs', () => {
  it("asks the user's broker to replay stored messages when online → 9000", async () => {
    const [b1, b2] = await setup()
    const id = await register('a')
    expectWrapper(await post('/fetchOfflineMsgs', { receiveUserId: id }), '9000')
    expect(b1.of('replay').length + b2.of('replay').length).toBe(0)
    await b2.connect(id, 'a')
    expectWrapper(await post('/fetchOfflineMsgs', { receiveUserId: id }), '9000')
    expect(b2.of('replay')).toEqual([{ type: 'replay', userId: id }])
  })
})

import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'
import { brokerChannel, type BusMessage } from '../../../adapters/bus/index.ts'

let h: RouteHarness
let b1: FakeBroker
let b2: FakeBroker

beforeEach(async () => {
  h = await routeHarness()
  b1 = await FakeBroker.start(h.adapters, { id: 'b1' })
  b2 = await FakeBroker.start(h.adapters, { id: 'b2' })
})
afterEach(async () => { await b1.stop(); await b2.stop(); await h.close() })

async function register(userName: string): Promise<number> {
  return (await h.app.inject({ method: 'POST', url: '/v1/users', payload: { userName } })).json().userId
}

describe('POST /v1/users', () => {
  it('creates an account (201), and answers the same one for the same name (200)', async () => {
    const first = await h.app.inject({ method: 'POST', url: '/v1/users', payload: { userName: 'zhangsan' } })
    expect(first.statusCode).toBe(201)
    expect(first.json()).toEqual({ userId: expect.any(Number), userName: 'zhangsan' })
    const again = await h.app.inject({ method: 'POST', url: '/v1/users', payload: { userName: 'zhangsan' } })
    expect(again.statusCode).toBe(200)
    expect(again.json()).toEqual(first.json())
  })

  it('rejects an empty name', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/users', payload: { userName: '' } })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('CIM_INVALID_ARGUMENT')
  })
})

describe('GET /v1/users/online', () => {
  it('pages through online users with their broker', async () => {
    const ids = [await register('a'), await register('b'), await register('c')]
    await b1.connect(ids[0], 'a')
    await b2.connect(ids[1], 'b')
    await b2.connect(ids[2], 'c')
    const seen: unknown[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const res = await h.app.inject({ method: 'GET', url: '/v1/users/online', query: { limit: '2', ...(cursor ? { cursor } : {}) } })
      expect(res.statusCode).toBe(200)
      seen.push(...res.json().items)
      cursor = res.json().next
      pages++
    } while (cursor)
    expect(pages).toBe(2)
    expect(seen).toEqual(expect.arrayContaining([
      { userId: ids[0], userName: 'a', brokerId: 'b1' },
      { userId: ids[1], userName: 'b', brokerId: 'b2' },
      { userId: ids[2], userName: 'c', brokerId: 'b2' },
    ]))
    expect(seen).toHaveLength(3)
  })

  it('rejects a limit over 1000', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v1/users/online?limit=5000' })
    expect(res.statusCode).toBe(400)
  })
})

describe('GET /v1/users/{userId}/presence', () => {
  it('answers online with broker and login time, offline for a registered user, 404 for an unknown one', async () => {
    const id = await register('a')
    expect((await h.app.inject({ method: 'GET', url: `/v1/users/${id}/presence` })).json()).toEqual({ online: false })
    await b1.connect(id, 'a')
    expect((await h.app.inject({ method: 'GET', url: `/v1/users/${id}/presence` })).json()).toEqual({ online: true, brokerId: 'b1', since: 1000 })
    const unknown = await h.app.inject({ method: 'GET', url: '/v1/users/12345/presence' })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().code).toBe('CIM_USER_NOT_FOUND')
  })

  it('rejects a userId that is not a positive integer', async () => {
    for (const bad of ['abc', '0', '1.5']) {
      const res = await h.app.inject({ method: 'GET', url: `/v1/users/${bad}/presence` })
      expect(res.statusCode).toBe(400)
      expect(res.json().code).toBe('CIM_INVALID_ARGUMENT')
    }
  })
})

describe('DELETE /v1/users/{userId}/connection', () => {
  it('asks the holding broker to kick with CIM_ADMIN_KICK', async () => {
    const id = await register('a')
    await b2.connect(id, 'a')
    const res = await h.app.inject({ method: 'DELETE', url: `/v1/users/${id}/connection` })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ kicked: true })
    expect(b2.of('kick')).toEqual([expect.objectContaining({ userId: id, connId: `b2/${id}`, code: 'CIM_ADMIN_KICK' })])
    expect(b1.of('kick')).toHaveLength(0)
    expect(await h.adapters.presence.users.get(String(id))).toBeUndefined()
  })

  it('answers 404 CIM_USER_OFFLINE for a user who is not online', async () => {
    const res = await h.app.inject({ method: 'DELETE', url: `/v1/users/${await register('a')}/connection` })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('CIM_USER_OFFLINE')
  })

  it('clears a stale presence entry when the broker does not answer', async () => {
    const id = await register('a')
    await b1.connect(id, 'a')
    b1.silent = true
    const res = await h.app.inject({ method: 'DELETE', url: `/v1/users/${id}/connection` })
    expect(res.json()).toEqual({ kicked: false })
    expect(await h.adapters.presence.users.get(String(id))).toBeUndefined()
  })

  it('treats a user of a broker that left discovery as offline, asking nobody, like /offLine does', async () => {
    const id = await register('a')
    await b1.connect(id, 'a')
    await b1.stop() // crashed: out of discovery, its presence entry lives until the TTL
    const sent: BusMessage[] = []
    await h.adapters.bus.subscribe(brokerChannel('b1'), (m) => sent.push(m))

    expect((await h.app.inject({ method: 'GET', url: `/v1/users/${id}/presence` })).json()).toEqual({ online: false })
    const res = await h.app.inject({ method: 'DELETE', url: `/v1/users/${id}/connection` })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('CIM_USER_OFFLINE')
    const offLine = await h.app.inject({ method: 'POST', url: '/offLine', payload: { userId: id } })
    expect(offLine.json().code).toBe('9000')
    // Neither endpoint sent a kick to the gone broker (it would only have cost a delivery timeout).
    expect(sent.filter((m) => m.type === 'kick')).toEqual([])
  })
})

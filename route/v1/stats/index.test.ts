import { describe, it, expect, afterEach } from 'vitest'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'
import { sleep } from '../../../test/support/wait.ts'
import { storedBytesOf } from '../../../adapters/inbox/index.ts'

let h: RouteHarness
afterEach(async () => { await h.close() })

describe('GET /v1/stats', () => {
  it('shows stored and expired inbox messages, the bounds, who is online and the broker count', async () => {
    h = await routeHarness({ inboxMaxPerUser: 5, inboxTtlSeconds: 60 })
    const b1 = await FakeBroker.start(h.adapters, { id: 'b1' })
    const on = (await h.adapters.accounts.register('on')).userId
    const off = (await h.adapters.accounts.register('off')).userId
    await b1.connect(on, 'on')
    await b1.connectDevice('d1')
    const push = (userId: number, body: object) => h.app.inject({ method: 'POST', url: `/v1/push/users/${userId}`, payload: body })
    await push(off, { message: 'kept', qos: 1 })
    await push(off, { message: 'short-lived', qos: 1, ttlSeconds: 1 })
    await push(on, { message: 'fire and forget' })
    const before = (await h.app.inject({ method: 'GET', url: '/v1/stats' })).json()
    expect(before).toEqual({
      inbox: { stored: 2, expired: 0, bytes: expect.any(Number), maxPerUser: 5, maxBytesPerUser: 8 * 1024 * 1024, maxTotalBytes: 1024 * 1024 * 1024, ttlSeconds: 60 },
      online: { users: 1, devices: 1 },
      brokers: 1,
    })
    await sleep(1100)
    const after = await h.app.inject({ method: 'GET', url: '/v1/stats' })
    expect(after.statusCode).toBe(200)
    expect(after.json().inbox).toMatchObject({ stored: 1, expired: 1, maxPerUser: 5, ttlSeconds: 60 })
    // What is left: 'kept', its msgId (a UUID), its properties and the per-message overhead.
    const [kept] = await h.adapters.inbox.list(off)
    expect(after.json().inbox.bytes).toBe(storedBytesOf(kept))
    await b1.stop()
  })
})

import { describe, it, expect, afterEach } from 'vitest'
import { FakeBroker, routeHarness, type RouteHarness } from '../../test/support/fake-broker.ts'
import { SHUTDOWN_RETRY_AFTER_SECONDS } from './draining.ts'

let h: RouteHarness
let broker: FakeBroker
afterEach(async () => {
  await broker.stop()
  await h.close()
})

describe('route shutdown (app.stopAccepting)', () => {
  it('answers writes 503 CIM_SHUTTING_DOWN with Retry-After (compat ones in their format), keeps answering reads, and waits for writes in flight', async () => {
    h = await routeHarness()
    broker = await FakeBroker.start(h.adapters, { id: 'b1' })
    const { userId } = await h.adapters.accounts.register('ann')
    const inFlight = h.app.inject({ method: 'POST', url: `/v1/push/users/${userId}`, payload: { message: 'before', qos: 1 } })
    await new Promise((r) => setImmediate(r))
    await h.app.stopAccepting(5_000)
    expect((await inFlight).json().results[0].status).toBe('queued')

    const refused = await h.app.inject({ method: 'POST', url: `/v1/push/users/${userId}`, payload: { message: 'after', qos: 1 } })
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe(String(SHUTDOWN_RETRY_AFTER_SECONDS))
    expect(refused.json()).toMatchObject({ statusCode: 503, code: 'CIM_SHUTTING_DOWN' })
    const compat = await h.app.inject({ method: 'POST', url: '/p2pRoute', payload: { userId: 1, receiveUserId: userId, msg: 'x' } })
    expect(compat.json().code).toBe('7100')
    expect((await h.app.inject({ method: 'GET', url: `/v1/users/${userId}/presence` })).statusCode).toBe(200)
    expect((await h.adapters.inbox.list(userId)).map((m) => m.text)).toEqual(['before'])
  })
})

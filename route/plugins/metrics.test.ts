import { describe, it, expect, afterEach } from 'vitest'
import { FakeBroker, routeHarness, type RouteHarness } from '../../test/support/fake-broker.ts'

let h: RouteHarness
let broker: FakeBroker
afterEach(async () => {
  await broker.stop()
  await h.close()
})

const post = (url: string, payload: object) => h.app.inject({ method: 'POST', url, payload })
const metrics = async () => {
  const res = await h.app.inject({ method: 'GET', url: '/metrics' })
  expect(res.statusCode).toBe(200)
  expect(res.headers['content-type']).toContain('text/plain')
  return res.body
}

describe('GET /metrics on the route', () => {
  it('counts requests by route template and status, push results by status, and bus round trips', async () => {
    h = await routeHarness()
    broker = await FakeBroker.start(h.adapters, { id: 'b1' })
    const online = (await h.adapters.accounts.register('ann')).userId
    const offline = (await h.adapters.accounts.register('bob')).userId
    await broker.connect(online, 'ann')
    await broker.connectDevice('sensor-1')

    expect((await post(`/v1/push/users/${online}`, { message: 'hi' })).statusCode).toBe(200)
    expect((await post('/v1/push/users', { userIds: [online, offline], message: 'hi', qos: 1 })).statusCode).toBe(200)
    expect((await post('/v1/push/devices/sensor-1', { payload: 'x' })).statusCode).toBe(200)
    expect((await post('/v1/push/devices/sensor-2', { payload: 'x' })).statusCode).toBe(200)
    expect((await post('/v1/push/users/123456789', { message: 'hi' })).statusCode).toBe(404)

    const text = await metrics()
    // The route template, never the raw URL (one series per route, however many users).
    expect(text).toMatch(/^cim_route_http_request_duration_seconds_count\{method="POST",route="\/v1\/push\/users\/:userId",status="200"\} 1$/m)
    expect(text).toMatch(/^cim_route_http_request_duration_seconds_count\{method="POST",route="\/v1\/push\/users\/:userId",status="404"\} 1$/m)
    expect(text).toMatch(/^cim_route_http_request_duration_seconds_count\{method="POST",route="\/v1\/push\/devices\/:deviceId",status="200"\} 2$/m)
    expect(text).not.toContain(`/v1/push/users/${online}`)

    expect(text).toMatch(/^cim_route_push_results_total\{target="user",status="delivered"\} 2$/m)
    expect(text).toMatch(/^cim_route_push_results_total\{target="user",status="queued"\} 1$/m)
    expect(text).toMatch(/^cim_route_push_results_total\{target="user",status="rejected"\} 1$/m)
    expect(text).toMatch(/^cim_route_push_results_total\{target="device",status="delivered"\} 1$/m)
    expect(text).toMatch(/^cim_route_push_results_total\{target="device",status="offline"\} 1$/m)

    // Two user pushes and one device publish crossed the bus.
    expect(text).toMatch(/^cim_route_bus_round_trip_seconds_count\{request="push"\} 2$/m)
    expect(text).toMatch(/^cim_route_bus_round_trip_seconds_count\{request="publish"\} 1$/m)
  })

  it('reports the inbox (stored, bytes, expired) and the process, read at scrape time', async () => {
    h = await routeHarness()
    broker = await FakeBroker.start(h.adapters, { id: 'b1' })
    const ts = Date.now()
    await h.adapters.inbox.append(1, { msgId: 'm1', text: 'kept', properties: {}, ts, ttlMs: 60_000 })
    await h.adapters.inbox.append(1, { msgId: 'm2', text: 'gone', properties: {}, ts: ts - 10, ttlMs: 1 })
    const text = await metrics()
    expect(text).toMatch(/^cim_inbox_stored_messages 1$/m)
    expect(text).toMatch(/^cim_inbox_expired_total 1$/m)
    expect(Number(/^cim_inbox_stored_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(512)
    expect(text).toMatch(/^process_cpu_user_seconds_total /m)
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m)
  })

  it('has its own registry per app and stays out of the OpenAPI document', async () => {
    h = await routeHarness()
    broker = await FakeBroker.start(h.adapters, { id: 'b1' })
    const other = await routeHarness()
    try {
      await post('/v1/push/all', { message: 'hi' })
      expect(await metrics()).toMatch(/route="\/v1\/push\/all"/)
      const res = await other.app.inject({ method: 'GET', url: '/metrics' })
      expect(res.body).not.toMatch(/route="\/v1\/push\/all"/)
      const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json()
      expect(doc.paths['/metrics']).toBeUndefined()
    } finally {
      await other.close()
    }
  })
})

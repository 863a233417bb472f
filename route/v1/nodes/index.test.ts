import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'

let h: RouteHarness
beforeEach(async () => { h = await routeHarness() })
afterEach(async () => { await h.close() })

describe('GET /v1/nodes', () => {
  it('lists the brokers in discovery, sorted by id, with ports, connections and draining flag', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/v1/nodes' })).json()).toEqual({ items: [] })
    const b2 = await FakeBroker.start(h.adapters, { id: 'b2', host: '10.0.0.2', connections: 7 })
    const b1 = await FakeBroker.start(h.adapters, { id: 'b1', cimPort: 21211, mqttPort: 0 })
    await b2.setDraining(true)
    const res = await h.app.inject({ method: 'GET', url: '/v1/nodes' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      items: [
        { id: 'b1', host: '10.0.0.1', cimPort: 21211, httpPort: 8081, mqttPort: 0, wsPort: 9001, connections: 0, draining: false, startedAt: 1 },
        { id: 'b2', host: '10.0.0.2', cimPort: 11211, httpPort: 8081, mqttPort: 1883, wsPort: 9001, connections: 7, draining: true, startedAt: 1 },
      ],
    })
    await b1.stop()
    await b2.stop()
  })
})

import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'

let h: RouteHarness
let b1: FakeBroker

beforeEach(async () => {
  h = await routeHarness()
  b1 = await FakeBroker.start(h.adapters, { id: 'b1' })
})
afterEach(async () => { await b1.stop(); await h.close() })

describe('GET /v1/devices/online', () => {
  it('pages through connected devices with their broker and connect time', async () => {
    for (const d of ['d1', 'd2', 'd3']) await b1.connectDevice(d)
    const first = await h.app.inject({ method: 'GET', url: '/v1/devices/online?limit=2' })
    expect(first.statusCode).toBe(200)
    expect(first.json().items).toHaveLength(2)
    expect(first.json().next).toEqual(expect.any(String))
    const second = await h.app.inject({ method: 'GET', url: '/v1/devices/online', query: { limit: '2', cursor: first.json().next } })
    expect(second.json().next).toBeUndefined()
    const all = [...first.json().items, ...second.json().items]
    expect(all).toEqual(expect.arrayContaining(['d1', 'd2', 'd3'].map((deviceId) => ({ deviceId, brokerId: 'b1', since: 2000 }))))
    expect(all).toHaveLength(3)
  })

  it('answers an empty page when nothing is connected, and 400 for an unknown query field', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/v1/devices/online' })).json()).toEqual({ items: [] })
    const res = await h.app.inject({ method: 'GET', url: '/v1/devices/online?page=2' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('CIM_INVALID_ARGUMENT')
  })
})

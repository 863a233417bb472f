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

describe('device tokens', () => {
  const SECRET = 'device-token-test-secret-32-bytes!!'

  it('POST /devices/{id}/token mints a device token (no body), or one with a role and ttl', async () => {
    const s = await routeHarness({ tokenSecret: SECRET })
    try {
      const res = await s.app.inject({ method: 'POST', url: '/v1/devices/meter-7/token' })
      expect(res.statusCode).toBe(200)
      const { token, expiresAt } = res.json()
      expect(expiresAt).toBeGreaterThan(Date.now() / 1000 + 3500)
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
      expect(claims).toMatchObject({ sub: 'meter-7', kind: 'device' })
      expect(claims.role).toBeUndefined()
      const mon = await s.app.inject({ method: 'POST', url: '/v1/devices/dash/token', payload: { role: 'monitor', ttlSeconds: 60 } })
      expect(JSON.parse(Buffer.from(mon.json().token.split('.')[1], 'base64url').toString())).toMatchObject({ sub: 'dash', role: 'monitor' })
      expect(mon.json().expiresAt).toBeLessThanOrEqual(Date.now() / 1000 + 61)
      const bad = await s.app.inject({ method: 'POST', url: '/v1/devices/x/token', payload: { role: 'root' } })
      expect(bad.statusCode).toBe(400)
      expect((await s.app.inject({ method: 'POST', url: '/v1/devices/a%2B/token' })).statusCode).toBe(400)
    } finally { await s.close() }
  })

  it('answers 501 CIM_NOT_CONFIGURED without a signing key', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/devices/meter-7/token' })
    expect(res.statusCode).toBe(501)
    expect(res.json().code).toBe('CIM_NOT_CONFIGURED')
  })

  it('DELETE /devices/{id}/tokens revokes and asks every broker to disconnect the device', async () => {
    const b2 = await FakeBroker.start(h.adapters, { id: 'b2' })
    try {
      await b2.connectDevice('d9')
      const res = await h.app.inject({ method: 'DELETE', url: '/v1/devices/d9/tokens' })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ revoked: true, disconnected: true })
      expect(await h.adapters.revocations.revokedAt('device', 'd9')).toBeGreaterThan(0)
      expect(b1.of('disconnectDevice')).toEqual([expect.objectContaining({ deviceId: 'd9', code: 'CIM_TOKEN_REVOKED' })])
      expect(b2.of('disconnectDevice')).toHaveLength(1)
      const again = await h.app.inject({ method: 'DELETE', url: '/v1/devices/d9/tokens' })
      expect(again.json()).toEqual({ revoked: true, disconnected: false })
    } finally { await b2.stop() }
  })
})

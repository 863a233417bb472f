/** POST /v1/users/{userId}/token and DELETE /v1/users/{userId}/tokens (docs/security.md, Tokens and Revocation). */
import { describe, it, expect, afterEach } from 'vitest'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'
import { createTokenService } from '../../../security/tokens.ts'

const SECRET = 'route-test-secret-route-test-secret'
const open: Array<{ stop?: () => Promise<void>; close?: () => Promise<void> }> = []
afterEach(async () => { for (const o of open.splice(0).reverse()) await (o.stop ?? o.close)!.call(o) })

async function harness(tokenSecret = SECRET): Promise<RouteHarness> {
  const h = await routeHarness({ tokenSecret, tokenTtlSeconds: 600 })
  open.push(h)
  return h
}

async function register(h: RouteHarness, userName: string): Promise<number> {
  return (await h.app.inject({ method: 'POST', url: '/v1/users', payload: { userName } })).json().userId
}

describe('POST /v1/users/{userId}/token', () => {
  it('mints a user token the broker accepts for this userId', async () => {
    const h = await harness()
    const id = await register(h, 'alice')
    const res = await h.app.inject({ method: 'POST', url: `/v1/users/${id}/token` })
    expect(res.statusCode).toBe(200)
    const { token, expiresAt } = res.json()
    const now = Math.floor(Date.now() / 1000)
    expect(expiresAt).toBeGreaterThanOrEqual(now + 599)
    expect(expiresAt).toBeLessThanOrEqual(now + 601)
    const broker = createTokenService({ tokenSecret: SECRET, tokenPublicKey: '' }, h.adapters.revocations)
    expect(await broker.verify(token, 'user')).toMatchObject({ sub: String(id), kind: 'user', exp: expiresAt })
    await expect(broker.verify(token, 'device')).rejects.toMatchObject({ code: 'CIM_UNAUTHORIZED' })
  })

  it('takes a shorter lifetime as ?ttlSeconds', async () => {
    const h = await harness()
    const id = await register(h, 'alice')
    const res = await h.app.inject({ method: 'POST', url: `/v1/users/${id}/token?ttlSeconds=5` })
    expect(res.json().expiresAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 6)
    const bad = await h.app.inject({ method: 'POST', url: `/v1/users/${id}/token?ttlSeconds=0` })
    expect(bad.statusCode).toBe(400)
  })

  it('answers 404 CIM_USER_NOT_FOUND for an unknown user', async () => {
    const res = await (await harness()).app.inject({ method: 'POST', url: '/v1/users/999999/token' })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('CIM_USER_NOT_FOUND')
  })

  it('answers 501 CIM_NOT_CONFIGURED without a signing key', async () => {
    const h = await harness('')
    const res = await h.app.inject({ method: 'POST', url: `/v1/users/${await register(h, 'alice')}/token` })
    expect(res.statusCode).toBe(501)
    expect(res.json().code).toBe('CIM_NOT_CONFIGURED')
  })
})

describe('DELETE /v1/users/{userId}/tokens', () => {
  it('revokes earlier tokens, kicks the live connection with CIM_TOKEN_REVOKED, and a new token works', async () => {
    const h = await harness()
    const b2 = await FakeBroker.start(h.adapters, { id: 'b2' })
    open.push(b2)
    const id = await register(h, 'alice')
    const before = (await h.app.inject({ method: 'POST', url: `/v1/users/${id}/token` })).json().token
    await b2.connect(id, 'alice')
    const res = await h.app.inject({ method: 'DELETE', url: `/v1/users/${id}/tokens` })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ revoked: true, kicked: true })
    expect(b2.of('kick')).toEqual([expect.objectContaining({ userId: id, code: 'CIM_TOKEN_REVOKED' })])

    const broker = createTokenService({ tokenSecret: SECRET, tokenPublicKey: '' }, h.adapters.revocations)
    await expect(broker.verify(before, 'user')).rejects.toMatchObject({ code: 'CIM_TOKEN_REVOKED' })
    // Minted in the same second as the revocation: still good.
    const after = (await h.app.inject({ method: 'POST', url: `/v1/users/${id}/token` })).json().token
    expect(await broker.verify(after, 'user')).toMatchObject({ sub: String(id) })

    // Offline: revoked, nothing to kick.
    expect((await h.app.inject({ method: 'DELETE', url: `/v1/users/${id}/tokens` })).json()).toEqual({ revoked: true, kicked: false })
  })

  it('answers 404 CIM_USER_NOT_FOUND for an unknown user', async () => {
    const res = await (await harness()).app.inject({ method: 'DELETE', url: '/v1/users/999999/tokens' })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('CIM_USER_NOT_FOUND')
  })
})

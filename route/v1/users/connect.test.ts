/** POST /v1/users/{userId}/connect: the SDK's broker choice (docs/security.md, Tokens). */
import { describe, it, expect, afterEach } from 'vitest'
import { SignJWT } from 'jose'
import type { Config } from '../../../config.ts'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'
import { createTokenService } from '../../../security/tokens.ts'

const SECRET = 'connect-test-secret-connect-test-secret'
const opened: Array<{ stop?: () => Promise<void>; close?: () => Promise<void> }> = []
afterEach(async () => { for (const o of opened.splice(0).reverse()) await (o.stop ?? o.close)!.call(o) })

/** A route (compat off unless overridden) with one fake broker `b1`, and a registered user. */
async function setup(overrides: Partial<Config> = {}, brokers = 1): Promise<{ h: RouteHarness; id: number; b: FakeBroker[] }> {
  const h = await routeHarness({ compat: false, ...overrides })
  opened.push(h)
  const b: FakeBroker[] = []
  for (let i = 1; i <= brokers; i++) {
    b.push(await FakeBroker.start(h.adapters, { id: `b${i}`, host: `10.0.0.${i}`, cimPort: 11210 + i, httpPort: 8080 + i }))
    opened.push(b[i - 1])
  }
  return { h, id: (await h.adapters.accounts.register('alice')).userId, b }
}

const connect = (h: RouteHarness, userId: number, body: object = {}) =>
  h.app.inject({ method: 'POST', url: `/v1/users/${userId}/connect`, payload: body })

const userToken = (h: RouteHarness, sub: number | string) =>
  createTokenService({ tokenSecret: SECRET, tokenPublicKey: '' }, h.adapters.revocations).mint('user', String(sub)).then((t) => t.token)

function expectError(res: { statusCode: number; json(): any }, status: number, code: string): void {
  expect({ status: res.statusCode, code: res.json().code }).toEqual({ status, code })
}

describe('POST /v1/users/{userId}/connect', () => {
  it('open mode (no token key): answers the chosen broker, without an API key even when keys are set', async () => {
    const { h, id } = await setup({ apiKeys: 'the-backend-key' })
    const res = await connect(h, id)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ brokerId: 'b1', host: '10.0.0.1', cimPort: 11211, httpPort: 8081 })
    // A token is ignored without a key to check it with, as the broker ignores it.
    expect((await connect(h, id, { token: 'anything' })).statusCode).toBe(200)
    expectError(await connect(h, 999_999), 404, 'CIM_USER_NOT_FOUND')
  })

  it('names the CIM TLS port when the broker registered one', async () => {
    const h = await routeHarness({ compat: false })
    opened.push(h)
    opened.push(await FakeBroker.start(h.adapters, { id: 'tls', cimTlsPort: 11443 }))
    const id = (await h.adapters.accounts.register('alice')).userId
    expect((await connect(h, id)).json()).toMatchObject({ brokerId: 'tls', cimTlsPort: 11443 })
  })

  it('with a token key: the token is required and must be this user\'s', async () => {
    const { h, id } = await setup({ tokenSecret: SECRET })
    const bob = (await h.adapters.accounts.register('bob')).userId
    expectError(await connect(h, id), 401, 'CIM_UNAUTHORIZED')
    expectError(await connect(h, id, { token: 'garbage' }), 401, 'CIM_UNAUTHORIZED')
    expectError(await connect(h, id, { token: await userToken(h, bob) }), 401, 'CIM_UNAUTHORIZED')
    const deviceToken = (await createTokenService({ tokenSecret: SECRET, tokenPublicKey: '' }, h.adapters.revocations)
      .mint('device', String(id))).token
    expectError(await connect(h, id, { token: deviceToken }), 401, 'CIM_UNAUTHORIZED')
    const forged = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(id))
      .setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode('not-the-secret-not-the-secret-!!'))
    expectError(await connect(h, id, { token: forged }), 401, 'CIM_UNAUTHORIZED')
    const ok = await connect(h, id, { token: await userToken(h, id) })
    expect(ok.statusCode).toBe(200)
    expect(ok.json().brokerId).toBe('b1')
  })

  it('refuses an expired token with CIM_TOKEN_EXPIRED and a revoked one with CIM_TOKEN_REVOKED', async () => {
    const { h, id } = await setup({ tokenSecret: SECRET })
    const now = Math.floor(Date.now() / 1000)
    const expired = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(id))
      .setIssuedAt(now - 10).setExpirationTime(now - 5).sign(new TextEncoder().encode(SECRET))
    expectError(await connect(h, id, { token: expired }), 401, 'CIM_TOKEN_EXPIRED')
    const token = await userToken(h, id)
    await h.adapters.revocations.revoke('user', String(id), now + 1)
    expectError(await connect(h, id, { token }), 401, 'CIM_TOKEN_REVOKED')
  })

  it('with compat on: no token is let through as /login is; a token sent is still checked', async () => {
    const { h, id } = await setup({ tokenSecret: SECRET, compat: true })
    expect((await connect(h, id)).statusCode).toBe(200)
    expectError(await connect(h, id, { token: 'garbage' }), 401, 'CIM_UNAUTHORIZED')
  })

  it('answers 409 CIM_REPEAT_LOGIN for an online user with the reject policy, not with kick-old', async () => {
    const { h, id, b } = await setup({ repeatLogin: 'reject' })
    await b[0].connect(id, 'alice')
    expectError(await connect(h, id), 409, 'CIM_REPEAT_LOGIN')
    // Its broker left discovery (crashed): the leftover presence entry is no repeat login.
    await b[0].stop()
    const b2 = await FakeBroker.start(h.adapters, { id: 'b2' })
    opened.push(b2)
    expect((await connect(h, id)).json().brokerId).toBe('b2')

    const kickOld = await setup({ repeatLogin: 'kick-old' })
    await kickOld.b[0].connect(kickOld.id, 'alice')
    expect((await connect(kickOld.h, kickOld.id)).statusCode).toBe(200)
  })

  it('answers 503 CIM_NO_BROKER with no broker or only draining ones', async () => {
    const { h, id, b } = await setup()
    await b[0].setDraining(true)
    expectError(await connect(h, id), 503, 'CIM_NO_BROKER')
    await b[0].stop()
    expectError(await connect(h, id), 503, 'CIM_NO_BROKER')
  })

  it('spreads users over brokers as /login does (same strategy, same choice)', async () => {
    const { h } = await setup({ compat: true, strategy: 'consistent-hash' }, 3)
    for (const name of ['u1', 'u2', 'u3', 'u4', 'u5']) {
      const { userId } = await h.adapters.accounts.register(name)
      const v1 = (await connect(h, userId)).json()
      const compat = (await h.app.inject({ method: 'POST', url: '/login', payload: { userId, userName: name } })).json().dataBody
      expect({ ip: v1.host, cimServerPort: v1.cimPort, httpPort: v1.httpPort }).toEqual(compat)
    }
  })

  it('answers 400 for a malformed body', async () => {
    const { h, id } = await setup()
    expectError(await connect(h, id, { token: 42 }), 400, 'CIM_INVALID_ARGUMENT')
    expectError(await connect(h, id, { token: 'x', userName: 'alice' }), 400, 'CIM_INVALID_ARGUMENT')
  })

  it('avoid: picks another broker than the ones the client could not reach, unless none is left', async () => {
    const { h, id } = await setup({ strategy: 'round-robin' }, 2)
    for (let i = 0; i < 4; i++) expect((await connect(h, id, { avoid: ['b1'] })).json().brokerId).toBe('b2')
    // Only unreachable brokers listed: the choice falls back to them rather than failing.
    expect(['b1', 'b2']).toContain((await connect(h, id, { avoid: ['b1', 'b2'] })).json().brokerId)
    expect((await connect(h, id, { avoid: Array.from({ length: 17 }, (_, i) => `x${i}`) })).statusCode).toBe(400)
  })
})

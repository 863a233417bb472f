/**
 * Issue 8 item 2, user login tokens, over real sockets (docs/security.md, Tokens and Revocation):
 * alice impersonation (no token, a forged one, bob's, a device token), an expired token, a revoked
 * token and the kick of the live connection on another broker, on memory and Redis adapters; the
 * SDK with a token provider that renews; the upstream token-less flow with compat on.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { SignJWT } from 'jose'
import { BaseCommand } from '../proto/codec.ts'
import { CimClient, type CimMessage } from '../client/index.ts'
import { createTokenService } from '../security/tokens.ts'
import { startNodes, type StoreKind, type TestNodes } from './support/nodes.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { RawClient, postJson } from './support/wire.ts'
import { eventually, sleep } from './support/wait.ts'
import type { Config } from '../config.ts'

const SECRET = 'security-users-test-secret-0123456789'
const PROTO2 = { proto: '2' }

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const opened: Array<{ close(): unknown }> = []
afterEach(async () => { for (const c of opened.splice(0).reverse()) await c.close() })

async function nodes(kind: StoreKind, overrides: Partial<Config> = {}, brokers = 2): Promise<TestNodes> {
  const n = await startNodes(kind, { tokenSecret: SECRET, compat: false, ...overrides }, { brokers, redisUrl: redis.url })
  opened.push(n)
  return n
}

async function register(n: TestNodes, userName: string): Promise<number> {
  return (await postJson(`${n.routeUrl}/v1/users`, { userName })).body.userId as number
}

async function mint(n: TestNodes, userId: number, ttlSeconds?: number): Promise<string> {
  const res = await postJson(`${n.routeUrl}/v1/users/${userId}/token${ttlSeconds ? `?ttlSeconds=${ttlSeconds}` : ''}`, {})
  expect(res.status).toBe(200)
  return res.body.token as string
}

/** Logs in on broker `i` with a raw socket; the LOGIN_REPLY code. */
async function rawLogin(n: TestNodes, i: number, userId: number, userName: string, token?: string): Promise<{ c: RawClient; code: string }> {
  const c = await RawClient.connect(n.brokers[i].ports.cimPort)
  opened.push(c)
  c.login(userId, userName, token === undefined ? PROTO2 : { ...PROTO2, token })
  const code = (await c.frame(BaseCommand.LOGIN_REPLY)).properties.code ?? ''
  if (code !== '9000') await c.waitClosed()
  return { c, code }
}

const hs256 = (secret: string) => new TextEncoder().encode(secret)

describe.each(['memory', 'redis'] as StoreKind[])('CIM login tokens (%s)', (kind) => {
  it('alice impersonation: no token, a forged one, bob\'s, or a device token are refused; hers works', async () => {
    const n = await nodes(kind)
    const alice = await register(n, 'alice')
    const bob = await register(n, 'bob')
    expect((await rawLogin(n, 0, alice, 'alice')).code).toBe('CIM_UNAUTHORIZED')
    expect((await rawLogin(n, 0, alice, 'alice', 'garbage')).code).toBe('CIM_UNAUTHORIZED')
    const forged = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(alice))
      .setIssuedAt().setExpirationTime('5m').sign(hs256('the-attacker-guessed-this-secret!!'))
    expect((await rawLogin(n, 0, alice, 'alice', forged)).code).toBe('CIM_UNAUTHORIZED')
    expect((await rawLogin(n, 1, alice, 'alice', await mint(n, bob))).code).toBe('CIM_UNAUTHORIZED')
    const service = createTokenService({ tokenSecret: SECRET, tokenPublicKey: '' }, n.adapters.revocations)
    const deviceToken = (await service.mint('device', String(alice))).token
    expect((await rawLogin(n, 0, alice, 'alice', deviceToken)).code).toBe('CIM_UNAUTHORIZED')
    // None of that claimed alice's presence: her own login is not a "repeat login".
    expect(await n.adapters.presence.users.get(String(alice))).toBeUndefined()
    const real = await rawLogin(n, 0, alice, 'alice', await mint(n, alice))
    expect(real.code).toBe('9000')
    expect((await n.adapters.presence.users.get(String(alice)))?.brokerId).toBe('b1')
  })

  it('an expired token is refused with CIM_TOKEN_EXPIRED', async () => {
    const n = await nodes(kind)
    const alice = await register(n, 'alice')
    const now = Math.floor(Date.now() / 1000)
    const expired = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(alice))
      .setIssuedAt(now - 120).setExpirationTime(now - 60).sign(hs256(SECRET))
    expect((await rawLogin(n, 0, alice, 'alice', expired)).code).toBe('CIM_TOKEN_EXPIRED')
  })

  it('revocation kicks the live connection on its broker with CIM_TOKEN_REVOKED and refuses the old token everywhere', async () => {
    const n = await nodes(kind)
    const alice = await register(n, 'alice')
    const old = await mint(n, alice)
    const live = await rawLogin(n, 1, alice, 'alice', old)
    expect(live.code).toBe('9000')
    const del = await fetch(`${n.routeUrl}/v1/users/${alice}/tokens`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(await del.json()).toEqual({ revoked: true, kicked: true })
    const kick = await live.c.frame(BaseCommand.KICK)
    expect(kick.properties.code).toBe('CIM_TOKEN_REVOKED')
    await live.c.waitClosed()
    await eventually(async () => (await n.adapters.presence.users.get(String(alice))) === undefined)
    expect((await rawLogin(n, 0, alice, 'alice', old)).code).toBe('CIM_TOKEN_REVOKED')
    expect((await rawLogin(n, 1, alice, 'alice', old)).code).toBe('CIM_TOKEN_REVOKED')
    // A token minted after the revocation (even in the same second) logs in.
    expect((await rawLogin(n, 0, alice, 'alice', await mint(n, alice))).code).toBe('9000')
  })
})

describe('compat on with a token key', () => {
  it('the upstream flow without a token still works; a token that is sent is still checked', async () => {
    const n = await nodes('memory', { compat: true }, 1)
    const login = await postJson(`${n.routeUrl}/registerAccount`, { userName: 'upstream' })
    const id = Number(login.body.dataBody.userId)
    // Upstream client: proto 1, no token, no LOGIN_REPLY.
    const c = await RawClient.connectAndLogin(n.brokers[0].ports.cimPort, id, 'upstream')
    opened.push(c)
    await eventually(async () => (await n.adapters.presence.users.get(String(id)))?.brokerId === 'b1')
    c.close()
    await eventually(async () => (await n.adapters.presence.users.get(String(id))) === undefined)
    expect((await rawLogin(n, 0, id, 'upstream', 'forged')).code).toBe('CIM_UNAUTHORIZED')
  })
})

describe('SDK with a token provider', () => {
  function sdk(n: TestNodes, userName: string, tokenProvider: () => Promise<string>): { c: CimClient; inbox: CimMessage[] } {
    const inbox: CimMessage[] = []
    const c = new CimClient({ routeUrl: n.routeUrl, userName, tokenProvider, heartbeatMs: 1_000, reconnect: { minMs: 50, maxMs: 500 }, onMessage: (m) => inbox.push(m) })
    opened.push(c)
    return { c, inbox }
  }

  it('asks again at once when its token was expired, and at each reconnect (2-second tokens)', async () => {
    // compat on: the SDK finds its broker through the route's upstream-compatible /login.
    const n = await nodes('memory', { compat: true })
    const id = await register(n, 'sdk-alice')
    const now = Math.floor(Date.now() / 1000)
    const stale = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(id))
      .setIssuedAt(now - 10).setExpirationTime(now - 5).sign(hs256(SECRET))
    let calls = 0
    const { c, inbox } = sdk(n, 'sdk-alice', async () => (++calls === 1 ? stale : mint(n, id, 2)))
    await c.connect()
    expect(calls).toBe(2) // the cached token was expired: refused with CIM_TOKEN_EXPIRED, renewed once
    expect(c.state).toBe('connected')

    // The login token expires; a later reconnect (its broker drains) gets a fresh one.
    await sleep(2_200)
    const holder = n.brokers.find((b) => b.broker.id === c.broker?.brokerId)!
    await holder.broker.close()
    await eventually(() => c.state === 'connected' && c.broker?.brokerId !== holder.broker.id, 5_000, 'reconnected elsewhere')
    expect(calls).toBe(3)
    await postJson(`${n.routeUrl}/v1/push/users/${id}`, { message: 'after renewal' })
    await eventually(() => inbox.some((m) => m.text === 'after renewal'))
  })

  it('a fixed expired token fails connect() with CIM_TOKEN_EXPIRED', async () => {
    const n = await nodes('memory', { compat: true }, 1)
    const id = await register(n, 'sdk-bob')
    const now = Math.floor(Date.now() / 1000)
    const expired = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(id))
      .setIssuedAt(now - 10).setExpirationTime(now - 5).sign(hs256(SECRET))
    const c = new CimClient({ routeUrl: n.routeUrl, userName: 'sdk-bob', token: expired, reconnect: false })
    opened.push(c)
    await expect(c.connect()).rejects.toMatchObject({ code: 'CIM_TOKEN_EXPIRED' })
  })
})

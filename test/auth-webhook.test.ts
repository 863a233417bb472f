/**
 * The auth webhook (docs/security.md, Auth webhook) end to end: a real HTTP server as the backend,
 * a route + broker, CIM logins through the SDK and raw sockets, MQTT clients through the mqtt
 * package. Allow, deny (the reason reaches the client), fail-closed on a silent or broken backend,
 * the decision cache, a user name and a device ACL given by the backend, the signature recipe, and
 * the order with the token check.
 */
import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { CimClient, CimLoginError } from '../client/index.ts'
import { BaseCommand } from '../proto/codec.ts'
import { verify } from '../events/signature.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { startAuthBackend, type AuthBackend } from './support/auth-backend.ts'
import { closed, connackOf, connectMqtt, granted } from './support/mqtt.ts'
import { RawClient } from './support/wire.ts'
import type { Config } from '../config.ts'

const SECRET = 'auth-webhook-test-secret'
const opened: Array<{ close(): unknown }> = []
afterEach(async () => { for (const c of opened.splice(0).reverse()) await c.close() })

async function start(backend: AuthBackend, overrides: Partial<Config> = {}): Promise<AllInOne> {
  const node = await startAllInOne({ authWebhookUrl: backend.url, webhookSecret: SECRET, authWebhookCacheSeconds: 0, ...overrides })
  opened.push(node)
  return node
}

const mqttUrl = (node: AllInOne) => `mqtt://127.0.0.1:${node.ports.mqttPort}`

/** A raw proto=2 login: the LOGIN_REPLY code and reason. */
async function rawLogin(node: AllInOne, userId: number, userName: string): Promise<{ code: string; reason: string }> {
  const c = await RawClient.connect(node.ports.cimPort)
  opened.push(c)
  c.login(userId, userName, { proto: '2' })
  const reply = await c.frame(BaseCommand.LOGIN_REPLY)
  return { code: reply.properties.code ?? '', reason: reply.resMsg ?? '' }
}

function sdk(node: AllInOne, userId: number, userName: string): CimClient {
  const c = new CimClient({ routeUrl: node.routeUrl, userName, userId, reconnect: false })
  opened.push(c)
  return c
}

describe('auth webhook', () => {
  it('is asked on a CIM login and an MQTT CONNECT, and its allow lets both in', async () => {
    const backend = await startAuthBackend()
    const node = await start(backend)
    const alice = await node.adapters.accounts.register('alice')
    const c = sdk(node, alice.userId, 'alice')
    await c.connect()
    expect(c.state).toBe('connected')
    expect(await connackOf(mqttUrl(node), 'sensor-1', 's3cret')).toBe(0)
    expect(backend.asked.map((a) => a.body)).toEqual([
      { kind: 'user', userId: alice.userId, userName: 'alice', remoteAddress: '127.0.0.1', broker: node.broker.id },
      { kind: 'device', clientId: 'sensor-1', username: 'sensor-1', password: 's3cret', remoteAddress: '127.0.0.1', broker: node.broker.id },
    ])
  })

  it('a denial refuses with CIM_UNAUTHORIZED and its reason (LOGIN_REPLY), CONNACK 5 for MQTT', async () => {
    const backend = await startAuthBackend()
    backend.answer = () => ({ json: { allow: false, reason: 'account suspended' } })
    const node = await start(backend)
    const bob = await node.adapters.accounts.register('bob')
    const reply = await rawLogin(node, bob.userId, 'bob')
    expect(reply.code).toBe('CIM_UNAUTHORIZED')
    expect(reply.reason).toContain('account suspended')
    const err = await sdk(node, bob.userId, 'bob').connect().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CimLoginError)
    expect(err).toMatchObject({ code: 'CIM_UNAUTHORIZED' })
    expect(await node.adapters.presence.users.get(String(bob.userId))).toBeUndefined()
    expect(await connackOf(mqttUrl(node), 'sensor-1', 'pw')).toBe(5)
  })

  it('fails closed: no answer in time, a 500 or not JSON refuse with CIM_AUTH_UNAVAILABLE (CONNACK 3), never cached', async () => {
    const backend = await startAuthBackend()
    const node = await start(backend, { authWebhookTimeoutMs: 200, authWebhookCacheSeconds: 60 })
    const carol = await node.adapters.accounts.register('carol')
    for (const answer of [{ delayMs: 1000, json: { allow: true } }, { status: 500, json: { allow: true } }, { text: 'yes please' }]) {
      backend.answer = () => answer
      expect((await rawLogin(node, carol.userId, 'carol')).code).toBe('CIM_AUTH_UNAVAILABLE')
      expect(await connackOf(mqttUrl(node), 'sensor-1', 'pw')).toBe(3)
    }
    // The backend is back: the very next attempts are asked again and let in.
    backend.answer = () => ({ json: { allow: true } })
    const before = backend.asked.length
    expect((await rawLogin(node, carol.userId, 'carol')).code).toBe('9000')
    expect(await connackOf(mqttUrl(node), 'sensor-1', 'pw')).toBe(0)
    expect(backend.asked.length).toBe(before + 2)
  })

  it('caches decisions: the same credentials again are not asked, another password is; denials are cached too', async () => {
    const backend = await startAuthBackend()
    backend.answer = (b) => ({ json: b.password === 'wrong' ? { allow: false, reason: 'bad password' } : { allow: true } })
    const node = await start(backend, { authWebhookCacheSeconds: 60 })
    const url = mqttUrl(node)
    const first = await connectMqtt(url, 'sensor-1', 'right')
    await first.endAsync()
    expect(await connackOf(url, 'sensor-1', 'right')).toBe(0)
    expect(backend.asked.length).toBe(1)
    expect(await connackOf(url, 'sensor-1', 'wrong')).toBe(5)
    expect(await connackOf(url, 'sensor-1', 'wrong')).toBe(5)
    expect(backend.asked.map((a) => a.body.password)).toEqual(['right', 'wrong'])
  })

  it('an allow may give the user another user name', async () => {
    const backend = await startAuthBackend()
    backend.answer = () => ({ json: { allow: true, userName: 'Alice Liddell' } })
    const node = await start(backend)
    const alice = await node.adapters.accounts.register('alice')
    await sdk(node, alice.userId, 'alice').connect()
    expect((await node.adapters.presence.users.get(String(alice.userId)))?.name).toBe('Alice Liddell')
  })

  it('an allow may give a device topic rules of its own, for that client only', async () => {
    const backend = await startAuthBackend()
    backend.answer = (b) => ({
      json: b.clientId !== 'dashboard' ? { allow: true } : {
        allow: true,
        acl: [
          { permission: 'allow', action: 'subscribe', topic: 'devices/+/push' },
          { permission: 'deny', action: 'publish', topic: 'telemetry/#' },
        ],
      },
    })
    const node = await start(backend)
    const dashboard = await connectMqtt(mqttUrl(node), 'dashboard', 'pw')
    const plain = await connectMqtt(mqttUrl(node), 'plain', 'pw')
    // Beyond the built-in rules (another device's push topics) for the dashboard alone.
    expect(await granted(dashboard, ['devices/+/push'])).toEqual([1])
    expect(await granted(plain, ['devices/+/push'])).toEqual([128])
    // A refused publish closes the connection (MQTT 3.1.1 has no negative PUBACK).
    await plain.publishAsync('telemetry/t1', 'ok', { qos: 1 })
    const gone = closed(dashboard)
    dashboard.publish('telemetry/t1', 'refused', { qos: 1 })
    await gone
    expect(plain.connected).toBe(true)
  })

  it('signs each request: sha256=HMAC-SHA256(webhookSecret, "<timestamp>.<raw body>")', async () => {
    const backend = await startAuthBackend()
    const node = await start(backend)
    expect(await connackOf(mqttUrl(node), 'sensor-1', 'pw')).toBe(0)
    const [{ headers, raw }] = backend.asked
    const timestamp = headers['x-cim-timestamp'] as string
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60)
    const expected = 'sha256=' + createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')
    expect(headers['x-cim-signature']).toBe(expected)
    expect(verify(SECRET, timestamp, raw, headers['x-cim-signature'] as string)).toBe(true)
    expect(verify('another-secret', timestamp, raw, headers['x-cim-signature'] as string)).toBe(false)
  })

  it('runs after the token check: what the token check refuses never reaches the backend', async () => {
    const backend = await startAuthBackend()
    const node = await start(backend, { tokenSecret: 'auth-webhook-token-secret-0123456789', compat: false })
    const dave = await node.adapters.accounts.register('dave')
    expect((await rawLogin(node, dave.userId, 'dave')).code).toBe('CIM_UNAUTHORIZED')
    expect(await connackOf(mqttUrl(node), 'sensor-1', 'not-a-token')).toBe(4)
    expect(backend.asked).toEqual([])
  })
})

/**
 * Device credentials (issue 8, docs/security.md, Device credentials) end to end: with a token
 * secret, the MQTT CONNECT password is a device token for the client id. Real MQTT clients
 * against a route and two brokers; revocation is shared state, so memory and Redis both run.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { WebSocket } from 'ws'
import { startNodes, type StoreKind, type TestNodes } from './support/nodes.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { closed, connackOf, connectMqtt, deviceReady, granted, inbox, settled, subscriptionLive } from './support/mqtt.ts'
import { eventually } from './support/wait.ts'
import { createTokenService } from '../security/tokens.ts'
import type { Config } from '../config.ts'

const SECRET = 'mqtt-credentials-test-secret-32b!!'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

let nodes: TestNodes | undefined
afterEach(async () => { await nodes?.close(); nodes = undefined })

async function start(kind: StoreKind, overrides: Partial<Config> = {}): Promise<TestNodes> {
  nodes = await startNodes(kind, { tokenSecret: SECRET, ...overrides }, { brokers: 2, redisUrl: redis.url })
  return nodes
}

const urlOf = (n: TestNodes, i = 0) => `mqtt://127.0.0.1:${n.brokers[i].ports.mqttPort}`

/** POST /v1/devices/{id}/token, as an operator provisions a device. */
async function deviceToken(n: TestNodes, deviceId: string, body?: object): Promise<string> {
  const res = await fetch(`${n.routeUrl}/v1/devices/${deviceId}/token`, {
    method: 'POST', ...(body && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { token: string }).token
}

describe.each<StoreKind>(['memory', 'redis'])('MQTT device tokens (%s)', (kind) => {
  it('refuses a takeover of another device’s client id, a missing or garbage token, and a user token', async () => {
    const n = await start(kind)
    const victim = await connectMqtt(urlOf(n), 'victim', await deviceToken(n, 'victim'))
    await deviceReady(n.adapters, 'victim')
    const attackerToken = await deviceToken(n, 'attacker')
    expect(await connackOf(urlOf(n, 1), 'victim', attackerToken)).toBe(5)
    expect(await connackOf(urlOf(n), 'victim')).toBe(5)
    expect(await connackOf(urlOf(n), 'victim', 'garbage')).toBe(4)
    const userToken = (await createTokenService(n.config, n.adapters.revocations).mint('user', 'victim')).token
    expect(await connackOf(urlOf(n), 'victim', userToken)).toBe(4)
    const expired = await new SignJWT({ kind: 'device' }).setProtectedHeader({ alg: 'HS256' }).setSubject('victim')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120).setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET))
    expect(await connackOf(urlOf(n), 'victim', expired)).toBe(4)
    // The real device kept its connection and its presence entry.
    expect(victim.connected).toBe(true)
    expect((await n.adapters.presence.devices.get('victim'))?.brokerId).toBe('b1')
    expect(await connackOf(urlOf(n, 1), 'attacker', attackerToken)).toBe(0)
  })

  it('a monitor token reads $SYS and every uplink; a device token does not', async () => {
    const n = await start(kind)
    const monitor = await connectMqtt(urlOf(n), 'dashboard', await deviceToken(n, 'dashboard', { role: 'monitor' }))
    const got = inbox(monitor)
    expect(await granted(monitor, ['$SYS/#', 'uplink/#'])).toEqual([1, 1])
    const dev = await connectMqtt(urlOf(n, 1), 'meter', await deviceToken(n, 'meter'))
    expect(await granted(dev, ['$SYS/#'])).toEqual([128])
    await subscriptionLive(dev, got, 'uplink/meter/probe')
    await dev.publishAsync('uplink/meter/temp', '21', { qos: 1 })
    await settled(got, 'uplink/meter/temp')
    expect(got.some((m) => m.topic.startsWith('$SYS/'))).toBe(true)
  })

  it('DELETE /v1/devices/{id}/tokens disconnects the device on another broker and refuses its old token', async () => {
    const n = await start(kind)
    const old = await deviceToken(n, 'victim')
    const victim = await connectMqtt(urlOf(n, 1), 'victim', old)
    await deviceReady(n.adapters, 'victim')
    const res = await fetch(`${n.routeUrl}/v1/devices/victim/tokens`, { method: 'DELETE' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ revoked: true, disconnected: true })
    await closed(victim)
    await eventually(async () => !(await n.adapters.presence.devices.get('victim')), 3000, 'victim offline')
    expect(await connackOf(urlOf(n), 'victim', old)).toBe(4)
    expect(await connackOf(urlOf(n), 'victim', await deviceToken(n, 'victim'))).toBe(0)
  })
})

/** The HTTP status a WebSocket upgrade gets (101 when it opened). */
function upgradeStatus(url: string, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'mqtt', origin === undefined ? {} : { origin })
    ws.once('open', () => { ws.terminate(); resolve(101) })
    ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0); ws.terminate() })
    ws.once('error', (err) => reject(err))
  })
}

describe('MQTT over WebSocket: Origin allow-list', () => {
  it('refuses an upgrade from a foreign Origin with 403 and lets the listed one (and non-browser clients) in', async () => {
    const n = await start('memory', { tokenSecret: '', wsOrigins: 'https://app.example.com, https://admin.example.com/' })
    const ws = `ws://127.0.0.1:${n.brokers[0].ports.wsPort}`
    expect(await upgradeStatus(ws, 'https://evil.example')).toBe(403)
    expect(await upgradeStatus(ws, 'https://app.example.com.evil.example')).toBe(403)
    expect(await upgradeStatus(ws, 'https://ADMIN.example.com')).toBe(101)
    expect(await connackOf(ws, 'd2', undefined, { wsOptions: { origin: 'https://app.example.com' } })).toBe(0)
    // No Origin: not a browser (devices, MQTT.js in Node); its credentials are checked at CONNECT.
    expect(await connackOf(ws, 'd4')).toBe(0)
  })
})

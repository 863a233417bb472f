/**
 * TLS on every listener (docs/security.md, TLS), end to end over real sockets: a throwaway CA and
 * server certificate made with the openssl CLI, a route + broker in this process with TLS and a
 * token secret, and real clients: mosquitto_sub / mosquitto_pub (--cafile, a device token as the
 * password), MQTT.js over mqtts:// and wss://, the SDK over CIM TLS, HTTPS REST calls. Then a
 * client that does not trust the CA, and a certificate rotation by SIGHUP.
 */
import { spawn } from 'node:child_process'
import { copyFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { CimClient, type CimMessage } from '../client/index.ts'
import { createTokenService, type TokenService } from '../security/tokens.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { createTestCa, rotateInto, type IssuedCert, type TestCa } from './support/tls.ts'
import { eventually } from './support/wait.ts'

let ca: TestCa
let first: IssuedCert
let next: IssuedCert
let node: AllInOne
let tokens: TokenService
let live: { cert: string; key: string }
const cleanup: Array<() => unknown> = []

beforeAll(async () => {
  ca = createTestCa('cim-tls-e2e')
  first = ca.issue('first')
  next = ca.issue('next')
  live = { cert: join(ca.dir, 'live.pem'), key: join(ca.dir, 'live.key') }
  copyFileSync(first.cert, live.cert)
  copyFileSync(first.key, live.key)
  node = await startAllInOne({
    tlsCert: live.cert, tlsKey: live.key, mqttsPort: 0, wssPort: 0, cimTlsPort: 0,
    tokenSecret: 'tls-test-secret-0123456789abcdef',
  })
  tokens = createTokenService(node.config, node.adapters.revocations)
})

afterAll(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
  await node?.close()
  ca?.remove()
})

const ports = () => node.ports as Required<AllInOne['ports']>
const routePort = () => Number(new URL(node.routeUrl).port)

/** An HTTPS call to the route trusting `trusted` (the test CA by default). */
function https(method: 'GET' | 'POST', path: string, body?: unknown, trusted: Buffer = ca.ca): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: routePort(), method, path, ca: trusted, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        const text = Buffer.concat(chunks).toString()
        resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined })
      })
    })
    req.on('error', reject).end(body ? JSON.stringify(body) : undefined)
  })
}

/**
 * Runs a mosquitto client; resolves with its exit code and output. `onLine` sees stdout as it
 * comes (stdbuf: to a pipe, stdio would hold the lines until exit).
 */
function mosquitto(cmd: 'mosquitto_sub' | 'mosquitto_pub', args: string[], onLine?: (line: string) => void) {
  const p = spawn('stdbuf', ['-oL', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  cleanup.push(() => p.kill())
  let out = ''
  p.stdout.on('data', (d: Buffer) => { out += d; for (const l of d.toString().split('\n')) if (l) onLine?.(l) })
  p.stderr.on('data', (d: Buffer) => { out += d })
  return new Promise<{ code: number | null; out: string }>((resolve) => p.on('close', (code) => resolve({ code, out })))
}

const deviceToken = async (id: string) => (await tokens.mint('device', id)).token

async function mqttClient(url: string, id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: id, username: id, password: await deviceToken(id), ca: ca.ca, reconnectPeriod: 0, protocolVersion: 4 })
  cleanup.push(() => c.endAsync(true))
  return c
}

function peerFingerprint(port: number, trusted: Buffer = ca.ca): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca: trusted }, () => {
      resolve(s.getPeerCertificate().fingerprint256)
      s.destroy()
    }).once('error', reject)
  })
}

async function sdkClient(userName: string, trusted?: Buffer): Promise<{ client: CimClient; messages: CimMessage[] }> {
  const messages: CimMessage[] = []
  const client: CimClient = new CimClient({
    routeUrl: node.routeUrl, userName, reconnect: false, loginTimeoutMs: 3000,
    tls: { ca: trusted, port: ports().cimTlsPort },
    token: async (): Promise<string> => (await tokens.mint('user', String(client.userId))).token,
    onMessage: (m) => messages.push(m),
  })
  cleanup.push(() => client.close())
  return { client, messages }
}

describe('TLS on every listener', () => {
  it('each TLS listener reports its bound port, and /v1/nodes over HTTPS lists them', async () => {
    const p = ports()
    for (const port of [p.mqttsPort, p.wssPort, p.cimTlsPort]) expect(port).toBeGreaterThan(0)
    expect(node.routeUrl).toMatch(/^https:/)
    const res = await https('GET', '/v1/nodes')
    expect(res.status).toBe(200)
    expect(res.json.items[0]).toMatchObject({ cimPort: p.cimPort, cimTlsPort: p.cimTlsPort, mqttsPort: p.mqttsPort, wssPort: p.wssPort })
  })

  it('mosquitto_sub and mosquitto_pub exchange a message over TLS with device tokens (--cafile)', async () => {
    const common = ['--cafile', ca.caFile, '-h', '127.0.0.1', '-p', String(ports().mqttsPort), '-V', 'mqttv311']
    let subscribed!: () => void
    const ready = new Promise<void>((resolve) => { subscribed = resolve })
    const sub = mosquitto('mosquitto_sub', [...common, '-d', '-i', 'tls-sub', '-u', 'tls-sub', '-P', await deviceToken('tls-sub'), '-t', 'tls/demo', '-C', '1', '-W', '10'],
      (line) => { if (line.startsWith('Subscribed')) subscribed() })
    await Promise.race([ready, sub.then((r) => { throw new Error(`mosquitto_sub exited: ${r.out}`) })])
    const pub = await mosquitto('mosquitto_pub', [...common, '-i', 'tls-pub', '-u', 'tls-pub', '-P', await deviceToken('tls-pub'), '-t', 'tls/demo', '-m', 'over tls'])
    expect(pub.code, pub.out).toBe(0)
    const got = await sub
    expect(got.code, got.out).toBe(0)
    expect(got.out).toContain('over tls')
  })

  it('mosquitto_pub without a token is refused over TLS', async () => {
    const pub = await mosquitto('mosquitto_pub', ['--cafile', ca.caFile, '-h', '127.0.0.1', '-p', String(ports().mqttsPort), '-V', 'mqttv311', '-i', 'tls-anon', '-t', 'tls/demo', '-m', 'x'])
    expect(pub.code).not.toBe(0)
    expect(pub.out).toMatch(/not authori[sz]ed|refused/i)
  })

  it('MQTT.js over mqtts:// and wss:// (with the CA) reach each other', async () => {
    const overTls = await mqttClient(`mqtts://127.0.0.1:${ports().mqttsPort}`, 'tls-js-1')
    const overWss = await mqttClient(`wss://127.0.0.1:${ports().wssPort}`, 'tls-js-2')
    await overWss.subscribeAsync('tls/js', { qos: 1 })
    const got = new Promise<string>((resolve) => overWss.once('message', (_t, payload) => resolve(payload.toString())))
    await overTls.publishAsync('tls/js', 'mqtts to wss', { qos: 1 })
    expect(await got).toBe('mqtts to wss')
  })

  it('the SDK logs in over CIM TLS (route over HTTPS) and receives a REST push sent over HTTPS', async () => {
    const { client, messages } = await sdkClient('tls-alice', ca.ca)
    await client.connect()
    const res = await https('POST', `/v1/push/users/${client.userId}`, { message: 'pushed over tls', qos: 1 })
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    await eventually(() => messages.some((m) => m.text === 'pushed over tls'), 3000, 'the push over CIM TLS')
  })

  it('a client that does not trust the CA is refused on every TLS port', async () => {
    const other = createTestCa('cim-tls-stranger')
    cleanup.push(() => other.remove())
    const p = ports()
    for (const port of [p.mqttsPort, p.wssPort, p.cimTlsPort, routePort()]) {
      await expect(peerFingerprint(port, other.ca)).rejects.toThrow(/unable to verify|self.signed|certificate/i)
    }
    await expect(mqtt.connectAsync(`mqtts://127.0.0.1:${p.mqttsPort}`, { clientId: 'x', ca: other.ca, reconnectPeriod: 0 })).rejects.toThrow()
    await expect(https('GET', '/v1/nodes', undefined, other.ca)).rejects.toThrow()
    const { client } = await sdkClient('tls-mallory') // the system CAs only
    await expect(client.connect()).rejects.toThrow()
  })

  it('certificate rotation by SIGHUP: new connections get the new certificate, existing ones stay up', async () => {
    const p = ports()
    const tlsPorts = [p.mqttsPort, p.wssPort, p.cimTlsPort, routePort()]
    for (const port of tlsPorts) expect(await peerFingerprint(port)).toBe(first.fingerprint256)
    const held = await mqttClient(`mqtts://127.0.0.1:${p.mqttsPort}`, 'tls-held')
    await held.subscribeAsync('tls/held', { qos: 1 })
    const { client, messages } = await sdkClient('tls-bob', ca.ca)
    await client.connect()

    rotateInto(live, next)
    process.emit('SIGHUP', 'SIGHUP')
    for (const port of tlsPorts) expect(await peerFingerprint(port)).toBe(next.fingerprint256)

    // The connections made before the rotation still carry traffic.
    const got = new Promise<string>((resolve) => held.once('message', (_t, payload) => resolve(payload.toString())))
    const fresh = await mqttClient(`mqtts://127.0.0.1:${p.mqttsPort}`, 'tls-fresh')
    await fresh.publishAsync('tls/held', 'after rotation', { qos: 1 })
    expect(await got).toBe('after rotation')
    expect(held.connected).toBe(true)
    const res = await https('POST', `/v1/push/users/${client.userId}`, { message: 'after rotation', qos: 1 })
    expect(res.status).toBe(200)
    await eventually(() => messages.some((m) => m.text === 'after rotation'), 3000, 'a push on the pre-rotation CIM TLS connection')
  })
})

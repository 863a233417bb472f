/**
 * The MQTT per-connection limits (issue 9, items 9 and 10; README "Limits") against a real MQTT
 * node on memory adapters: packet size, client id, password without user name, keepalive, and a
 * stuck subscriber over WebSocket. Malformed CONNECTs are written byte by byte.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { generate } from 'mqtt-packet'
import { WebSocket } from 'ws'
import { createMemoryAdapters } from '../../adapters/index.ts'
import { defaultAuth } from '../auth.ts'
import { createMqttNode } from './index.ts'
import type { Config } from '../../config.ts'
import { silentLogger, testConfig } from '../../test/support/config.ts'
import { connectMqtt, inbox } from '../../test/support/mqtt.ts'
import { rawConnect, rawMqtt } from '../../test/support/raw-mqtt.ts'
import { eventually } from '../../test/support/wait.ts'
import { newMqttStats, type MqttStats } from '../types.ts'

const opened: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of opened.splice(0).reverse()) await close() })

async function start(overrides: Partial<Config> = {}): Promise<{ port: number; wsPort: number; stats: MqttStats }> {
  const adapters = createMemoryAdapters()
  const config = testConfig(overrides)
  const stats = newMqttStats()
  const node = createMqttNode({
    config, adapters, logger: silentLogger, brokerId: 'b1', uplink: () => {}, stats,
    auth: defaultAuth({ accounts: adapters.accounts, devicePushTopic: config.devicePushTopic, broadcastTopic: config.broadcastTopic }),
  })
  opened.push(async () => { await node.close(); await adapters.close() })
  const ports = await node.listen()
  return { port: ports.mqttPort, wsPort: ports.wsPort, stats }
}

/** MQTT's variable-length "remaining length": 7 bits a byte, high bit = more follow. */
function remainingLength(n: number): number[] {
  const bytes: number[] = []
  for (; n > 0; n >>= 7) bytes.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0))
  return bytes
}

/** An MQTT 3.1.1 CONNECT built by hand: any client id bytes, a password with or without a user name. */
function connectBytes(clientId: Buffer, opts: { username?: string; password?: string } = {}): Buffer {
  const field = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
  const flags = 0x02 | (opts.username !== undefined ? 0x80 : 0) | (opts.password !== undefined ? 0x40 : 0)
  const body = Buffer.concat([
    field(Buffer.from('MQTT')), Buffer.from([4, flags, 0, 30]), field(clientId),
    ...(opts.username !== undefined ? [field(Buffer.from(opts.username))] : []),
    ...(opts.password !== undefined ? [field(Buffer.from(opts.password))] : []),
  ])
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body])
}

async function connackOfBytes(port: number, bytes: Buffer): Promise<number | 'closed'> {
  const c = await rawMqtt(port)
  c.socket.write(bytes)
  // A refusal's CONNACK and the close arrive together: look at what was received either way.
  await Promise.race([c.next('connack').catch(() => undefined), c.closed])
  const connack = c.received.find((p) => p.cmd === 'connack')
  return connack ? (connack as { returnCode: number }).returnCode : 'closed'
}

describe('MQTT connection limits', () => {
  it('refuses a PUBLISH above mqttMaxPacketBytes from its header: a 100 MB packet is never buffered', async () => {
    const { port } = await start({ mqttMaxPacketBytes: 1000 })
    const sub = await connectMqtt(`mqtt://127.0.0.1:${port}`, 'sub')
    const got = inbox(sub)
    await sub.subscribeAsync('t/#')
    const { c: ok } = await rawConnect(port, 'ok')
    ok.send({ cmd: 'publish', topic: 't/fits', payload: Buffer.alloc(980), qos: 0, retain: false, dup: false })
    await eventually(() => got.some((m) => m.topic === 't/fits'))
    // A PUBLISH announcing 100 MB: the header, then the body in 64 KB chunks until the server hangs up.
    const { c: big } = await rawConnect(port, 'big')
    const length = 100 * 1024 * 1024
    big.socket.write(Buffer.from([0x30, ...remainingLength(length)]))
    let sent = 0
    const chunk = Buffer.alloc(64 * 1024)
    while (!big.isClosed() && sent < length) {
      if (!big.socket.write(chunk)) await new Promise((r) => setTimeout(r, 5))
      sent += chunk.length
      if (sent % (1024 * 1024) === 0) await new Promise((r) => setTimeout(r, 20))
    }
    expect(big.isClosed()).toBe(true)
    expect(sent).toBeLessThan(8 * 1024 * 1024)
  })

  it('over WebSocket too: a message larger than the packet cap is refused before it is buffered whole', async () => {
    const { wsPort } = await start({ mqttMaxPacketBytes: 1000 })
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`, 'mqtt')
    opened.push(async () => { ws.terminate() })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const code = new Promise<number>((resolve) => ws.once('close', resolve))
    ws.send(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'ws-big' }))
    ws.send(generate({ cmd: 'publish', topic: 't/big', payload: Buffer.alloc(2 * 1024 * 1024), qos: 0, retain: false, dup: false }))
    expect(await code).toBe(1009) // "message too big"
  })

  it('refuses client ids over mqttMaxClientIdBytes (UTF-8 bytes), with U+0000 or ill-formed UTF-8: CONNACK 2', async () => {
    const { port } = await start({ mqttMaxClientIdBytes: 256 })
    expect(await connackOfBytes(port, connectBytes(Buffer.from('€'.repeat(85))))).toBe(0) // 255 bytes
    expect(await connackOfBytes(port, connectBytes(Buffer.from('€'.repeat(86))))).toBe(2) // 258 bytes, 86 characters
    expect(await connackOfBytes(port, connectBytes(Buffer.from('a\u0000b')))).toBe(2)
    expect(await connackOfBytes(port, connectBytes(Buffer.from([0x61, 0xc3, 0x28])))).toBe(2)
    expect(await connackOfBytes(port, connectBytes(Buffer.from([0xed, 0xa0, 0x80])))).toBe(2) // an encoded surrogate
  })

  it('refuses a CONNECT with a password but no user name (MQTT-3.1.2-22): CONNACK 4', async () => {
    const { port } = await start()
    expect(await connackOfBytes(port, connectBytes(Buffer.from('dev'), { password: 'secret' }))).toBe(4)
    expect(await connackOfBytes(port, connectBytes(Buffer.from('dev'), { username: 'dev', password: 'secret' }))).toBe(0)
  })

  it('treats keepalive 0 and keepalives above mqttMaxKeepaliveSeconds as the maximum: a silent client is dropped', async () => {
    const { port } = await start({ mqttMaxKeepaliveSeconds: 1 })
    const { c: never, returnCode } = await rawConnect(port, 'never', { keepalive: 0 })
    expect(returnCode).toBe(0)
    const { c: long } = await rawConnect(port, 'long', { keepalive: 3600 })
    const t0 = Date.now()
    await Promise.all([never.closed, long.closed])
    // 1.5 × the maximum ([MQTT-3.1.2-24]), and well before the client's own 3600 s.
    expect(Date.now() - t0).toBeLessThan(3_000)
  })

  it('drops a WebSocket subscriber that stops reading; publishes to the others carry on', async () => {
    const { port, wsPort, stats } = await start({ mqttMaxQueuedBytes: 256 * 1024 })
    const good = await connectMqtt(`mqtt://127.0.0.1:${port}`, 'good')
    const got = inbox(good)
    await good.subscribeAsync('fan/out')
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`, 'mqtt')
    opened.push(async () => { ws.terminate() })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const wsClosed = new Promise((resolve) => ws.once('close', resolve))
    ws.send(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: 'stuck' }))
    ws.send(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fan/out', qos: 0 }] }))
    await new Promise((r) => setTimeout(r, 200))
    ;(ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const pub = await connectMqtt(`mqtt://127.0.0.1:${port}`, 'pub')
    const payload = Buffer.alloc(48_000)
    for (let i = 0; i < 200; i++) await pub.publishAsync('fan/out', payload, { qos: 1 })
    await eventually(() => got.length === 200, 10_000, 'every publish at the good subscriber')
    ;(ws as unknown as { _socket: { resume(): void } })._socket.resume()
    await wsClosed
    // Counted for the broker's cim_slow_consumer_disconnects_total{protocol="mqtt"}.
    expect(stats.slowConsumers).toBe(1)
  })
})

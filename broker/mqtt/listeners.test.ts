import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { WebSocket } from 'ws'
import { MqttListeners } from './listeners.ts'
import { connect as tlsConnect } from 'node:tls'
import { watchTls } from '../../security/tls.ts'
import { createTestCa } from '../../test/support/tls.ts'

// An echo handler stands in for aedes.handle: the listeners only move bytes.
const echo = () => new MqttListeners((stream) => stream.pipe(stream), pino({ level: 'silent' }))
const opened: Array<() => unknown> = []
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close()
})

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s)).once('error', reject)
    opened.push(() => s.destroy())
  })
}

function ws(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const w = new WebSocket(`ws://127.0.0.1:${port}`, 'mqtt')
    w.once('open', () => resolve(w)).once('error', reject)
    opened.push(() => w.terminate())
  })
}

const roundTrip = (s: Socket, text: string) =>
  new Promise<string>((resolve) => { s.once('data', (d) => resolve(d.toString())); s.write(text) })
const wsRoundTrip = (w: WebSocket, text: string) =>
  new Promise<string>((resolve) => { w.once('message', (d) => resolve(d.toString())); w.send(Buffer.from(text)) })

describe('MqttListeners', () => {
  it('binds free ports and carries bytes over TCP and WebSocket (binary frames, subprotocol mqtt)', async () => {
    const l = echo()
    opened.push(() => l.close())
    const { mqttPort, wsPort } = await l.listen({ host: '127.0.0.1', mqttPort: 0, wsPort: 0 })
    expect(mqttPort).toBeGreaterThan(0)
    expect(wsPort).toBeGreaterThan(0)
    expect(await roundTrip(await tcp(mqttPort), 'abc')).toBe('abc')
    const w = await ws(wsPort)
    expect(w.protocol).toBe('mqtt')
    expect(await wsRoundTrip(w, 'def')).toBe('def')
    const res = await fetch(`http://127.0.0.1:${wsPort}/`)
    expect(res.status).toBe(426)
  })

  it('stopAccepting refuses new connections but keeps established ones', async () => {
    const l = echo()
    opened.push(() => l.close())
    const { mqttPort, wsPort } = await l.listen({ host: '127.0.0.1', mqttPort: 0, wsPort: 0 })
    const s = await tcp(mqttPort)
    const w = await ws(wsPort)
    l.stopAccepting()
    await expect(tcp(mqttPort)).rejects.toThrow(/ECONNREFUSED/)
    await expect(ws(wsPort)).rejects.toThrow(/ECONNREFUSED/)
    expect(await roundTrip(s, 'still')).toBe('still')
    expect(await wsRoundTrip(w, 'open')).toBe('open')
  })

  it('close ends every connection, even ones aedes has not taken over, and resolves', async () => {
    const l = echo()
    const { mqttPort, wsPort } = await l.listen({ host: '127.0.0.1', mqttPort: 0, wsPort: 0 })
    const s = await tcp(mqttPort)
    const w = await ws(wsPort)
    const ended = Promise.all([
      new Promise((resolve) => s.once('close', resolve)),
      new Promise((resolve) => w.once('close', resolve)),
    ])
    await l.close()
    await ended
  })

  it('reports a port already in use', async () => {
    const a = echo()
    opened.push(() => a.close())
    const { mqttPort } = await a.listen({ host: '127.0.0.1', mqttPort: 0, wsPort: 0 })
    const b = echo()
    opened.push(() => b.close())
    await expect(b.listen({ host: '127.0.0.1', mqttPort, wsPort: 0 })).rejects.toThrow(/EADDRINUSE/)
  })

  it('with a certificate: MQTT over TLS and secure WebSocket carry bytes through the same handler (and Origin check); close ends them', async () => {
    const ca = createTestCa('cim-listeners')
    opened.push(() => ca.remove())
    const watcher = watchTls(ca.issue('server'), { logger: pino({ level: 'silent' }) })
    opened.push(() => watcher.close())
    const l = new MqttListeners((stream) => stream.pipe(stream), pino({ level: 'silent' }), new Set(['https://app.example']))
    opened.push(() => l.close())
    const ports = await l.listen({ host: '127.0.0.1', mqttPort: 0, wsPort: 0, tls: { watcher, mqttsPort: 0, wssPort: 0 } })
    expect(ports.mqttsPort).toBeGreaterThan(0)
    expect(ports.wssPort).toBeGreaterThan(0)
    const s = await new Promise<Socket>((resolve, reject) => {
      const t = tlsConnect({ host: '127.0.0.1', port: ports.mqttsPort!, ca: ca.ca }, () => resolve(t)).once('error', reject)
    })
    expect(await roundTrip(s, 'tls')).toBe('tls')
    const w = new WebSocket(`wss://127.0.0.1:${ports.wssPort}`, 'mqtt', { ca: ca.ca })
    await new Promise((resolve, reject) => w.once('open', resolve).once('error', reject))
    expect(await wsRoundTrip(w, 'wss')).toBe('wss')
    const foreign = new WebSocket(`wss://127.0.0.1:${ports.wssPort}`, 'mqtt', { ca: ca.ca, origin: 'https://evil.example' })
    await expect(new Promise((resolve, reject) => foreign.once('open', resolve).once('error', reject))).rejects.toThrow(/403/)
    const allowed = new WebSocket(`wss://127.0.0.1:${ports.wssPort}`, 'mqtt', { ca: ca.ca, origin: 'https://app.example' })
    opened.push(() => allowed.terminate())
    await new Promise((resolve, reject) => allowed.once('open', resolve).once('error', reject))
    const ended = Promise.all([new Promise((r) => s.once('close', r)), new Promise((r) => w.once('close', r))])
    await l.close()
    await ended
  })
})

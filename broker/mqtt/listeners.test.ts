import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { WebSocket } from 'ws'
import { MqttListeners } from './listeners.ts'

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
})

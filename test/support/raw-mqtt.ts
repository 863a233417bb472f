/**
 * A raw MQTT 3.1.1 client for tests that must misbehave where the `mqtt` package will not: stop
 * reading (a stuck subscriber), send a CONNECT the package refuses to build, or write bytes by
 * hand. Packets are built and parsed with mqtt-packet; sockets are destroyed after each test.
 */
import { connect, type Socket } from 'node:net'
import { afterEach } from 'vitest'
import { generate, parser as mqttParser, type IConnackPacket, type IConnectPacket, type Packet } from 'mqtt-packet'
import { eventually } from './wait.ts'

const sockets: Socket[] = []
afterEach(() => { for (const s of sockets.splice(0)) s.destroy() })

export interface RawMqtt {
  socket: Socket
  /** Every packet received so far. */
  received: Packet[]
  /** Resolves when the server closed (or reset) the connection. */
  closed: Promise<void>
  isClosed(): boolean
  send(packet: Packet): void
  /** Waits for the next packet of this kind (after those already seen). */
  next(cmd: Packet['cmd'], ms?: number): Promise<Packet>
}

/** Opens a TCP connection to an MQTT port; nothing is sent yet. */
export async function rawMqtt(port: number): Promise<RawMqtt> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s)).once('error', reject)
  })
  sockets.push(socket)
  socket.on('error', () => {})
  const parser = mqttParser({ protocolVersion: 4 })
  const received: Packet[] = []
  parser.on('packet', (p: Packet) => received.push(p))
  socket.on('data', (d) => parser.parse(d))
  let isClosed = false
  const closed = new Promise<void>((resolve) => socket.once('close', () => { isClosed = true; resolve() }))
  let seen = 0
  return {
    socket, received, closed,
    isClosed: () => isClosed,
    send: (packet) => void socket.write(generate(packet)),
    async next(cmd, ms = 3000) {
      return eventually(() => {
        const i = received.findIndex((p, j) => j >= seen && p.cmd === cmd)
        if (i < 0) return undefined
        seen = i + 1
        return received[i]
      }, ms, `a ${cmd} packet`, 5)
    },
  }
}

/** Connects and waits for the CONNACK; returns its return code with the client. */
export async function rawConnect(port: number, clientId: string, extra: Partial<IConnectPacket> = {}): Promise<{ c: RawMqtt; returnCode: number | undefined }> {
  const c = await rawMqtt(port)
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId, ...extra })
  const connack = await Promise.race([c.next('connack'), c.closed.then(() => undefined)])
  return { c, returnCode: connack && (connack as IConnackPacket).returnCode }
}

/**
 * Test harness for broker tests: a broker on free ports over memory adapters, a BrokerClient on the
 * same bus (as the route uses it), and a raw CIM TCP client that speaks frames byte for byte.
 */
import { connect, type Socket } from 'node:net'
import pino from 'pino'
import { resolveConfig, type Config } from '../config.ts'
import { createMemoryAdapters, type Adapters } from '../adapters/index.ts'
import { createBroker } from '../broker/index.ts'
import type { Broker, BrokerPorts } from '../broker/types.ts'
import { BrokerClient } from '../broker/remote.ts'
import {
  BaseCommand, FrameDecoder, decodeResponse, encodeRequest, type ResponseFrame,
} from '../proto/codec.ts'

export const silent = pino({ level: 'silent' })

export function testConfig(overrides: Partial<Config> = {}): Config {
  return resolveConfig({
    cimPort: 0, brokerHttpPort: 0, mqttPort: 0, wsPort: 0, routePort: 0, logLevel: 'silent',
    host: '127.0.0.1', advertiseHost: '127.0.0.1', ...overrides,
  }, {})
}

export interface TestBroker {
  broker: Broker
  adapters: Adapters
  config: Config
  ports: BrokerPorts
  /** The route's handle over the bus. */
  route: BrokerClient
  close(): Promise<void>
}

export async function startBroker(overrides: Partial<Config> = {}, adapters = createMemoryAdapters()): Promise<TestBroker> {
  const config = testConfig(overrides)
  const broker = createBroker({ config, adapters, logger: silent })
  const ports = await broker.listen()
  const route = new BrokerClient(adapters.bus, adapters.discovery, 2000)
  await route.start()
  return {
    broker, adapters, config, ports, route,
    async close() {
      await route.close()
      await broker.close()
    },
  }
}

/** A CIM TCP client that records every frame and the raw bytes it reads. */
export class RawClient {
  readonly frames: ResponseFrame[] = []
  readonly raw: Buffer[] = []
  readonly closed: Promise<void>
  error: Error | undefined
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024)
  private waiters: Array<() => void> = []
  private isClosed = false

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.raw.push(chunk)
      try {
        this.decoder.push(chunk, (body) => this.frames.push(decodeResponse(body)))
      } catch (err) {
        this.error = err as Error
      }
      this.wake()
    })
    socket.on('error', (err) => { this.error = err })
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.isClosed = true
      this.wake()
      resolve()
    }))
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  get isOpen(): boolean {
    return !this.isClosed
  }

  send(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes)
  }

  login(userId: number, userName: string, properties?: Record<string, string>): void {
    this.send(encodeRequest({ requestId: userId, reqMsg: userName, properties }))
  }

  ping(requestId = 0): void {
    this.send(encodeRequest({ cmd: BaseCommand.PING, reqMsg: 'ping', requestId }))
  }

  ack(seq: number): void {
    this.send(encodeRequest({ cmd: BaseCommand.ACK, requestId: seq }))
  }

  /** Resolves when `cond` holds (checked on every read and close), or rejects after `ms`. */
  async until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms
    while (!cond()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames)}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50))
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** Waits for the n-th frame (0-based) matching `cmd` and returns it. */
  async frame(cmd: BaseCommand, n = 0, ms = 3000): Promise<ResponseFrame> {
    const matches = () => this.frames.filter((f) => f.cmd === cmd)
    await this.until(() => matches().length > n, ms, `frame ${BaseCommand[cmd]} #${n}`)
    return matches()[n]
  }

  async waitClosed(ms = 3000): Promise<void> {
    await this.until(() => this.isClosed, ms, 'close')
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Resolves when `cond()` is truthy (polled), or throws after `ms`. */
export async function eventually<T>(cond: () => T | Promise<T>, ms = 3000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await cond()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

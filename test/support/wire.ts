/**
 * A raw CIM TCP peer for end-to-end tests: speaks exactly the bytes an upstream client sends,
 * with none of our client's conveniences, and records every frame the server writes.
 */
import net from 'node:net'
import { BaseCommand, FrameDecoder, decodeResponse, encodeRequest, type RequestInit, type ResponseFrame } from '../../proto/codec.ts'

export class WirePeer {
  readonly frames: ResponseFrame[] = []
  closed = false
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024)
  private waiters: Array<() => void> = []

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.decoder.push(chunk, (body) => this.frames.push(decodeResponse(body)))
      this.wake()
    })
    socket.on('close', () => { this.closed = true; this.wake() })
    socket.on('error', () => {})
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WirePeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, noDelay: true }, () => resolve(new WirePeer(s)))
      s.once('error', reject)
    })
  }

  /** Connects and sends the upstream login frame (no cmd field); proto2 adds the extension property. */
  static async login(port: number, userId: number, userName: string, properties?: Record<string, string>): Promise<WirePeer> {
    const peer = await WirePeer.connect(port)
    peer.send({ reqMsg: userName, requestId: userId, properties })
    return peer
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  send(m: RequestInit): void {
    this.socket.write(encodeRequest(m))
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  ping(userId: number): void {
    this.send({ reqMsg: 'ping', requestId: userId, cmd: BaseCommand.PING })
  }

  /** Resolves with the first recorded frame matching `pred` (searching from `from`). */
  async next(pred: (f: ResponseFrame) => boolean, timeoutMs = 3_000): Promise<ResponseFrame> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.find(pred)
      if (found) return found
      if (Date.now() > end) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50)
        this.waiters.push(() => { clearTimeout(t); r() })
      })
    }
  }

  messages(): ResponseFrame[] {
    return this.frames.filter((f) => f.cmd === BaseCommand.MESSAGE)
  }

  async waitClosed(timeoutMs = 3_000): Promise<void> {
    const end = Date.now() + timeoutMs
    while (!this.closed) {
      if (Date.now() > end) throw new Error('socket still open')
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Polls until `check` passes (returns truthy / does not throw). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 3_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v
    } catch (err) { last = err }
    if (Date.now() > end) throw last instanceof Error ? last : new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url)
  return { status: res.status, body: await res.json() }
}

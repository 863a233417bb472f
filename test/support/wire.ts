/**
 * A raw CIM TCP client for tests: speaks exactly the bytes an upstream client sends, with none of
 * our client's conveniences, and records every frame (and the raw bytes) the server writes.
 * Also small JSON-over-HTTP helpers (waiting helpers: wait.ts).
 */
import { connect, type Socket } from 'node:net'
import {
  BaseCommand, FrameDecoder, decodeResponse, encodeRequest, type RequestInit, type ResponseFrame,
} from '../../proto/codec.ts'

export class RawClient {
  readonly frames: ResponseFrame[] = []
  readonly raw: Buffer[] = []
  /** The first socket or decoding error, if any. */
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
    socket.on('close', () => {
      this.isClosed = true
      this.wake()
    })
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }

  /** Connects and sends the upstream login frame (no cmd field); `{ proto: '2' }` adds the extension property. */
  static async connectAndLogin(port: number, userId: number, userName: string, properties?: Record<string, string>): Promise<RawClient> {
    const c = await RawClient.connect(port)
    c.login(userId, userName, properties)
    return c
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  get isOpen(): boolean {
    return !this.isClosed
  }

  /** Sends raw bytes as they are, or a request encoded and framed. */
  send(m: Uint8Array | RequestInit): void {
    this.socket.write(m instanceof Uint8Array ? m : encodeRequest(m))
  }

  login(userId: number, userName: string, properties?: Record<string, string>): void {
    this.send({ requestId: userId, reqMsg: userName, properties })
  }

  /** A ping; the upstream SDK puts a user id in requestId. */
  ping(requestId = 0): void {
    this.send({ cmd: BaseCommand.PING, reqMsg: 'ping', requestId })
  }

  ack(seq: number): void {
    this.send({ cmd: BaseCommand.ACK, requestId: seq })
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

  /** Resolves with the first recorded frame matching `pred`. */
  async next(pred: (f: ResponseFrame) => boolean, ms = 3000): Promise<ResponseFrame> {
    await this.until(() => this.frames.some(pred), ms, 'a matching frame')
    return this.frames.find(pred)!
  }

  messages(): ResponseFrame[] {
    return this.frames.filter((f) => f.cmd === BaseCommand.MESSAGE)
  }

  async waitClosed(ms = 3000): Promise<void> {
    await this.until(() => this.isClosed, ms, 'close')
  }

  close(): void {
    this.socket.destroy()
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

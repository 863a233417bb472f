/**
 * One CIM TCP connection to one broker: the login handshake, framing, heartbeats and the
 * read-idle check. Reconnecting is the client's job (index.ts); a connection is used once.
 */
import net from 'node:net'
import tls from 'node:tls'
import { BaseCommand, DEFAULT_MAX_FRAME, FrameDecoder, decodeResponse, encodeRequest, type RequestInit, type ResponseFrame } from '../proto/codec.ts'
import { codedError } from '../errors.ts'
import type { CimTlsOptions } from './options.ts'

export interface ConnectionOptions {
  host: string
  port: number
  /** Connect with TLS (port is then the broker's CIM TLS port). */
  tls?: CimTlsOptions
  userId: number
  userName: string
  /** Announce proto=2 at login and wait for LOGIN_REPLY. */
  proto2: boolean
  token?: string
  /** Send a PING after this long without writing (upstream: IdleStateHandler writer idle 10 s). */
  heartbeatMs: number
  /** Close when nothing was read for this long (a half-open socket never errors by itself). */
  readTimeoutMs: number
  /** How long to wait for the TCP connect and, with proto2, the LOGIN_REPLY. */
  loginTimeoutMs: number
  maxFrameBytes?: number
  /** Every frame except pongs and the LOGIN_REPLY, in arrival order. */
  onFrame(conn: CimConnection, frame: ResponseFrame): void
  /** Called once login completed, synchronously before frames that follow it in the same read. */
  onLogin(conn: CimConnection, reply: Record<string, string>): void
  /** Called after start() resolved, once, when the socket is gone (err: why, if not by close()). */
  onClose(conn: CimConnection, err?: Error): void
}

/** A LOGIN_REPLY with a failure code (or a handshake failure): `code` is the catalogue code. */
export class CimLoginError extends Error {
  constructor(readonly code: string, message: string) {
    super(message)
    this.name = 'CimLoginError'
  }
}

export class CimConnection {
  /** True once the login completed; frames and close are reported only from then on. */
  loggedIn = false
  private socket?: net.Socket
  private readonly decoder: FrameDecoder
  private lastWrite = 0
  private lastRead = 0
  private timer?: NodeJS.Timeout
  private closedByUs = false
  private ended = false
  private heartbeatMs: number
  private settle?: { resolve(): void; reject(err: Error): void }

  constructor(private readonly opts: ConnectionOptions) {
    this.decoder = new FrameDecoder(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME)
    this.heartbeatMs = opts.heartbeatMs
  }

  /** Connects, sends the login frame and completes the handshake. Rejects with CimLoginError on refusal. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const o = this.opts
      const deadline = setTimeout(() => {
        const timeout = codedError('LoginTimeout', `${o.host}:${o.port}`, o.loginTimeoutMs)
        this.fail(new CimLoginError(timeout.code, timeout.message))
      }, o.loginTimeoutMs)
      this.settle = {
        resolve: () => { clearTimeout(deadline); resolve() },
        reject: (err) => { clearTimeout(deadline); reject(err) },
      }
      const socket = o.tls
        ? tls.connect({ host: o.host, port: o.port, ca: o.tls.ca, servername: o.tls.servername, rejectUnauthorized: o.tls.rejectUnauthorized ?? true })
        : net.connect({ host: o.host, port: o.port, noDelay: true })
      // tls.connect takes no noDelay option; the TLS socket passes this on to its TCP handle.
      if (o.tls) socket.setNoDelay(true)
      this.socket = socket
      // With TLS the login is written once the handshake verified the broker's certificate.
      socket.once(o.tls ? 'secureConnect' : 'connect', () => {
        this.lastRead = Date.now()
        // Upstream login: cmd LOGIN_REQUEST (0, so absent), reqMsg userName, requestId userId.
        const properties: Record<string, string> = {}
        if (o.proto2) properties.proto = '2'
        if (o.token !== undefined) properties.token = o.token
        this.write({ reqMsg: o.userName, requestId: o.userId, properties }, () => {
          // Upstream servers send no login reply: the frame being written is all there is.
          if (!o.proto2) this.loginDone({})
        })
      })
      socket.on('data', (chunk: Buffer) => this.onData(chunk))
      socket.on('error', (err) => this.fail(err))
      socket.on('close', () => {
        this.fail(new Error(this.loggedIn ? 'connection closed by the server' : 'connection closed before login completed'))
      })
    })
  }

  /**
   * Cumulative ACK: everything up to `seq` arrived (docs/protocol.md, Acks and replay: ACK = 11,
   * requestId = seq), in stream `epoch` when the server named one (the broker ignores an ACK of
   * an epoch that is no longer the stream's).
   */
  ack(seq: number, epoch?: string): void {
    this.write(epoch === undefined ? { cmd: BaseCommand.ACK, requestId: seq } : { cmd: BaseCommand.ACK, requestId: seq, properties: { epoch } })
  }

  /** Closes without reporting it through onClose. */
  close(): void {
    this.closedByUs = true
    this.fail(new Error('connection closed by the client'))
  }

  private write(m: RequestInit, cb?: () => void): void {
    const s = this.socket
    if (!s || s.destroyed) return
    this.lastWrite = Date.now()
    s.write(encodeRequest(m), cb ? (err) => { if (!err) cb() } : undefined)
  }

  private onData(chunk: Buffer): void {
    this.lastRead = Date.now()
    try {
      this.decoder.push(chunk, (body) => this.onBody(decodeResponse(body)))
    } catch (err) {
      // A frame over the limit or a malformed body: the stream cannot be resynchronised.
      this.fail(err as Error)
      this.socket?.destroy()
    }
  }

  private onBody(f: ResponseFrame): void {
    if (this.ended) return
    if (f.cmd === BaseCommand.PING) return // a pong; lastRead is already refreshed
    if (f.cmd === BaseCommand.LOGIN_REPLY) {
      if (this.loggedIn) return
      const code = f.properties.code ?? '9000'
      if (code !== '9000') {
        this.fail(new CimLoginError(code, f.resMsg || `login refused (${code})`))
        this.socket?.destroy()
        return
      }
      this.loginDone(f.properties)
      return
    }
    if (!this.loggedIn && this.opts.proto2 && f.cmd === BaseCommand.KICK) {
      this.fail(new CimLoginError(f.properties.code ?? 'CIM_KICKED', f.properties.reason || 'kicked during login'))
      return
    }
    this.opts.onFrame(this, f)
  }

  private loginDone(reply: Record<string, string>): void {
    if (this.loggedIn || this.ended) return
    this.loggedIn = true
    const suggested = Number(reply.heartbeatSeconds) * 1000
    // The broker knows its read timeout; never ping less often than it asks.
    if (suggested > 0 && suggested < this.heartbeatMs) this.heartbeatMs = suggested
    this.schedule()
    this.opts.onLogin(this, reply)
    const s = this.settle
    this.settle = undefined
    s?.resolve()
  }

  /** One timer for both the write-idle ping and the read-idle check, set to the nearer deadline. */
  private schedule(): void {
    if (this.ended) return
    const now = Date.now()
    const pingAt = this.lastWrite + this.heartbeatMs
    const deadAt = this.lastRead + this.opts.readTimeoutMs
    this.timer = setTimeout(() => this.tick(), Math.max(1, Math.min(pingAt, deadAt) - now))
  }

  private tick(): void {
    const now = Date.now()
    if (now - this.lastRead >= this.opts.readTimeoutMs) {
      this.fail(codedError('ReadTimeout', this.opts.readTimeoutMs))
      this.socket?.destroy()
      return
    }
    if (now - this.lastWrite >= this.heartbeatMs) {
      // Upstream heartbeat packet: reqMsg "ping", requestId = own userId, cmd PING.
      this.write({ reqMsg: 'ping', requestId: this.opts.userId, cmd: BaseCommand.PING })
    }
    this.schedule()
  }

  private teardown(): void {
    this.ended = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Ends the connection once: rejects start() before login, reports onClose after it. */
  private fail(err: Error): void {
    if (this.ended) return
    this.teardown()
    this.socket?.destroy()
    const s = this.settle
    this.settle = undefined
    if (s) s.reject(err)
    else if (this.loggedIn && !this.closedByUs) this.opts.onClose(this, err)
  }
}

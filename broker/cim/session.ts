/**
 * One CIM TCP connection: framing, decoding, its state (open → logging in → logged in → closing),
 * the login transition's steps, and closing with a coded reason. Its state is private: other
 * files read it through getters and change it through the methods below.
 *
 * Kept small on purpose (target ≤ 6 KB per idle connection including the socket): no timer, no
 * per-session closure or child logger — the read timeout is a sweep over all sessions in
 * server.ts, socket events go to shared handlers, and a child logger is made only to log a line.
 * The at-least-once stream (stream.ts) is a few numbers made at login.
 *
 * This file imports neither the server nor the command handlers: it reaches them through
 * `SessionHost` (host.ts), which the server implements (so broker/cim has no import cycle).
 */
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { FrameDecoder, decodeRequest, encodeRecipientTail, type RequestFrame } from '../../proto/codec.ts'
import { cim } from '../../proto/generated/cim.js'
import { catalogue, codedError, type ErrorName } from '../../errors.ts'
import { Writer } from './writer.ts'
import { kickFrame, loginReplyFrame } from './frames.ts'
import { Stream } from './stream.ts'
import type { InboxFloor } from '../../adapters/inbox/index.ts'
import type { SessionHost as Host } from './host.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export const OPEN = 0
export const LOGGING_IN = 1
export const LOGGED_IN = 2
export const CLOSING = 3

/** What a session needs from the server that accepted it (server.ts implements it; host.ts). */
export type SessionHost = Host<Session>

/** Frames a client may send while its login is being checked (upstream sends none; ours pings and ACKs). */
const MAX_BACKLOG = 32
/** Their bytes: a login backlog holds at most this much per connection (README, Limits). */
const MAX_BACKLOG_BYTES = 64 * 1024
const CLIENT_CLOSED = catalogue.ClientClosed.code

/** The session currently being fed, so the decoder callback needs no per-session closure. */
let feeding: Session | null = null
function onFrame(body: Buffer): void {
  feeding!.onFrame(body)
}

export class Session extends Writer {
  #state = OPEN
  /** The user this connection logged in as; 0 until then. Never changed by a ping. */
  #userId = 0
  /** Presence connection id, set at login; cleared once released. */
  #connId = ''
  /** The client announced `proto=2` at login: LOGIN_REPLY, KICK, ACK, msgId/seq/ts. */
  #proto2 = false
  /** encodeRecipientTail(userId), computed once at login. */
  #tail: Buffer | null = null
  /** Last read (ms); while CLOSING, when closing started. */
  #lastRead = Date.now()
  /** When the socket was accepted (ms): the login deadline counts from here. */
  readonly openedAt = this.#lastRead
  /** Bytes of a partial frame held by the decoder, as last told to the server. */
  #partialBytes = 0
  /** Frames received while the login is in progress, handled after it. */
  #backlog: RequestFrame[] | null = null
  #backlogBytes = 0
  #stream: Stream | null = null
  readonly #decoder: FrameDecoder

  constructor(socket: Socket, readonly server: SessionHost) {
    super(socket, server.scheduler)
    this.#decoder = new FrameDecoder(server.config.maxFrameBytes)
  }

  get state(): number {
    return this.#state
  }

  get userId(): number {
    return this.#userId
  }

  get connId(): string {
    return this.#connId
  }

  get proto2(): boolean {
    return this.#proto2
  }

  /** The recipient tail of pushes to this user (logged-in sessions only). */
  get tail(): Buffer | null {
    return this.#tail
  }

  get lastRead(): number {
    return this.#lastRead
  }

  /** Bytes held for a partial frame (counted against --max-pending-frame-bytes). */
  get partialBytes(): number {
    return this.#partialBytes
  }

  /** The at-least-once stream (logged-in sessions only). */
  get stream(): Stream | null {
    return this.#stream
  }

  protected get writable(): boolean {
    return this.#state !== CLOSING
  }

  /**
   * Logs one line through a child logger naming this connection, made only when the level is
   * enabled (sessions do not keep a logger: it would cost memory on every idle connection).
   */
  log(level: LogLevel, obj: object, msg: string): void {
    const root = this.server.logger
    if (!root.isLevelEnabled(level)) return
    const s = this.socket
    root.child({ remote: `${s.remoteAddress}:${s.remotePort}`, userId: this.#userId || undefined })[level](obj, msg)
  }

  onData(chunk: Buffer): void {
    if (this.#state === CLOSING) return // discard what arrives while our FIN is on its way
    this.#lastRead = Date.now()
    feeding = this
    try {
      this.#decoder.push(chunk, onFrame)
    } catch (err) {
      // Framing errors (length over the maximum, varint too long) leave the stream unusable.
      this.failWith(err)
    } finally {
      feeding = null
    }
    // Accounted per read, not per frame: most reads end on a frame boundary and change nothing.
    if (this.#state === CLOSING) return
    const held = this.#decoder.buffered
    if (held !== this.#partialBytes) {
      const delta = held - this.#partialBytes
      this.#partialBytes = held
      this.server.partialFrameBytes(this, delta)
    }
  }

  onFrame(body: Buffer): void {
    if (this.#state === CLOSING) return
    this.server.stats.framesIn++
    let frame: RequestFrame
    try {
      frame = decodeRequest(body)
    } catch (err) {
      if (this.#state !== OPEN) return this.failWith(err)
      // Before login the only frame is the login itself: answer it as a refused login.
      this.#proto2 = sniffProto2(body)
      const e = err as { code: string; message: string }
      return this.refuseLogin(e.code, e.message)
    }
    if (this.#state === LOGGING_IN) {
      const b = (this.#backlog ??= [])
      if (b.length >= MAX_BACKLOG || (this.#backlogBytes += body.length) > MAX_BACKLOG_BYTES) {
        return this.fail('InvalidArgument', `more than ${MAX_BACKLOG} frames or ${MAX_BACKLOG_BYTES} bytes before the login answer`)
      }
      b.push(frame)
      return
    }
    this.#dispatch(frame)
  }

  #dispatch(frame: RequestFrame): void {
    try {
      this.server.dispatch(this, frame)
    } catch (err) {
      this.failWith(err)
    }
  }

  // The login transition (its steps are driven by handlers/login.ts).

  /** A login request arrived: frames decoded until the answer wait in the (bounded) backlog. */
  beginLogin(proto2: boolean): void {
    this.#proto2 = proto2
    this.#state = LOGGING_IN
  }

  /** The presence entry `connId` is claimed for `userId`: from here on, ending the session releases it. */
  bind(userId: number, connId: string): void {
    this.#userId = userId
    this.#connId = connId
  }

  /**
   * Enters the logged-in state with the stream starting at the inbox `floor` (every seq up to it was
   * acked or expired, in the floor's epoch), told to proto=2 clients in LOGIN_REPLY; then handles the frames that
   * arrived during the login, in order. The stream starts catching up: stored pushes wait until
   * the caller's login replay is written (live seq N never overtakes stored N−1). Returns whether
   * the session is still logged in after its backlog (so the replay is due).
   */
  enterLoggedIn(floor: InboxFloor, userName: string): boolean {
    const server = this.server
    this.#tail = encodeRecipientTail(this.#userId)
    this.#stream = new Stream(floor.seq, this.#proto2, floor.epoch)
    this.#state = LOGGED_IN
    server.onLogin(this, userName)
    if (this.#proto2) this.write(loginReplyFrame(null, 'ok', server.brokerId, server.heartbeatSeconds, floor.seq, floor.epoch))
    this.log('info', { userName, proto: this.#proto2 ? 2 : 1 }, 'logged in')
    const backlog = this.#backlog
    this.#backlog = null
    if (backlog) for (const f of backlog) {
      if (this.#state !== LOGGED_IN) break
      this.#dispatch(f)
    }
    return this.#state === LOGGED_IN
  }

  /** Ends the session with a catalogue error (logged, KICKed to proto=2 clients). */
  fail(name: ErrorName, ...args: unknown[]): void {
    this.failWith(codedError(name, ...args))
  }

  failWith(err: unknown): void {
    const e = err as { code?: string; message?: string }
    const code = typeof e?.code === 'string' && e.code.startsWith('CIM_') ? e.code : 'CIM_INTERNAL'
    this.end(code, e?.message ?? String(err), code === 'CIM_INTERNAL' ? 'error' : 'warn')
  }

  /**
   * Closes gracefully: releases presence now, sends KICK {code, reason} to a proto=2 client, then
   * FIN. The socket is destroyed when the peer closes, or by the sweep after a grace period.
   */
  end(code: string, reason: string, level: LogLevel = 'info', kick = true): void {
    if (this.#state === CLOSING) return
    this.log(level, { code }, reason)
    this.#close(code)
    const s = this.socket
    if (s.destroyed) return
    this.flush()
    if (kick && this.#proto2) s.write(kickFrame(code, reason))
    s.end()
  }

  /** Refuses a login: LOGIN_REPLY {code, reason} to a proto=2 client (no KICK), then close. */
  refuseLogin(code: string, reason: string, level: 'info' | 'warn' = 'warn'): void {
    if (this.#state === CLOSING) return
    this.server.stats.loginsRefused++
    if (this.#proto2) this.write(loginReplyFrame(code, reason, this.server.brokerId, this.server.heartbeatSeconds))
    this.end(code, reason, level, false)
  }

  /** Drops the connection at once (slow reader: nothing more can be written to it). */
  destroy(code: string, reason: string): void {
    if (this.#state !== CLOSING) {
      this.log('warn', { code }, reason)
      this.#close(code)
    }
    this.drop()
    this.socket.destroy()
  }

  /** The socket closed; unless we were closing it, the client hung up. */
  socketClosed(): void {
    if (this.#state !== CLOSING) {
      this.log('debug', { code: CLIENT_CLOSED }, 'client closed the connection')
      this.#close(CLIENT_CLOSED)
    }
    this.server.onGone(this)
  }

  #close(code: string): void {
    this.#state = CLOSING
    this.#lastRead = Date.now()
    this.#backlog = null
    if (this.#partialBytes !== 0) {
      this.server.partialFrameBytes(this, -this.#partialBytes)
      this.#partialBytes = 0
    }
    this.#decoder.clear()
    const connId = this.#connId
    this.#connId = ''
    this.server.onClose(this, code, connId)
  }

  protected onSlowConsumer(bytes: number): void {
    const err = codedError('SlowConsumer', bytes)
    this.destroy(err.code, err.message)
  }
}

/** Whether an undecodable login (e.g. userId > 2^53-1) came from a proto=2 client, to answer it. */
function sniffProto2(body: Buffer): boolean {
  try {
    return cim.Request.decode(body).properties?.proto === '2'
  } catch {
    return false
  }
}

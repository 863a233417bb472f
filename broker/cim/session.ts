/**
 * One CIM TCP connection: framing, decoding, the login state, and closing with a coded reason.
 *
 * Kept small on purpose (target ≤ 6 KB per idle connection including the socket): no timer, no
 * per-session closure or child logger — the read timeout is a sweep over all sessions in
 * server.ts, socket events go to shared handlers, and a child logger is made only to log a line.
 */
import type { Socket } from 'node:net'
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
import { FrameDecoder, decodeRequest, type RequestFrame } from '../../proto/codec.ts'
import { cim } from '../../proto/generated/cim.js'
import { codedError, type ErrorName } from '../../errors.ts'
import { Writer } from './writer.ts'
import { kickFrame, loginReplyFrame } from './frames.ts'
import { dispatch } from './handlers/index.ts'
import type { CimServer } from './server.ts'

export const OPEN = 0
export const LOGGING_IN = 1
export const LOGGED_IN = 2
export const CLOSING = 3

/** Frames a client may send while its login is being checked (upstream sends none). */
const MAX_BACKLOG = 32

/** The session currently being fed, so the decoder callback needs no per-session closure. */
let feeding: Session | null = null
function onFrame(body: Buffer): void {
  feeding!.onFrame(body)
}

export class Session extends Writer {
  state = OPEN
  /** The user this connection logged in as; 0 until then. Never changed by a ping. */
  userId = 0
  /** Presence connection id, set at login; cleared once released. */
  connId = ''
  /** The client announced `proto=2` at login: LOGIN_REPLY, KICK, ACK, msgId/seq/ts. */
  proto2 = false
  /** encodeRecipientTail(userId), computed once at login. */
  tail: Buffer | null = null
  /** Last read (ms); while CLOSING, when closing started. */
  lastRead = Date.now()
  /** Frames received while the login is in progress, handled after it. */
  backlog: RequestFrame[] | null = null
  // The at-least-once stream (replay.ts): a few numbers, no per-message state.
  /** Every stored message with seq ≤ this was written to this connection, or is gone. */
  sentSeq = 0
  /** Highest seq written to this connection. */
  maxSeq = 0
  /** Highest seq acked: by the client (proto=2), or taken by the socket (upstream clients). */
  ackedSeq = 0
  /** Since when written messages wait for ack progress (ms); 0 = nothing outstanding. */
  waitingSince = 0
  /** An inbox read (replay, redelivery) is in flight: stored pushes wait for it. */
  catchingUp = false
  /** Highest seq of a stored push that waited behind the inbox read. */
  pendingSeq = 0
  private readonly decoder: FrameDecoder

  constructor(socket: Socket, readonly server: CimServer) {
    super(socket, server.scheduler)
    this.decoder = new FrameDecoder(server.config.maxFrameBytes)
  }

  protected get writable(): boolean {
    return this.state !== CLOSING
  }

  /**
   * Logs one line through a child logger naming this connection, made only when the level is
   * enabled (sessions do not keep a logger: it would cost memory on every idle connection).
   */
  log(level: LogLevel, obj: object, msg: string): void {
    const root = this.server.logger
    if (!root.isLevelEnabled(level)) return
    const s = this.socket
    root.child({ remote: `${s.remoteAddress}:${s.remotePort}`, userId: this.userId || undefined })[level](obj, msg)
  }

  onData(chunk: Buffer): void {
    if (this.state === CLOSING) return // discard what arrives while our FIN is on its way
    this.lastRead = Date.now()
    feeding = this
    try {
      this.decoder.push(chunk, onFrame)
    } catch (err) {
      // Framing errors (length over the maximum, varint too long) leave the stream unusable.
      this.failWith(err)
    } finally {
      feeding = null
    }
  }

  onFrame(body: Buffer): void {
    if (this.state === CLOSING) return
    this.server.stats.framesIn++
    let frame: RequestFrame
    try {
      frame = decodeRequest(body)
    } catch (err) {
      if (this.state !== OPEN) return this.failWith(err)
      // Before login the only frame is the login itself: answer it as a refused login.
      this.proto2 = sniffProto2(body)
      const e = err as { code: string; message: string }
      return this.refuseLogin(e.code, e.message)
    }
    if (this.state === LOGGING_IN) {
      const b = (this.backlog ??= [])
      if (b.length >= MAX_BACKLOG) return this.fail('InvalidArgument', `more than ${MAX_BACKLOG} frames before the login answer`)
      b.push(frame)
      return
    }
    try {
      dispatch(this, frame)
    } catch (err) {
      this.failWith(err)
    }
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
    if (this.state === CLOSING) return
    this.log(level, { code }, reason)
    this.state = CLOSING
    this.lastRead = Date.now()
    this.backlog = null
    this.server.closed(this, code)
    const s = this.socket
    if (s.destroyed) return
    this.flush()
    if (kick && this.proto2) s.write(kickFrame(code, reason))
    s.end()
  }

  /** Refuses a login: LOGIN_REPLY {code, reason} to a proto=2 client (no KICK), then close. */
  refuseLogin(code: string, reason: string, level: 'info' | 'warn' = 'warn'): void {
    if (this.state === CLOSING) return
    this.server.stats.loginsRefused++
    if (this.proto2) this.write(loginReplyFrame(code, reason, this.server.brokerId, this.server.heartbeatSeconds))
    this.end(code, reason, level, false)
  }

  /** Drops the connection at once (slow reader: nothing more can be written to it). */
  destroy(code: string, reason: string): void {
    if (this.state !== CLOSING) {
      this.log('warn', { code }, reason)
      this.state = CLOSING
      this.server.closed(this, code)
    }
    this.drop()
    this.socket.destroy()
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

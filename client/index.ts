/**
 * CimClient: the TypeScript counterpart of the upstream cim-client-sdk. Asks the route for a live
 * broker (POST /v1/users/{userId}/connect with its token; /login on older routes), holds one CIM
 * TCP connection, and sends through the route's CIM-compatible endpoints. With proto=2 (default)
 * it also gets LOGIN_REPLY/KICK, acks stored pushes cumulatively (never past a gap), drops
 * redeliveries by seq and msgId, and hands stored messages to the app in seq order, across
 * reconnects and brokers.
 *
 * Unlike upstream, a reconnect logs in through the route every time (upstream's reconnect does too,
 * but gives up on a "repeat login" answer; we clear our own stale login once and retry).
 */
import { EventEmitter } from 'node:events'
import { BaseCommand, type ResponseFrame } from '../proto/codec.ts'
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts'
import { CimConnection, CimLoginError } from './connection.ts'
import { RecentIds, SeqWindow, deliverySeq, messagesOf, intProperty, type CimMessage } from './inbound.ts'
import { RouteApi, type SendResult, type ServerInfo, type UserInfo } from './route.ts'
import { CompatCode, catalogue } from '../errors.ts'
import type { CimClientEvents, CimClientOptions, CimClientState, KickInfo } from './options.ts'

export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts'
export { RecentIds, SeqWindow, messagesOf, type CimMessage } from './inbound.ts'
export { CimRouteError, RouteApi, type SendResult, type ServerInfo, type UserInfo } from './route.ts'
export { CompatCode } from '../errors.ts'
export { CimConnection, CimLoginError } from './connection.ts'
export type { CimClientOptions, CimClientState, CimClientEvents, ConnectedInfo, DisconnectedInfo, KickInfo } from './options.ts'

/** config.ts cimTlsPort's default (client/ does not import config.ts). */
const DEFAULT_CIM_TLS_PORT = 11443
/** A stored message waiting in the seq window. */
interface Held { msgId: string | undefined; msgs: CimMessage[] }

/** TCP connect failures: nothing listens there (a killed broker) or the host is gone. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT'])
const isUnreachable = (err: unknown) => UNREACHABLE.has((err as { code?: string }).code ?? '')

/** KICK codes after which logging in again is wrong or pointless. */
const TERMINAL_KICKS = new Set<string>([catalogue.Kicked.code, catalogue.AdminKick.code, catalogue.Forbidden.code, catalogue.AccountMismatch.code])
/** Login answers a retry cannot fix. */
const FATAL_LOGIN = new Set<string>([CompatCode.ACCOUNT_NOT_MATCH, catalogue.AccountMismatch.code, catalogue.UserNotFound.code, catalogue.Forbidden.code])
/** Token refusals (login answers and KICKs): fatal with a fixed token; a token provider may fix them. */
const TOKEN_REFUSALS = new Set<string>([catalogue.Unauthorized.code, catalogue.TokenExpired.code, catalogue.TokenRevoked.code])

export class CimClient extends EventEmitter<CimClientEvents> {
  readonly userName: string
  readonly route: RouteApi
  private id: number | undefined
  private readonly proto2: boolean
  private readonly heartbeatMs: number
  private readonly readTimeoutMs: number
  private readonly backoff: BackoffOptions | false
  private readonly recent: RecentIds
  private readonly window: SeqWindow<Held>
  private dropped = 0
  private conn?: CimConnection
  private server?: ServerInfo & { brokerId?: string }
  private status: CimClientState = 'idle'
  private closed = false
  private attempt = 0
  private connecting?: Promise<void>
  private reconnectTimer?: NodeJS.Timeout
  private ackDue = false
  /** The broker's LOGIN_REPLY said it marks at-least-once pushes (`qosMarked`): trust only marked seqs. */
  private qosMarked = false

  constructor(private readonly opts: CimClientOptions) {
    super()
    this.userName = opts.userName
    this.id = opts.userId
    this.proto2 = opts.proto2 ?? true
    this.heartbeatMs = opts.heartbeatMs ?? 10_000
    this.readTimeoutMs = opts.readTimeoutMs ?? 3 * this.heartbeatMs
    this.backoff = opts.reconnect === false ? false : { ...DEFAULT_BACKOFF, ...opts.reconnect }
    this.recent = new RecentIds(opts.dedupCapacity ?? 4096)
    this.window = new SeqWindow<Held>(opts.maxHeld ?? 4096)
    this.route = new RouteApi({ routeUrl: opts.routeUrl, timeoutMs: opts.requestTimeoutMs, ca: opts.tls?.ca })
  }

  /** Own userId (known after connect() when it was not given). */
  get userId(): number | undefined {
    return this.id
  }

  get state(): CimClientState {
    return this.status
  }

  /** Redelivered copies dropped so far (by seq or by msgId): the app never saw them. */
  get duplicatesDropped(): number {
    return this.dropped
  }

  /** Stored messages received past a gap, waiting for the missing seq before the app gets them. */
  get holding(): number {
    return this.window.holding
  }

  /** The broker of the current (or last) connection. */
  get broker(): (ServerInfo & { brokerId?: string }) | undefined {
    return this.server
  }

  /**
   * Registers (when no userId), asks the route for its broker (with the token), opens TCP to it and
   * sends the login frame. Resolves when logged in: on LOGIN_REPLY with proto2, else once the
   * login frame is written. Rejects with CimRouteError (route code) or CimLoginError (broker code).
   */
  connect(): Promise<void> {
    if (this.status === 'connected') return Promise.resolve()
    if (this.connecting) return this.connecting
    this.closed = false
    clearTimeout(this.reconnectTimer)
    this.status = 'connecting'
    this.connecting = this.establish(false)
      .catch((err: Error) => {
        if (this.status === 'connecting') this.status = 'idle'
        throw err
      })
      .finally(() => { this.connecting = undefined })
    return this.connecting
  }

  /** Stops timers and closes the socket; no reconnect. The route learns from the broker (see offline() to log out explicitly). */
  close(): void {
    this.closed = true
    this.status = 'closed'
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = undefined
    const c = this.conn
    this.conn = undefined
    c?.close()
  }

  /** Private message through the route (/p2pRoute). `delivered: false` = stored for the receiver's next login. */
  async sendP2P(receiveUserId: number, text: string): Promise<SendResult> {
    return this.route.p2p(await this.ensureUserId(), receiveUserId, text)
  }

  /** Group message to every online user (/groupRoute). */
  async sendGroup(text: string): Promise<void> {
    await this.route.group(await this.ensureUserId(), text)
  }

  /** Online users (/onlineUser). */
  onlineUsers(): Promise<UserInfo[]> {
    return this.route.onlineUsers()
  }

  /**
   * Logs out: closes the connection (no reconnect), then clears the login on the route (/offLine)
   * — upstream's close(). Closing first keeps the route's resulting kick from reaching us as one.
   */
  async offline(): Promise<void> {
    this.close()
    await this.route.offLine(await this.ensureUserId())
  }

  /** Asks for stored messages to be replayed over the socket now (/fetchOfflineMsgs). */
  async fetchOffline(): Promise<void> {
    await this.route.fetchOfflineMsgs(await this.ensureUserId())
  }

  private async ensureUserId(): Promise<number> {
    if (this.id === undefined) {
      const u = await this.route.registerAccount(this.userName)
      this.id = Number(u.userId)
    }
    return this.id
  }

  private async establish(reconnect: boolean): Promise<void> {
    const userId = await this.ensureUserId()
    // The token comes first: the route checks it too before naming a broker (docs/security.md, Tokens).
    const provider = this.tokenProvider()
    let token = provider ? await provider() : this.opts.token as string | undefined
    for (let renewed = false; ; renewed = true) {
      this.assertOpen()
      try {
        // After a drop, not the broker we just lost at first: it may be dead but still listed
        // (until its ZooKeeper session expires) or draining. The route ignores the wish when no
        // other broker is left, so a single broker's clients come back to it.
        const lost = reconnect && this.server?.brokerId !== undefined ? [this.server.brokerId] : []
        const server = await this.findBroker(userId, token, reconnect, lost)
        this.assertOpen()
        try {
          return await this.open(server, userId, token, reconnect)
        } catch (err) {
          // A killed broker stays listed until its ZooKeeper session expires, so the route may name
          // it again: ask once more, at once, for any other broker (a backoff delay would only
          // wait for the same answer).
          if (!isUnreachable(err) || server.brokerId === undefined) throw err
          const other = await this.findBroker(userId, token, reconnect, [...lost, server.brokerId])
          if (other.brokerId === server.brokerId) throw err
          this.assertOpen()
          return await this.open(other, userId, token, reconnect)
        }
      } catch (err) {
        // An expired token: ask for a new one at once, once, rather than after a backoff delay.
        if (renewed || !provider || (err as { code?: string }).code !== catalogue.TokenExpired.code) throw err
        token = await provider()
      }
    }
  }

  /** The broker the route names (client/route.ts findBroker). */
  private async findBroker(userId: number, token: string | undefined, reconnect: boolean, avoid: string[] = []): Promise<ServerInfo> {
    try {
      return await this.route.findBroker(userId, this.userName, token, avoid)
    } catch (err) {
      // After a drop the route may still hold our old login (the broker has not noticed yet): clear
      // it, as upstream's reconnect does, and try once more. /offLine exists only with compat; without
      // it the repeat-login refusal stands and the reconnect backoff retries.
      const code = (err as { code?: string }).code
      if (!reconnect || (code !== CompatCode.REPEAT_LOGIN && code !== catalogue.RepeatLogin.code)) throw err
      await this.route.offLine(userId).catch(() => { throw err })
      this.assertOpen()
      return this.route.findBroker(userId, this.userName, token, avoid)
    }
  }

  /** `tokenProvider`, or a `token` given as a function. */
  private tokenProvider(): (() => string | Promise<string>) | undefined {
    return this.opts.tokenProvider ?? (typeof this.opts.token === 'function' ? this.opts.token : undefined)
  }

  /** Opens TCP to the broker the route named and logs in there. */
  private async open(server: ServerInfo, userId: number, token: string | undefined, reconnect: boolean): Promise<void> {
    const tls = this.opts.tls
    const conn = new CimConnection({
      host: server.ip,
      port: tls ? (server.cimTlsPort ?? tls.port ?? DEFAULT_CIM_TLS_PORT) : server.cimServerPort,
      tls,
      userId,
      userName: this.userName,
      proto2: this.proto2,
      token,
      heartbeatMs: this.heartbeatMs,
      readTimeoutMs: this.readTimeoutMs,
      loginTimeoutMs: this.opts.loginTimeoutMs ?? 5_000,
      maxFrameBytes: this.opts.maxFrameBytes,
      onLogin: (c, reply) => this.onLogin(c, reply, server, reconnect),
      onFrame: (c, f) => this.onFrame(c, f),
      onClose: (c, err) => this.onDisconnect(c, err?.message ?? 'connection closed'),
    })
    this.conn = conn
    try {
      await conn.start()
    } catch (err) {
      if (this.conn === conn) this.conn = undefined
      throw err
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('client closed')
  }

  private onLogin(conn: CimConnection, reply: Record<string, string>, server: ServerInfo, reconnect: boolean): void {
    if (conn !== this.conn) return
    this.status = 'connected'
    this.attempt = 0
    this.server = { ...server, brokerId: reply.brokerId ?? server.brokerId }
    this.qosMarked = reply.qosMarked === '1'
    this.emit('connected', { ...this.server, userId: this.id as number, userName: this.userName, reconnect })
    // Where our sequence stands on the server: a fresh process starts its window there; a
    // reconnecting one that holds more than the server knows re-acks it (the last ACK was lost).
    const floor = intProperty(reply.ackedSeq)
    if (floor !== undefined) {
      // A new stream epoch (the server lost our seq counter): the window starts again at its floor,
      // so a re-ack below can only name seqs of this stream.
      if (reply.epoch) this.release(this.window.enterEpoch(reply.epoch, floor))
      this.release(this.window.advanceTo(floor))
      if ((this.window.ackSeq ?? 0) > floor) this.requestAck()
    }
  }

  private onFrame(conn: CimConnection, f: ResponseFrame): void {
    if (conn !== this.conn) return
    switch (f.cmd) {
      case BaseCommand.KICK: {
        const kick = { code: f.properties.code ?? 'CIM_KICKED', reason: f.properties.reason ?? '' }
        // The server closes right after a KICK; act on the reason now rather than on the close.
        conn.close()
        this.onDisconnect(conn, kick.reason || kick.code, kick)
        return
      }
      case BaseCommand.LOGIN_REPLY:
      case BaseCommand.ACK:
        return
      default:
        this.onPush(f)
    }
  }

  private onPush(f: ResponseFrame): void {
    // A seq the broker did not mark as at-least-once (a forged property) must not touch the window.
    const seq = deliverySeq(f.properties, this.qosMarked)
    const msgs = messagesOf(f, BaseCommand.OFFLINE, this.qosMarked)
    const msgId = f.properties.msgId || undefined
    if (seq === undefined) {
      // At most once (qos 0, broadcast): only a repeated msgId can make it a duplicate.
      if (msgId !== undefined && !this.recent.add(msgId)) this.dropped++
      else this.deliver(msgs)
      return
    }
    // Stored (at least once): always ack, a redelivery too, so the broker can drop what we have.
    this.requestAck()
    // Its seq counts in this stream epoch; a new one starts the window again (inbound.ts SeqWindow).
    const epoch = f.properties.epoch
    if (epoch) this.release(this.window.enterEpoch(epoch))
    const { ready, duplicate } = this.window.accept(seq, { msgId, msgs }, intProperty(f.properties.prevSeq))
    if (duplicate) this.dropped++
    this.release(ready)
  }

  /**
   * Hands in-order stored messages to the app. A msgId seen before under another seq is the same
   * message stored twice (a push retried with its idempotency key): dropped.
   */
  private release(ready: Held[]): void {
    for (const h of ready) {
      if (h.msgId !== undefined && !this.recent.add(h.msgId)) this.dropped++
      else this.deliver(h.msgs)
    }
  }

  /** One cumulative ACK per read, however many pushes it carried. */
  private requestAck(): void {
    if (!this.proto2 || this.ackDue) return
    this.ackDue = true
    queueMicrotask(() => {
      this.ackDue = false
      const seq = this.window.ackSeq
      if (seq !== undefined && seq > 0) this.conn?.ack(seq, this.window.epoch)
    })
  }

  private deliver(msgs: CimMessage[]): void {
    for (const m of msgs) {
      try {
        this.opts.onMessage?.(m)
        this.emit('message', m)
      } catch (err) {
        this.emitError(err as Error)
      }
    }
  }

  private emitError(err: Error): void {
    // An EventEmitter throws on an unheard 'error'; a reconnecting client must not crash its host.
    if (this.listenerCount('error') > 0) this.emit('error', err)
  }

  private onDisconnect(conn: CimConnection, reason: string, kick?: KickInfo): void {
    if (conn !== this.conn) return
    this.conn = undefined
    if (this.closed) return
    const terminal = kick !== undefined && (TERMINAL_KICKS.has(kick.code) || (TOKEN_REFUSALS.has(kick.code) && !this.tokenProvider()))
    const willReconnect = !terminal && this.backoff !== false
    this.status = willReconnect ? 'reconnecting' : 'closed'
    if (!willReconnect) this.closed = true
    this.emit('disconnected', { reason, code: kick?.code, willReconnect })
    if (terminal && kick) this.emit('kicked', kick)
    if (!willReconnect) return
    // A draining broker asks us to move now; the route will pick another one.
    this.scheduleReconnect(kick?.code === 'CIM_DRAINING' ? 0 : this.nextDelay())
  }

  private nextDelay(): number {
    return backoffDelay(this.attempt++, this.backoff || DEFAULT_BACKOFF)
  }

  private scheduleReconnect(delayMs: number): void {
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      void this.reconnectOnce()
    }, delayMs)
  }

  private async reconnectOnce(): Promise<void> {
    if (this.closed) return
    try {
      await this.establish(true)
    } catch (err) {
      if (this.closed) return
      this.emitError(err as Error)
      const code = (err as { code?: string }).code
      if (code !== undefined && (FATAL_LOGIN.has(code) || (TOKEN_REFUSALS.has(code) && !this.tokenProvider()))) {
        this.status = 'closed'
        this.closed = true
        return
      }
      this.scheduleReconnect(this.nextDelay())
    }
  }
}

/**
 * The CIM TCP server: accepts sockets, owns the sessions (all of them, and the logged-in ones by
 * userId), sweeps read timeouts and asks each stream whether redelivery is due, and drains on
 * shutdown. It is each session's SessionHost (session.ts). With a certificate it also listens for
 * CIM over TLS on a second port (docs/security.md, TLS): the same sessions and handlers, the
 * session sees a TLSSocket where it would see a Socket.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { BrokerSettings } from '../../config.ts'
import type { Adapters } from '../../adapters/index.ts'
import type { PresenceEntry } from '../../adapters/presence/index.ts'
import type { AuthHooks } from '../auth.ts'
import type { KickRequest } from '../api/index.ts'
import type { RequestFrame } from '../../proto/codec.ts'
import { catalogue, codedError } from '../../errors.ts'
import { FlushScheduler } from './writer.ts'
import { CLOSING, LOGGED_IN, LOGGING_IN, OPEN, Session, type SessionHost } from './session.ts'
import { catchUp } from './replay.ts'
import { dispatch } from './handlers/index.ts'
import { newCimStats, type CimStats } from './stats.ts'
import { TLS_HANDSHAKE_TIMEOUT_MS, type TlsWatcher } from '../../security/tls.ts'
import { Events, type OfflineReason } from '../../events/index.ts'

export type { CimStats } from './stats.ts'

export interface CimServerOptions {
  config: BrokerSettings
  adapters: Adapters
  auth: AuthHooks
  logger: Logger
  /** user.online / user.offline / push.acked go here. Default: none (emit is one check). */
  events?: Events
  /** Asks the broker holding a replaced login to close it (kick-old across brokers). */
  kickRemote?: (brokerId: string, req: Omit<KickRequest, 'type'>) => Promise<boolean>
}

/** How long a closing socket may take to acknowledge our FIN before it is destroyed. */
const CLOSE_GRACE_MS = 2000

const kSession = Symbol('cim.session')
type CimSocket = Socket & { [kSession]: Session }

// Shared socket listeners (`this` is the socket): no closures per connection.
function onSocketData(this: CimSocket, chunk: Buffer): void {
  this[kSession].onData(chunk)
}
function onSocketError(this: CimSocket, err: Error): void {
  const s = this[kSession]
  if (s.state !== CLOSING) s.log('debug', { err: err.message }, 'socket error')
}
function onSocketClose(this: CimSocket): void {
  this[kSession].socketClosed()
}

export class CimServer implements SessionHost {
  readonly config: BrokerSettings
  readonly adapters: Adapters
  readonly auth: AuthHooks
  readonly logger: Logger
  readonly events: Events
  readonly scheduler: FlushScheduler
  readonly sessions = new Set<Session>()
  /** Logged-in sessions by userId (one per user on this broker). */
  readonly users = new Map<number, Session>()
  /** Each logged-in session's presence entry, as its login claimed it. */
  private readonly presenceEntries = new WeakMap<Session, PresenceEntry>()
  readonly stats: CimStats = newCimStats()
  /** What proto=2 clients are told in LOGIN_REPLY: ping at a third of the read timeout. */
  readonly heartbeatSeconds: number
  kickRemote: CimServerOptions['kickRemote']
  /** Set when the broker knows its id (after listen). */
  brokerId = ''
  /** No new logins (shutdown in progress). */
  draining = false
  /** Set while the broker starts: logins wait for it (see holdLogins). */
  loginGate: Promise<void> | undefined
  private openGate: (() => void) | undefined
  private readonly server: Server
  private tlsServer: TlsServer | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private closedPromise: Promise<void> | undefined
  private idleWaiters: Array<() => void> = []
  private readonly nonce = randomBytes(6).toString('base64url')
  private connSeq = 0
  /** Bytes of partial frames held across every session (--max-pending-frame-bytes). */
  private pendingFrameBytes = 0

  constructor(opts: CimServerOptions) {
    this.config = opts.config
    this.adapters = opts.adapters
    this.auth = opts.auth
    this.logger = opts.logger
    this.events = opts.events ?? new Events(opts.config.brokerId || 'broker')
    this.kickRemote = opts.kickRemote
    this.scheduler = new FlushScheduler(opts.config.maxQueuedBytes)
    this.heartbeatSeconds = Math.max(1, Math.floor(opts.config.readTimeoutMs / 3000))
    // Nagle on costs ~44 ms per request/answer round trip (docs/architecture.md, Conventions); same for CIM.
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket))
    this.server.on('error', (err) => this.logger.error({ err }, 'CIM server error'))
  }

  /** Binds the CIM port (0 = any free port) and starts the read-timeout sweep. Returns the port. */
  async listen(port: number, host: string): Promise<number> {
    const bound = await listenOn(this.server, port, host, this.config.listenBacklog)
    const { readTimeoutMs, ackTimeoutMs, loginTimeoutMs } = this.config
    const tick = Math.min(1000, Math.max(10, Math.floor(Math.min(readTimeoutMs, ackTimeoutMs, loginTimeoutMs) / 4)))
    this.sweepTimer = setInterval(() => this.sweep(), tick).unref()
    return bound
  }

  /**
   * Binds CIM over TLS (0 = any free port); the watcher keeps its certificate current. Sessions
   * start at the end of the handshake, so a client that does not trust the certificate never
   * gets one. Returns the port.
   */
  listenTls(port: number, host: string, watcher: TlsWatcher): Promise<number> {
    const server = createTlsServer(
      { ...watcher.options, noDelay: true, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
      (socket) => this.accept(socket),
    )
    server.on('tlsClientError', (err) => this.logger.debug({ err: err.message }, 'CIM TLS handshake failed'))
    server.on('error', (err) => this.logger.error({ err }, 'CIM TLS server error'))
    watcher.add(server)
    this.tlsServer = server
    return listenOn(server, port, host, this.config.listenBacklog)
  }

  private accept(raw: Socket): void {
    if (this.draining) {
      raw.destroy()
      return
    }
    if (this.sessions.size >= this.config.maxConnections) {
      // Refused before a session exists: nothing read, nothing allocated. A proto=2 client cannot be
      // told why before its login, so the close is the answer; /metrics counts it by code.
      const code = catalogue.TooManyConnections.code
      this.stats.closes.set(code, (this.stats.closes.get(code) ?? 0) + 1)
      if (this.logger.isLevelEnabled('debug')) this.logger.debug({ code, remote: raw.remoteAddress }, 'connection refused: maxConnections reached')
      raw.on('error', ignore)
      raw.destroy()
      return
    }
    const socket = raw as CimSocket
    const session = new Session(socket, this)
    socket[kSession] = session
    socket.on('data', onSocketData)
    socket.on('error', onSocketError)
    socket.on('close', onSocketClose)
    this.sessions.add(session)
  }

  /**
   * Logins that arrive from now on wait until releaseLogins(): a starting broker first learns its
   * id and clears what a previous run of it left in presence (broker/index.ts), so no login is
   * recorded under an empty id or erased by that clearing.
   */
  holdLogins(): void {
    if (this.loginGate) return
    this.loginGate = new Promise((resolve) => { this.openGate = resolve })
  }

  releaseLogins(): void {
    this.loginGate = undefined
    this.openGate?.()
    this.openGate = undefined
  }

  /** A connection id unique across brokers, so a late release never erases a newer login. */
  newConnId(): string {
    return `${this.nonce}.${(++this.connSeq).toString(36)}`
  }

  /** The command handlers, reached through the host so session.ts does not import them. */
  dispatch(session: Session, frame: RequestFrame): void {
    dispatch(session, frame)
  }

  /**
   * A session's partial frame grew or shrank. Past the broker-wide cap, the session holding the
   * largest partial frame is closed (not the one that read last: a legitimate client finishing a
   * large frame should not lose to connections parking partial frames). The scan over sessions
   * happens only when the cap is passed.
   */
  partialFrameBytes(_s: Session, delta: number): void {
    this.pendingFrameBytes += delta
    const cap = this.config.maxPendingFrameBytes
    while (delta > 0 && this.pendingFrameBytes > cap) {
      let largest: Session | undefined
      for (const s of this.sessions) {
        if (s.state !== CLOSING && s.partialBytes > (largest?.partialBytes ?? 0)) largest = s
      }
      if (!largest) break
      // Closing returns its bytes (session.ts #close), so the loop ends.
      largest.fail('PendingFramesFull', cap, largest.partialBytes)
    }
  }

  onLogin(s: Session, userName: string): void {
    this.users.set(s.userId, s)
    // What the heartbeat writes back if the store loses it (broker/registration.ts). `since` is
    // taken here, a few ms after the login's claim.
    this.presenceEntries.set(s, { id: String(s.userId), name: userName, brokerId: this.brokerId, connId: s.connId, since: Date.now() })
    this.stats.logins++
    if (this.events.active) this.events.emit({ type: 'user.online', userId: s.userId, userName, connId: s.connId })
  }

  /** The session is ending: forget its user binding and release its presence entry. */
  onClose(s: Session, code: string, connId: string): void {
    this.stats.closes.set(code, (this.stats.closes.get(code) ?? 0) + 1)
    if (s.userId !== 0 && this.users.get(s.userId) === s) this.users.delete(s.userId)
    // A session that went online (it has a stream) goes offline, whatever ended it.
    if (this.events.active && s.stream !== null) {
      this.events.emit({ type: 'user.offline', userId: s.userId, connId, reason: offlineReasonOf(code), code })
    }
    if (connId !== '') {
      this.adapters.presence.users.release(String(s.userId), connId).catch((err) => {
        this.logger.warn({ err, userId: s.userId }, 'presence release failed (the entry expires with its TTL)')
      })
    }
  }

  onGone(s: Session): void {
    this.sessions.delete(s)
    if (this.sessions.size === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  /**
   * One periodic pass instead of a timer per socket: read timeouts, login deadlines, stuck closes,
   * and stored messages written without ack progress for ackTimeoutMs (redelivered on the same
   * connection).
   */
  private sweep(): void {
    const now = Date.now()
    const limit = this.config.readTimeoutMs
    const ackTimeout = this.config.ackTimeoutMs
    const loginTimeout = this.config.loginTimeoutMs
    for (const s of this.sessions) {
      if (s.state === CLOSING) {
        if (now - s.lastRead > CLOSE_GRACE_MS) s.socket.destroy()
      } else if (now - s.lastRead > limit) {
        const err = codedError('ReadTimeout', limit)
        s.end(err.code, err.message, 'info')
      } else if (s.state !== LOGGED_IN && now - s.openedAt > loginTimeout) {
        // A socket that sends a byte now and then never hits the read timeout; it gets this long
        // to log in (a login still being checked is refused, so a proto=2 client reads why).
        const err = codedError('LoginDeadline', loginTimeout)
        if (s.state === LOGGING_IN) s.refuseLogin(err.code, err.message, 'info')
        else if (s.state === OPEN) s.end(err.code, err.message, 'info')
      } else if (s.state === LOGGED_IN && s.stream!.dueForRedelivery(now, ackTimeout)) {
        catchUp(s, s.stream!.redeliverAfter, 'redeliver')
          .catch((err) => s.log('warn', { err }, 'redelivery failed (retried after the ack timeout)'))
      }
    }
  }

  /** The presence entries of the users logged in here (the presence heartbeat, broker/registration.ts). */
  localUserEntries(): PresenceEntry[] {
    return [...this.users.values()].flatMap((s) => this.presenceEntries.get(s) ?? [])
  }

  loggedIn(userId: number): Session | undefined {
    const s = this.users.get(userId)
    return s !== undefined && s.state === LOGGED_IN ? s : undefined
  }

  /** Stops accepting new connections; existing ones stay until drain(). */
  stopAccepting(): void {
    if (this.closedPromise) return
    const closed = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()))
    const tls = this.tlsServer?.listening ? closed(this.tlsServer) : undefined
    this.closedPromise = Promise.all([closed(this.server), tls]).then(() => {})
  }

  /**
   * Ends every session with `code` (proto=2 clients get a KICK first) and waits until their
   * sockets are closed; the sweep destroys any that do not close within the grace period.
   */
  async drain(code: string, reason: string): Promise<void> {
    this.draining = true
    this.stopAccepting()
    for (const s of this.sessions) s.end(code, reason, 'debug')
    if (this.sessions.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  async close(): Promise<void> {
    await this.drain('CIM_DRAINING', 'broker closing')
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.scheduler.flushAll()
    await this.closedPromise
  }
}

function ignore(): void {}

/** The user.offline reason of a close code: operators' and token kicks are kicks too; the code says which. */
function offlineReasonOf(code: string): OfflineReason {
  switch (code) {
    case catalogue.Kicked.code:
    case catalogue.AdminKick.code:
    case catalogue.TokenRevoked.code:
      return 'kicked'
    case catalogue.ReadTimeout.code:
      return 'timeout'
    case catalogue.SlowConsumer.code:
      return 'slow_consumer'
    case catalogue.Draining.code:
      return 'draining'
    default:
      return 'closed'
  }
}

function listenOn(server: Server, port: number, host: string, backlog: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, backlog }, () => {
      server.off('error', reject)
      resolve((server.address() as { port: number }).port)
    })
  })
}

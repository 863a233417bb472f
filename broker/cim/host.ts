/**
 * The server as one CIM session sees it (docs/architecture.md, The parts): settings, adapters, the
 * flush scheduler, counters, and the calls a session makes into the server.
 */
import type { Logger } from 'pino'
import type { RequestFrame } from '../../proto/codec.ts'
import type { BrokerSettings } from '../../config.ts'
import type { Adapters } from '../../adapters/index.ts'
import type { AuthHooks } from '../auth.ts'
import type { KickRequest } from '../api/index.ts'
import type { FlushScheduler } from './writer.ts'
import type { CimStats } from './stats.ts'
import type { Events } from '../../events/index.ts'

/**
 * What a session needs from the server that accepted it (server.ts implements it). Generic in the
 * session type so this file needs nothing of session.ts (session.ts: `SessionHost = Host<Session>`).
 */
export interface SessionHost<Session> {
  readonly config: BrokerSettings
  readonly adapters: Adapters
  readonly auth: AuthHooks
  readonly logger: Logger
  readonly scheduler: FlushScheduler
  readonly stats: CimStats
  /** user.online / user.offline / push.acked go here (README "Events to your backend"). */
  readonly events: Events
  /** What proto=2 clients are told in LOGIN_REPLY. */
  readonly heartbeatSeconds: number
  readonly brokerId: string
  /** No new logins (shutdown in progress). */
  readonly draining: boolean
  /** Set while the broker starts: logins wait for it (server.ts holdLogins). */
  readonly loginGate: Promise<void> | undefined
  /** Logged-in sessions by userId (one per user on this broker). */
  readonly users: ReadonlyMap<number, Session>
  /** Asks the broker holding a replaced login to close it (kick-old across brokers). */
  readonly kickRemote?: (brokerId: string, req: Omit<KickRequest, 'type'>) => Promise<boolean>
  /** A connection id unique across brokers. */
  newConnId(): string
  /** Handles a decoded frame: the command handlers (handlers/index.ts). */
  dispatch(session: Session, frame: RequestFrame): void
  /** The session logged in: it is now the user's session on this broker. */
  onLogin(session: Session, userName: string): void
  /** The bytes this session holds for a partial frame changed by `delta` (the broker-wide cap). */
  partialFrameBytes(session: Session, delta: number): void
  /** The session is ending: forget its user binding and release presence entry `connId` ('' = none). */
  onClose(session: Session, code: string, connId: string): void
  /** The socket is closed: forget the session. */
  onGone(session: Session): void
}

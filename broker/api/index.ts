/**
 * The broker's bus API, its one public face: what a route (or another broker) may ask a broker to
 * do, and what each request is answered with. `BrokerApi` maps every request kind to its request and
 * reply; the broker's handler (handler.ts), the route's client (client.ts) and the route's test double
 * (test/support/fake-broker.ts) are all typed from it, so a kind added here does not compile until
 * every side handles it. Requests go to `brokerChannel(id)` or, for a broadcast, `BROADCAST_CHANNEL`;
 * answers come back through BusRpc. Everything here is plain JSON, so it crosses Redis pub/sub
 * unchanged (docs/protocol.md).
 */
import type { BusMessage } from '../../adapters/bus/index.ts'
import { catalogue, codedError, type ErrorName } from '../../errors.ts'

/** Push text to users connected to this broker (one bus message per broker, however many users). */
export interface PushRequest {
  type: 'push'
  userIds: number[]
  text: string
  /** Sender metadata; the broker adds receiveUserId (and msgId/seq/ts for proto=2 clients). */
  properties: Record<string, string>
  /** Set when the message is stored in the inbox (qos 1): each recipient's seq for this message. */
  seqs?: Record<string, number>
  /**
   * With `seqs`: the epoch of each recipient's stream that seq counts in (adapters/inbox InboxFloor).
   * A route that predates epochs sends none: the session's stream keeps its own.
   */
  epochs?: Record<string, string>
  msgId?: string
  /** When the route accepted the message (ms); the `ts` proto=2 clients get. Default: the broker's clock. */
  ts?: number
}

/** Push to every CIM connection of this broker. */
export interface BroadcastRequest {
  type: 'broadcast'
  text: string
  properties: Record<string, string>
  msgId?: string
}

/** Disconnect a user (admin kick, or a newer login elsewhere with the kick-old policy). */
export interface KickRequest {
  type: 'kick'
  userId: number
  /** Only this connection; absent = whatever connection the user has here. */
  connId?: string
  /** Catalogue code sent to proto=2 clients in the KICK frame. */
  code: string
  reason: string
}

/** Publish an MQTT message through this broker's aedes (which reaches every node via its mq). */
export interface PublishRequest {
  type: 'publish'
  topic: string
  /** base64 payload, so binary survives JSON. */
  payload: string
  qos: 0 | 1 | 2
  retain: boolean
}

/** Ask the broker to replay a user's stored messages now (CIM-compatible fetchOfflineMsgs). */
export interface ReplayRequest {
  type: 'replay'
  userId: number
}

/**
 * Close an MQTT client connected to this broker (its device tokens were revoked). Sent on the
 * broadcast channel: every broker answers, the one holding the client closes it.
 */
export interface DisconnectDeviceRequest {
  type: 'disconnectDevice'
  deviceId: string
  /** Catalogue code, logged (MQTT 3.1.1 has no server-sent DISCONNECT to carry it). */
  code: string
  reason: string
}

export interface PushReply {
  type: 'push-result'
  /** Written to the user's live connection here. */
  delivered: number[]
  /** Not connected here. */
  offline: number[]
  /**
   * Connected here, but the stored message waits behind this connection's inbox replay (or
   * redelivery), which writes it in seq order in a moment.
   */
  queued?: number[]
}
export interface BroadcastReply { type: 'broadcast-result'; brokerId: string; users: number }
export interface KickReply { type: 'kick-result'; kicked: boolean }
/** `code`: the catalogue code of a refusal (e.g. CIM_RETAINED_FULL), when the failure has one. */
export interface PublishReply { type: 'publish-result'; ok: boolean; error?: string; code?: string }
export interface ReplayReply { type: 'replay-result'; delivered: number }
export interface DisconnectDeviceReply { type: 'disconnectDevice-result'; brokerId: string; disconnected: boolean }

/**
 * Every request kind, with its request and its reply. A reply's `type` is `<kind>-result`; the
 * `WellFormed` check below rejects an entry that breaks this.
 */
export interface BrokerApi {
  push: { request: PushRequest; reply: PushReply }
  broadcast: { request: BroadcastRequest; reply: BroadcastReply }
  kick: { request: KickRequest; reply: KickReply }
  publish: { request: PublishRequest; reply: PublishReply }
  replay: { request: ReplayRequest; reply: ReplayReply }
  disconnectDevice: { request: DisconnectDeviceRequest; reply: DisconnectDeviceReply }
}

export type RequestKind = keyof BrokerApi
export type Request<K extends RequestKind = RequestKind> = BrokerApi[K]['request']
export type Reply<K extends RequestKind = RequestKind> = BrokerApi[K]['reply']
/** Any request (a union over the kinds). */
export type BrokerRequest = Request
/** A request without its kind tag: what the client's methods take. */
export type RequestBody<K extends RequestKind> = Omit<Request<K>, 'type'>

/** Compile-time only: each request is tagged with its kind, each reply with `<kind>-result`. */
type WellFormed<T extends { [K in RequestKind]: { request: { type: K }; reply: { type: `${K}-result` } } }> = T
export type CheckedBrokerApi = WellFormed<BrokerApi>

/**
 * The answer to a request the broker could not handle: a kind it does not know (a newer route
 * during a rolling upgrade: CIM_UNKNOWN_REQUEST) or a handler that failed (CIM_INTERNAL). Sent
 * instead of silence, so the caller neither waits for its timeout nor mistakes it for a result.
 */
export interface ErrorReply {
  type: 'error'
  ok: false
  /** A catalogue code (errors.ts). */
  code: string
  message: string
  /** The request kind that was asked. */
  kind: string
}

/** The broker side: one handler per kind. An object of this type without every kind does not compile. */
export type BrokerHandlers = { [K in RequestKind]: (req: BrokerApi[K]['request']) => BrokerApi[K]['reply'] | Promise<BrokerApi[K]['reply']> }

/** Each kind's reply tag, at run time (and a second place a new kind must be named). */
const replyTypes: { [K in RequestKind]: Reply<K>['type'] } = {
  push: 'push-result',
  broadcast: 'broadcast-result',
  kick: 'kick-result',
  publish: 'publish-result',
  replay: 'replay-result',
  disconnectDevice: 'disconnectDevice-result',
}

/**
 * True when `m` is a request of a kind this API defines. On the bus a request also carries BusRpc's
 * `corr` and `replyTo`; its other fields are the sender's word (routes and brokers are trusted).
 */
/** What comes back for a request: a bus message (untyped JSON), or a local broker's reply (local.ts). */
export type Answer<K extends RequestKind = RequestKind> = BusMessage | Reply<K> | ErrorReply

export function isRequest(m: BusMessage): m is BusMessage & BrokerRequest {
  return Object.hasOwn(replyTypes, m.type)
}

/** True when `m` is the reply to a request of `kind` (not an ErrorReply). */
export function isReply<K extends RequestKind>(kind: K, m: Answer<K>): m is Reply<K> {
  return m.type === replyTypes[kind]
}

export function isErrorReply(m: Answer): m is ErrorReply {
  return m.type === 'error'
}

/** Runs the handler of `kind`: pass a request's own `type` as `kind`. */
export function callHandler<K extends RequestKind>(handlers: BrokerHandlers, kind: K, req: Request<K>): Reply<K> | Promise<Reply<K>> {
  return handlers[kind](req)
}

/** The ErrorReply for `kind` with a catalogue error (`UnknownRequest`, `Internal`). */
export function errorReply(kind: string, name: ErrorName, ...args: unknown[]): ErrorReply {
  return { type: 'error', ok: false, code: catalogue[name].code, message: codedError(name, ...args).message, kind }
}

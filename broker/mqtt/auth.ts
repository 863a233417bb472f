/**
 * The broker's AuthHooks (shared with CIM TCP) mapped onto aedes' handler signatures, plus the
 * MQTT 3.1.1 rules aedes 1.2 does not enforce itself.
 */
import type { Socket } from 'node:net'
import type { AedesOptions, AuthenticateError, Client, ConnectPacket } from 'aedes'
import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import type { AuthHooks, DeviceAuthDecision } from '../auth.ts'
import type { ClientAcl, MqttAcl } from '../../security/mqtt-acl.ts'
import { isDeviceGrant } from './credentials.ts'
import { isServerTopic, isUsableDeviceId } from './subscriptions.ts'

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
export const ConnackCode = {
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const

export interface AedesAuthOptions {
  auth: AuthHooks
  /** The topic rules (security/mqtt-acl.ts): each client gets its view at CONNECT. */
  acl: MqttAcl
  config: Pick<Config, 'devicePushTopic' | 'broadcastTopic' | 'mqttMaxClientIdBytes' | 'mqttMaxKeepaliveSeconds'>
  logger: Logger
}

export type AedesAuthHandlers = Required<Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>

// aedes' default authorizePublish refuses client publishes under $SYS/ (moscajs/aedes#597);
// replacing the hook must keep that rule.
const SYS_PREFIX = '$SYS/'

/** Where a client's ACL view is kept: on the client itself, read per delivered message. */
const ACL = Symbol('cim.mqttAcl')
type WithAcl = Client & { [ACL]?: ClientAcl }

/** The client's ACL view (set at CONNECT; an ordinary device's when none was set). */
export function aclOf(client: Client, acl: MqttAcl): ClientAcl {
  return (client as WithAcl)[ACL] ??= acl.forClient(client.id)
}

/**
 * aedes' authorizeForward: drops what the client may not read (another device's push topic or
 * uplink, $SYS for a non-monitor; retained messages take this path too) and hands the rest to
 * `next` (the MQTT stats counter). Per message per subscriber, so the view is precomputed.
 */
export function aclForward(acl: MqttAcl, next: NonNullable<AedesOptions['authorizeForward']>): NonNullable<AedesOptions['authorizeForward']> {
  return (client, packet) => (aclOf(client, acl).mayReceive(packet.topic) ? next(client, packet) : null)
}

/**
 * CONNACK code of a refused CONNECT: the refusal's own `connack` when it names one (the auth
 * webhook: 5 for a denial, 3 when it did not decide); else 5 "not authorized" for a valid token of
 * another client id (CIM_FORBIDDEN) or when no credentials were sent, else 4 "bad username or password".
 */
function refusalConnack(code: string | undefined, sentCredentials: boolean, connack: number | undefined): number {
  if (connack !== undefined) return connack
  if (code === 'CIM_FORBIDDEN' || !sentCredentials) return ConnackCode.NOT_AUTHORIZED
  return ConnackCode.BAD_USERNAME_OR_PASSWORD
}

/** A refusal's catalogue code and reason (a plain string from a hook means CIM_UNAUTHORIZED). */
function refusalOf(decision: Exclude<DeviceAuthDecision, true>): { code: string; reason: string; connack?: number } {
  if (typeof decision === 'string') return { code: 'CIM_UNAUTHORIZED', reason: decision }
  if ('code' in decision) return { code: decision.code, reason: decision.message, connack: decision.connack }
  return { code: 'CIM_UNAUTHORIZED', reason: 'refused' }
}

interface ConnectRefusal { returnCode: number; reason: string }

/**
 * What is wrong with a CONNECT before any hook runs, or undefined. mqtt-packet decodes the client
 * id as UTF-8 with replacement, so ill-formed bytes arrive as U+FFFD: a client id holding U+FFFD
 * is refused as ill-formed ([MQTT-1.5.3-1]; a genuine U+FFFD in an id is refused with it).
 */
function connectRefusal(packet: ConnectPacket, maxIdBytes: number): ConnectRefusal | undefined {
  const id = packet.clientId ?? ''
  const rejected = (reason: string) => ({ returnCode: ConnackCode.IDENTIFIER_REJECTED, reason })
  // [MQTT-3.1.2-22]: without a user name there may be no password.
  if (packet.password !== undefined && packet.username === undefined) {
    return { returnCode: ConnackCode.BAD_USERNAME_OR_PASSWORD, reason: 'a password requires a user name (MQTT-3.1.2-22)' }
  }
  if (id === '' && (packet.clean === false || packet.protocolVersion === 3)) {
    return rejected('an empty client id requires clean session (MQTT 3.1.1 §3.1.3.1)')
  }
  if (!isUsableDeviceId(id)) return rejected('a client id may not contain + or #')
  if (id.includes('\u0000') || id.includes('\uFFFD')) return rejected('a client id must be well-formed UTF-8 without U+0000')
  if (Buffer.byteLength(id) > maxIdBytes) return rejected(`a client id may hold at most ${maxIdBytes} UTF-8 bytes`)
  return undefined
}

function connackError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

export function remoteAddressOf(client: Client): string | undefined {
  // TCP clients' conn is the socket; WebSocket clients' conn is a stream over it, with the
  // upgrade request passed to aedes.handle as client.req.
  return (client.conn as Partial<Socket>).remoteAddress ?? client.req?.socket?.remoteAddress
}

/**
 * Builds aedes' preConnect / authenticate / authorizePublish / authorizeSubscribe.
 * - CONNECT refused by the hook → CONNACK 4 when credentials were sent, else 5 (5 also for a valid
 *   token of another client id); the refusal is logged with its catalogue code; a hook that throws
 *   (accounts store down) → CONNACK 3 "server unavailable", so clients retry rather than give up.
 * - Empty client id with clean-session off → CONNACK 2 ([MQTT-3.1.3-8]; aedes 1.2 accepts it and
 *   invents an id, leaving a persistent session nobody can resume). Same for 3.1 clients, whose
 *   spec requires 1–23 characters, and for ids containing `+`/`#` (see isUsableDeviceId), U+0000,
 *   ill-formed UTF-8, or more than mqttMaxClientIdBytes UTF-8 bytes (README "Limits").
 * - A password without a user name → CONNACK 4 ([MQTT-3.1.2-22]).
 * - Keepalive 0 or above mqttMaxKeepaliveSeconds is treated as that maximum.
 * - PUBLISH and SUBSCRIBE go through the topic rules (security/mqtt-acl.ts) first, then the hooks.
 * - PUBLISH refused → error: aedes closes the connection ([MQTT-3.3.5-2], 3.1.1 has no negative PUBACK).
 * - SUBSCRIBE refused → granted 0x80 in SUBACK ([MQTT-3.9.3]), the connection stays.
 * - The device's server-owned topics (own push topic, broadcast) are always allowed to subscribe:
 *   aedes re-authorises stored subscriptions when a persistent session resumes, and those include
 *   the server-side ones.
 */
export function aedesAuthHandlers({ auth, acl, config, logger }: AedesAuthOptions): AedesAuthHandlers {
  // Verdicts taken in preConnect, where the CONNECT packet is visible, and reported as a CONNACK
  // code from authenticate (preConnect can only drop the connection without a CONNACK).
  const rejectedConnects = new WeakMap<Client, ConnectRefusal>()
  const maxKeepalive = config.mqttMaxKeepaliveSeconds

  return {
    preConnect(client, packet, callback) {
      const refusal = connectRefusal(packet, config.mqttMaxClientIdBytes)
      if (refusal) rejectedConnects.set(client, refusal)
      // A keepalive of 0 (never checked) or above the maximum becomes the maximum, so a client that
      // vanished without a FIN is dropped after 1.5 × it ([MQTT-3.1.2-24]) and its presence goes.
      const keepalive = packet.keepalive ?? 0
      if (maxKeepalive > 0 && !(keepalive > 0 && keepalive <= maxKeepalive)) packet.keepalive = maxKeepalive
      callback(null, true)
    },

    authenticate(client, username, password, done) {
      const remoteAddress = remoteAddressOf(client)
      const rejected = rejectedConnects.get(client)
      if (rejected) {
        logger.info({ clientId: client.id, remoteAddress, reason: rejected.reason }, 'mqtt connect refused')
        return done(connackError(rejected.returnCode, rejected.reason), false)
      }
      auth.authenticateDevice({ clientId: client.id, username, password, remoteAddress }).then(
        (decision) => {
          if (decision === true || isDeviceGrant(decision)) {
            ;(client as WithAcl)[ACL] = decision === true ? acl.forClient(client.id) : acl.forClient(client.id, decision.role, decision.acl)
            return done(null, true)
          }
          const { code, reason, connack } = refusalOf(decision)
          logger.info({ clientId: client.id, remoteAddress, code, reason }, 'mqtt connect refused')
          done(connackError(refusalConnack(code, username !== undefined || password !== undefined, connack), reason), false)
        },
        (err: unknown) => {
          logger.error({ err, clientId: client.id }, 'mqtt authenticateDevice failed')
          done(connackError(ConnackCode.SERVER_UNAVAILABLE, 'authentication unavailable'), false)
        },
      )
    },

    authorizePublish(client, packet, callback) {
      // client is null only for a will left by a client of a broker that died; it was the
      // client's own CONNECT that stored it, so there is nobody left to ask.
      if (!client) return callback(null)
      if (packet.topic.startsWith(SYS_PREFIX)) return callback(new Error(`${SYS_PREFIX} topics are reserved`))
      const allowed = aclOf(client, acl).mayPublish(packet.topic)
      if (allowed !== true) {
        logger.info({ clientId: client.id, topic: packet.topic, reason: allowed }, 'mqtt publish refused')
        return callback(new Error(allowed))
      }
      auth.authorizePublish(client.id, packet.topic).then(
        (decision) => {
          if (decision === true) return callback(null)
          logger.info({ clientId: client.id, topic: packet.topic, reason: decision }, 'mqtt publish refused')
          callback(new Error(decision))
        },
        (err: unknown) => {
          logger.error({ err, clientId: client.id, topic: packet.topic }, 'mqtt authorizePublish failed')
          callback(err instanceof Error ? err : new Error(String(err)))
        },
      )
    },

    authorizeSubscribe(client, sub, callback) {
      if (isServerTopic(config, client.id, sub.topic)) return callback(null, sub)
      const allowed = aclOf(client, acl).maySubscribe(sub.topic)
      if (allowed !== true) {
        logger.info({ clientId: client.id, topic: sub.topic, reason: allowed }, 'mqtt subscribe refused')
        return callback(null, null)
      }
      auth.authorizeSubscribe(client.id, sub.topic).then(
        (decision) => {
          if (decision === true) return callback(null, sub)
          logger.info({ clientId: client.id, topic: sub.topic, reason: decision }, 'mqtt subscribe refused')
          callback(null, null)
        },
        (err: unknown) => {
          logger.error({ err, clientId: client.id, topic: sub.topic }, 'mqtt authorizeSubscribe failed')
          callback(null, null)
        },
      )
    },
  }
}

/** Types shared by the broker's parts (CIM server, MQTT node, delivery, registration). */
import type { Logger } from 'pino'
import type { BrokerSettings } from '../config.ts'
import type { Adapters } from '../adapters/index.ts'
import type { PresenceEntry } from '../adapters/presence/index.ts'
import type { AuthHooks } from './auth.ts'
import type { TokenService } from '../security/tokens.ts'
import type { TlsWatcher } from '../security/tls.ts'
import type { MqttAcl } from '../security/mqtt-acl.ts'
import type { Events } from '../events/index.ts'

/** A device publish under the uplink prefix, handed to the relay. */
export interface UplinkMessage {
  deviceId: string
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  receivedAt: number
}

/** Where device uplink goes. Default: logged. (A webhook / queue relay plugs in here.) */
export type UplinkRelay = (msg: UplinkMessage) => void | Promise<void>

export interface BrokerDeps {
  /** The broker's slice of the settings (a whole Config will do). */
  config: BrokerSettings
  adapters: Adapters
  logger: Logger
  /** Default: defaultAuth() over adapters.accounts; a hook given here replaces that one default hook. */
  auth?: Partial<AuthHooks>
  /** Default: log each uplink message at info level. */
  uplink?: UplinkRelay
  /** Login token checks (security/tokens.ts). Default: built from the settings and adapters.revocations. */
  tokens?: TokenService
  /** Where the broker's events go (README "Events to your backend"). Default: none (emit is one check). */
  events?: Events
}

export interface BrokerPorts {
  cimPort: number
  httpPort: number
  mqttPort: number
  wsPort: number
  /** The TLS listeners' ports, present when tlsCert and tlsKey are set (docs/security.md, TLS). */
  mqttsPort?: number
  wssPort?: number
  cimTlsPort?: number
}

/** A broker node: CIM TCP + MQTT (TCP and WebSocket) + HTTP health/metrics. Built, then listened. */
export interface Broker {
  /** Node id in discovery; known after listen() when ports were 0. */
  readonly id: string
  /** Binds every server (port 0 = any free port), then registers in discovery. */
  listen(): Promise<BrokerPorts>
  /**
   * Graceful shutdown: deregister from discovery, stop accepting, KICK CIM clients with
   * CIM_DRAINING (so they log in again through the route), disconnect MQTT clients, close.
   */
  close(): Promise<void>
  /** Live CIM sessions + MQTT clients. */
  connections(): number
}

export interface MqttNodeDeps {
  config: BrokerSettings
  adapters: Adapters
  logger: Logger
  brokerId: string
  auth: AuthHooks
  uplink: UplinkRelay
  /** Plain counters the node increments; the broker's /metrics reads them at scrape time. Default: new ones. */
  stats?: MqttStats
  /** With a certificate: also MQTT over TLS (mqttsPort) and over secure WebSocket (wssPort). */
  tls?: TlsWatcher
  /** The MQTT topic rules (security/mqtt-acl.ts). Default: built from the settings (mqttAcl). */
  acl?: MqttAcl
  /** device.uplink / device.connected / device.disconnected go here. Default: none. */
  events?: Events
}

/**
 * MQTT traffic counters. Arrays are indexed by QoS (0, 1, 2): one integer increment per packet,
 * nothing allocated.
 */
export interface MqttStats {
  connects: number
  disconnects: number
  /** PUBLISH packets received from clients. */
  messagesIn: [number, number, number]
  /** PUBLISH packets forwarded to subscribers, by the QoS they were sent at. */
  messagesOut: [number, number, number]
  /** Subscriptions granted (SUBSCRIBE topics, server-side subscriptions included) and removed by UNSUBSCRIBE. */
  subscribes: number
  unsubscribes: number
  /** Clients dropped for not reading (more than mqttMaxQueuedBytes waiting: CIM_SLOW_CONSUMER). */
  slowConsumers: number
}

export function newMqttStats(): MqttStats {
  return { connects: 0, disconnects: 0, messagesIn: [0, 0, 0], messagesOut: [0, 0, 0], subscribes: 0, unsubscribes: 0, slowConsumers: 0 }
}

export interface MqttPublish {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
}

/** The embedded aedes with its TCP and WebSocket listeners. */
export interface MqttNode {
  listen(): Promise<{ mqttPort: number; wsPort: number; mqttsPort?: number; wssPort?: number }>
  /** Stops accepting new connections; existing ones stay. */
  stopAccepting(): Promise<void>
  /** Disconnects every client and closes aedes. */
  close(): Promise<void>
  /** Publishes as the server (reaches every node through the cluster mq). */
  publish(msg: MqttPublish): Promise<void>
  /** Connected client count on this node. */
  connectedCount(): number
  /** Retained topics and their payload bytes (the backend's tally: cluster-wide with Redis); zeroes before listen(). */
  retainedTally(): Promise<{ count: number; bytes: number }>
  /** Client ids connected here. */
  deviceIds(): string[]
  /** The presence entries of the clients connected here (the presence heartbeat writes back any the store lost). */
  deviceEntries(): PresenceEntry[]
  /**
   * Closes the client `clientId` if it is connected here (its tokens were revoked); the code and
   * reason are logged. False when it is not here.
   */
  disconnect(clientId: string, code: string, reason: string): boolean
  /** Subscriptions held by the clients connected here (counted when asked: for /metrics). */
  subscriptionCount(): number
  /** Traffic counters (deps.stats when given). */
  readonly stats: MqttStats
}

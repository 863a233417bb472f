/** Types shared by the broker's parts (CIM server, MQTT node, delivery, registration). */
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { Adapters } from '../adapters/index.ts'
import type { AuthHooks } from './auth.ts'

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
  config: Config
  adapters: Adapters
  logger: Logger
  /** Default: defaultAuth() over adapters.accounts. */
  auth?: AuthHooks
  /** Default: log each uplink message at info level. */
  uplink?: UplinkRelay
}

export interface BrokerPorts {
  cimPort: number
  httpPort: number
  mqttPort: number
  wsPort: number
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
  config: Config
  adapters: Adapters
  logger: Logger
  brokerId: string
  auth: AuthHooks
  uplink: UplinkRelay
}

export interface MqttPublish {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
}

/** The embedded aedes with its TCP and WebSocket listeners. */
export interface MqttNode {
  listen(): Promise<{ mqttPort: number; wsPort: number }>
  /** Stops accepting new connections; existing ones stay. */
  stopAccepting(): Promise<void>
  /** Disconnects every client and closes aedes. */
  close(): Promise<void>
  /** Publishes as the server (reaches every node through the cluster mq). */
  publish(msg: MqttPublish): Promise<void>
  /** Connected client count on this node. */
  connectedCount(): number
  /** Client ids connected here (for presence heartbeats). */
  deviceIds(): string[]
}

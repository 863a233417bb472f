/**
 * The broker's MQTT node: aedes 1.2 (MQTT 3.1/3.1.1) on the cluster's mq + persistence, listening
 * on TCP and WebSocket, with the shared auth hooks, server-side device subscriptions, device
 * presence and the uplink relay.
 */
import type { EventEmitter } from 'node:events'
import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from 'aedes'
import type { RetainedLedger } from '../../adapters/mqtt/index.ts'
import { newMqttStats, type MqttNode, type MqttNodeDeps, type MqttPublish, type MqttStats } from '../types.ts'
import { MqttAcl } from '../../security/mqtt-acl.ts'
import { aclForward, aedesAuthHandlers, remoteAddressOf } from './auth.ts'
import { limitConnection, type LimitReport } from './limits.ts'
import { capRetained } from './retained.ts'
import { DeviceConnections } from './devices.ts'
import { MqttListeners } from './listeners.ts'
import { parseWsOrigins } from './origins.ts'
import { subscribeServerSide } from './subscriptions.ts'
import { createUplinkHandler } from './uplink.ts'
import { catalogue } from '../../errors.ts'
import { DeviceEvents } from './device-events.ts'
import { Events } from '../../events/index.ts'

/** aedes' client with its subscriptions by topic filter (present at runtime, absent from the typings). */
type ClientWithSubscriptions = Client & { subscriptions: Record<string, { qos?: number }> }

/** The longest MQTT fixed header (1 type byte, 4 length bytes): a WebSocket message carries one whole packet. */
const MQTT_FIXED_HEADER_MAX = 5

/** How long close() waits for aedes to disconnect its clients and close its mq. */
const CLOSE_TIMEOUT_MS = 5_000

/** Builds an unstarted MQTT node; listen() creates aedes and binds both ports. */
export function createMqttNode(deps: MqttNodeDeps): MqttNode {
  const { config } = deps
  const stats = deps.stats ?? newMqttStats()
  const logger = deps.logger.child({ component: 'mqtt' })
  // Topic privacy holds always, authentication or not (docs/security.md, MQTT topic rules).
  const acl = deps.acl ?? new MqttAcl(config)
  const devices = new DeviceConnections({
    presence: deps.adapters.presence.devices,
    brokerId: deps.brokerId,
    ttlMs: config.presenceTtlMs,
    logger,
  })
  let aedes: Aedes | undefined
  let retained: RetainedLedger | undefined
  let starting: Promise<Aedes> | undefined
  let closing: Promise<void> | undefined
  const limits = { maxQueuedBytes: config.mqttMaxQueuedBytes, maxPacketBytes: config.mqttMaxPacketBytes }
  const deviceEvents = new DeviceEvents(deps.events ?? new Events(deps.brokerId))
  const reportLimit: LimitReport = (client, code, message) => {
    if (code === catalogue.SlowConsumer.code) stats.slowConsumers++
    deviceEvents.limit(client, code)
    logger.warn({ clientId: client.id, remoteAddress: remoteAddressOf(client), code }, message)
  }
  const listeners = new MqttListeners((stream, req) => {
    if (aedes && !aedes.closed) limitConnection(stream, aedes.handle(stream, req), limits, reportLimit)
    else stream.destroy()
  }, logger, parseWsOrigins(config.wsOrigins), config.mqttMaxPacketBytes + MQTT_FIXED_HEADER_MAX)

  async function start(): Promise<Aedes> {
    const backend = deps.adapters.mqtt()
    const { mq, persistence } = backend
    retained = backend.retained
    capRetained(persistence, retained, {
      maxCount: config.retainedMaxCount, maxBytes: config.retainedMaxBytes, maxMessageBytes: config.retainedMaxMessageBytes,
    }, (topic, code, message) => logger.warn({ topic, code }, message))
    const broker = await Aedes.createBroker({
      id: deps.brokerId,
      mq,
      persistence,
      ...aedesAuthHandlers({ auth: deps.auth, acl, config, logger }),
      authorizeForward: aclForward(acl, countForward(stats)),
    })
    wire(broker)
    return broker
  }

  function wire(broker: Aedes): void {
    const relay = createUplinkHandler({ prefix: config.uplinkPrefix, uplink: deps.uplink, logger, events: deps.events })
    deviceEvents.wire(broker)

    // 'clientReady' fires after CONNACK and after the offline queue was flushed. Subscribe first,
    // claim presence second: whoever finds the device in presence can push to it at once.
    broker.on('clientReady', (client: Client) => {
      stats.connects++
      devices.add(client)
      deviceEvents.connected(client)
      subscribeServerSide(client, config).then(
        () => devices.claim(client),
        (err: unknown) => logger.error({ err, clientId: client.id }, 'mqtt server-side subscribe failed'),
      )
    })
    broker.on('clientDisconnect', (client: Client) => {
      stats.disconnects++
      devices.remove(client)
      deviceEvents.disconnected(client)
    })
    broker.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
      // client is null for the server's own publishes ($SYS, backend pushes): never uplink.
      if (client) {
        stats.messagesIn[packet.qos]++
        relay(client.id, packet)
      }
    })
    broker.on('subscribe', (subs) => { stats.subscribes += subs.length })
    broker.on('unsubscribe', (topics) => { stats.unsubscribes += topics.length })
    broker.on('clientError', (client: Client, err: Error) => {
      logger.debug({ clientId: client.id, err: err.message }, 'mqtt client error')
    })
    broker.on('connectionError', (_client: Client, err: Error) => {
      logger.debug({ err: err.message }, 'mqtt connection error')
    })
    broker.on('keepaliveTimeout', (client: Client) => logger.debug({ clientId: client.id }, 'mqtt keepalive timeout'))
    // Persistence / mq failures surface as 'error' on aedes; unhandled, they would kill the process.
    // (aedes' typings omit the 'error' event, hence the EventEmitter view.)
    ;(broker as unknown as EventEmitter).on('error', (err: Error) => logger.error({ err }, 'mqtt broker error'))
  }

  return {
    async listen() {
      if (closing) throw new Error('MQTT node is closed')
      starting ??= start()
      aedes = await starting
      if (closing) throw new Error('MQTT node is closed')
      const tls = deps.tls && { watcher: deps.tls, mqttsPort: config.mqttsPort, wssPort: config.wssPort }
      return listeners.listen({ host: config.host, mqttPort: config.mqttPort, wsPort: config.wsPort, tls, backlog: config.listenBacklog })
    },

    async stopAccepting() {
      listeners.stopAccepting()
    },

    close() {
      closing ??= (async () => {
        listeners.stopAccepting()
        // A listen() still creating aedes must finish first, or its broker would outlive close().
        const broker = starting ? await starting.catch(() => undefined) : undefined
        deviceEvents.drain()
        if (broker) {
          // aedes.close() disconnects every registered client (their wills fire as for a crash:
          // they did not send DISCONNECT), then closes the mq.
          const done = new Promise<void>((resolve) => broker.close(() => resolve()))
          await withTimeout(done, CLOSE_TIMEOUT_MS, () => logger.warn('mqtt close timed out; forcing sockets shut'))
        }
        await listeners.close()
        await withTimeout(devices.settle(), CLOSE_TIMEOUT_MS, () => logger.warn('mqtt presence release timed out'))
      })()
      return closing
    },

    publish(msg: MqttPublish) {
      const broker = aedes
      if (!broker || broker.closed) return Promise.reject(new Error('MQTT node is not listening'))
      return new Promise<void>((resolve, reject) => {
        broker.publish(
          { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos: msg.qos, retain: msg.retain, dup: false },
          (err) => (err ? reject(err) : resolve()),
        )
      })
    },

    connectedCount() {
      return aedes?.connectedClients ?? 0
    },

    async retainedTally() {
      return retained ? retained.tally() : { count: 0, bytes: 0 }
    },

    deviceIds() {
      return devices.ids()
    },

    deviceEntries() {
      return devices.entries()
    },

    disconnect(clientId, code, reason) {
      // aedes keeps its clients by id (untyped). close() publishes the will: a revoked device did not say goodbye.
      const client = (aedes as unknown as { clients?: Record<string, Client> } | undefined)?.clients?.[clientId]
      if (!client) return false
      logger.info({ clientId, code, reason }, 'mqtt client disconnected')
      deviceEvents.note(client, 'revoked')
      client.close()
      return true
    },

    subscriptionCount() {
      // aedes keeps its clients by id (untyped); walked only when /metrics is scraped.
      const clients = (aedes as unknown as { clients?: Record<string, ClientWithSubscriptions> } | undefined)?.clients
      let n = 0
      if (clients) for (const id in clients) for (const _ in clients[id].subscriptions) n++
      return n
    },

    stats,
  }
}

/**
 * aedes' authorizeForward runs once per message per subscriber just before the write, so it is
 * where outgoing messages are counted: by the QoS aedes sends at (the publish's, lowered to the
 * subscription's when the subscription is for this exact topic, as aedes' deliverQoS does).
 */
function countForward(stats: MqttStats): NonNullable<AedesOptions['authorizeForward']> {
  return (client, packet) => {
    // QoS 0 (the fan-out case) needs no lookup: it is sent at 0 whatever the subscription says.
    if (packet.qos === 0) {
      stats.messagesOut[0]++
      return packet
    }
    const sub = (client as ClientWithSubscriptions).subscriptions[packet.topic] as { qos?: number } | undefined
    const qos = sub && (sub.qos ?? 0) < packet.qos ? (sub.qos ?? 0) : packet.qos
    stats.messagesOut[qos as 0 | 1 | 2]++
    return packet
  }
}

async function withTimeout(p: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onTimeout()
      resolve()
    }, ms)
  })
  try {
    await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Server-side subscriptions: every device is subscribed by the broker to its own push topic and to
 * the broadcast topic, so a backend push reaches a device that never sent SUBSCRIBE itself.
 */
import type { Client, Subscription } from 'aedes'
import type { Config } from '../../config.ts'
import { pushTopicOf } from '../../adapters/mqtt/topics.ts'

type TopicConfig = Pick<Config, 'devicePushTopic' | 'broadcastTopic'>

/**
 * What the broker subscribes a device to: its push topic at QoS 1 (at-least-once, queued for an
 * offline persistent session) and the broadcast topic at QoS 0 (fire-and-forget fan-out).
 */
export function serverSubscriptions(config: TopicConfig, deviceId: string): Subscription[] {
  return [
    { topic: pushTopicOf(config.devicePushTopic, deviceId), qos: 1 },
    { topic: config.broadcastTopic, qos: 0 },
  ]
}

/** Whether `topic` is one the broker itself subscribes `deviceId` to (always allowed to it). */
export function isServerTopic(config: TopicConfig, deviceId: string, topic: string): boolean {
  return topic === config.broadcastTopic || topic === pushTopicOf(config.devicePushTopic, deviceId)
}

/**
 * A client id becomes a topic level of the push topic. `+` or `#` in it would turn the server-side
 * subscription into a wildcard filter (device `+` would receive every device's pushes), so such
 * ids are refused at CONNECT.
 */
export function isUsableDeviceId(clientId: string): boolean {
  return !clientId.includes('+') && !clientId.includes('#')
}

/**
 * Subscribes a connected client server-side. `client.subscribe()` runs aedes' own SUBSCRIBE
 * handler (lib/handlers/subscribe.js) without a messageId, so no SUBACK is written, but the
 * subscription is stored in persistence for a clean=false session exactly like a client-made one:
 * QoS 1 pushes queue while the device is offline and the subscription is restored on reconnect.
 * aedes never calls back when the client closed meanwhile, so callers must not rely on settling.
 */
export function subscribeServerSide(client: Client, config: TopicConfig): Promise<void> {
  // A resumed persistent session already has them (aedes restored them from persistence before
  // CONNACK). Subscribing again would resend retained messages on every reconnect, which a
  // restored session must not get (MQTT 3.1.1 §3.1.2.4 as aedes reads it in its restoreSubs).
  const current = (client as Client & { subscriptions: Record<string, unknown> }).subscriptions
  const missing = serverSubscriptions(config, client.id).filter((s) => !current[s.topic])
  // One SUBSCRIBE per topic: for a persistent session aedes stores the packet's whole list once
  // per topic, and aedes-persistence-redis' BroadcastPersistence then waits twice under one key
  // (client id + first topic), so a two-topic subscribe on Redis never calls back.
  return Promise.all(missing.map((sub) => new Promise<void>((resolve, reject) => {
    client.subscribe({ subscriptions: [sub] }, (err) => (err ? reject(err) : resolve()))
  }))).then(() => undefined)
}

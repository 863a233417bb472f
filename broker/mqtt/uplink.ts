/**
 * Device uplink: a publish from a device under `config.uplinkPrefix` is handed to the relay
 * (a hooks module's function, or the default log line) and, when some sink listens, emitted as a
 * device.uplink event (README "Events to your backend"). Both run beside delivery, never in its
 * way: a relay that throws or rejects is logged and the MQTT flow carries on.
 */
import type { Logger } from 'pino'
import type { UplinkMessage, UplinkRelay } from '../types.ts'
import type { Events } from '../../events/index.ts'

export interface UplinkHandlerOptions {
  /** Topic prefix that marks uplink, e.g. `uplink/`. An empty prefix relays nothing. */
  prefix: string
  uplink: UplinkRelay
  logger: Logger
  /** device.uplink events go here when it has a sink. */
  events?: Events
}

/** The part of an aedes publish packet the relay reads. */
export interface UplinkPacket {
  topic: string
  payload: Buffer | string
  qos: 0 | 1 | 2
}

/** Returns `(deviceId, packet) => void`, called for every publish made by a client. */
export function createUplinkHandler({ prefix, uplink, logger, events }: UplinkHandlerOptions): (deviceId: string, packet: UplinkPacket) => void {
  const onError = (err: unknown, msg: UplinkMessage) =>
    logger.error({ err, deviceId: msg.deviceId, topic: msg.topic }, 'uplink relay failed')

  return (deviceId, packet) => {
    if (!prefix || !packet.topic.startsWith(prefix)) return
    const msg: UplinkMessage = {
      deviceId,
      topic: packet.topic,
      payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
      qos: packet.qos,
      receivedAt: Date.now(),
    }
    if (events?.active) {
      events.emit({ type: 'device.uplink', clientId: deviceId, topic: msg.topic, payload: msg.payload.toString('base64'), qos: msg.qos, ts: msg.receivedAt })
    }
    try {
      const result = uplink(msg)
      if (result) result.then(undefined, (err: unknown) => onError(err, msg))
    } catch (err) {
      onError(err, msg)
    }
  }
}

/**
 * Device uplink: a publish from a device under `config.uplinkPrefix` is handed to the relay
 * (webhook, queue, log). The relay runs beside delivery, never in its way: a relay that throws or
 * rejects is logged and the MQTT flow carries on.
 */
import type { Logger } from 'pino'
import type { UplinkMessage, UplinkRelay } from '../types.ts'

export interface UplinkHandlerOptions {
  /** Topic prefix that marks uplink, e.g. `uplink/`. An empty prefix relays nothing. */
  prefix: string
  uplink: UplinkRelay
  logger: Logger
}

/** The part of an aedes publish packet the relay reads. */
export interface UplinkPacket {
  topic: string
  payload: Buffer | string
  qos: 0 | 1 | 2
}

/** Returns `(deviceId, packet) => void`, called for every publish made by a client. */
export function createUplinkHandler({ prefix, uplink, logger }: UplinkHandlerOptions): (deviceId: string, packet: UplinkPacket) => void {
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
    try {
      const result = uplink(msg)
      if (result) result.then(undefined, (err: unknown) => onError(err, msg))
    } catch (err) {
      onError(err, msg)
    }
  }
}

/**
 * Caps on retained MQTT messages (README "Limits"): a payload above `retainedMaxMessageBytes`, a
 * new retained topic past `retainedMaxCount`, or a store growing past `retainedMaxBytes` is
 * refused with CIM_RETAINED_FULL. Clearing a topic (empty payload) is always allowed.
 *
 * aedes stores a retained message (persistence.storeRetained) BEFORE it delivers it, and a failed
 * store fails the whole publish: nothing is delivered, the REST caller gets 507 (the code crosses
 * the bus in the publish reply), and an MQTT client's connection is closed as for any refused
 * publish ([MQTT-3.3.5-2]: 3.1.1 has no negative PUBACK). The tally lives in the backend's
 * RetainedLedger (adapters/mqtt): in memory per process, in Redis for the cluster.
 */
import type { AedesPublishPacket } from 'aedes'
import type { RetainedCaps, RetainedLedger } from '../../adapters/mqtt/index.ts'
import { codedError } from '../../errors.ts'

export interface RetainedLimits extends RetainedCaps {
  /** Largest retained payload (retainedMaxMessageBytes). */
  maxMessageBytes: number
}

interface RetainedStore { storeRetained(packet: AedesPublishPacket): Promise<void> }

/** Persistences already capped: in-process brokers share one memory persistence (adapters/index.ts). */
const capped = new WeakSet<object>()

/**
 * Puts the caps in front of `persistence.storeRetained` (once per persistence object). `onRefused`
 * hears each refusal with its catalogue code and message, for the log.
 */
export function capRetained(
  persistence: unknown,
  ledger: RetainedLedger,
  limits: RetainedLimits,
  onRefused: (topic: string, code: string, message: string) => void,
): void {
  const store = persistence as RetainedStore
  if (capped.has(store)) return
  capped.add(store)
  const storeRetained = store.storeRetained.bind(store)
  store.storeRetained = async (packet) => {
    const bytes = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length
    const refusal = bytes > limits.maxMessageBytes
      ? `a retained payload of ${bytes} bytes is above the ${limits.maxMessageBytes}-byte maximum`
      : await ledger.admit(packet.topic, bytes, limits).then((cap) => cap && (cap === 'count'
        ? `already ${limits.maxCount} retained topics`
        : `retained payloads would pass ${limits.maxBytes} bytes`))
    if (refusal) {
      const err = codedError('RetainedFull', refusal)
      onRefused(packet.topic, err.code, err.message)
      throw err
    }
    return storeRetained(packet)
  }
}

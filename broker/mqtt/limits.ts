/**
 * Per-connection bounds aedes 1.2 does not enforce itself (README "Limits", docs/architecture.md
 * Device pushes), applied to the byte stream handed to aedes.handle without forking aedes:
 *
 * - Outgoing: aedes writes each packet with mqtt-packet's writeToStream and, when `write()`
 *   returns false, waits for 'drain' before calling back. That callback is what mqemitter waits
 *   for before a publish completes, so ONE subscriber that stops reading stalls every publish it
 *   matches (and, once `concurrency` of them are stuck, every publish). Here `write()` always
 *   reports room: the stream keeps queuing (Node's own buffer), and once more than
 *   `mqttMaxQueuedBytes` wait the connection is destroyed (CIM_SLOW_CONSUMER), as the CIM
 *   writer does (broker/cim/writer.ts). Worst case per connection: the cap plus one packet.
 * - Incoming: mqtt-packet's parser learns a packet's length from its fixed header and then
 *   buffers until the whole packet arrived. A length above `mqttMaxPacketBytes` is refused right
 *   after the header, so a 100 MB PUBLISH is never buffered: the connection is closed.
 *
 * The write bound is one closure per connection; the packet cap lives on the parser's prototype
 * and looks the connection's cap up in a WeakMap. Nothing is allocated per packet.
 */
import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'
import type { Client } from 'aedes'
import { codedError } from '../../errors.ts'

export interface ConnectionLimits {
  /** Bytes queued for a client that does not read before it is dropped (mqttMaxQueuedBytes). */
  maxQueuedBytes: number
  /** Largest packet accepted: its remaining length, i.e. without the 2–5 byte fixed header (mqttMaxPacketBytes). */
  maxPacketBytes: number
}

/** What a dropped connection reports: the catalogue code and its message. */
export type LimitReport = (client: Client, code: string, message: string) => void

/** mqtt-packet's parser as the packet cap sees it (client._parser, untyped in aedes). */
interface PacketParser {
  packet: { length: number }
  _parseLength(): boolean
  _emitError(err: Error): void
}

/**
 * Each capped parser's limit, beside the parser rather than on it, so parser instances keep their
 * shape (the parser replaces its own `settings` with the CONNECT packet, so that is no place either).
 */
interface PacketCap { maxBytes: number; tooLarge: (length: number) => Error }
const packetCaps = new WeakMap<PacketParser, PacketCap>()

// The one mqtt-packet aedes parses with (a single copy in node_modules). The cap is installed on
// its prototype once, not on each parser: replacing a method on every instance cost ~5% of the
// MQTT fan-out benchmark (V8 no longer inlines the parser's state machine).
const ParserClass = createRequire(import.meta.url)('mqtt-packet/parser.js') as { prototype: PacketParser }
installPacketCap(ParserClass.prototype)

/** Bounds one aedes connection: call with what aedes.handle(stream) returned. */
export function limitConnection(stream: Duplex, client: Client, limits: ConnectionLimits, report: LimitReport): void {
  boundWrites(stream, limits.maxQueuedBytes, (bytes) => {
    const err = codedError('SlowConsumer', bytes)
    report(client, err.code, err.message)
    // aedes hears the error on the stream ('error' → client error → close, the will is published).
    stream.destroy(err)
  })
  const parser = (client as unknown as { _parser?: PacketParser })._parser
  if (parser) {
    packetCaps.set(parser, {
      maxBytes: limits.maxPacketBytes,
      tooLarge: (length) => {
        const err = codedError('FrameTooLarge', length, limits.maxPacketBytes)
        report(client, err.code, err.message)
        return err
      },
    })
  }
}

/**
 * Makes `stream.write` never ask the writer to wait: it queues, and calls `onOverflow` once when
 * more than `maxQueuedBytes` are waiting to reach the network.
 */
export function boundWrites(stream: Duplex, maxQueuedBytes: number, onOverflow: (bytes: number) => void): void {
  const write = stream.write
  stream.write = function boundedWrite(this: Duplex, chunk: unknown, encoding?: unknown, cb?: unknown) {
    // Writable.write takes (chunk, encoding?, cb?) and sorts out the optional ones itself. `true`
    // (below the stream's highWaterMark) is the common case and needs no check.
    if ((write as (c: unknown, e?: unknown, f?: unknown) => boolean).call(this, chunk, encoding, cb)) return true
    if (this.writableLength > maxQueuedBytes && !this.destroyed) onOverflow(this.writableLength)
    return true
  } as Duplex['write']
}

/**
 * Makes every capped parser refuse a packet whose announced length passes its cap right after the
 * fixed header, before the body is buffered. Parsers without a cap (MQTT.js clients in the same
 * process) are unaffected.
 */
function installPacketCap(proto: PacketParser): void {
  const kInstalled = Symbol.for('cim.mqtt-packet.packet-cap')
  const marked = proto as PacketParser & { [kInstalled]?: true }
  if (marked[kInstalled]) return
  marked[kInstalled] = true
  const parseLength = proto._parseLength
  proto._parseLength = function cappedParseLength(this: PacketParser) {
    if (!parseLength.call(this)) return false
    const cap = packetCaps.get(this)
    if (cap === undefined || this.packet.length <= cap.maxBytes) return true
    this._emitError(cap.tooLarge(this.packet.length))
    return false
  }
}

/**
 * Server→client frames the broker sends, built once where possible. Pushes are encoded as a
 * shared body plus a per-recipient tail (see encodeRecipientTail in proto/codec.ts): protobuf
 * merges concatenated messages, so `varint(len) + shared + tail` decodes as one Response.
 */
import {
  BaseCommand, encodeResponse, encodeResponseBody, varintLength, writeVarint,
} from '../../proto/codec.ts'
import { CompatCode } from '../../errors.ts'
import { BROKER_PROPERTIES } from '../../proto/push-frame.ts'

/** Upstream pong: `{resMsg:"pong", cmd:PING}`, id 0 omitted — bytes 08 0a 04 70 6f 6e 67 18 02. */
export const PONG = encodeResponse({ resMsg: 'pong', cmd: BaseCommand.PING })

/** KICK (proto=2 only): the reason a connection is about to be closed. */
export function kickFrame(code: string, reason: string): Buffer {
  return encodeResponse({ cmd: BaseCommand.KICK, properties: { code, reason } })
}

/**
 * LOGIN_REPLY (proto=2 only): `resMsg` "ok" or the reason, `code` 9000 or a catalogue code. A
 * successful one carries `ackedSeq`: every stored message up to it was acked or expired, so the
 * next one the client can get is above it (a fresh client process starts its window there).
 * `qosMarked` "1": this broker marks at-least-once pushes with `qos` "1" (seqTail), so a client
 * trusts a `seq` only on a frame with that mark (docs/protocol.md, Pushes). `epoch` (when the user
 * has a stored stream) names the stream `ackedSeq` counts in: a client whose window holds another
 * epoch starts it again at `ackedSeq` (docs/protocol.md, Epochs).
 */
export function loginReplyFrame(code: string | null, reason: string, brokerId: string, heartbeatSeconds: number, ackedSeq?: number, epoch?: string): Buffer {
  const properties: Record<string, string> = { code: code ?? CompatCode.SUCCESS, brokerId, heartbeatSeconds: String(heartbeatSeconds), qosMarked: '1' }
  if (ackedSeq !== undefined) properties.ackedSeq = String(ackedSeq)
  if (epoch) properties.epoch = epoch
  return encodeResponse({ cmd: BaseCommand.LOGIN_REPLY, resMsg: code ? reason : 'ok', properties })
}

/**
 * The per-recipient `seq` property of an at-least-once push and its `qos` "1" mark, appended after
 * the recipient tail (only the broker writes either: sharedProperties removes a caller's).
 */
export function seqTail(seq: number): Buffer {
  return Buffer.from(encodeResponseBody({ properties: { seq: String(seq), qos: '1' } }))
}

/**
 * The `epoch` property of an at-least-once push: which of the user's streams its `seq` counts in.
 * Encoded once per stream epoch (Stream.epochTail) and written after seqTail; empty when the
 * stream has none (an inbox that predates epochs).
 */
export function epochTail(epoch: string): Buffer {
  return epoch === '' ? EMPTY : Buffer.from(encodeResponseBody({ properties: { epoch } }))
}
const EMPTY = Buffer.alloc(0)

/**
 * A message body shared by many recipients. `prefix(n)` is `varint(body + n) + body`, cached per
 * tail length (recipient tails differ only by the digits of the userId), so writing to a
 * recipient is two buffer references: `prefix(tail.length)` and the session's tail.
 */
export class SharedBody {
  private readonly cache: Buffer[] = []

  constructor(private readonly body: Uint8Array) {}

  /** Encodes `{resMsg: text, cmd, properties}` (receiveUserId comes from each recipient's tail). */
  static of(text: string, properties: Record<string, string>, cmd = BaseCommand.MESSAGE): SharedBody {
    return new SharedBody(encodeResponseBody({ resMsg: text, cmd, properties }))
  }

  prefix(tailLength: number): Buffer {
    const hit = this.cache[tailLength]
    if (hit !== undefined) return hit
    const total = this.body.length + tailLength
    const out = Buffer.allocUnsafe(varintLength(total) + this.body.length)
    out.set(this.body, writeVarint(out, 0, total))
    this.cache[tailLength] = out
    return out
  }

  /** A whole frame for one recipient (for the rare path that needs a single buffer). */
  frameFor(tail: Buffer): Buffer {
    return Buffer.concat([this.prefix(tail.length), tail])
  }
}

/**
 * A push's properties without any the broker owns (BROKER_PROPERTIES: `receiveUserId`, which each
 * recipient's tail carries, `msgId`, `ts`, `seq`, `prevSeq`, `qos`), then the broker's own
 * `extra`. The route refuses pushes that set them (CIM_RESERVED_PROPERTY); this makes sure
 * whatever got past it (an older route, a stored message) never reaches a client as the broker's.
 */
export function sharedProperties(properties: Record<string, string> | undefined, extra?: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  if (properties) for (const k of Object.keys(properties)) if (!BROKER_PROPERTIES.has(k)) out[k] = String(properties[k])
  if (extra) Object.assign(out, extra)
  return out
}

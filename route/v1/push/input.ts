/**
 * Checks on a push's input that the schema cannot express, run before anything is stored or sent
 * (README "Limits"; docs/protocol.md, Pushes): names the broker owns, a stored message's lifetime,
 * the encoded frame size, and MQTT topic names.
 */
import { errors } from '../../../errors.ts'
import type { RouteContext } from '../../context.ts'
import { checkMessageSize } from '../../push-path.ts'
import { reservedPropertyIn } from '../../../proto/push-frame.ts'

/** Sender metadata of pushes from the business backend (upstream clients print these). */
export const SYSTEM_SENDER: Readonly<Record<string, string>> = { sendUserId: '0', sendUserName: 'system' }

/** Refuses a property the broker or the route sets itself (400 CIM_RESERVED_PROPERTY). */
export function checkProperties(properties: Record<string, string> | undefined): void {
  const name = reservedPropertyIn(properties)
  if (name !== undefined) throw new errors.ReservedProperty(name)
}

/**
 * A user push's checks: reserved property names, `ttlSeconds` no longer than the server's inbox
 * TTL (`--inbox-ttl-seconds`; also what keeps the inbox's expiry arithmetic finite), and the
 * encoded frame within `--max-frame-bytes` with everything the route and broker add.
 */
export function checkUserPush(ctx: RouteContext, body: { message: string; properties?: Record<string, string>; ttlSeconds?: number }): void {
  checkProperties(body.properties)
  const max = ctx.config.inboxTtlSeconds
  if (body.ttlSeconds !== undefined && body.ttlSeconds > max) {
    throw new errors.InvalidArgument(`body/ttlSeconds must be at most ${max} (the server's --inbox-ttl-seconds)`)
  }
  checkMessageSize(ctx, body.message, { ...SYSTEM_SENDER, ...body.properties })
}

/** MQTT topic names are at most 65,535 UTF-8 bytes (MQTT 3.1.1 §1.5.3); the schema counts characters. */
export const MAX_TOPIC_BYTES = 65_535

/** Refuses a topic longer than MQTT allows in UTF-8 bytes (NUL and wildcards: the schema's pattern). */
export function checkTopic(topic: string): void {
  const bytes = Buffer.byteLength(topic)
  if (bytes > MAX_TOPIC_BYTES) throw new errors.InvalidArgument(`body/topic is ${bytes} UTF-8 bytes; MQTT allows at most ${MAX_TOPIC_BYTES}`)
}

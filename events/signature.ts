/**
 * The webhook signature (README "Events to your backend", Verifying a request): HMAC-SHA256 with
 * the shared secret over `<timestamp>.<raw body>`, sent as `x-cim-signature: sha256=<hex>` with
 * `x-cim-timestamp: <unix seconds>`. The timestamp inside the MAC lets a backend refuse replays of
 * an old request; the raw body (not re-serialized JSON) is what both sides hash.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** The `x-cim-signature` value for `body` sent at `timestamp` (unix seconds). */
export function sign(secret: string, timestamp: number | string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`
}

export interface VerifyOptions {
  /** Unix seconds now (default: the clock). */
  now?: number
  /** How far the timestamp may be from now, seconds. Default 300. */
  toleranceSeconds?: number
}

/**
 * True when `signature` is the one `secret` gives for `body` at `timestamp`, and the timestamp is
 * within the tolerance of now. Compares in constant time.
 */
export function verify(secret: string, timestamp: string | undefined, body: string | Buffer, signature: string | undefined, opts: VerifyOptions = {}): boolean {
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false
  const now = opts.now ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - Number(timestamp)) > (opts.toleranceSeconds ?? 300)) return false
  const expected = Buffer.from(sign(secret, timestamp, body))
  const given = Buffer.from(signature)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

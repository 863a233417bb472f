/**
 * The fingerprint an idempotency record carries: SHA-256 over the endpoint with its target and the
 * request body in a canonical form (object keys sorted, at every depth) without the key itself.
 * Two requests that mean the same thing (the same fields, in any order) have the same fingerprint;
 * any other change (message, properties, qos, recipients) gives another, which runOnce refuses with
 * CIM_IDEMPOTENCY_MISMATCH (Stripe's semantics). Computed only for requests that carry a key.
 */
import { createHash } from 'node:crypto'

/** JSON with object keys sorted; arrays keep their order (recipients in another order is another request). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.keys(value).sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
  return `{${entries.join(',')}}`
}

/** Hex SHA-256 of `endpoint` (e.g. `push/users/42`) and `body` minus its `idempotencyKey`. */
export function requestFingerprint(endpoint: string, body: object): string {
  const { idempotencyKey: _key, ...rest } = body as Record<string, unknown>
  return createHash('sha256').update(endpoint).update('\n').update(canonicalJson(rest)).digest('hex')
}

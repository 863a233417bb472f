/**
 * The one error catalogue, shared by the REST API (HTTP bodies) and the CIM TCP broker (logs,
 * LOGIN_REPLY/KICK `code` properties). Each entry has a stable `code`, an HTTP status that means
 * what it says, and the upstream cim string code the CIM-compatible endpoints answer with.
 *
 * Built on @fastify/error so route handlers can `throw new errors.UserNotFound(id)` and the error
 * handler serialises `{statusCode, code, message}` with no per-route mapping.
 */
import createError, { type FastifyErrorConstructor } from '@fastify/error'

/**
 * Upstream cim StatusEnum codes (strings on the wire). The one definition: the route's compatible
 * endpoints answer with them and the client SDK (client/route.ts) acts on them.
 */
export const CompatCode = {
  SUCCESS: '9000',
  REPEAT_LOGIN: '5000',
  OFFLINE_USER: '7000',
  SERVER_NOT_AVAILABLE: '7100',
  ACCOUNT_NOT_MATCH: '9100',
  VALIDATION_FAIL: '3000',
  FAIL: '4000',
} as const
export type CompatCode = (typeof CompatCode)[keyof typeof CompatCode]

interface Entry { code: string; status: number; message: string; compat: CompatCode }

function entry(code: string, status: number, message: string, compat: CompatCode): Entry {
  return { code, status, message, compat }
}

/** Every coded error the product can report. The table in README.md lists the same entries. */
export const catalogue = {
  InvalidArgument: entry('CIM_INVALID_ARGUMENT', 400, 'Invalid argument: %s', CompatCode.VALIDATION_FAIL),
  InvalidJson: entry('CIM_INVALID_JSON', 400, 'Request body is not valid JSON: %s', CompatCode.VALIDATION_FAIL),
  UserIdOutOfRange: entry('CIM_USER_ID_OUT_OF_RANGE', 400, 'userId %s is larger than 2^53-1 and cannot be carried exactly as a JSON number', CompatCode.VALIDATION_FAIL),
  Unauthorized: entry('CIM_UNAUTHORIZED', 401, 'Authentication required: %s', CompatCode.FAIL),
  Forbidden: entry('CIM_FORBIDDEN', 403, 'Not allowed: %s', CompatCode.FAIL),
  AccountMismatch: entry('CIM_ACCOUNT_MISMATCH', 403, 'userId %s is not registered under userName %s', CompatCode.ACCOUNT_NOT_MATCH),
  UserNotFound: entry('CIM_USER_NOT_FOUND', 404, 'Unknown user %s', CompatCode.ACCOUNT_NOT_MATCH),
  UserOffline: entry('CIM_USER_OFFLINE', 404, 'User %s is offline', CompatCode.OFFLINE_USER),
  DeviceOffline: entry('CIM_DEVICE_OFFLINE', 404, 'Device %s is offline', CompatCode.OFFLINE_USER),
  NotFound: entry('CIM_NOT_FOUND', 404, 'Route %s not found', CompatCode.FAIL),
  RepeatLogin: entry('CIM_REPEAT_LOGIN', 409, 'User %s is already logged in', CompatCode.REPEAT_LOGIN),
  InboxFull: entry('CIM_INBOX_FULL', 507, 'Inbox of user %s is full (%s); nothing was evicted', CompatCode.FAIL),
  PayloadTooLarge: entry('CIM_PAYLOAD_TOO_LARGE', 413, 'Payload too large: %s', CompatCode.VALIDATION_FAIL),
  NoBroker: entry('CIM_NO_BROKER', 503, 'No broker available: %s', CompatCode.SERVER_NOT_AVAILABLE),
  BackendUnavailable: entry('CIM_BACKEND_UNAVAILABLE', 503, 'A backing service is unavailable: %s', CompatCode.FAIL),
  AuthUnavailable: entry('CIM_AUTH_UNAVAILABLE', 503, 'The auth webhook did not decide (%s); refused, retry later', CompatCode.FAIL),
  Internal: entry('CIM_INTERNAL', 500, 'Internal error: %s', CompatCode.FAIL),
  // Broker-side (TCP) errors: logged and sent as the `code` of a LOGIN_REPLY or KICK before closing.
  FrameTooLarge: entry('CIM_FRAME_TOO_LARGE', 400, 'Frame length %s exceeds the maximum of %s bytes', CompatCode.VALIDATION_FAIL),
  MalformedFrame: entry('CIM_MALFORMED_FRAME', 400, 'Malformed frame: %s', CompatCode.VALIDATION_FAIL),
  NotLoggedIn: entry('CIM_NOT_LOGGED_IN', 401, 'Frame with cmd %s before login', CompatCode.FAIL),
  UnknownCommand: entry('CIM_UNKNOWN_COMMAND', 400, 'Unknown command %s', CompatCode.VALIDATION_FAIL),
  ReadTimeout: entry('CIM_READ_TIMEOUT', 408, 'Nothing read for %s ms', CompatCode.FAIL),
  SlowConsumer: entry('CIM_SLOW_CONSUMER', 503, 'Client is not reading: %s bytes queued', CompatCode.FAIL),
  Kicked: entry('CIM_KICKED', 409, 'Replaced by a newer login of user %s', CompatCode.REPEAT_LOGIN),
  AdminKick: entry('CIM_ADMIN_KICK', 403, 'Disconnected by the operator', CompatCode.FAIL),
  Draining: entry('CIM_DRAINING', 503, 'Broker %s is draining; log in again through the route', CompatCode.SERVER_NOT_AVAILABLE),
  // Never sent: the broker counts it in cim_disconnects_total (499: nginx's "client closed request").
  ClientClosed: entry('CIM_CLIENT_CLOSED', 499, 'The client closed the connection', CompatCode.FAIL),
  // Client-side (client/connection.ts): the broker did not complete the login in time.
  LoginTimeout: entry('CIM_LOGIN_TIMEOUT', 504, 'No login answer from %s within %s ms', CompatCode.FAIL),
  // Bus (broker/api): a request kind this broker does not handle, e.g. from a newer route during a
  // rolling upgrade. The broker answers it with this code instead of leaving the caller to time out.
  UnknownRequest: entry('CIM_UNKNOWN_REQUEST', 501, 'Unknown bus request %s', CompatCode.FAIL),
  // Security (docs/security.md): a login or connect whose token is past its `exp` (the client asks
  // its token provider for a new one), or was issued before a revocation; a feature whose keys are
  // not configured (e.g. minting RS256 tokens with only a public key).
  TokenExpired: entry('CIM_TOKEN_EXPIRED', 401, 'Token expired: %s', CompatCode.FAIL),
  TokenRevoked: entry('CIM_TOKEN_REVOKED', 401, 'Token revoked: %s', CompatCode.FAIL),
  NotConfigured: entry('CIM_NOT_CONFIGURED', 501, 'Not configured: %s', CompatCode.FAIL),
  // Limits and correctness (README "Limits"): every refusal names what was too much.
  ReservedProperty: entry('CIM_RESERVED_PROPERTY', 400, 'Property %s belongs to the broker and cannot be set by a caller', CompatCode.VALIDATION_FAIL),
  IdempotencyMismatch: entry('CIM_IDEMPOTENCY_MISMATCH', 422, 'idempotencyKey %s was used with a different request', CompatCode.VALIDATION_FAIL),
  RateLimited: entry('CIM_RATE_LIMITED', 429, 'Too many requests: %s', CompatCode.FAIL),
  TooManyConnections: entry('CIM_TOO_MANY_CONNECTIONS', 503, 'Too many connections: %s', CompatCode.SERVER_NOT_AVAILABLE),
  LoginDeadline: entry('CIM_LOGIN_DEADLINE', 408, 'No login within %s ms', CompatCode.FAIL),
  ShuttingDown: entry('CIM_SHUTTING_DOWN', 503, 'Shutting down: %s', CompatCode.SERVER_NOT_AVAILABLE),
  StorageFull: entry('CIM_STORAGE_FULL', 507, 'Message storage is full: %s', CompatCode.FAIL),
  MethodNotAllowed: entry('CIM_METHOD_NOT_ALLOWED', 405, 'Method %s not allowed on %s', CompatCode.FAIL),
  HeadersTooLarge: entry('CIM_HEADERS_TOO_LARGE', 431, 'Request headers or URL too large', CompatCode.FAIL),
  RetainedFull: entry('CIM_RETAINED_FULL', 507, 'Retained messages are full: %s', CompatCode.FAIL),
  PendingFramesFull: entry('CIM_PENDING_FRAMES_FULL', 503, 'Partial frames buffered on this broker passed %s bytes; closing the connection holding the most (%s bytes)', CompatCode.SERVER_NOT_AVAILABLE),
} as const satisfies Record<string, Entry>

export type ErrorName = keyof typeof catalogue

/** Error constructors, one per catalogue entry: `new errors.UserNotFound(42)`. */
export const errors = Object.fromEntries(
  Object.entries(catalogue).map(([name, e]) => [name, createError(e.code, e.message, e.status)]),
) as { [K in ErrorName]: FastifyErrorConstructor<{ code: (typeof catalogue)[K]['code'] }> }

const byCode = new Map<string, Entry>(Object.values(catalogue).map((e) => [e.code, e]))

/** The upstream cim code for one of our codes (`CIM_USER_OFFLINE` → `7000`). */
export function compatCodeOf(code: string | undefined): CompatCode {
  return (code && byCode.get(code)?.compat) || CompatCode.FAIL
}

/** True when `code` is one of ours. */
export function isCatalogued(code: unknown): code is string {
  return typeof code === 'string' && byCode.has(code)
}

/** A coded error for places that are not HTTP (TCP sessions, bus handlers). */
export function codedError(name: ErrorName, ...args: unknown[]): Error & { code: string; statusCode: number } {
  return new errors[name](...(args as [])) as Error & { code: string; statusCode: number }
}

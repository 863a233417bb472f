/**
 * Schemas shared by several routes. TypeBox schemas are plain JSON Schema, so one definition gives
 * request validation, the handler's TypeScript types, the response serialiser and the OpenAPI
 * document (docs/architecture.md, Conventions: one schema per endpoint).
 */
import { Type, type Static } from 'typebox'

/**
 * userIds are upstream's millisecond-clock values (≈1.7e12) carried as JSON numbers, so anything
 * above 2^53 − 1 cannot be represented exactly; the errors plugin turns a failure of exactly this
 * `maximum` into CIM_USER_ID_OUT_OF_RANGE.
 */
export const MAX_USER_ID = Number.MAX_SAFE_INTEGER

export const UserId = Type.Integer({
  minimum: 1, maximum: MAX_USER_ID,
  description: 'userId (an integer no larger than 2^53 - 1)', examples: [1747309836375],
})

/** `{statusCode, code, message}`: the body of every /v1 error. Added once as a shared schema. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer({ description: 'HTTP status, repeated in the body' }),
  code: Type.String({ description: 'Stable error code from the catalogue (errors.ts)', examples: ['CIM_USER_NOT_FOUND'] }),
  message: Type.String({ description: 'What went wrong, for humans' }),
}, { $id: 'ErrorResponse', additionalProperties: false, description: 'An error' })
export type ErrorBody = Static<typeof ErrorBody>

/** What each error status means on this API; becomes the response description in OpenAPI. */
const errorMeaning: Record<number, string> = {
  400: 'Invalid input: CIM_INVALID_ARGUMENT, CIM_INVALID_JSON, CIM_USER_ID_OUT_OF_RANGE',
  401: 'No API key, or an unknown one (when keys are configured): CIM_UNAUTHORIZED',
  403: 'The API key lacks the scope this operation needs: CIM_FORBIDDEN',
  404: 'Unknown target: CIM_USER_NOT_FOUND, CIM_USER_OFFLINE, CIM_NOT_FOUND',
  405: 'The path exists but not with this method (the `allow` header lists the ones it has): CIM_METHOD_NOT_ALLOWED',
  413: 'Body or message too large (a push: its encoded CIM frame, text, properties and what the broker adds, over --max-frame-bytes): CIM_PAYLOAD_TOO_LARGE',
  431: 'Request headers or URL too large: CIM_HEADERS_TOO_LARGE',
  500: 'Unexpected failure (logged): CIM_INTERNAL',
  501: 'The feature needs a setting this node lacks (e.g. a token signing key): CIM_NOT_CONFIGURED',
  503: 'No live broker or a backing service is down: CIM_NO_BROKER, CIM_BACKEND_UNAVAILABLE',
}

/**
 * Response schemas for the given error statuses (plus 500, which every route can answer), each a
 * reference to the shared ErrorResponse schema with a description of the codes it carries.
 */
export function errorResponses<S extends number>(...statuses: S[]): Record<S | 500, typeof ErrorRef> {
  const out = {} as Record<S | 500, typeof ErrorRef>
  for (const s of [...statuses, 500] as Array<S | 500>) out[s] = errorResponse(errorMeaning[s] ?? 'Error')
  return out
}

/** One error response with its own description (an endpoint that answers more codes than most). */
export function errorResponse(description: string): typeof ErrorRef {
  return Type.Unsafe<ErrorBody>({ $ref: 'ErrorResponse#', description })
}
const ErrorRef = Type.Unsafe<ErrorBody>({ $ref: 'ErrorResponse#' })

/** Free-form string metadata (becomes CIM `properties`). */
export const stringMap = (description: string) => Type.Unsafe<Record<string, string>>({
  type: 'object', additionalProperties: { type: 'string' }, description, examples: [{ kind: 'alert' }],
})

/**
 * A paged list's query. The cursor is the last id of the previous page, so one that could not be
 * an id is refused (400 CIM_INVALID_ARGUMENT) rather than answered with some page.
 */
function pageQuery(cursorPattern: string, cursorIs: string) {
  return Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Page size hint' })),
    cursor: Type.Optional(Type.String({
      minLength: 1, maxLength: 1024, pattern: cursorPattern,
      description: `The \`next\` value of the previous page (${cursorIs})`,
    })),
  }, { additionalProperties: false })
}

/** Devices: the cursor is an MQTT client id (no NUL). */
export const PageQuery = pageQuery('^[^\\u0000]+$', 'a device id')
/** Users: the cursor is a userId. */
export const UserPageQuery = pageQuery('^[1-9][0-9]{0,15}$', 'a userId')

/** One of a few strings or integers, as `{type, enum}` (what OpenAPI 3.0 tools expect). */
export function oneOf<const T extends string | number>(values: readonly T[], options: Record<string, unknown> = {}) {
  const type = values.every((v) => typeof v === 'number') ? 'integer' : 'string'
  return Type.Unsafe<T>({ type, enum: [...values], ...options })
}

/** Text encodings accepted for MQTT payloads given as JSON strings. */
export const Encoding = oneOf(['utf8', 'base64'], { default: 'utf8', description: 'How `payload` is encoded' })

/**
 * An MQTT topic name to publish to: no wildcards (MQTT 3.1.1 §4.7.1), no NUL (§4.7.3), at most
 * 65,535 UTF-8 bytes (§1.5.3; the handler counts the bytes, maxLength counts characters).
 */
export const TopicName = Type.String({
  minLength: 1, maxLength: 65535, pattern: '^[^#+\\u0000]+$', examples: ['alerts/room-1'],
  description: 'MQTT topic name: no wildcards (# +), no NUL, at most 65,535 UTF-8 bytes',
})

/**
 * One error handler and one not-found handler for the whole app: every failure becomes
 * `{statusCode, code, message}` with a code from the catalogue in errors.ts, so no route maps
 * errors itself. The CIM-compatible routes reuse `classifyError` and wrap the result their own way.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errors, isCatalogued } from '../../errors.ts'
import { MAX_USER_ID } from '../schemas.ts'

export interface ApiError {
  statusCode: number
  code: string
  message: string
}

/** Network error codes that mean a backing service (Redis, ZooKeeper) cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  'EAI_AGAIN', 'ECONNABORTED',
])
/** ioredis and node-zookeeper-client error names for a lost or refused connection. */
const BACKEND_ERROR_NAMES = new Set([
  'MaxRetriesPerRequestError', 'ClusterAllFailedError', 'CONNECTION_LOSS', 'SESSION_EXPIRED', 'OPERATION_TIMEOUT',
])
// ioredis: "Connection is closed." / "Stream isn't writeable and enableOfflineQueue options is false".
const BACKEND_MESSAGES = /Connection is closed|Stream isn't writeable|connect ECONNREFUSED/

/**
 * True for failures of an adapter's backing service rather than of our code. Adapters may also
 * mark an error explicitly with `backend: true`.
 */
export function isBackendFailure(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const e = err as { code?: unknown; name?: unknown; message?: unknown; backend?: unknown }
  return e.backend === true
    || (typeof e.code === 'string' && NETWORK_CODES.has(e.code))
    || (typeof e.name === 'string' && BACKEND_ERROR_NAMES.has(e.name))
    || (typeof e.message === 'string' && BACKEND_MESSAGES.test(e.message))
}

interface ValidationItem {
  keyword: string
  instancePath: string
  message?: string
  params?: { limit?: unknown; additionalProperties?: string[]; allowedValues?: unknown[] }
}

/**
 * "body/qos must be one of 0, 1; body has unknown field qoS": what was wrong, once per problem.
 * TypeBox reports an unknown field twice (a `false` schema at the field and `additionalProperties`
 * at its parent), and a bad value under `additionalProperties` also as an unknown field.
 */
export function describeValidation(items: ValidationItem[], context = 'body'): string {
  const parts: string[] = []
  for (const v of items) {
    const where = `${context}${v.instancePath}`
    if (v.keyword === 'boolean') continue
    if (v.keyword === 'additionalProperties') {
      const unknown = (v.params?.additionalProperties ?? []).filter((name) =>
        !items.some((o) => o.keyword !== 'boolean' && o.instancePath === `${v.instancePath}/${name}`))
      if (unknown.length) parts.push(`${where} has unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`)
    } else if (v.keyword === 'enum' && v.params?.allowedValues) {
      parts.push(`${where} must be one of ${v.params.allowedValues.map((x) => JSON.stringify(x)).join(', ')}`)
    } else {
      parts.push(`${where} ${v.message ?? `fails ${v.keyword}`}`)
    }
  }
  return parts.join('; ') || 'request does not match its schema'
}

function fromError(e: FastifyError): ApiError {
  return { statusCode: e.statusCode ?? 500, code: e.code, message: e.message }
}

/**
 * Maps anything thrown while handling a request to an API error. `internal` is set when the error
 * is ours (a bug): the caller logs it and hides the details from the client.
 */
export function classifyError(err: unknown, request: FastifyRequest): ApiError & { internal?: boolean; backend?: boolean } {
  const e = (err ?? {}) as FastifyError & { validation?: ValidationItem[] }
  if (Array.isArray(e.validation)) {
    // A userId above 2^53 − 1 fails the `maximum` of the UserId schema: give it its own code.
    const big = e.validation.find((v) => v.keyword === 'maximum' && v.params?.limit === MAX_USER_ID)
    if (big) return fromError(new errors.UserIdOutOfRange(valueAt(request, e.validationContext, big.instancePath)))
    return fromError(new errors.InvalidArgument(describeValidation(e.validation, e.validationContext)))
  }
  if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (e instanceof SyntaxError && e.statusCode === 400)) {
    return fromError(new errors.InvalidJson(e.message))
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) return fromError(new errors.PayloadTooLarge(e.message))
  if (isCatalogued(e.code)) return { statusCode: e.statusCode ?? 500, code: e.code, message: e.message }
  if (isBackendFailure(e)) return { ...fromError(new errors.BackendUnavailable(e.message)), backend: true }
  // Other client errors fastify detects itself (unsupported media type, bad content-length, ...).
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return fromError(new errors.InvalidArgument(e.message))
  }
  return { ...fromError(new errors.Internal(`request ${request.id} failed; see the server log`)), internal: true }
}

function valueAt(request: FastifyRequest, context: string | undefined, path: string): string {
  const root = context === 'params' ? request.params : context === 'querystring' ? request.query : request.body
  let v: unknown = root
  for (const key of path.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[key]
  return String(v)
}

/** Logs what needs an operator's attention: our bugs and dead backends, not bad input. */
export function logError(request: FastifyRequest, err: unknown, api: ReturnType<typeof classifyError>): void {
  if (api.internal) request.log.error({ err }, 'unhandled error')
  else if (api.backend) request.log.warn({ err }, 'backing service unavailable')
  else if (api.statusCode >= 500) request.log.warn({ code: api.code }, api.message)
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const api = classifyError(err, request)
    logError(request, err, api)
    return reply.code(api.statusCode).send({ statusCode: api.statusCode, code: api.code, message: api.message })
  })
  app.setNotFoundHandler((request, reply) => {
    const e = new errors.NotFound(`${request.method} ${request.url}`)
    return reply.code(404).send({ statusCode: 404, code: e.code, message: e.message })
  })
}
// Registered without encapsulation (what fastify-plugin does) so the handlers apply app-wide.
Object.assign(errorsPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-errors' })

export default errorsPlugin

/**
 * One error handler and one not-found handler for the whole app: every failure becomes
 * `{statusCode, code, message}` with a code from the catalogue in errors.ts, so no route maps
 * errors itself. The CIM-compatible routes reuse `classifyError` and wrap the result their own way.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { catalogue, errors, isCatalogued } from '../../errors.ts'
import { MAX_USER_ID } from '../schemas.ts'

export interface ApiError {
  statusCode: number
  code: string
  message: string
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
 * Maps anything thrown while handling a request to an API error. Only catalogue codes are
 * recognised: adapters report their backend's failures as CIM_BACKEND_UNAVAILABLE themselves
 * (adapters/redis.ts, adapters/discovery/zookeeper.ts), so anything else uncoded is a bug, and
 * `internal` is set: the caller logs it and hides the details from the client. `backend` marks a
 * dead backing service, which the caller logs with its cause.
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
  if (isCatalogued(e.code)) {
    const api = { statusCode: e.statusCode ?? 500, code: e.code, message: e.message }
    return e.code === catalogue.BackendUnavailable.code ? { ...api, backend: true } : api
  }
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

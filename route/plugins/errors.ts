/**
 * One error handler and one not-found handler for the whole app: every failure becomes
 * `{statusCode, code, message}` with a code from the catalogue in errors.ts, so no route maps
 * errors itself. The CIM-compatible routes reuse `classifyError` and wrap the result their own way.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { catalogue, errors, isCatalogued } from '../../errors.ts'
import { catalogueClientErrors } from '../../http-errors.ts'
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
  // Our own CIM_PAYLOAD_TOO_LARGE is catalogued already: wrapping it again would repeat its prefix.
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return fromError(new errors.PayloadTooLarge(`the body is over ${request.routeOptions.bodyLimit} bytes`))
  if (e.statusCode === 413 && !isCatalogued(e.code)) return fromError(new errors.PayloadTooLarge(e.message))
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

/**
 * Logs what needs an operator's attention: our bugs and dead backends, not bad input. The request
 * id is bound here (app.ts gives requests the app's logger, not a child per request).
 */
export function logError(request: FastifyRequest, err: unknown, api: ReturnType<typeof classifyError>): void {
  const reqId = request.id
  if (api.internal) request.log.error({ reqId, err }, 'unhandled error')
  else if (api.backend) request.log.warn({ reqId, err }, 'backing service unavailable')
  else if (api.statusCode >= 500) request.log.warn({ reqId, code: api.code }, api.message)
}

/** A route's URL pattern as a regular expression over paths (`:param` one segment, `*` the rest). */
function pathPattern(url: string): RegExp {
  const source = url.split('/').map((seg) => {
    if (seg === '*') return '.*'
    if (seg.startsWith(':')) return '[^/]+'
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }).join('/')
  return new RegExp(`^${source}$`)
}

/**
 * The methods routed for a path, from every route registered after this plugin; consulted only
 * when a request found no route, to tell "no such path" (404) from "not with this method" (405).
 */
function routeMethods(app: FastifyInstance): (path: string) => string[] {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = []
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method)
    routes.push({ pattern: pathPattern(route.url ?? route.path), methods })
  })
  return (path) => {
    const allowed = new Set<string>()
    for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) allowed.add(m)
    if (allowed.has('GET')) allowed.add('HEAD')
    return [...allowed]
  }
}

/**
 * JSON bodies as fastify parses them, except that an empty body is no body on a route that takes
 * none (`DELETE /v1/users/{id}/connection` sent with a JSON content-type); a route with a body
 * schema still answers CIM_INVALID_JSON for it.
 */
function emptyJsonOnBodylessRoutes(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.routeOptions.schema?.body === undefined) return done(null, undefined)
    json(request, body as string, done)
  })
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  catalogueClientErrors(app.server)
  emptyJsonOnBodylessRoutes(app)
  const methodsFor = routeMethods(app)
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const api = classifyError(err, request)
    logError(request, err, api)
    return reply.code(api.statusCode).send({ statusCode: api.statusCode, code: api.code, message: api.message })
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    const allowed = methodsFor(path)
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      const e = new errors.MethodNotAllowed(request.method, path)
      return reply.code(405).header('allow', allowed.join(', ')).send({ statusCode: 405, code: e.code, message: e.message })
    }
    const e = new errors.NotFound(`${request.method} ${request.url}`)
    return reply.code(404).send({ statusCode: 404, code: e.code, message: e.message })
  })
}
// Registered without encapsulation (what fastify-plugin does) so the handlers apply app-wide.
Object.assign(errorsPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-errors' })

export default errorsPlugin

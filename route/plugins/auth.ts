/**
 * REST API keys with scopes (docs/security.md, "API keys and scopes"). Every route declares the
 * scope it needs in ONE place, its route config: `app.post('/push/all', { config: { scope: 'push' } })`:
 * - `push`: push and publish; `read`: online lists, presence, nodes, stats, /metrics;
 * - `admin`: users, tokens, kicks, revocation; `public`: no key (OpenAPI, Swagger UI, and the
 *   CIM-compatible endpoints, which follow upstream's trust model).
 * A route that declares no scope fails app.ready(), so nothing becomes public by omission.
 *
 * With keys configured (`--api-keys`, or `namedApiKeys` in a config file) an onRequest hook checks
 * `Authorization: Bearer <key>` or `X-API-Key: <key>`: none or an unknown key → 401
 * CIM_UNAUTHORIZED with `WWW-Authenticate: Bearer`, a key without the scope → 403 CIM_FORBIDDEN.
 * The presented key is hashed with SHA-256 and compared with crypto.timingSafeEqual against EVERY
 * configured digest, so the time taken says nothing about which key (or how much of one) matched.
 * With no keys the hook is not installed: the API is open, as on a laptop.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import type { NamedApiKey, RouteSettings } from '../../config.ts'
import { errors } from '../../errors.ts'
import { errorResponses, oneOf } from '../schemas.ts'
import { describeValidation } from './errors.ts'

export const KEY_SCOPES = ['push', 'read', 'admin'] as const
export type KeyScope = (typeof KEY_SCOPES)[number]
export type RouteScope = KeyScope | 'public'
const ROUTE_SCOPES: readonly string[] = [...KEY_SCOPES, 'public']

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What an API key needs to call this route (route/plugins/auth.ts). Required on every route. */
    scope?: RouteScope
  }
  interface FastifyRequest {
    /**
     * The name of the API key that authenticated this request; undefined without keys configured
     * or on a public route. Idempotency keys and rate limits are scoped by it (docs/security.md).
     */
    caller: string | undefined
  }
}

/** The OpenAPI security requirement of a keyed operation: either scheme (plugins/swagger.ts declares both). */
export const SECURITY_REQUIREMENT: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }]

const NamedApiKeys = Type.Array(Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'hex SHA-256 of the key: printf %s "$KEY" | sha256sum' }),
  scopes: Type.Array(oneOf(KEY_SCOPES), { minItems: 1 }),
}, { additionalProperties: false }))
const checkNamedApiKeys = Compile(NamedApiKeys)

/** A configured key: its name (never secret), its SHA-256 digest, what it may do. */
export interface ApiKey {
  readonly name: string
  readonly digest: Buffer
  readonly scopes: ReadonlySet<KeyScope>
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/**
 * The keys from `apiKeys` (full access, named `api-keys[i]`) and `namedApiKeys`; throws a message
 * naming the faulty entry, which stops the node at startup.
 */
export function loadApiKeys(settings: Pick<RouteSettings, 'apiKeys' | 'namedApiKeys'>): ApiKey[] {
  const keys: ApiKey[] = settings.apiKeys.split(',').map((k) => k.trim()).filter((k) => k !== '')
    .map((key, i) => ({ name: `api-keys[${i}]`, digest: sha256(key), scopes: new Set(KEY_SCOPES) }))
  const named: unknown = settings.namedApiKeys
  if (!checkNamedApiKeys.Check(named)) {
    const problems = describeValidation([...checkNamedApiKeys.Errors(named)] as Parameters<typeof describeValidation>[0], 'namedApiKeys')
    throw new Error(`invalid namedApiKeys: ${problems} (expected [{"name": "billing", "sha256": "<64 hex digits>", "scopes": ["push", "read", "admin"]}])`)
  }
  const names = new Set<string>()
  for (const k of named as NamedApiKey[]) {
    if (names.has(k.name)) throw new Error(`invalid namedApiKeys: the name "${k.name}" is used twice`)
    names.add(k.name)
    keys.push({ name: k.name, digest: Buffer.from(k.sha256, 'hex'), scopes: new Set(k.scopes) })
  }
  return keys
}

/** The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
export function presentedKey(headers: FastifyRequest['headers']): string | undefined {
  const auth = headers.authorization
  if (auth !== undefined && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim()
  const key = headers['x-api-key']
  return typeof key === 'string' && key !== '' ? key : undefined
}

/** The configured key equal to `presented`, comparing digests in constant time against every key. */
export function matchKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const digest = sha256(presented)
  let found: ApiKey | undefined
  // No early exit: every digest is compared whatever matched before.
  for (const k of keys) if (timingSafeEqual(k.digest, digest) && !found) found = k
  return found
}

/** Adds the 401/403 responses and the security requirement to a keyed route's OpenAPI operation. */
function documentScope(route: RouteOptions, scope: RouteScope): void {
  const schema = route.schema as (Record<string, unknown> & { hide?: boolean; description?: string; response?: object }) | undefined
  if (!schema || schema.hide) return
  if (scope === 'public') {
    route.schema = { ...schema, security: [] }
    return
  }
  const needs = `Needs an API key with scope \`${scope}\` when keys are configured (docs/security.md).`
  route.schema = {
    ...schema,
    description: schema.description ? `${schema.description}\n\n${needs}` : needs,
    security: SECURITY_REQUIREMENT,
    response: { ...errorResponses(401, 403), ...schema.response },
  }
}

export interface AuthPluginOptions {
  config: Pick<RouteSettings, 'apiKeys' | 'namedApiKeys'>
}

/** Registered before every route (its onRoute hook must see them all) and before swagger. */
async function authPlugin(app: FastifyInstance, { config }: AuthPluginOptions): Promise<void> {
  const keys = loadApiKeys(config)
  const routes: RouteOptions[] = []
  app.addHook('onRoute', (route) => {
    routes.push(route)
    const scope = route.config?.scope
    if (scope !== undefined) documentScope(route, scope)
  })
  // Checked once every plugin's onRoute hooks have run (swagger.ts marks Swagger UI's routes then).
  app.addHook('onReady', async () => {
    const missing = routes.filter((r) => !ROUTE_SCOPES.includes(r.config?.scope as string))
      .map((r) => `${String(r.method)} ${r.url} (${JSON.stringify(r.config?.scope ?? null)})`)
    if (missing.length) {
      throw new Error(`routes without a valid scope: ${missing.join(', ')}; declare config: { scope: 'push' | 'read' | 'admin' | 'public' } (route/plugins/auth.ts)`)
    }
  })
  // Declared on every request (one object shape); set by the key check below.
  app.decorateRequest('caller', undefined)
  if (keys.length === 0) return

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const scope = request.routeOptions.config.scope
    if (scope === 'public') return done()
    const presented = presentedKey(request.headers)
    const key = presented === undefined ? undefined : matchKey(keys, presented)
    if (!key) {
      void reply.header('www-authenticate', 'Bearer realm="cim"')
      return done(new errors.Unauthorized(presented === undefined ? 'send Authorization: Bearer <key> or X-API-Key: <key>' : 'unknown API key'))
    }
    // No scope: only the not-found handler; a known key then learns that the route does not exist.
    if (scope !== undefined && !key.scopes.has(scope)) return done(new errors.Forbidden(`API key "${key.name}" lacks scope ${scope}`))
    request.caller = key.name
    done()
  })
}
// Not encapsulated (fastify-plugin style): the hooks cover every route of the app.
Object.assign(authPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-auth' })

export default authPlugin

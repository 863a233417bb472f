/**
 * REST rate limits (@fastify/rate-limit; docs/security.md, README "Limits"):
 * - every route: `--rate-limit-per-key` requests per second per API key (the key's name, set on
 *   the request by plugins/auth.ts), `--rate-limit-per-address` per second per source address for
 *   callers without a key (open mode, public routes; IPv6 counted per /64);
 * - registrations (`POST /v1/users`, compat `POST /registerAccount`, one counter for both):
 *   `--registrations-per-address` per minute per key or address, instead of the above;
 * - exempt: /health, /ready, /metrics, /openapi.json, /docs (monitoring and documentation);
 * - 0 turns a limit off; all three 0: the plugin is not installed at all.
 * Over the limit: 429 CIM_RATE_LIMITED in the catalogue body, `Retry-After` (seconds) and the
 * plugin's `x-ratelimit-*` headers (compat routes answer in upstream's wrapper, HTTP 200, as every
 * compat error). Counters are fixed windows in `adapters.rateCounter`: in memory on one node, in
 * Redis in a cluster, so the limits hold across route nodes. If the counter store fails (Redis
 * down), requests pass: a rate limit must not turn a backend outage into a total one.
 *
 * Requests with a wrong or missing key are refused by the auth hook (401) before they are counted:
 * a refusal costs what a 429 would.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import rateLimit, { normalizeIP, type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { RouteSettings } from '../../config.ts'
import type { RateCounter } from '../../adapters/ratelimit/index.ts'
import { errors } from '../../errors.ts'

type Limits = Pick<RouteSettings, 'rateLimitPerKey' | 'rateLimitPerAddress' | 'registrationsPerAddress'>

export interface RateLimitPluginOptions {
  config: Limits
  counter: RateCounter
}

/** Routes no limit applies to: health, readiness, metrics and the API's documentation. */
const EXEMPT = /^\/(health|ready|metrics|openapi\.json|docs)(\/|$)/

/** The routes that create accounts; they share one per-minute counter. */
function isRegistration(route: RouteOptions): boolean {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  return methods.includes('POST') && (route.url === '/v1/users' || route.url === '/registerAccount')
}

/** Who is counted: the API key's name, else the source address. */
function callerOf(req: FastifyRequest): string {
  if (req.caller !== undefined) return `key:${req.caller}`
  // An IPv4 address needs no normalising, and normalizeIP's IPv6 test is a long regular expression.
  const ip = req.ip
  return `addr:${ip.includes(':') ? normalizeIP(ip) : ip}`
}

/**
 * The plugin's store interface over our counter. Every child store (only registrations have one)
 * counts under the same `registrations:` prefix, so the two registration routes share a counter.
 */
function storeOver(counter: RateCounter): FastifyRateLimitStoreCtor {
  class CounterStore implements FastifyRateLimitStore {
    constructor(_options: unknown, private readonly prefix = 'requests:') {}

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const r = counter.hit(this.prefix + key, timeWindow)
      if (!(r instanceof Promise)) return callback(null, { current: r.count, ttl: r.ttlMs })
      r.then((c) => callback(null, { current: c.count, ttl: c.ttlMs }), callback)
    }

    child(): FastifyRateLimitStore {
      return new CounterStore(undefined, 'registrations:')
    }
  }
  return CounterStore
}

async function rateLimitPlugin(app: FastifyInstance, { config, counter }: RateLimitPluginOptions): Promise<void> {
  const { rateLimitPerKey: perKey, rateLimitPerAddress: perAddress, registrationsPerAddress: registrations } = config
  if (perKey <= 0 && perAddress <= 0 && registrations <= 0) return
  const limitOf = (req: FastifyRequest): number => (req.caller !== undefined ? perKey : perAddress)

  // Before the plugin's own onRoute hook, which reads `config.rateLimit` of each route.
  app.addHook('onRoute', (route) => {
    if (EXEMPT.test(route.url)) route.config = { ...route.config, rateLimit: false }
    else if (isRegistration(route) && registrations > 0) {
      // A number and no allowList: this limit applies whatever the per-second ones are.
      route.config = { ...route.config, rateLimit: { max: registrations, timeWindow: 60_000, allowList: undefined } }
    } else if (perKey <= 0 && perAddress <= 0) route.config = { ...route.config, rateLimit: false }
  })
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    timeWindow: 1000,
    // A number when both are equal (the defaults): the plugin then skips a call and an await per request.
    max: perKey === perAddress ? perKey : limitOf,
    keyGenerator: callerOf,
    // Only when one of the two per-second limits is off (0): those callers are not counted at all.
    allowList: perKey <= 0 || perAddress <= 0 ? (req) => limitOf(req) <= 0 : undefined,
    store: storeOver(counter),
    skipOnError: true,
    errorResponseBuilder: (req, ctx) => new errors.RateLimited(`${ctx.max} ${req.routeOptions.config.rateLimit ? 'registrations per minute' : 'requests per second'} per ${req.caller !== undefined ? 'API key' : 'address'}; retry in ${ctx.after}`),
  })
}
// Not encapsulated (fastify-plugin style): the limits cover every route of the app.
Object.assign(rateLimitPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-rate-limit' })

export default rateLimitPlugin

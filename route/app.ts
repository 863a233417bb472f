/**
 * The route: a stateless fastify app with two surfaces, the /v1 business API (API keys with scopes
 * when configured: plugins/auth.ts) and, with compat on, the endpoints the upstream cim client calls. Built, not listening (docs/architecture.md, Conventions): the
 * caller listens, or uses app.inject() in tests. The adapters belong to the caller, who closes them after the app.
 */
import type { Server as TlsServer } from 'node:tls'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { RouteSettings } from '../config.ts'
import type { Adapters } from '../adapters/index.ts'
import { createBalancer, type Balancer } from './balancer.ts'
import type { RouteContext } from './context.ts'
import errorsPlugin from './plugins/errors.ts'
import drainingPlugin from './plugins/draining.ts'
import authPlugin from './plugins/auth.ts'
import rateLimitPlugin from './plugins/ratelimit.ts'
import { validatorCompiler } from './plugins/validation.ts'
import swaggerPlugin from './plugins/swagger.ts'
import brokersPlugin from './plugins/brokers.ts'
import metricsPlugin, { RouteMetrics } from './plugins/metrics.ts'
import healthPlugin from './plugins/health.ts'
import push from './v1/push/index.ts'
import users from './v1/users/index.ts'
import devices from './v1/devices/index.ts'
import nodes from './v1/nodes/index.ts'
import stats from './v1/stats/index.ts'
import compat from './compat/index.ts'
import adminConsole from './admin/index.ts'
import { loadTls, tlsPathsOf, watchTls } from '../security/tls.ts'
import { Events } from '../events/index.ts'

const REDACTED_HEADERS = ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]']

export interface AppDeps {
  /** The route's slice of the settings (a whole Config will do). */
  config: RouteSettings
  adapters: Adapters
  /** A pino logger to use, `true` for fastify's default one, `false` for none. Default false. */
  logger?: Logger | boolean
  /** Broker selection. Default: createBalancer(config.strategy). */
  balancer?: Balancer
  /** Where the route's events go (README "Events to your backend"). Default: none (emit is one check). */
  events?: Events
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, adapters } = deps
  const logger = deps.logger ?? false
  // Two log lines per request cost more than a push itself at thousands of pushes/s; errors are
  // still logged by the errors plugin, and /metrics (plugins/metrics.ts) counts the traffic.
  // API keys never reach a log line, whatever logs a request (docs/security.md, "API keys and scopes").
  // HTTPS with a certificate (docs/security.md, TLS); a watcher swaps it on SIGHUP or file change.
  const tlsPaths = tlsPathsOf(config)
  const https = tlsPaths && loadTls(tlsPaths)
  const app = Fastify({
    ...(https && { https }),
    ...(typeof logger === 'boolean'
      ? { logger: logger && { redact: REDACTED_HEADERS } }
      : { loggerInstance: logger.child({}, { redact: REDACTED_HEADERS }) }),
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (a pino child costs about a microsecond, on every push): the
    // few lines logged about a request bind its id themselves (plugins/errors.ts logError).
    childLoggerFactory: (logger) => logger,
    // While closing, plugins/draining.ts answers (503 CIM_SHUTTING_DOWN in the catalogue format,
    // with Retry-After) instead of fastify's own 503 body.
    return503OnClosing: false,
  })
    .withTypeProvider<TypeBoxTypeProvider>()
  // TypeBox's compiled checker instead of fastify's coercing ajv defaults (see validation.ts).
  app.setValidatorCompiler(validatorCompiler)
  if (tlsPaths && https) {
    const tls = watchTls(tlsPaths, { logger: app.log })
    tls.add(app.server as unknown as TlsServer, https)
    app.addHook('onClose', async () => tls.close())
  }

  const metrics = new RouteMetrics({ inbox: adapters.inbox, events: deps.events })
  const ctx: RouteContext = {
    config, adapters, balancer: deps.balancer ?? createBalancer(config.strategy), metrics, events: deps.events ?? new Events('route'),
  }
  await app.register(errorsPlugin)
  // Before everything else: a node shutting down refuses writes first (node.ts close).
  await app.register(drainingPlugin)
  // Before swagger and every route: its onRoute hook documents and checks each route's scope.
  await app.register(authPlugin, { config })
  // After auth (it counts per API key), before swagger and every route (it must see them all).
  await app.register(rateLimitPlugin, { config, counter: adapters.rateCounter })
  await app.register(swaggerPlugin)
  await app.register(brokersPlugin, { adapters, deliveryTimeoutMs: config.deliveryTimeoutMs })
  // After brokers (it times their bus requests), before the routes (its hook must cover them).
  await app.register(metricsPlugin, { metrics })
  await app.register(healthPlugin, { probes: adapters.probes ?? [] })
  await app.register(async (v1) => {
    await v1.register(users, ctx)
    await v1.register(push, ctx)
    await v1.register(devices, ctx)
    await v1.register(nodes, ctx)
    await v1.register(stats, ctx)
  }, { prefix: '/v1' })
  // Upstream's trust model (no keys, token-less logins): only when chosen (docs/security.md, "Compat").
  if (config.compat) await app.register(compat, ctx)
  await app.register(adminConsole, ctx) // the admin console, /admin (README "Operations")
  // Callers get a plain FastifyInstance; the TypeBox typing matters only inside the route plugins.
  return app as unknown as FastifyInstance
}

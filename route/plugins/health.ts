/**
 * Liveness and readiness of a route (README "Operations"):
 * - GET /health: the process answers, always 200 (`{ status: 'ok' }`, or `'draining'` while it
 *   shuts down, still 200: a draining node must not be restarted by its orchestrator);
 * - GET /ready: 200 when the configured Redis answers a PING and the ZooKeeper client holds a
 *   session, and the node is not draining; otherwise 503 with the same body naming what is not
 *   ready (`notReady: ['redis', 'zookeeper', 'draining']`, adapters/health.ts).
 * Both public (no API key: probes carry none) and exempt from rate limits (plugins/ratelimit.ts);
 * hidden from the OpenAPI document like /metrics.
 */
import type { FastifyInstance } from 'fastify'
import type { BackendProbe } from '../../adapters/health.ts'
import { readiness } from '../../adapters/health.ts'

export interface HealthPluginOptions {
  /** adapters.probes: the configured backends. */
  probes: readonly BackendProbe[]
}

async function healthPlugin(app: FastifyInstance, { probes }: HealthPluginOptions): Promise<void> {
  const draining = () => (app.hasDecorator('isDraining') ? app.isDraining() : false)
  app.get('/health', { schema: { hide: true }, config: { scope: 'public' } }, async () => ({ status: draining() ? 'draining' : 'ok' }))
  app.get('/ready', { schema: { hide: true }, config: { scope: 'public' } }, async (_request, reply) => {
    const answer = await readiness(probes, draining())
    return reply.code(answer.ready ? 200 : 503).send(answer)
  })
}

export default healthPlugin

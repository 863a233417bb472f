/** /v1/nodes: the brokers discovery currently lists. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteContext } from '../../context.ts'
import * as schema from './schema.ts'

const nodes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  app.get('/nodes', { schema: schema.list, config: { scope: 'read' } }, async () => {
    const items = [...ctx.adapters.discovery.brokers()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return {
      items: items.map(({ id, host, cimPort, httpPort, mqttPort, wsPort, cimTlsPort, mqttsPort, wssPort, connections, draining, startedAt }) =>
        ({ id, host, cimPort, httpPort, mqttPort, wsPort, cimTlsPort, mqttsPort, wssPort, connections, draining, startedAt })),
    }
  })
}

export default nodes

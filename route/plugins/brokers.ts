/**
 * `app.brokers`: the route's BrokerClient (typed requests to brokers over the bus), the way
 * @fastify/redis wraps a client: decorate, start when the app is ready, close with the app.
 * The adapters themselves belong to the caller of buildApp, who closes them.
 */
import type { FastifyInstance } from 'fastify'
import { BrokerClient } from '../../broker/api/client.ts'
import type { Adapters } from '../../adapters/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    brokers: BrokerClient
  }
}

export interface BrokersPluginOptions {
  adapters: Pick<Adapters, 'bus' | 'discovery'>
  /** How long to wait for a broker's answer (config.deliveryTimeoutMs). */
  deliveryTimeoutMs: number
}

async function brokersPlugin(app: FastifyInstance, opts: BrokersPluginOptions): Promise<void> {
  // app.log hears of refused requests, e.g. a kind an older broker does not know during an upgrade.
  const client = new BrokerClient(opts.adapters.bus, opts.adapters.discovery, opts.deliveryTimeoutMs, undefined, app.log)
  app.decorate('brokers', client)
  // The reply subscription must exist before the first request, so start on ready, not lazily.
  app.addHook('onReady', async () => { await client.start() })
  app.addHook('onClose', async () => { await client.close() })
}
// Not encapsulated (fastify-plugin style), so every route plugin sees the decorator.
Object.assign(brokersPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'cim-brokers' })

export default brokersPlugin

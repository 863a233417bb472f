/**
 * Starts what `cim start` starts — route + one broker over memory adapters — on free ports, in
 * this process, for end-to-end tests with real sockets.
 */
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config.ts'
import { createMemoryAdapters, type Adapters } from '../../adapters/index.ts'
import { createBroker } from '../../broker/index.ts'
import { buildApp } from '../../route/app.ts'
import type { Broker, BrokerPorts } from '../../broker/types.ts'
import { silentLogger, testConfig } from './config.ts'
import type { Events } from '../../events/index.ts'

export interface AllInOne {
  config: Config
  adapters: Adapters
  broker: Broker
  app: FastifyInstance
  ports: BrokerPorts
  routeUrl: string
  close(): Promise<void>
}

export async function startAllInOne(overrides: Partial<Config> = {}, adapters: Adapters = createMemoryAdapters(overrides), events?: Events): Promise<AllInOne> {
  const config = testConfig(overrides)
  const broker = createBroker({ config, adapters, logger: silentLogger, events })
  const ports = await broker.listen()
  const app = await buildApp({ config, adapters, logger: silentLogger, events })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    config, adapters, broker, app, ports,
    // With tlsCert / tlsKey the route serves HTTPS (docs/security.md, TLS).
    routeUrl: `${config.tlsCert ? 'https' : 'http'}://127.0.0.1:${port}`,
    async close() {
      await broker.close()
      await app.close()
      await events?.close()
      await adapters.close()
    },
  }
}

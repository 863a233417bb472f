/**
 * In-process route + brokers over ONE adapter set, memory or Redis-backed (fresh key prefix), for
 * tests that must hold on both storage backends. Each node listens on free ports.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { createAdapters, createMemoryAdapters, type Adapters } from '../../adapters/index.ts'
import { createBroker } from '../../broker/index.ts'
import type { Broker, BrokerPorts } from '../../broker/types.ts'
import { buildApp } from '../../route/app.ts'
import type { Config } from '../../config.ts'
import { silentLogger, testConfig } from './config.ts'

export type StoreKind = 'memory' | 'redis'

export interface TestNodes {
  config: Config
  adapters: Adapters
  brokers: Array<{ broker: Broker; ports: BrokerPorts }>
  app: FastifyInstance
  routeUrl: string
  close(): Promise<void>
}

/** Builds the adapter set: memory, or Redis at `redisUrl` under a fresh prefix. */
export async function testAdapters(kind: StoreKind, config: Config, redisUrl?: string): Promise<Adapters> {
  if (kind === 'memory') return createMemoryAdapters(config)
  if (!redisUrl) throw new Error('redis kind needs a redisUrl')
  return createAdapters({ ...config, redisUrl }, { redisPrefix: `cim:t-${randomUUID()}:` })
}

/** A route and `brokers` brokers (ids b1, b2, ...) sharing one adapter set. */
export async function startNodes(kind: StoreKind, overrides: Partial<Config> = {}, opts: { brokers?: number; redisUrl?: string } = {}): Promise<TestNodes> {
  const config = testConfig(overrides)
  const adapters = await testAdapters(kind, config, opts.redisUrl)
  const brokers: TestNodes['brokers'] = []
  let app: FastifyInstance | undefined
  try {
    for (let i = 1; i <= (opts.brokers ?? 1); i++) {
      const broker = createBroker({ config: testConfig({ ...overrides, brokerId: `b${i}` }), adapters, logger: silentLogger })
      brokers.push({ broker, ports: await broker.listen() })
    }
    app = await buildApp({ config, adapters, logger: silentLogger })
    await app.listen({ host: '127.0.0.1', port: 0 })
  } catch (err) {
    for (const b of brokers) await b.broker.close()
    await app?.close()
    await adapters.close()
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const route = app
  return {
    config, adapters, brokers, app: route,
    routeUrl: `http://127.0.0.1:${port}`,
    async close() {
      for (const b of brokers) await b.broker.close()
      await route.close()
      await adapters.close()
    },
  }
}

/**
 * Test harness for broker tests: a broker on free ports over memory adapters, a BrokerClient on the
 * same bus (as the route uses it), and `brokerFixture()`, which closes a test's brokers and raw
 * CIM clients (test/support/wire.ts) after it.
 */
import { afterEach } from 'vitest'
import type { Config } from '../../config.ts'
import { createMemoryAdapters, type Adapters } from '../../adapters/index.ts'
import { createBroker } from '../../broker/index.ts'
import type { Broker, BrokerPorts } from '../../broker/types.ts'
import { BrokerClient } from '../../broker/api/client.ts'
import { silentLogger, testConfig } from './config.ts'
import { RawClient } from './wire.ts'

export interface TestBroker {
  broker: Broker
  adapters: Adapters
  config: Config
  ports: BrokerPorts
  /** The route's handle over the bus. */
  route: BrokerClient
  close(): Promise<void>
}

export async function startBroker(overrides: Partial<Config> = {}, adapters = createMemoryAdapters()): Promise<TestBroker> {
  const config = testConfig(overrides)
  const broker = createBroker({ config, adapters, logger: silentLogger })
  const ports = await broker.listen()
  const route = new BrokerClient(adapters.bus, adapters.discovery, 2000)
  await route.start()
  return {
    broker, adapters, config, ports, route,
    async close() {
      await route.close()
      await broker.close()
    },
  }
}

export interface BrokerFixture {
  /** Starts a broker (startBroker's arguments) that is closed after the test. */
  broker(overrides?: Partial<Config>, adapters?: Adapters): Promise<TestBroker>
  /** Connects a raw CIM client to `port` that is closed after the test. */
  client(port: number): Promise<RawClient>
}

/**
 * Call at the top level of a test file. After each test it closes the raw clients, then the brokers
 * in the order they started, then each distinct set of adapters once (brokers may share them).
 */
export function brokerFixture(): BrokerFixture {
  const clients: RawClient[] = []
  const brokers: TestBroker[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    const adapters = new Set<Adapters>()
    for (const tb of brokers.splice(0)) {
      await tb.close()
      adapters.add(tb.adapters)
    }
    for (const a of adapters) await a.close()
  })
  return {
    async broker(overrides, adapters) {
      const tb = await startBroker(overrides, adapters)
      brokers.push(tb)
      return tb
    },
    async client(port) {
      const c = await RawClient.connect(port)
      clients.push(c)
      return c
    },
  }
}

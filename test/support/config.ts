/** Configuration and logger for in-process test servers. */
import pino from 'pino'
import { resolveConfig, type Config } from '../../config.ts'

/** Silent unless CIM_TEST_LOG names a level. */
export const silentLogger = pino({ level: process.env.CIM_TEST_LOG ?? 'silent' })

/**
 * Test configuration: free ports, loopback, quiet logs, no environment leaking in, and compat on
 * (the explicit open mode the delivery tests run in: no keys, upstream endpoints served).
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return resolveConfig({
    host: '127.0.0.1', advertiseHost: '127.0.0.1',
    routePort: 0, cimPort: 0, brokerHttpPort: 0, mqttPort: 0, wsPort: 0,
    logLevel: 'silent', compat: true, ...overrides,
  }, {})
}

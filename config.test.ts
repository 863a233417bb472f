import { describe, it, expect } from 'vitest'
import { brokerIdOf, defaults, resolveConfig } from './config.ts'

describe('resolveConfig', () => {
  it('uses the upstream cim default ports', () => {
    const c = resolveConfig({}, {})
    expect([c.routePort, c.cimPort, c.brokerHttpPort, c.mqttPort, c.wsPort]).toEqual([8083, 11211, 8081, 1883, 9001])
    expect(c.strategy).toBe('consistent-hash')
  })

  it('reads environment variables, and explicit values win over them', () => {
    const env = { CIM_CIM_PORT: '12000', CIM_REPEAT_LOGIN: 'kick-old' }
    expect(resolveConfig({}, env).cimPort).toBe(12000)
    expect(resolveConfig({}, env).repeatLogin).toBe('kick-old')
    expect(resolveConfig({ cimPort: 13000 }, env).cimPort).toBe(13000)
  })

  it('rejects a non-number and a value outside the choices with a clear message', () => {
    expect(() => resolveConfig({}, { CIM_ROUTE_PORT: 'eighty' })).toThrow(/--route-port \/ CIM_ROUTE_PORT: expected a non-negative number/)
    expect(() => resolveConfig({}, { CIM_STRATEGY: 'fastest' })).toThrow(/expected one of consistent-hash/)
  })

  it('never advertises a loopback alias like 127.0.1.1 by default', () => {
    const host = resolveConfig({}, {}).advertiseHost
    expect(host === '127.0.0.1' || !host.startsWith('127.')).toBe(true)
  })

  it('names a broker ip:cimPort:httpPort unless an id is given', () => {
    expect(brokerIdOf({ ...defaults, advertiseHost: '10.0.0.5' })).toBe('10.0.0.5:11211:8081')
    expect(brokerIdOf({ ...defaults, brokerId: 'b1' })).toBe('b1')
  })
})

describe('config file', () => {
  it('sits between defaults and the environment, and refuses unknown keys', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const { readConfigFile } = await import('./config.ts')
    const dir = mkdtempSync(join(tmpdir(), 'cim-config-'))
    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify({ cimPort: 12001, redisUrl: 'redis://10.0.0.9:6379' }))
    const file = readConfigFile(good)
    expect(resolveConfig({}, {}, file).cimPort).toBe(12001)
    expect(resolveConfig({}, { CIM_CIM_PORT: '12002' }, file).cimPort).toBe(12002)
    expect(resolveConfig({}, {}, file).redisUrl).toBe('redis://10.0.0.9:6379')
    const typo = join(dir, 'typo.json')
    writeFileSync(typo, JSON.stringify({ cimport: 1 }))
    expect(() => readConfigFile(typo)).toThrow(/unknown setting "cimport"/)
    const broken = join(dir, 'broken.json')
    writeFileSync(broken, '{ nope')
    expect(() => readConfigFile(broken)).toThrow(/config file .*broken.json/)
  })
})

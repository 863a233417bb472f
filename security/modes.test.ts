import { describe, it, expect } from 'vitest'
import { resolveConfig, type Config } from '../config.ts'
import { checkSecurityMode, openSurfaces } from './modes.ts'

/** What `cim <role>` resolves: `cim start` binds loopback and turns compat on (cli.ts). */
function settingsOf(role: 'start' | 'broker' | 'route', overrides: Partial<Config> = {}): Config {
  return resolveConfig(overrides, {}, {}, role === 'start' ? { compat: true, host: '127.0.0.1' } : {})
}
const KEYS = { apiKeys: 'k1', tokenSecret: 's'.repeat(32) } satisfies Partial<Config>

describe('checkSecurityMode', () => {
  it('cim start with no settings: runs open on loopback, advertises loopback, and says security is off in one line', () => {
    const c = settingsOf('start')
    expect(c.host).toBe('127.0.0.1')
    expect(c.advertiseHost).toBe('127.0.0.1')
    const { warnings } = checkSecurityMode('start', c)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^security is off: the REST API takes no API key.*no token.*compat is on/)
  })

  it('cim start refuses a non-loopback interface with security off, naming the way out', () => {
    for (const host of ['0.0.0.0', '192.168.1.10', '::']) {
      expect(() => checkSecurityMode('start', settingsOf('start', { host }))).toThrow(new RegExp(`refusing to bind ${host.replace(/\./g, '\\.')} with security is off.*--insecure`))
    }
  })

  it('cim start on a public interface needs every key AND compat off, or --insecure', () => {
    expect(() => checkSecurityMode('start', settingsOf('start', { host: '0.0.0.0', ...KEYS }))).toThrow(/partly off: compat is on/)
    expect(() => checkSecurityMode('start', settingsOf('start', { host: '0.0.0.0', apiKeys: 'k' }))).toThrow(/need no token/)
    expect(checkSecurityMode('start', settingsOf('start', { host: '0.0.0.0', ...KEYS, compat: false })).warnings).toEqual([])
    const insecure = checkSecurityMode('start', settingsOf('start', { host: '0.0.0.0', insecure: true }))
    expect(insecure.warnings[0]).toMatch(/^--insecure: security is off/)
  })

  it('loopback aliases count as loopback; advertiseHost follows them', () => {
    for (const host of ['127.0.0.1', '127.0.1.1', 'localhost', '::1']) {
      expect(checkSecurityMode('start', settingsOf('start', { host })).warnings).toHaveLength(1)
      expect(settingsOf('start', { host }).advertiseHost).toBe(host)
    }
    expect(settingsOf('broker', { host: '0.0.0.0' }).advertiseHost).not.toMatch(/^127\./)
  })

  it('cim route refuses to start without API keys and a token key unless --insecure', () => {
    expect(() => checkSecurityMode('route', settingsOf('route'))).toThrow(/cim route: refusing to start with security is off: the REST API takes no API key.*token key.*--insecure/)
    expect(() => checkSecurityMode('route', settingsOf('route', { apiKeys: 'k' }))).toThrow(/partly off.*no token key/)
    expect(() => checkSecurityMode('route', settingsOf('route', { tokenSecret: 's' }))).toThrow(/partly off: the REST API takes no API key/)
    expect(() => checkSecurityMode('route', settingsOf('route', { namedApiKeys: [{ name: 'n', sha256: 'a'.repeat(64), scopes: ['push'] }], tokenPrivateKey: '/k.pem' }))).not.toThrow()
    expect(checkSecurityMode('route', settingsOf('route', KEYS)).warnings).toEqual([])
    expect(checkSecurityMode('route', settingsOf('route', { insecure: true })).warnings[0]).toMatch(/^--insecure: security is off/)
  })

  it('cim broker refuses to start without a token key unless --insecure; API keys do not count there', () => {
    expect(() => checkSecurityMode('broker', settingsOf('broker', { apiKeys: 'k' }))).toThrow(/cim broker: refusing to start with security is off: CIM logins and MQTT connections need no token/)
    expect(checkSecurityMode('broker', settingsOf('broker', { tokenPublicKey: '/pub.pem' })).warnings).toEqual([])
    expect(checkSecurityMode('broker', settingsOf('broker', { insecure: true })).warnings).toHaveLength(1)
  })

  it('compat on a broker or route is an explicit choice: warned about, not refused', () => {
    const { warnings } = checkSecurityMode('broker', settingsOf('broker', { ...KEYS, compat: true }))
    expect(warnings[0]).toMatch(/partly off: compat is on.*upstream's trust model/)
    expect(openSurfaces('route', settingsOf('route', { ...KEYS, compat: true }))).toHaveLength(1)
  })
})

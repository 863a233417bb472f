import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { Writable } from 'node:stream'
import pino from 'pino'
import { routeHarness, type RouteHarness } from '../../test/support/fake-broker.ts'
import { createMemoryAdapters } from '../../adapters/index.ts'
import { resolveConfig, type NamedApiKey } from '../../config.ts'
import { buildApp } from '../app.ts'
import { loadApiKeys, matchKey, sha256 } from './auth.ts'

const FULL = 'full-access-key-0123456789'
const READER = 'reader-key-abcdef'
const PUSHER = 'pusher-key-ghijkl'
const ADMIN = 'admin-key-mnopqr'
const named = (name: string, key: string, scopes: NamedApiKey['scopes']): NamedApiKey => ({ name, sha256: sha256(key).toString('hex'), scopes })
const NAMED = [named('reader', READER, ['read']), named('pusher', PUSHER, ['push']), named('ops', ADMIN, ['admin', 'read'])]

describe('REST API keys', () => {
  let h: RouteHarness
  beforeAll(async () => { h = await routeHarness({ apiKeys: ` ${FULL} ,`, namedApiKeys: NAMED }) })
  afterAll(async () => { await h.close() })
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string> = {}, payload?: object) =>
    h.app.inject({ method, url, headers, ...(payload ? { payload } : {}) })

  it('refuses a request without a key: 401 CIM_UNAUTHORIZED in the catalogue format, with WWW-Authenticate', async () => {
    const res = await call('GET', '/v1/nodes')
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
    expect(res.json()).toEqual({ statusCode: 401, code: 'CIM_UNAUTHORIZED', message: expect.stringContaining('Authorization: Bearer') })
  })

  it('refuses an unknown key, a near miss and an empty Bearer alike', async () => {
    for (const headers of [{ authorization: 'Bearer nope' }, { authorization: `Bearer ${FULL}x` }, { 'x-api-key': FULL.slice(0, -1) }, { authorization: 'Bearer ' }, { authorization: FULL }] as Array<Record<string, string>>) {
      const res = await call('POST', '/v1/push/all', headers, { message: 'x' })
      expect(res.statusCode, JSON.stringify(headers)).toBe(401)
      expect(res.json().code).toBe('CIM_UNAUTHORIZED')
    }
  })

  it('accepts a full-access key as Bearer (any case) or X-API-Key, on every scope', async () => {
    expect((await call('GET', '/v1/nodes', { authorization: `Bearer ${FULL}` })).statusCode).toBe(200)
    expect((await call('GET', '/v1/stats', { authorization: `bearer ${FULL}` })).statusCode).toBe(200)
    expect((await call('GET', '/metrics', { 'x-api-key': FULL })).statusCode).toBe(200)
    expect((await call('POST', '/v1/users', { 'x-api-key': FULL }, { userName: 'alice' })).statusCode).toBe(201)
  })

  it('answers a key without the scope with 403 CIM_FORBIDDEN naming the key and the scope', async () => {
    const res = await call('POST', '/v1/push/all', { authorization: `Bearer ${READER}` }, { message: 'x' })
    expect(res.statusCode).toBe(403)
    expect(res.json()).toEqual({ statusCode: 403, code: 'CIM_FORBIDDEN', message: 'Not allowed: API key "reader" lacks scope push' })
    expect((await call('GET', '/v1/nodes', { authorization: `Bearer ${PUSHER}` })).statusCode).toBe(403)
    expect((await call('GET', '/metrics', { authorization: `Bearer ${PUSHER}` })).statusCode).toBe(403)
    expect((await call('DELETE', '/v1/users/1/connection', { authorization: `Bearer ${PUSHER}` })).statusCode).toBe(403)
    expect((await call('POST', '/v1/users', { authorization: `Bearer ${READER}` }, { userName: 'bob' })).statusCode).toBe(403)
    expect((await call('POST', '/v1/publish', { authorization: `Bearer ${ADMIN}` }, { topic: 'a/b', payload: 'x' })).statusCode).toBe(403)
  })

  it('lets each named key do what its scopes say', async () => {
    expect((await call('GET', '/v1/users/online', { authorization: `Bearer ${READER}` })).statusCode).toBe(200)
    expect((await call('GET', '/v1/devices/online', { 'x-api-key': READER })).statusCode).toBe(200)
    expect((await call('GET', '/metrics', { 'x-api-key': READER })).statusCode).toBe(200)
    // Past authorization: no broker is registered in this harness.
    expect((await call('POST', '/v1/push/all', { authorization: `Bearer ${PUSHER}` }, { message: 'x' })).json().code).toBe('CIM_NO_BROKER')
    expect((await call('POST', '/v1/users', { authorization: `Bearer ${ADMIN}` }, { userName: 'carol' })).statusCode).toBe(201)
    expect((await call('DELETE', '/v1/users/1/connection', { authorization: `Bearer ${ADMIN}` })).json().code).toBe('CIM_USER_OFFLINE')
  })

  it('keeps /openapi.json, /docs and the compat endpoints (upstream trust model) open', async () => {
    expect((await call('GET', '/openapi.json')).statusCode).toBe(200)
    expect((await call('GET', '/docs')).statusCode).toBe(200)
    expect((await call('GET', '/docs/static/swagger-ui.css')).statusCode).toBe(200)
    const reg = await call('POST', '/registerAccount', {}, { userName: 'dave' })
    expect(reg.json().code).toBe('9000')
  })

  it('asks for a key before saying a route does not exist', async () => {
    expect((await call('GET', '/v1/secret')).statusCode).toBe(401)
    expect((await call('GET', '/v1/secret', { authorization: `Bearer ${READER}` })).json().code).toBe('CIM_NOT_FOUND')
  })

  it('documents both security schemes and each operation\'s requirement', async () => {
    const doc = (await call('GET', '/openapi.json')).json()
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['bearerAuth', 'apiKeyHeader'])
    expect(doc.paths['/v1/push/all'].post.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }])
    expect(doc.paths['/v1/push/all'].post.responses['403']).toBeDefined()
    expect(doc.paths['/v1/nodes'].get.description).toContain('scope `read`')
    expect(doc.paths['/p2pRoute'].post.security).toEqual([])
  })
})

describe('REST API keys: configuration and modes', () => {
  it('with no keys the API is open, and the compat endpoints exist only with compat on', async () => {
    const open = await routeHarness({ compat: false })
    try {
      expect((await open.app.inject({ method: 'GET', url: '/v1/nodes' })).statusCode).toBe(200)
      expect((await open.app.inject({ method: 'POST', url: '/registerAccount', payload: { userName: 'x' } })).statusCode).toBe(404)
      const doc = (await open.app.inject({ method: 'GET', url: '/openapi.json' })).json()
      expect(doc.paths['/login']).toBeUndefined()
    } finally {
      await open.close()
    }
  })

  it('refuses bad namedApiKeys at startup with a message naming the fault', () => {
    const bad = (namedApiKeys: unknown) => () => loadApiKeys({ apiKeys: '', namedApiKeys: namedApiKeys as NamedApiKey[] })
    expect(bad([{ name: 'a', sha256: 'abc', scopes: ['push'] }])).toThrow(/namedApiKeys\/0\/sha256 must match pattern/)
    expect(bad([{ name: 'a', sha256: 'a'.repeat(64), scopes: ['write'] }])).toThrow(/namedApiKeys\/0\/scopes\/0 must be one of "push", "read", "admin"/)
    expect(bad([{ name: 'a', sha256: 'a'.repeat(64), scopes: ['push'], key: 'plain' }])).toThrow(/unknown field key/)
    expect(bad([{ name: 'a', sha256: 'a'.repeat(64), scopes: [] }])).toThrow(/scopes must have at least 1 items|scopes/)
    expect(bad([named('a', 'k1', ['push']), named('a', 'k2', ['read'])])).toThrow(/"a" is used twice/)
  })

  it('fails buildApp on bad keys and ready() on a route that declares no scope', async () => {
    const adapters = createMemoryAdapters()
    await expect(buildApp({ config: resolveConfig({ namedApiKeys: [{ name: 'x' }] as unknown as NamedApiKey[] }, {}), adapters }))
      .rejects.toThrow(/invalid namedApiKeys/)
    const app = await buildApp({ config: resolveConfig({}, {}), adapters })
    app.get('/forgotten', async () => 'oops')
    await expect(app.ready()).rejects.toThrow(/routes without a valid scope: GET \/forgotten/)
    await adapters.close()
  })

  it('matches keys by digest, whichever configured key it is', () => {
    const keys = loadApiKeys({ apiKeys: 'k1,k2', namedApiKeys: [named('n', 'k3', ['read'])] })
    expect(keys.map((k) => matchKey(keys, k.name === 'n' ? 'k3' : k.name === 'api-keys[0]' ? 'k1' : 'k2')?.name)).toEqual(['api-keys[0]', 'api-keys[1]', 'n'])
    expect(matchKey(keys, 'k4')).toBeUndefined()
  })

  it('never logs a key: authorization and x-api-key are redacted', async () => {
    let logged = ''
    const sink = new Writable({ write(chunk, _enc, cb) { logged += String(chunk); cb() } })
    const adapters = createMemoryAdapters()
    const app = await buildApp({ config: resolveConfig({ apiKeys: FULL }, {}), adapters, logger: pino({ level: 'info' }, sink) })
    app.get('/echo-log', { config: { scope: 'read' } }, async (req) => { req.log.info({ req: { headers: req.headers }, headers: req.headers }, 'headers'); throw new Error('boom') })
    await app.inject({ method: 'GET', url: '/echo-log', headers: { authorization: `Bearer ${FULL}` } })
    await app.inject({ method: 'GET', url: '/echo-log', headers: { 'x-api-key': FULL } })
    await app.inject({ method: 'GET', url: '/echo-log', headers: { 'x-api-key': 'wrong-key-123' } })
    await app.close()
    await adapters.close()
    expect(logged).toContain('[Redacted]')
    expect(logged).toContain('unhandled error')
    expect(logged).not.toContain(FULL)
    expect(logged).not.toContain('wrong-key-123')
  })
})

/** REST rate limits (issue 9 item 13): per API key, per source address, registrations; 429 in the catalogue format. */
import { describe, it, expect, afterEach } from 'vitest'
import type { Config } from '../../config.ts'
import { routeHarness, type RouteHarness } from '../../test/support/fake-broker.ts'
import { sleep } from '../../test/support/wait.ts'

const KEY_A = 'rate-key-a-0123456789'
const KEY_B = 'rate-key-b-0123456789'

let h: RouteHarness | undefined
afterEach(async () => { await h?.close(); h = undefined })

async function setup(overrides: Partial<Config>): Promise<RouteHarness> {
  h = await routeHarness(overrides)
  return h
}

const get = (url: string, opts: { key?: string; from?: string } = {}) => h!.app.inject({
  method: 'GET', url, remoteAddress: opts.from ?? '10.0.0.1',
  headers: opts.key ? { authorization: `Bearer ${opts.key}` } : {},
})
const register = (url: string, userName: string, from = '10.0.0.1') =>
  h!.app.inject({ method: 'POST', url, remoteAddress: from, payload: { userName } })

async function statuses(n: number, call: () => Promise<{ statusCode: number }>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push((await call()).statusCode)
  return out
}

describe('REST rate limits', () => {
  it('per source address without a key: 429 CIM_RATE_LIMITED with Retry-After, other addresses unaffected, then the window resets', async () => {
    await setup({ rateLimitPerAddress: 3 })
    const ok = await get('/v1/nodes')
    expect(ok.headers['x-ratelimit-limit']).toBe('3')
    expect(ok.headers['x-ratelimit-remaining']).toBe('2')
    expect(await statuses(2, () => get('/v1/nodes'))).toEqual([200, 200])
    const refused = await get('/v1/nodes')
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toEqual({ statusCode: 429, code: 'CIM_RATE_LIMITED', message: expect.stringContaining('3 requests per second per address') })
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(refused.headers['x-ratelimit-remaining']).toBe('0')
    // Every route counts against the same limit; another address has its own.
    expect((await h!.app.inject({ method: 'POST', url: '/v1/push/all', remoteAddress: '10.0.0.1', payload: { message: 'x' } })).statusCode).toBe(429)
    expect((await get('/v1/nodes', { from: '10.0.0.2' })).statusCode).toBe(200)
    await sleep(1_100)
    expect((await get('/v1/nodes')).statusCode).toBe(200)
  })

  it('per API key: each key its own count, whatever the address; the address limit does not apply to keyed callers', async () => {
    await setup({ apiKeys: `${KEY_A},${KEY_B}`, rateLimitPerKey: 2, rateLimitPerAddress: 1 })
    expect(await statuses(3, () => get('/v1/nodes', { key: KEY_A }))).toEqual([200, 200, 429])
    const refused = await get('/v1/nodes', { key: KEY_A, from: '10.9.9.9' })
    expect(refused.statusCode).toBe(429)
    expect(refused.json().message).toContain('per API key')
    expect(await statuses(2, () => get('/v1/nodes', { key: KEY_B }))).toEqual([200, 200])
  })

  it('0 turns a limit off: no counting, no headers', async () => {
    await setup({ rateLimitPerKey: 0, rateLimitPerAddress: 0, registrationsPerAddress: 0 })
    expect(new Set(await statuses(50, () => get('/v1/nodes')))).toEqual(new Set([200]))
    expect((await get('/v1/nodes')).headers['x-ratelimit-limit']).toBeUndefined()
    expect(new Set(await statuses(60, () => register('/v1/users', 'many')))).toEqual(new Set([200, 201]))
  })

  it('the address limit off, the key limit on (and the reverse)', async () => {
    await setup({ apiKeys: KEY_A, rateLimitPerKey: 1, rateLimitPerAddress: 0 })
    expect(await statuses(2, () => get('/v1/nodes', { key: KEY_A }))).toEqual([200, 429])
    expect(new Set(await statuses(20, () => get('/openapi.json')))).toEqual(new Set([200]))
    await h!.close()
    await setup({ apiKeys: KEY_A, rateLimitPerKey: 0, rateLimitPerAddress: 1 })
    expect(new Set(await statuses(20, () => get('/v1/nodes', { key: KEY_A })))).toEqual(new Set([200]))
  })

  it('health, metrics, the OpenAPI document and Swagger UI are exempt', async () => {
    await setup({ rateLimitPerAddress: 1 })
    for (const url of ['/health', '/ready', '/metrics', '/openapi.json', '/docs', '/docs/static/index.html']) {
      const codes = await statuses(5, () => get(url))
      expect(codes[0], url).toBeLessThan(400)
      expect(new Set(codes), url).toEqual(new Set([codes[0]]))
    }
    expect(await statuses(2, () => get('/v1/nodes'))).toEqual([200, 429])
  })

  it('registrations: registrationsPerAddress per minute, one count for /v1/users and compat /registerAccount', async () => {
    await setup({ registrationsPerAddress: 3 })
    expect(await statuses(2, () => register('/v1/users', 'r'))).toEqual([201, 200])
    expect((await register('/registerAccount', 'r2')).json().code).toBe('9000')
    const refused = await register('/v1/users', 'r3')
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toMatchObject({ code: 'CIM_RATE_LIMITED', message: expect.stringContaining('3 registrations per minute') })
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(50)
    // Upstream's client reads only `code` in its wrapper (HTTP 200), as for every compat error.
    const compat = await register('/registerAccount', 'r4')
    expect(compat.json()).toMatchObject({ code: '4000', message: expect.stringContaining('Too many requests') })
    expect(compat.headers['retry-after']).toBeDefined()
    // Another address registers; other routes are not held by the registration count.
    expect((await register('/v1/users', 'r5', '10.0.0.7')).statusCode).toBe(201)
    expect((await get('/v1/nodes')).statusCode).toBe(200)
    expect(await h!.adapters.accounts.get(4)).toBeUndefined()
  })
})

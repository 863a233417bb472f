/**
 * AuthWebhook against a real HTTP backend (test/support/auth-backend.ts): the shape of the
 * questions, which answers count as a decision, the cache (sharing, bound, expiry, off), and how
 * withAuthWebhook combines it with the hooks before it. End to end through the broker:
 * test/auth-webhook.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { AuthWebhook, withAuthWebhook, type AuthWebhookSettings } from './auth-webhook.ts'
import type { AuthHooks } from '../broker/auth.ts'
import { startAuthBackend, type AuthBackend, type BackendAnswer } from '../test/support/auth-backend.ts'
import { silentLogger } from '../test/support/config.ts'
import { sleep } from '../test/support/wait.ts'

function webhook(backend: AuthBackend, settings: Partial<AuthWebhookSettings> = {}, cacheMax?: number): AuthWebhook {
  return new AuthWebhook({
    settings: { authWebhookUrl: backend.url, authWebhookTimeoutMs: 500, authWebhookCacheSeconds: 60, webhookSecret: '', ...settings },
    brokerId: () => 'b1', logger: silentLogger, cacheMax,
  })
}

const device = (clientId: string, password = 'pw') => ({ clientId, username: clientId, password: Buffer.from(password), remoteAddress: '10.0.0.7' })
const codeOf = (d: unknown) => (d as { code?: string }).code

describe('AuthWebhook', () => {
  it('refuses a URL that is not http(s) at construction', () => {
    expect(() => new AuthWebhook({
      settings: { authWebhookUrl: 'ftp://example.com/auth', authWebhookTimeoutMs: 1, authWebhookCacheSeconds: 0, webhookSecret: '' },
      brokerId: () => 'b1', logger: silentLogger,
    })).toThrow(/http\(s\)/)
  })

  it('sends a password that is not UTF-8 as passwordBase64, and no signature headers without a secret', async () => {
    const backend = await startAuthBackend()
    await webhook(backend).decideDevice({ clientId: 'd1', username: 'u', password: Buffer.from([0xff, 0x00, 0xfe]) })
    expect(backend.asked[0].body).toEqual({ kind: 'device', clientId: 'd1', username: 'u', passwordBase64: '/wD+', broker: 'b1' })
    expect(backend.asked[0].headers['x-cim-signature']).toBeUndefined()
  })

  it('anything but a well-formed 2xx decision is CIM_AUTH_UNAVAILABLE, with why', async () => {
    const backend = await startAuthBackend()
    const hook = webhook(backend, { authWebhookCacheSeconds: 0 })
    const cases: Array<[BackendAnswer, RegExp]> = [
      [{ status: 302, json: { allow: true } }, /HTTP 302/],
      [{ status: 403, json: { allow: false } }, /HTTP 403/],
      [{ json: { allowed: true } }, /no decision/],
      [{ json: { allow: 'yes' } }, /no decision/],
      [{ json: { allow: true, acl: [{ permission: 'allow', action: 'read', topic: 'x' }] } }, /acl rule 1/],
      [{ json: { allow: true, acl: [{ permission: 'allow', action: 'publish', topic: 'a/#/b' }] } }, /acl rule 1/],
    ]
    for (const [answer, why] of cases) {
      backend.answer = () => answer
      const d = await hook.decideDevice(device('d1'))
      expect(codeOf(d)).toBe('CIM_AUTH_UNAVAILABLE')
      expect((d as { message: string }).message).toMatch(why)
    }
    expect(hook.stats).toMatchObject({ requests: cases.length, unavailable: cases.length })
  })

  it('identical questions asked at once share one request', async () => {
    const backend = await startAuthBackend()
    backend.answer = () => ({ json: { allow: true }, delayMs: 100 })
    const hook = webhook(backend)
    const all = await Promise.all(Array.from({ length: 5 }, () => hook.decideDevice(device('d1'))))
    expect(all).toEqual(Array(5).fill({}))
    expect(backend.asked).toHaveLength(1)
  })

  it('keeps at most cacheMax decisions, dropping the least recently used', async () => {
    const backend = await startAuthBackend()
    const hook = webhook(backend, {}, 2)
    for (const id of ['a', 'b', 'a', 'c', 'a', 'b']) await hook.decideDevice(device(id))
    // a, b asked; a hit; c evicts b (a was used more recently); a hit; b asked again.
    expect(backend.asked.map((q) => q.body.clientId)).toEqual(['a', 'b', 'c', 'b'])
    expect(hook.stats.cacheHits).toBe(2)
  })

  it('forgets a decision after authWebhookCacheSeconds; 0 asks every time', async () => {
    const backend = await startAuthBackend()
    const short = webhook(backend, { authWebhookCacheSeconds: 0.1 })
    await short.decideDevice(device('d1'))
    await short.decideDevice(device('d1'))
    await sleep(150)
    await short.decideDevice(device('d1'))
    expect(backend.asked).toHaveLength(2)
    const off = webhook(backend, { authWebhookCacheSeconds: 0 })
    await off.decideDevice(device('d2'))
    await off.decideDevice(device('d2'))
    expect(backend.asked).toHaveLength(4)
  })

  it('a user name equal to the claimed one is a plain allow', async () => {
    const backend = await startAuthBackend()
    backend.answer = (b) => ({ json: { allow: true, userName: b.userId === 1 ? 'alice' : 'Bob B.' } })
    const hook = webhook(backend)
    expect(await hook.decideUser({ userId: 1, userName: 'alice' })).toBe(true)
    expect(await hook.decideUser({ userId: 2, userName: 'bob' })).toEqual({ userName: 'Bob B.' })
  })
})

describe('withAuthWebhook', () => {
  const allow = async () => true as const
  const base = (over: Partial<AuthHooks>): AuthHooks => ({ authenticateUser: allow, authenticateDevice: allow, authorizePublish: allow, authorizeSubscribe: allow, ...over })

  it('keeps the role the token gave and adds the webhook\'s topic rules', async () => {
    const backend = await startAuthBackend()
    const rules = [{ permission: 'deny', action: 'publish', topic: 'x/#' }]
    backend.answer = () => ({ json: { allow: true, acl: rules } })
    const hooks = withAuthWebhook(base({ authenticateDevice: async () => ({ role: 'monitor' }) }), webhook(backend))
    expect(await hooks.authenticateDevice(device('m1'))).toEqual({ role: 'monitor', acl: rules })
  })

  it('asks with the name an earlier hook gave, and keeps it on a plain allow', async () => {
    const backend = await startAuthBackend()
    const hooks = withAuthWebhook(base({ authenticateUser: async () => ({ userName: 'Carol C.' }) }), webhook(backend))
    expect(await hooks.authenticateUser({ userId: 3, userName: 'carol' })).toEqual({ userName: 'Carol C.' })
    expect(backend.asked[0].body.userName).toBe('Carol C.')
  })

  it('does not ask about what an earlier hook refused', async () => {
    const backend = await startAuthBackend()
    const hooks = withAuthWebhook(base({ authenticateUser: async () => 'no', authenticateDevice: async () => 'no' }), webhook(backend))
    expect(await hooks.authenticateUser({ userId: 3, userName: 'carol' })).toBe('no')
    expect(await hooks.authenticateDevice(device('d1'))).toBe('no')
    expect(backend.asked).toEqual([])
  })
})

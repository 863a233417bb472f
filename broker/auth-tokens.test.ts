/** defaultAuth's user login with token checks on (docs/security.md, Tokens): every refusal and its code. */
import { describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { MemoryAccounts } from '../adapters/accounts/memory.ts'
import { MemoryRevocations } from '../adapters/revocations/memory.ts'
import { createTokenService } from '../security/tokens.ts'
import { defaultAuth, type UserAuthDecision } from './auth.ts'

const SECRET = 'auth-test-secret-auth-test-secret'

async function setup(compat = false, tokenSecret = SECRET) {
  const accounts = new MemoryAccounts()
  const revocations = new MemoryRevocations()
  const tokens = createTokenService({ tokenSecret, tokenPublicKey: '' }, revocations)
  const auth = defaultAuth({ accounts, tokens, compat, devicePushTopic: 'devices/{deviceId}/push', broadcastTopic: 'devices/broadcast' })
  const alice = await accounts.register('alice')
  const bob = await accounts.register('bob')
  return { auth, tokens, revocations, alice, bob }
}

const codeOf = (d: UserAuthDecision) => (d === true ? true : typeof d === 'string' ? 'CIM_UNAUTHORIZED' : 'code' in d ? d.code : d)

describe('defaultAuth.authenticateUser with a token key', () => {
  it('needs the user\'s own valid token', async () => {
    const { auth, tokens, alice, bob } = await setup()
    const login = (token?: string) => auth.authenticateUser({ userId: alice.userId, userName: 'alice', token })
    expect(codeOf(await login())).toBe('CIM_UNAUTHORIZED')
    expect(codeOf(await login('garbage'))).toBe('CIM_UNAUTHORIZED')
    expect(codeOf(await login((await tokens.mint('user', String(bob.userId))).token))).toBe('CIM_UNAUTHORIZED')
    expect(codeOf(await login((await tokens.mint('device', String(alice.userId))).token))).toBe('CIM_UNAUTHORIZED')
    const expired = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(alice.userId))
      .setIssuedAt(Math.floor(Date.now() / 1000) - 60).setExpirationTime(Math.floor(Date.now() / 1000) - 1).sign(new TextEncoder().encode(SECRET))
    expect(codeOf(await login(expired))).toBe('CIM_TOKEN_EXPIRED')
    expect(await login((await tokens.mint('user', String(alice.userId))).token)).toBe(true)
    // A valid token does not make a wrong userName right.
    const token = (await tokens.mint('user', String(alice.userId))).token
    expect(codeOf(await auth.authenticateUser({ userId: alice.userId, userName: 'mallory', token }))).toBe('CIM_UNAUTHORIZED')
  })

  it('a valid token for an account that vanished (Redis lost it) is refused with CIM_USER_NOT_FOUND', async () => {
    const { auth, tokens } = await setup()
    const token = (await tokens.mint('user', '4242')).token
    expect(codeOf(await auth.authenticateUser({ userId: 4242, userName: 'gone', token }))).toBe('CIM_USER_NOT_FOUND')
  })

  it('refuses a revoked token with CIM_TOKEN_REVOKED', async () => {
    const { auth, tokens, revocations, alice } = await setup()
    const { token } = await tokens.mint('user', String(alice.userId))
    await revocations.revoke('user', String(alice.userId), Math.floor(Date.now() / 1000))
    expect(codeOf(await auth.authenticateUser({ userId: alice.userId, userName: 'alice', token }))).toBe('CIM_TOKEN_REVOKED')
  })

  it('compat lets a token-less login in, and still checks a token that is sent', async () => {
    const { auth, alice } = await setup(true)
    expect(await auth.authenticateUser({ userId: alice.userId, userName: 'alice' })).toBe(true)
    expect(codeOf(await auth.authenticateUser({ userId: alice.userId, userName: 'alice', token: 'forged' }))).toBe('CIM_UNAUTHORIZED')
  })

  it('without a token key, logins are open as before (any token is ignored)', async () => {
    const { auth, alice } = await setup(false, '')
    expect(await auth.authenticateUser({ userId: alice.userId, userName: 'alice' })).toBe(true)
    expect(await auth.authenticateUser({ userId: alice.userId, userName: 'alice', token: 'garbage' })).toBe(true)
  })
})

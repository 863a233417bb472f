import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, UnsecuredJWT } from 'jose'
import { createTokenService, type TokenService } from './tokens.ts'
import { MemoryRevocations } from '../adapters/revocations/memory.ts'

const SECRET = 'test-secret-of-at-least-32-bytes!!'
const now = () => Math.floor(Date.now() / 1000)
const hs = (secret = SECRET) => new TextEncoder().encode(secret)
const base = { tokenSecret: '', tokenPublicKey: '', tokenTtlSeconds: 3600 }

let dir: string
const pem: Record<string, string> = {}
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cim-tokens-'))
  const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); pem[name] = p }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  const other = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  const ed = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  write('rsa.pub', rsa.publicKey); write('rsa.key', rsa.privateKey)
  write('ec.pub', ec.publicKey); write('ec.key', ec.privateKey)
  write('other.pub', other.publicKey); write('other.key', other.privateKey)
  write('ed.pub', ed.publicKey)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function refusedWith(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code })
}

describe('token service: HS256', () => {
  const svc = () => createTokenService({ ...base, tokenSecret: SECRET }, new MemoryRevocations())

  it('mints and verifies a user token with its claims', async () => {
    const s = svc()
    expect(s.enabled).toBe(true)
    expect(s.canMint).toBe(true)
    const { token, expiresAt } = await s.mint('user', '42')
    expect(expiresAt).toBeGreaterThanOrEqual(now() + 3599)
    const claims = await s.verify(token, 'user')
    expect(claims).toMatchObject({ sub: '42', kind: 'user', exp: expiresAt })
    expect(claims.role).toBeUndefined()
    const dev = await s.mint('device', 'dev-1', { ttlSeconds: 60, role: 'monitor' })
    expect(await s.verify(dev.token, 'device')).toMatchObject({ sub: 'dev-1', kind: 'device', role: 'monitor' })
    expect(dev.expiresAt).toBeLessThanOrEqual(now() + 61)
  })

  it('accepts a backend-signed token in the documented format', async () => {
    const token = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('7').setIssuedAt().setExpirationTime('5m').sign(hs())
    expect(await svc().verify(token, 'user')).toMatchObject({ sub: '7', kind: 'user' })
  })

  it('refuses the other kind of token: a user token is not a device token, nor the reverse', async () => {
    const s = svc()
    await refusedWith(s.verify((await s.mint('user', 'x')).token, 'device'), 'CIM_UNAUTHORIZED')
    await refusedWith(s.verify((await s.mint('device', 'x')).token, 'user'), 'CIM_UNAUTHORIZED')
    const noKind = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('7').setIssuedAt().setExpirationTime('5m').sign(hs())
    await refusedWith(s.verify(noKind, 'user'), 'CIM_UNAUTHORIZED')
  })

  it('refuses a forged signature, garbage, alg none, and a token without exp or sub', async () => {
    const s = svc()
    const forged = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('42').setIssuedAt().setExpirationTime('5m').sign(hs('another-secret-another-secret-xx'))
    await refusedWith(s.verify(forged, 'user'), 'CIM_UNAUTHORIZED')
    await refusedWith(s.verify('garbage', 'user'), 'CIM_UNAUTHORIZED')
    await refusedWith(s.verify('', 'user'), 'CIM_UNAUTHORIZED')
    const none = new UnsecuredJWT({ kind: 'user' }).setSubject('42').setIssuedAt().setExpirationTime('5m').encode()
    await refusedWith(s.verify(none, 'user'), 'CIM_UNAUTHORIZED')
    const noExp = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('42').setIssuedAt().sign(hs())
    await refusedWith(s.verify(noExp, 'user'), 'CIM_UNAUTHORIZED')
    const noSub = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(hs())
    await refusedWith(s.verify(noSub, 'user'), 'CIM_UNAUTHORIZED')
  })

  it('refuses an expired token with CIM_TOKEN_EXPIRED', async () => {
    const expired = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('42').setIssuedAt(now() - 120).setExpirationTime(now() - 60).sign(hs())
    await refusedWith(svc().verify(expired, 'user'), 'CIM_TOKEN_EXPIRED')
  })

  it('revocation refuses tokens issued at or before the cut-off; one minted in the same second works', async () => {
    const revocations = new MemoryRevocations()
    const s = createTokenService({ ...base, tokenSecret: SECRET }, revocations)
    const before = (await s.mint('user', '42')).token
    const other = (await s.mint('user', '43')).token
    await revocations.revoke('user', '42', now())
    await refusedWith(s.verify(before, 'user'), 'CIM_TOKEN_REVOKED')
    expect(await s.verify(other, 'user')).toMatchObject({ sub: '43' })
    // Same second as the revocation: the new token's iat is past the cut-off.
    const after = (await s.mint('user', '42')).token
    expect(await s.verify(after, 'user')).toMatchObject({ sub: '42' })
    // The device with the same id is another subject.
    expect(await s.verify((await s.mint('device', '42')).token, 'device')).toMatchObject({ sub: '42' })
    // A backend-signed token without iat is refused by any revocation.
    const noIat = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('42').setExpirationTime('5m').sign(hs())
    await refusedWith(s.verify(noIat, 'user'), 'CIM_TOKEN_REVOKED')
  })
})

describe('token service: RS256 and ES256 key files', () => {
  for (const [name, alg] of [['rsa', 'RS256'], ['ec', 'ES256']] as const) {
    it(`${alg}: mints with the private key, verifies with the public key`, async () => {
      const route = createTokenService({ ...base, tokenPublicKey: pem[`${name}.pub`], tokenPrivateKey: pem[`${name}.key`] }, new MemoryRevocations())
      const broker = createTokenService({ ...base, tokenPublicKey: pem[`${name}.pub`] }, new MemoryRevocations())
      expect(broker.enabled).toBe(true)
      expect(broker.canMint).toBe(false)
      const { token } = await route.mint('user', '42')
      expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg).toBe(alg)
      expect(await broker.verify(token, 'user')).toMatchObject({ sub: '42', kind: 'user' })
      await refusedWith(broker.mint('user', '42'), 'CIM_NOT_CONFIGURED')
    })
  }

  it('a private key alone verifies what it signs', async () => {
    const s = createTokenService({ ...base, tokenPrivateKey: pem['ec.key'] }, new MemoryRevocations())
    expect(s.enabled && s.canMint).toBe(true)
    expect(await s.verify((await s.mint('device', 'd')).token, 'device')).toMatchObject({ sub: 'd' })
  })

  it('refuses a token signed by another key pair', async () => {
    const other = createTokenService({ ...base, tokenPrivateKey: pem['other.key'] }, new MemoryRevocations())
    const broker = createTokenService({ ...base, tokenPublicKey: pem['rsa.pub'] }, new MemoryRevocations())
    await refusedWith(broker.verify((await other.mint('user', '42')).token, 'user'), 'CIM_UNAUTHORIZED')
  })

  it('refuses alg confusion: HS256 signed with the public key file as the secret', async () => {
    const broker = createTokenService({ ...base, tokenPublicKey: pem['rsa.pub'] }, new MemoryRevocations())
    const { readFileSync } = await import('node:fs')
    const confused = await new SignJWT({ kind: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('42').setIssuedAt().setExpirationTime('5m').sign(readFileSync(pem['rsa.pub']))
    await refusedWith(broker.verify(confused, 'user'), 'CIM_UNAUTHORIZED')
    // An ES256 token is refused by an RS256-only service (algorithms pinned to the configured key).
    const ec = createTokenService({ ...base, tokenPrivateKey: pem['ec.key'] }, new MemoryRevocations())
    await refusedWith(broker.verify((await ec.mint('user', '42')).token, 'user'), 'CIM_UNAUTHORIZED')
  })

  it('fails at start on an unsupported key type', () => {
    expect(() => createTokenService({ ...base, tokenPublicKey: pem['ed.pub'] }, new MemoryRevocations())).toThrow(/RSA \(RS256\) or EC P-256/)
  })
})

describe('token service: nothing configured', () => {
  it('is disabled and cannot mint', async () => {
    const s = createTokenService(base, new MemoryRevocations())
    expect(s.enabled).toBe(false)
    expect(s.canMint).toBe(false)
    await refusedWith(s.mint('user', '1'), 'CIM_NOT_CONFIGURED')
    await refusedWith(s.verify('x', 'user'), 'CIM_NOT_CONFIGURED')
  })

  it('uses the configured ttl', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date'] })
    try {
      const s = createTokenService({ ...base, tokenSecret: SECRET, tokenTtlSeconds: 10 }, new MemoryRevocations())
      expect((await s.mint('user', '1')).expiresAt).toBe(1_700_000_010)
    } finally { vi.useRealTimers() }
  })
})

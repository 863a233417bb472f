/**
 * Signed login tokens (JWT) for users (CIM login property `token`) and devices (MQTT CONNECT
 * password): docs/security.md, "Tokens". One service verifies both kinds and, when a signing key is
 * configured, mints them for the route's `POST /v1/users/{userId}/token` and
 * `POST /v1/devices/{deviceId}/token`.
 *
 * Keys: HS256 with `tokenSecret`; RS256 or ES256 with `tokenPublicKey` (a PEM file; the algorithm
 * follows the key type), minting with `tokenPrivateKey`. The accepted algorithms are pinned to the
 * configured keys, so `alg: none` and HS256-signed-with-the-public-key (alg confusion) are refused.
 *
 * Claims: `sub` (userId as a decimal string, or the device id), `exp` (required), `iat`, the
 * private claim `kind` ('user' | 'device': one kind never authenticates as the other), and an
 * optional `role` (e.g. 'monitor'). Revocation (docs/security.md, "Revocation") is a per-subject
 * cut-off in seconds: a token whose `iat` is at or before it is refused. A token minted in the
 * same second as a revocation gets `iat = cut-off + 1`, so it is not caught by its own revocation.
 */
import { readFileSync } from 'node:fs'
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import { codedError } from '../errors.ts'
import type { Revocations, TokenSubjectKind } from '../adapters/revocations/index.ts'

export type TokenKind = TokenSubjectKind

export interface TokenSettings {
  tokenSecret: string
  tokenPublicKey: string
  tokenPrivateKey?: string
  /** Lifetime of minted tokens. Default 3600 (brokers only verify, they need none). */
  tokenTtlSeconds?: number
}

/** What a verified token says about its bearer. */
export interface TokenClaims {
  sub: string
  kind: TokenKind
  exp: number
  /** Seconds; 0 when the signer left it out (then any revocation refuses the token). */
  iat: number
  role?: string
}

export interface MintOptions { ttlSeconds?: number; role?: string }

export interface TokenService {
  /** A verification key is configured: token checks are on. */
  readonly enabled: boolean
  /** A signing key is configured: `mint` works (else it throws CIM_NOT_CONFIGURED). */
  readonly canMint: boolean
  mint(kind: TokenKind, sub: string, opts?: MintOptions): Promise<{ token: string; expiresAt: number }>
  /** The claims, or a coded error: CIM_UNAUTHORIZED, CIM_TOKEN_EXPIRED, CIM_TOKEN_REVOKED. */
  verify(token: string, kind: TokenKind): Promise<TokenClaims>
}

type AsymmetricAlg = 'RS256' | 'ES256'
type Key = KeyObject | Uint8Array

/** RS256 for RSA keys, ES256 for P-256 keys; anything else is a configuration error at start. */
function algorithmOf(key: KeyObject, file: string): AsymmetricAlg {
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  throw new Error(`${file}: token keys must be RSA (RS256) or EC P-256 (ES256), not ${key.asymmetricKeyType}`)
}

interface Keys {
  verifyBy: Map<string, Key>
  sign?: { alg: string; key: Key }
}

function loadKeys(settings: TokenSettings): Keys {
  const verifyBy = new Map<string, Key>()
  let sign: Keys['sign']
  if (settings.tokenSecret) {
    const secret = new TextEncoder().encode(settings.tokenSecret)
    verifyBy.set('HS256', secret)
    sign = { alg: 'HS256', key: secret }
  }
  if (settings.tokenPrivateKey) {
    const privateKey = createPrivateKey(readFileSync(settings.tokenPrivateKey, 'utf8'))
    const alg = algorithmOf(privateKey, settings.tokenPrivateKey)
    sign = { alg, key: privateKey }
    // The private key alone also verifies what it signs (the route may be given only it).
    if (!settings.tokenPublicKey) verifyBy.set(alg, createPublicKey(privateKey))
  }
  if (settings.tokenPublicKey) {
    const publicKey = createPublicKey(readFileSync(settings.tokenPublicKey, 'utf8'))
    verifyBy.set(algorithmOf(publicKey, settings.tokenPublicKey), publicKey)
  }
  return { verifyBy, sign }
}

/** Maps jose's failures to catalogue codes; the message never repeats the token. */
function refusal(err: unknown): Error {
  if (err instanceof joseErrors.JWTExpired) return codedError('TokenExpired', 'exp is in the past')
  if (err instanceof joseErrors.JOSEError) return codedError('Unauthorized', `invalid token (${err.code})`)
  return codedError('Unauthorized', 'invalid token')
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** Verified tokens remembered per process (each entry: the token string and its payload, ~0.5 KB). */
const VERIFIED_CACHE_SIZE = 10_000

/** Reads the key files once, at start: a missing or unsupported key fails the start, not a login. */
export function createTokenService(settings: TokenSettings, revocations: Revocations): TokenService {
  const { verifyBy, sign } = loadKeys(settings)
  const algorithms = [...verifyBy.keys()]
  const keyFor = (header: { alg?: string }): Key => {
    const key = header.alg ? verifyBy.get(header.alg) : undefined
    if (!key) throw new joseErrors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed')
    return key
  }

  async function mint(kind: TokenKind, sub: string, opts: MintOptions = {}): Promise<{ token: string; expiresAt: number }> {
    if (!sign) throw codedError('NotConfigured', 'minting tokens needs --token-secret or --token-private-key')
    const now = nowSeconds()
    const iat = Math.max(now, (await revocations.revokedAt(kind, sub)) + 1)
    const expiresAt = Math.max(now + (opts.ttlSeconds ?? settings.tokenTtlSeconds ?? 3600), iat + 1)
    const claims: JWTPayload = { kind }
    if (opts.role) claims.role = opts.role
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: sign.alg, typ: 'JWT' })
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(expiresAt)
      .sign(sign.key)
    return { token, expiresAt }
  }

  /**
   * Tokens whose signature checked out, with their payload, until they expire: a login checks its
   * token at the route and again at the broker, and a reconnecting client presents the same one,
   * so each distinct token pays the signature check (~100 µs for HS256 through WebCrypto) once.
   * Expiry, kind, subject and revocation are still checked on every call. Bounded: oldest first.
   */
  const verified = new Map<string, JWTPayload>()

  async function checkedPayload(token: string): Promise<JWTPayload> {
    const hit = verified.get(token)
    if (hit !== undefined) {
      if ((hit.exp as number) > nowSeconds()) return hit
      verified.delete(token)
    }
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(token, keyFor, { algorithms, requiredClaims: ['exp', 'sub'] }))
    } catch (err) {
      throw refusal(err)
    }
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string)
    verified.set(token, payload)
    return payload
  }

  async function verify(token: string, kind: TokenKind): Promise<TokenClaims> {
    if (algorithms.length === 0) throw codedError('NotConfigured', 'no token key (--token-secret or --token-public-key)')
    const payload = await checkedPayload(token)
    if (payload.kind !== kind) throw codedError('Unauthorized', `not a ${kind} token`)
    const sub = payload.sub
    if (typeof sub !== 'string' || sub.length === 0) throw codedError('Unauthorized', 'sub must be a non-empty string')
    const iat = typeof payload.iat === 'number' ? payload.iat : 0
    const cutoff = await revocations.revokedAt(kind, sub)
    if (cutoff > 0 && iat <= cutoff) throw codedError('TokenRevoked', `${kind} ${sub}`)
    const claims: TokenClaims = { sub, kind, exp: payload.exp as number, iat }
    if (typeof payload.role === 'string') claims.role = payload.role
    return claims
  }

  return { enabled: algorithms.length > 0, canMint: sign !== undefined, mint, verify }
}

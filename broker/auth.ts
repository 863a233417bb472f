/**
 * Authentication and authorisation as hooks with defaults (the aedes model): CIM TCP logins and
 * MQTT connections go through the same object, so one policy covers both protocols.
 */
import type { Accounts } from '../adapters/accounts/index.ts'
import type { TokenService } from '../security/tokens.ts'
import { codedError, isCatalogued } from '../errors.ts'
import { checkDeviceToken, type DeviceGrant } from './mqtt/credentials.ts'

export interface UserLogin {
  userId: number
  userName: string
  /** Login property `token`, when the client sent one. */
  token?: string
  remoteAddress?: string
}

export interface DeviceLogin {
  clientId: string
  username?: string
  password?: Buffer
  remoteAddress?: string
}

/** `true` to accept, or a reason string to refuse (logged, and sent to proto=2 clients). */
export type AuthDecision = true | string

/**
 * A refusal with its catalogue code (e.g. `codedError('TokenExpired', ...)`), sent as the LOGIN_REPLY
 * code. `connack`: the CONNACK return code an MQTT client gets, when not the one its code implies
 * (broker/mqtt/auth.ts; the auth webhook sends 5 for a denial, 3 when it did not decide).
 */
export interface AuthRefusal { code: string; message: string; connack?: number }

/** A user let in under the user name the auth webhook gave (docs/security.md, Auth webhook). */
export interface UserGrant { userName: string }

/** A user login may also be refused with a code; a plain string still means CIM_UNAUTHORIZED. */
export type UserAuthDecision = AuthDecision | AuthRefusal | UserGrant

export function isUserGrant(d: unknown): d is UserGrant {
  return typeof d === 'object' && d !== null && 'userName' in d && !('code' in d)
}

/**
 * A device may be let in with a role (DeviceGrant, from its token) or refused with a code; `true`
 * means an ordinary device, a plain string CIM_UNAUTHORIZED (broker/mqtt/auth.ts maps them to CONNACK).
 */
export type DeviceAuthDecision = AuthDecision | AuthRefusal | DeviceGrant

/**
 * The topic hooks run after the built-in MQTT topic rules (security/mqtt-acl.ts, always applied by
 * broker/mqtt/auth.ts; docs/security.md, MQTT topic rules): they can only refuse more.
 */
export interface AuthHooks {
  authenticateUser(login: UserLogin): Promise<UserAuthDecision>
  authenticateDevice(login: DeviceLogin): Promise<DeviceAuthDecision>
  authorizePublish(clientId: string, topic: string): Promise<AuthDecision>
  authorizeSubscribe(clientId: string, topic: string): Promise<AuthDecision>
}

export interface DefaultAuthOptions {
  accounts: Accounts
  /** Topics devices may not publish to (server-owned push topics). Default: `devices/+/push`, broadcast. */
  reservedPrefixes?: string[]
  /** Login tokens (docs/security.md, Tokens): checked when a verification key is configured. */
  tokens?: TokenService
  /** Upstream trust model: a CIM login WITHOUT a token is let in (one with a token is still checked). */
  compat?: boolean
}

/** Refusal codes a token check may end with; anything else (a Redis failure) is thrown on. */
const TOKEN_REFUSALS = new Set(['CIM_UNAUTHORIZED', 'CIM_TOKEN_EXPIRED', 'CIM_TOKEN_REVOKED'])

/**
 * The user's login token, when token checks are on: `true`, or the coded refusal. A token of
 * another user (sub ≠ userId) is refused like a forged one.
 */
async function checkUserToken(tokens: TokenService, compat: boolean, userId: number, token: string | undefined): Promise<true | AuthRefusal> {
  if (!token) return compat ? true : codedError('Unauthorized', 'a login token is required')
  try {
    const claims = await tokens.verify(token, 'user')
    return claims.sub === String(userId) ? true : codedError('Unauthorized', `the token is not userId ${userId}'s`)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (isCatalogued(code) && TOKEN_REFUSALS.has(code)) return err as AuthRefusal
    throw err
  }
}

/**
 * Defaults: a CIM login must name a registered userId whose userName matches (upstream lets a
 * client claim any userId on the socket) and, when a token key is configured, carry that user's
 * token (unless compat lets token-less logins in; docs/security.md, Tokens); with a token key, an MQTT
 * client's password must be a device token for its client id (else devices connect freely).
 */
export function defaultAuth(opts: DefaultAuthOptions & { devicePushTopic: string; broadcastTopic: string }): AuthHooks {
  return {
    async authenticateUser({ userId, userName, token }) {
      // The token first: a caller without one learns nothing about which accounts exist.
      if (opts.tokens?.enabled) {
        const checked = await checkUserToken(opts.tokens, opts.compat ?? false, userId, token)
        if (checked !== true) return checked
      }
      const account = await opts.accounts.get(userId)
      // Its own code, not CIM_UNAUTHORIZED: an account lost with a Redis that kept no data must
      // read as "register again", not as a bad password (README "Durable data").
      if (!account) return codedError('UserNotFound', userId)
      if (account.userName !== userName) return `userId ${userId} is not registered as ${userName}`
      return true
    },
    // With a token key, the CONNECT password is a device token for this client id (broker/mqtt/credentials.ts).
    async authenticateDevice({ clientId, password }) {
      return opts.tokens?.enabled ? checkDeviceToken(opts.tokens, clientId, password) : true
    },
    // The device topic rules live in security/mqtt-acl.ts and hold for every client, hooks or not.
    async authorizePublish() {
      return true
    },
    async authorizeSubscribe() {
      return true
    },
  }
}

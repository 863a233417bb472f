/**
 * The auth webhook (docs/security.md, Auth webhook): the business backend decides every CIM login
 * and MQTT CONNECT, as EMQX's HTTP authentication and Centrifugo's connect proxy do. It runs after
 * the token/default checks (broker/auth.ts) and both must allow; it can give a user another user
 * name, or a device topic rules of its own.
 *
 * Fail-closed: a backend that answers non-2xx, something that is not a decision, or nothing within
 * authWebhookTimeoutMs refuses the connection with CIM_AUTH_UNAVAILABLE (CONNACK 3, so devices
 * retry). Decisions, denials included, are reused for authWebhookCacheSeconds under a SHA-256 of the
 * whole question (kind, identity, credentials, address), never the credentials in clear; a failure
 * is never reused. Identical questions asked at the same time share one request.
 */
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import type { Config, MqttAclRule } from '../config.ts'
import { codedError } from '../errors.ts'
import { sign } from '../events/signature.ts'
import { isUserGrant, type AuthHooks, type AuthRefusal, type DeviceLogin, type UserGrant, type UserLogin } from '../broker/auth.ts'
import { isDeviceGrant, type DeviceGrant } from '../broker/mqtt/credentials.ts'
import { parseMqttAclRules } from './mqtt-acl.ts'

/** MQTT 3.1.1 CONNACK codes the webhook's refusals map to (broker/mqtt/auth.ts reads `connack`). */
const CONNACK_SERVER_UNAVAILABLE = 3
const CONNACK_NOT_AUTHORIZED = 5

/** Decisions kept at most; past it the least recently used goes. */
export const AUTH_WEBHOOK_CACHE_MAX = 10_000

export type AuthWebhookSettings = Pick<Config, 'authWebhookUrl' | 'authWebhookTimeoutMs' | 'authWebhookCacheSeconds' | 'webhookSecret'>

export interface AuthWebhookOptions {
  settings: AuthWebhookSettings
  /** The broker id sent as `broker` (known only once the broker listens). */
  brokerId: () => string
  logger: Logger
  cacheMax?: number
}

/** The webhook's answer, checked: what a 200 must hold. Unknown fields are ignored (newer backends). */
const AnswerSchema = Type.Object({
  allow: Type.Boolean(),
  reason: Type.Optional(Type.String()),
  userName: Type.Optional(Type.String({ minLength: 1 })),
  acl: Type.Optional(Type.Array(Type.Unknown())),
})
const checkAnswer = Compile(AnswerSchema)

type Answer = { allow: true; userName?: string; acl?: MqttAclRule[] } | { allow: false; reason: string }

/** Plain counters, read at scrape time. */
export interface AuthWebhookStats { requests: number; cacheHits: number; allowed: number; denied: number; unavailable: number }

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The MQTT password as sent: UTF-8 text as `password`, other bytes as `passwordBase64`. */
function passwordFields(password: Buffer | undefined): { password?: string; passwordBase64?: string } {
  if (password === undefined) return {}
  try {
    return { password: utf8.decode(password) }
  } catch {
    return { passwordBase64: password.toString('base64') }
  }
}

export class AuthWebhook {
  readonly stats: AuthWebhookStats = { requests: 0, cacheHits: 0, allowed: 0, denied: 0, unavailable: 0 }
  private readonly url: string
  private readonly cacheMs: number
  private readonly cacheMax: number
  /** Insertion order is recency order: a hit is moved to the end, the first key is the eldest. */
  private readonly cache = new Map<string, { answer: Answer; expiresAt: number }>()
  private readonly inFlight = new Map<string, Promise<Answer>>()

  /** Throws on a URL that is not http(s), so a node does not start refusing everyone. */
  constructor(private readonly opts: AuthWebhookOptions) {
    const url = new URL(opts.settings.authWebhookUrl)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`authWebhookUrl must be http(s), not ${url.protocol}`)
    // Tokens and MQTT passwords travel in the body: plain HTTP is for a backend on this host only.
    if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
      opts.logger.warn({ url: url.origin }, 'authWebhookUrl is plain HTTP: credentials travel unencrypted, use https in production')
    }
    this.url = url.href
    this.cacheMs = Math.max(0, opts.settings.authWebhookCacheSeconds) * 1000
    this.cacheMax = opts.cacheMax ?? AUTH_WEBHOOK_CACHE_MAX
  }

  /** `true`, a new user name, or the refusal (CIM_UNAUTHORIZED with the reason, or CIM_AUTH_UNAVAILABLE). */
  async decideUser(login: UserLogin): Promise<true | UserGrant | AuthRefusal> {
    const answer = await this.decide({
      kind: 'user', userId: login.userId, userName: login.userName, token: login.token,
      remoteAddress: login.remoteAddress, broker: this.opts.brokerId(),
    })
    if (!('allow' in answer)) return answer
    if (!answer.allow) return refusal(answer.reason)
    return answer.userName !== undefined && answer.userName !== login.userName ? { userName: answer.userName } : true
  }

  /** The device's own topic rules (or none), or the refusal. */
  async decideDevice(login: DeviceLogin): Promise<{ acl?: MqttAclRule[] } | AuthRefusal> {
    const answer = await this.decide({
      kind: 'device', clientId: login.clientId, username: login.username, ...passwordFields(login.password),
      remoteAddress: login.remoteAddress, broker: this.opts.brokerId(),
    })
    if (!('allow' in answer)) return answer
    if (!answer.allow) return refusal(answer.reason)
    return answer.acl ? { acl: answer.acl } : {}
  }

  private async decide(question: Record<string, unknown>): Promise<Answer | AuthRefusal> {
    const body = JSON.stringify(question)
    const key = createHash('sha256').update(body).digest('base64url')
    try {
      const answer = await this.cached(key, body)
      if (answer.allow) this.stats.allowed++
      else this.stats.denied++
      return answer
    } catch (err) {
      this.stats.unavailable++
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${this.opts.settings.authWebhookTimeoutMs} ms` : (err as Error).message
      this.opts.logger.warn({ kind: question.kind, why }, 'auth webhook did not decide; refused')
      return { ...codedError('AuthUnavailable', why), connack: CONNACK_SERVER_UNAVAILABLE }
    }
  }

  private cached(key: string, body: string): Promise<Answer> {
    const hit = this.cache.get(key)
    if (hit) {
      this.cache.delete(key)
      if (hit.expiresAt > Date.now()) {
        this.cache.set(key, hit)
        this.stats.cacheHits++
        return Promise.resolve(hit.answer)
      }
    }
    let pending = this.inFlight.get(key)
    if (!pending) {
      pending = this.ask(body).then((answer) => {
        if (this.cacheMs > 0) this.remember(key, answer)
        return answer
      }).finally(() => this.inFlight.delete(key))
      this.inFlight.set(key, pending)
    }
    return pending
  }

  private remember(key: string, answer: Answer): void {
    this.cache.set(key, { answer, expiresAt: Date.now() + this.cacheMs })
    if (this.cache.size > this.cacheMax) this.cache.delete(this.cache.keys().next().value!)
  }

  /** One POST; throws when the backend did not decide (the caller refuses, fail-closed). */
  private async ask(body: string): Promise<Answer> {
    this.stats.requests++
    const { authWebhookTimeoutMs, webhookSecret } = this.opts.settings
    const timestamp = String(Math.floor(Date.now() / 1000))
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (webhookSecret) {
      headers['x-cim-timestamp'] = timestamp
      headers['x-cim-signature'] = sign(webhookSecret, timestamp, body)
    }
    // The timeout covers reading the answer too; a redirect is an answer we do not follow.
    const res = await fetch(this.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(authWebhookTimeoutMs) })
    const text = await res.text()
    if (res.status < 200 || res.status > 299) throw new Error(`the auth webhook answered HTTP ${res.status}`)
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new Error('the auth webhook answered something that is not JSON')
    }
    if (!checkAnswer.Check(json)) {
      const problems = [...checkAnswer.Errors(json)].map((e) => `${e.instancePath || '/'} ${e.message}`)
      throw new Error(`the auth webhook answered no decision (${problems.join('; ')}); expected {"allow": true|false}`)
    }
    if (!json.allow) return { allow: false, reason: json.reason || 'refused by the auth webhook' }
    let acl: MqttAclRule[] | undefined
    try {
      acl = json.acl && parseMqttAclRules(json.acl)
    } catch (err) {
      throw new Error(`the auth webhook's ${(err as Error).message.replace(/^mqttAcl/, 'acl')}`)
    }
    return { allow: true, userName: json.userName, acl }
  }
}

function refusal(reason: string): AuthRefusal {
  return { ...codedError('Unauthorized', reason), connack: CONNACK_NOT_AUTHORIZED }
}

/**
 * The node's hooks with the webhook after them: the token/default checks (or an operator's hooks)
 * decide first, and only what they let in is asked about, so a refused token costs the backend
 * nothing. A device keeps the role its token gave and takes the webhook's topic rules.
 */
export function withAuthWebhook(auth: AuthHooks, webhook: AuthWebhook): AuthHooks {
  return {
    ...auth,
    async authenticateUser(login) {
      const first = await auth.authenticateUser(login)
      if (first !== true && !isUserGrant(first)) return first
      const name = first === true ? login.userName : first.userName
      const second = await webhook.decideUser({ ...login, userName: name })
      return second === true ? first : second
    },
    async authenticateDevice(login) {
      const first = await auth.authenticateDevice(login)
      if (first !== true && !isDeviceGrant(first)) return first
      const second = await webhook.decideDevice(login)
      if ('code' in second) return second
      const grant: DeviceGrant = first === true ? { role: 'device' } : { ...first }
      if (second.acl) grant.acl = second.acl
      return grant
    },
  }
}

/**
 * The route's CIM-compatible endpoints, as the upstream cim-client-sdk's RouteManager calls them:
 * JSON bodies, answers wrapped in `{code, message, reqNo, dataBody}`, `code` '9000' on success.
 * The broker is found through /v1 (`findBroker`), which works with compat off too.
 */
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { CompatCode } from '../errors.ts'

/** A route answer with a code other than success (or an HTTP failure without one). */
export class CimRouteError extends Error {
  constructor(
    /** Upstream string code ('5000', '7100', '9100', ...) or `HTTP_<status>`. */
    readonly code: string,
    message: string,
    readonly path: string,
  ) {
    super(`${path}: ${message} (${code})`)
    this.name = 'CimRouteError'
  }
}

/** Where a login sends the client (upstream CIMServerResVO). */
export interface ServerInfo {
  ip: string
  cimServerPort: number
  httpPort: number
  /** CIM over TLS, when the route's answer names it (the upstream-compatible /login answer does not). */
  cimTlsPort?: number
  /** The chosen broker node, when the route's answer names it (the /v1 answer does). */
  brokerId?: string
}

/** The /v1 connect answer (route/v1/users/schema.ts `connect`). */
interface ConnectAnswer { brokerId: string; host: string; cimPort: number; httpPort: number; cimTlsPort?: number }

export interface UserInfo {
  userId: number
  userName: string
}

/** What a p2p send became: delivered now, or stored for the receiver's next login (code 7000). */
export interface SendResult {
  delivered: boolean
  code: string
  message: string
}

interface Envelope<T> {
  code: string
  message: string
  reqNo?: string | null
  dataBody: T
}

export interface RouteApiOptions {
  /** Route base URL, e.g. http://127.0.0.1:8083. */
  routeUrl: string
  /** Per-request timeout in ms. Default 5,000 (upstream OkHttp uses 3 s connect + 3 s read). */
  timeoutMs?: number
  /** CA certificate(s), PEM, to trust for an https:// route (e.g. a private CA). Default: the system's. */
  ca?: string | Buffer
}

interface RawAnswer { status: number; statusText: string; text: string }

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined
  } catch {
    return undefined
  }
}

export class RouteApi {
  private readonly base: string
  private readonly timeoutMs: number
  private readonly ca: string | Buffer | undefined
  private readonly https: boolean

  constructor(opts: RouteApiOptions) {
    this.base = opts.routeUrl.replace(/\/+$/, '')
    this.timeoutMs = opts.timeoutMs ?? 5_000
    this.https = this.base.startsWith('https:')
    this.ca = this.https ? opts.ca : undefined
  }

  /** POST /registerAccount {userName} → {userId, userName}. */
  async registerAccount(userName: string): Promise<UserInfo> {
    return (await this.call<UserInfo>('POST', '/registerAccount', { userName })).dataBody
  }

  /** POST /login {userId, userName} → the broker to connect to. Throws CimRouteError 5000/9100/7100. */
  async login(userId: number, userName: string): Promise<ServerInfo> {
    return (await this.call<ServerInfo>('POST', '/login', { userId, userName })).dataBody
  }

  /**
   * The broker to connect to: POST /v1/users/{userId}/connect {token} (docs/security.md, Tokens),
   * or the upstream-compatible /login on a route older than that endpoint (its 404 is not
   * CIM_USER_NOT_FOUND). Refusals throw CimRouteError with the catalogue code: CIM_UNAUTHORIZED,
   * CIM_TOKEN_EXPIRED, CIM_TOKEN_REVOKED, CIM_USER_NOT_FOUND, CIM_REPEAT_LOGIN, CIM_NO_BROKER.
   * `avoid`: broker ids this client could not reach; the route picks another one when it lists one.
   */
  async findBroker(userId: number, userName: string, token: string | undefined, avoid: string[] = []): Promise<ServerInfo> {
    const path = `/v1/users/${userId}/connect`
    const res = await this.send('POST', path, JSON.stringify({ ...(token !== undefined && { token }), ...(avoid.length > 0 && { avoid }) }))
    const body = parseJson(res.text) as Partial<ConnectAnswer> & { code?: unknown; message?: unknown } | undefined
    if (res.status === 200 && body && typeof body.host === 'string') {
      const { brokerId, host, cimPort, httpPort, cimTlsPort } = body as ConnectAnswer
      return { ip: host, cimServerPort: cimPort, httpPort, brokerId, ...(cimTlsPort !== undefined && { cimTlsPort }) }
    }
    const code = typeof body?.code === 'string' ? body.code : `HTTP_${res.status}`
    if (res.status === 404 && code !== 'CIM_USER_NOT_FOUND') return this.login(userId, userName)
    throw new CimRouteError(code, typeof body?.message === 'string' ? body.message : res.text.slice(0, 200) || res.statusText, path)
  }

  /** POST /p2pRoute. Code 7000 (receiver offline, message stored) resolves with delivered: false. */
  async p2p(userId: number, receiveUserId: number, msg: string): Promise<SendResult> {
    const res = await this.call<unknown>('POST', '/p2pRoute', { userId, receiveUserId, msg }, [CompatCode.OFFLINE_USER])
    return { delivered: res.code === CompatCode.SUCCESS, code: res.code, message: res.message }
  }

  /** POST /groupRoute {userId, msg}: to every online user but the sender. */
  async group(userId: number, msg: string): Promise<void> {
    await this.call('POST', '/groupRoute', { userId, msg })
  }

  /** POST /offLine {userId}: clears the user's login state (upstream sends msg "offLine"). */
  async offLine(userId: number): Promise<void> {
    await this.call('POST', '/offLine', { userId, msg: 'offLine' })
  }

  /** GET /onlineUser → [{userId, userName}]. */
  async onlineUsers(): Promise<UserInfo[]> {
    return (await this.call<UserInfo[] | null>('GET', '/onlineUser')).dataBody ?? []
  }

  /** POST /fetchOfflineMsgs {receiveUserId}: the broker replays stored messages over the socket. */
  async fetchOfflineMsgs(receiveUserId: number): Promise<void> {
    await this.call('POST', '/fetchOfflineMsgs', { receiveUserId })
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, accept: string[] = []): Promise<Envelope<T>> {
    const res = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body))
    const text = res.text
    const parsed = parseJson(text) as Partial<Envelope<T>> | undefined
    // Upstream answers every outcome with HTTP 200 and a code; our route may add an HTTP status.
    // The envelope's code wins when there is one.
    if (!parsed || typeof parsed.code !== 'string') {
      throw new CimRouteError(`HTTP_${res.status}`, text.slice(0, 200) || res.statusText, path)
    }
    if (parsed.code !== CompatCode.SUCCESS && !accept.includes(parsed.code)) {
      throw new CimRouteError(parsed.code, parsed.message ?? 'failed', path)
    }
    return parsed as Envelope<T>
  }

  /**
   * One HTTP exchange over node:http(s) with Node's keep-alive agent: a fraction of fetch's CPU
   * (which matters when thousands of clients in one process reconnect at once), and the only way
   * to pass a CA on Node 20.
   */
  private send(method: 'GET' | 'POST', path: string, body: string | undefined): Promise<RawAnswer> {
    const headers = body === undefined ? undefined : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
    const signal = AbortSignal.timeout(this.timeoutMs)
    const request = this.https ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const req = request(this.base + path, { method, headers, signal, ...(this.ca !== undefined && { ca: this.ca }) }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString() }))
      })
      req.on('error', reject)
      req.end(body)
    })
  }
}

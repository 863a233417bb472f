/**
 * The route's CIM-compatible endpoints, as the upstream cim-client-sdk's RouteManager calls them:
 * JSON bodies, answers wrapped in `{code, message, reqNo, dataBody}`, `code` '9000' on success.
 */
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
}

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
}

export class RouteApi {
  private readonly base: string
  private readonly timeoutMs: number

  constructor(opts: RouteApiOptions) {
    this.base = opts.routeUrl.replace(/\/+$/, '')
    this.timeoutMs = opts.timeoutMs ?? 5_000
  }

  /** POST /registerAccount {userName} → {userId, userName}. */
  async registerAccount(userName: string): Promise<UserInfo> {
    return (await this.call<UserInfo>('POST', '/registerAccount', { userName })).dataBody
  }

  /** POST /login {userId, userName} → the broker to connect to. Throws CimRouteError 5000/9100/7100. */
  async login(userId: number, userName: string): Promise<ServerInfo> {
    return (await this.call<ServerInfo>('POST', '/login', { userId, userName })).dataBody
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
    const res = await fetch(this.base + path, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    })
    const text = await res.text()
    let parsed: Partial<Envelope<T>> & { statusCode?: number } | undefined
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = undefined
    }
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
}

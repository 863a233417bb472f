/**
 * Discovery over ZooKeeper, with upstream cim's layout: each broker is an EPHEMERAL znode under the
 * root (default `/cim`) named `host:cimPort:httpPort`; we add its BrokerInfo as JSON data. A broker
 * whose process dies disappears when its session expires, with no deregistration.
 *
 * Readers watch the root's children and each child's data and keep a cached list: `brokers()`
 * never blocks, and keeps answering from the cache while ZooKeeper is unreachable. Failed reads
 * and writes are retried with exponential backoff. When the session expires, a new client and
 * session are made and this handle's registrations are created again, the root first; a server
 * restarted without its data gets there too (forgetZxidWhenRefused). The only ZooKeeper failures
 * that reach a caller (no connection at `create()`, a call still failing when the handle closes)
 * are the catalogued CIM_BACKEND_UNAVAILABLE, never the client library's errors.
 */
import type { BrokerInfo, Discovery, Registration } from './index.ts'
import { codedError, isCatalogued } from '../../errors.ts'
import { call, closeClient, forgetZxidWhenRefused, guardHandshake, zk, zkCode, type ZkClient, type ZkEvent, type ZkStat, type ZkState, type ZkWatcher } from './zk-client.ts'

export interface ZooKeeperDiscoveryOptions {
  /** `host:port[,host:port...]`. */
  connectString: string
  /** Parent of the broker znodes, created if missing. Default `/cim` (upstream). */
  root?: string
  /** ZooKeeper session timeout: how long a dead broker stays listed. Default 10 000 ms. */
  sessionTimeoutMs?: number
  /** How long `create()` waits for the first connection before failing. Default 15 000 ms. */
  connectTimeoutMs?: number
  /** First retry delay after a failed ZooKeeper call; doubles up to `maxRetryMs`. Default 100 ms. */
  retryMs?: number
  /** Default 5 000 ms. */
  maxRetryMs?: number
  /** A connection whose ZooKeeper handshake gets no answer this long is dropped and retried. Default 2 000 ms. */
  handshakeTimeoutMs?: number
  /** Errors that are retried or skipped (connection loss, a znode with unreadable data). Default: ignored. */
  onError?: (err: Error) => void
  /**
   * How long `deregister()` waits after removing the znode before it resolves. Other nodes learn
   * of the removal through their watches (a notification, then a read), milliseconds after
   * ZooKeeper confirms it to us; a broker that kicked its clients at once would have them sent
   * straight back to it by a route that has not caught up. Default 500 ms.
   */
  deregisterSettleMs?: number
}

/** The catalogued error for a ZooKeeper failure that reaches a caller. */
function unavailable(detail: string, cause?: unknown): Error {
  return Object.assign(codedError('BackendUnavailable', `ZooKeeper ${detail}`), { cause })
}

/** Upstream cim's znode name for a broker. */
export const znodeName = (b: Pick<BrokerInfo, 'host' | 'cimPort' | 'httpPort'>) => `${b.host}:${b.cimPort}:${b.httpPort}`

function parseInfo(data: Buffer | undefined): BrokerInfo | undefined {
  try {
    const info = JSON.parse(data?.toString() ?? '') as BrokerInfo
    return typeof info?.id === 'string' && typeof info.host === 'string' ? info : undefined
  } catch {
    return undefined // e.g. an upstream cim server's znode, which carries no data
  }
}

export class ZooKeeperDiscovery implements Discovery {
  private client!: ZkClient
  /** Bumped for every new client; callbacks of an older client are ignored. */
  private generation = 0
  private readonly root: string
  private readonly opts: Required<Omit<ZooKeeperDiscoveryOptions, 'root'>>
  /** This handle's registrations, by znode name, with their latest info. */
  private readonly own = new Map<string, BrokerInfo>()
  private readonly nodes = new Map<string, BrokerInfo>()
  private dataWatchers = new Map<string, ZkWatcher>()
  private readonly listeners = new Set<(brokers: BrokerInfo[]) => void>()
  private snapshot: BrokerInfo[] = []
  private snapshotJson = '[]'
  /** Ids of `snapshot`, built at the first isListed() after a change. */
  private listedIds: ReadonlySet<string> | undefined
  /** Pending backoff waits, ended by close(). */
  private readonly waits = new Map<NodeJS.Timeout, () => void>()
  private stopGuard: (() => void) | undefined
  private stopZxidWatch: (() => void) | undefined
  private syncing = false
  private syncAgain = false
  private closed = false

  private constructor(opts: ZooKeeperDiscoveryOptions) {
    this.root = (opts.root ?? '/cim').replace(/\/+$/, '') || '/cim'
    this.opts = {
      connectString: opts.connectString,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 15_000,
      retryMs: opts.retryMs ?? 100,
      maxRetryMs: opts.maxRetryMs ?? 5_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 2_000,
      deregisterSettleMs: opts.deregisterSettleMs ?? 500,
      onError: opts.onError ?? (() => {}),
    }
  }

  /** Connects, creates the root and loads the current list before resolving. */
  static async create(opts: ZooKeeperDiscoveryOptions): Promise<ZooKeeperDiscovery> {
    const d = new ZooKeeperDiscovery(opts)
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable(`${opts.connectString}: not connected after ${d.opts.connectTimeoutMs} ms`)), d.opts.connectTimeoutMs)
      d.newClient().once('connected', () => { clearTimeout(timer); resolve() })
    })
    try {
      await connected
      await d.withRetry('create root', () => call<string>((cb) => d.client.mkdirp(d.root, cb)))
      await d.sync()
    } catch (err) {
      await d.close()
      throw isCatalogued((err as { code?: unknown }).code) ? err : unavailable(`${opts.connectString}: ${(err as Error).message}`, err)
    }
    return d
  }

  /** True while the client holds a live session with a server (what /ready checks). */
  get connected(): boolean {
    return !this.closed && this.client?.getState().code === zk.State.SYNC_CONNECTED.code
  }

  /** The current session, for diagnostics and tests. */
  session(): { id: Buffer; password: Buffer } {
    return { id: this.client.getSessionId(), password: this.client.getSessionPassword() }
  }

  private newClient(): ZkClient {
    const gen = ++this.generation
    const client = zk.createClient(this.opts.connectString, { sessionTimeout: this.opts.sessionTimeoutMs, spinDelay: 500 })
    this.client = client
    this.dataWatchers = new Map()
    this.stopGuard?.()
    this.stopGuard = guardHandshake(client, this.opts.handshakeTimeoutMs,
      () => this.opts.onError(new Error(`ZooKeeper handshake unanswered for ${this.opts.handshakeTimeoutMs} ms; reconnecting`)))
    // A server restarted empty refuses our zxid forever; once forgotten, it says the session
    // expired and onState starts a new one, which registers again (README "Durable data").
    this.stopZxidWatch?.()
    this.stopZxidWatch = forgetZxidWhenRefused(client,
      (ms) => this.opts.onError(new Error(`ZooKeeper refused every handshake for ${ms} ms (restarted without its data?); reconnecting without our last zxid`)))
    client.on('state', (state: ZkState) => { if (gen === this.generation) this.onState(state) })
    client.connect()
    return client
  }

  private onState(state: ZkState): void {
    if (this.closed) return
    if (state.code === zk.State.EXPIRED.code) {
      // The session and its ephemeral znodes are gone: start a new session (its first
      // 'connected' re-creates our registrations and the watches). The cache keeps serving.
      this.opts.onError(new Error('ZooKeeper session expired; starting a new session'))
      void closeClient(this.client)
      this.newClient()
    } else if (state.code === zk.State.SYNC_CONNECTED.code) {
      // Connected or reconnected: make sure the root, our znodes and the watches are in place.
      void this.withRetry('create root', () => call<string>((cb) => this.client.mkdirp(this.root, cb)))
        .then(() => Promise.all([...this.own.keys()].map((name) => this.ensure(name))))
        .then(() => this.requestSync())
        .catch(() => {})
    }
  }

  // --- reading ------------------------------------------------------------------------------

  private readonly childWatcher: ZkWatcher = () => this.requestSync()

  private dataWatcher(name: string): ZkWatcher {
    let w = this.dataWatchers.get(name)
    if (!w) {
      w = (event: ZkEvent) => {
        this.dataWatchers.delete(name)
        // One changed node is read alone, unless a full sync is running: it could apply data
        // read before this change after ours, so it runs once more instead.
        if (event.type === zk.Event.NODE_DATA_CHANGED && !this.syncing) void this.readOne(name).catch(() => this.requestSync())
        else this.requestSync()
      }
      this.dataWatchers.set(name, w)
    }
    return w
  }

  /** Coalesces concurrent requests: one sync runs at a time, and one more after it if asked. */
  private requestSync(): void {
    if (this.closed) return
    if (this.syncing) { this.syncAgain = true; return }
    void this.sync().catch(() => {})
  }

  private async sync(): Promise<void> {
    this.syncing = true
    try {
      do {
        this.syncAgain = false
        await this.withRetry('list brokers', async () => {
          const client = this.client
          const [children] = await call<string[]>((cb) => client.getChildren(this.root, this.childWatcher, cb))
          const read = await Promise.all(children.map(async (name) => [name, await this.fetch(client, name)] as const))
          if (client !== this.client) throw new Error('client replaced during sync')
          this.nodes.clear()
          for (const [name, info] of read) if (info) this.nodes.set(name, info)
          this.changed()
        })
      } while (this.syncAgain && !this.closed)
    } finally {
      this.syncing = false
    }
  }

  /** Reads one child with a data watch; undefined when it vanished or carries no BrokerInfo. */
  private async fetch(client: ZkClient, name: string): Promise<BrokerInfo | undefined> {
    try {
      const [data] = await call<Buffer | undefined>((cb) => client.getData(`${this.root}/${name}`, this.dataWatcher(name), cb))
      const info = parseInfo(data)
      if (!info) this.opts.onError(new Error(`znode ${this.root}/${name} carries no BrokerInfo; ignored`))
      return info
    } catch (err) {
      if (zkCode(err) === zk.Exception.NO_NODE) return undefined
      throw err
    }
  }

  private async readOne(name: string): Promise<void> {
    const info = await this.fetch(this.client, name)
    if (info) this.nodes.set(name, info)
    else this.nodes.delete(name)
    this.changed()
  }

  private changed(): void {
    const list = [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const json = JSON.stringify(list)
    if (json === this.snapshotJson) return
    this.snapshot = list
    this.snapshotJson = json
    this.listedIds = undefined
    for (const l of [...this.listeners]) l(list)
  }

  // --- writing ------------------------------------------------------------------------------

  /** Creates (or brings up to date) the ephemeral znode for one of our registrations. */
  private async ensure(name: string): Promise<void> {
    // The data is read from `own` as each request is sent: requests on a session run in order, so
    // whichever write goes last carries the latest update() and nothing older overwrites it.
    const data = () => Buffer.from(JSON.stringify(this.own.get(name)))
    await this.withRetry(`register ${name}`, async () => {
      const client = this.client
      const path = `${this.root}/${name}`
      for (let attempt = 0; ; attempt++) {
        if (!this.own.has(name)) return // deregistered meanwhile
        try {
          await call<string>((cb) => client.create(path, data(), zk.CreateMode.EPHEMERAL, cb))
          return
        } catch (err) {
          if (zkCode(err) !== zk.Exception.NODE_EXISTS || attempt > 0) throw err
        }
        const [stat] = await call<ZkStat | null>((cb) => client.exists(path, cb))
        if (stat && stat.ephemeralOwner.equals(client.getSessionId())) {
          // Ours already (a reconnect within the session): bring its data up to date.
          if (this.own.has(name)) await call<ZkStat>((cb) => client.setData(path, data(), -1, cb))
          return
        }
        // Left by an earlier session of a broker at this same address (restarted before the
        // old session expired): no live broker can hold the host:ports we hold now. Replace it.
        if (stat) {
          this.opts.onError(new Error(`znode ${path} belonged to another session; replacing it`))
          await call<void>((cb) => client.remove(path, stat.version, cb)).catch(() => {})
        }
      }
    })
  }

  async register(info: BrokerInfo): Promise<Registration> {
    if (this.closed) throw new Error('discovery is closed')
    const name = znodeName(info)
    this.own.set(name, { ...info })
    await this.ensure(name)
    // Seen here at once, like the memory registry; the watch confirms it.
    this.nodes.set(name, { ...info })
    this.changed()
    return {
      update: async (patch) => {
        const cur = this.own.get(name)
        if (!cur || this.closed) return
        const next = { ...cur, ...patch }
        this.own.set(name, next)
        try {
          await call<ZkStat>((cb) => this.client.setData(`${this.root}/${name}`, Buffer.from(JSON.stringify(next)), -1, cb))
        } catch (err) {
          // Not connected, or the znode is being re-created after an expiry: `ensure` writes the
          // latest info once the session is back.
          this.opts.onError(err as Error)
          void this.ensure(name).catch(() => {})
        }
      },
      deregister: async () => {
        if (!this.own.delete(name) || this.closed) return
        const removed = await this.removeOwn(name)
        if (this.nodes.delete(name)) this.changed()
        // Give the other nodes' watches time to catch up before the caller drains (see option).
        if (removed) await new Promise((r) => setTimeout(r, this.opts.deregisterSettleMs))
      },
    }
  }

  /** Removes one of our znodes; resolves whether this call removed it. */
  private async removeOwn(name: string): Promise<boolean> {
    try {
      await call<void>((cb) => this.client.remove(`${this.root}/${name}`, -1, cb))
      return true
    } catch (err) {
      // Gone already, or not connected: the znode is ephemeral and goes with the session.
      if (zkCode(err) !== zk.Exception.NO_NODE) this.opts.onError(err as Error)
      return false
    }
  }

  // --- plumbing -----------------------------------------------------------------------------

  /** Retries `fn` with exponential backoff until it succeeds, or this handle closes (then throws BackendUnavailable). */
  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let delay = this.opts.retryMs
    for (;;) {
      try {
        return await fn()
      } catch (err) {
        if (this.closed) throw unavailable(`${what}: ${(err as Error).message}`, err)
        this.opts.onError(new Error(`ZooKeeper ${what}: ${(err as Error).message}; retrying in ${delay} ms`))
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => { this.waits.delete(t); resolve() }, delay)
          this.waits.set(t, resolve)
        })
        if (this.closed) throw unavailable(`${what}: ${(err as Error).message}`, err)
        delay = Math.min(delay * 2, this.opts.maxRetryMs)
      }
    }
  }

  brokers(): BrokerInfo[] {
    return this.snapshot
  }

  isListed(brokerId: string): boolean {
    return (this.listedIds ??= new Set(this.snapshot.map((b) => b.id))).has(brokerId)
  }

  onChange(listener: (brokers: BrokerInfo[]) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Removes this handle's znodes, then ends the session. */
  async close(): Promise<void> {
    if (this.closed) return
    const names = [...this.own.keys()]
    this.own.clear()
    if (this.client?.getState().code === zk.State.SYNC_CONNECTED.code) {
      await Promise.race([Promise.all(names.map((n) => this.removeOwn(n))), new Promise((r) => setTimeout(r, 1_000))])
    }
    this.closed = true
    this.listeners.clear()
    for (const [t, resolve] of this.waits) { clearTimeout(t); resolve() }
    this.waits.clear()
    this.stopGuard?.()
    this.stopZxidWatch?.()
    if (this.client) await closeClient(this.client)
  }
}

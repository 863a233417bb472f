/**
 * A real multi-process cluster for tests: every broker and route is its own
 * `node --import tsx cli.ts broker|route` child process, on free ports, over the Redis and
 * ZooKeeper a test file started (test/support/servers.ts), with its own ZooKeeper root. Processes
 * get short ZooKeeper session timeouts and presence TTLs (CLUSTER_TEST_DEFAULTS; crash tests go
 * shorter) so tests run in seconds, settings by flags, environment or config file (configVia),
 * and are ready only when they serve: a route when GET /v1/nodes answers, a broker when its
 * /health answers and every running route lists it. Starts retry on new ports if a free port was
 * taken meanwhile. kill() (SIGKILL), stop() (SIGTERM) and restart() act on one process;
 * close() kills them all, and they are killed at exit too (a watchdog covers a SIGKILLed worker).
 * Each process's last output (pino JSON on stdout, errors on stderr) goes into failure messages.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../../config.ts'
import { freePort } from './servers.ts'
import { Proc, answers, commandOf, type Settings } from './cluster-process.ts'
import { sleep } from './wait.ts'

export type { Settings }

/**
 * Settings given to every process unless a test overrides them: much shorter than the defaults
 * (10 s session, 30 s presence TTL) so tests run in seconds, long enough that a busy 2-core CI
 * machine does not expire a live session. Crash tests shorten the session further.
 */
export const CLUSTER_TEST_DEFAULTS = {
  zkSessionTimeoutMs: 5_000,
  /** Heartbeats every 3 s. */
  presenceTtlMs: 9_000,
  /** Longer than the default 2 s: on a loaded CI machine a bus round trip can take over a second. */
  deliveryTimeoutMs: 5_000,
  /**
   * The explicit open mode the delivery tests run in (docs/security.md, "Modes"): `cim broker` and
   * `cim route` refuse to start without keys otherwise, and the tests' clients use the
   * upstream-compatible endpoints (`/registerAccount`, the SDK's `/login`). A test of the secure
   * mode overrides both.
   */
  insecure: true,
  compat: true,
  /** Tests and benchmarks register hundreds of users from one address within a minute. */
  registrationsPerAddress: 0,
} satisfies Partial<Config>

export interface ClusterOptions {
  redisUrl: string
  zookeeper: string
  /** ZooKeeper root; default a fresh `/cim-test-<uuid>` so clusters never see each other. */
  zkRoot?: string
  /** Settings for every process (added to CLUSTER_TEST_DEFAULTS). */
  settings?: Settings
  /** Log level of the children (their output is kept for failure messages). Default env CIM_TEST_LOG or `warn`. */
  logLevel?: string
  /**
   * How processes get their settings, in turn (process i uses `configVia[i % length]`): CLI
   * flags, CIM_* environment variables, or a JSON file given with --config. Default flags only.
   */
  configVia?: Array<'flags' | 'env' | 'file'>
}

export interface ProcessInfo {
  readonly name: string
  readonly role: 'broker' | 'route'
  /** The running child's pid, undefined while it is down. */
  readonly pid: number | undefined
  /** Whether the child is running. */
  readonly running: boolean
  /** The last output of this process (all its runs), for failure messages. */
  output(): string
  /** SIGKILL; resolves once it exited. */
  kill(): Promise<void>
  /** SIGTERM (graceful shutdown); resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>
  /** Starts it again with the same id, ports (unless one was taken meanwhile) and settings; resolves once it is ready. */
  restart(): Promise<void>
}

export interface BrokerProcess extends ProcessInfo {
  readonly role: 'broker'
  readonly id: string
  readonly cimPort: number
  readonly httpPort: number
  readonly mqttPort: number
  readonly wsPort: number
}

export interface RouteProcess extends ProcessInfo {
  readonly role: 'route'
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
}

/** The broker ids a route lists (GET /v1/nodes). */
export async function listedIds(routeUrl: string): Promise<string[]> {
  const res = await fetch(`${routeUrl}/v1/nodes`, { signal: AbortSignal.timeout(2_000) })
  const body = await res.json() as { items: Array<{ id: string }> }
  return body.items.map((b) => b.id)
}

export class Cluster {
  readonly brokers: BrokerProcess[] = []
  readonly routes: RouteProcess[] = []
  readonly zkRoot: string
  private readonly values: Settings
  private readonly procs: Proc[] = []
  private brokerSeq = 0
  private routeSeq = 0
  private viaSeq = 0
  /** Config files (configVia 'file'). */
  private readonly dir = mkdtempSync(join(tmpdir(), 'cim-cluster-'))

  constructor(private readonly opts: ClusterOptions) {
    this.zkRoot = opts.zkRoot ?? `/cim-test-${randomUUID()}`
    this.values = {
      ...CLUSTER_TEST_DEFAULTS,
      host: '127.0.0.1', advertiseHost: '127.0.0.1',
      redisUrl: opts.redisUrl, zookeeper: opts.zookeeper, zkRoot: this.zkRoot,
      logLevel: opts.logLevel ?? process.env.CIM_TEST_LOG ?? 'warn',
      ...opts.settings,
    }
  }

  /** Starts a cluster of `brokers` brokers and `routes` routes, all in parallel. */
  static async start(opts: ClusterOptions & {
    brokers?: number
    /** How many routes, or each route's own settings (e.g. `[{ strategy: 'random' }, ...]`). Default 2. */
    routes?: number | Settings[]
  }): Promise<Cluster> {
    const cluster = new Cluster(opts)
    const routeSettings = Array.isArray(opts.routes) ? opts.routes : Array.from({ length: opts.routes ?? 2 }, () => ({}))
    try {
      // Routes are prepared first: a broker is ready once every route lists it.
      const routes = await Promise.all(routeSettings.map((s) => cluster.prepareRoute(s)))
      const brokers = await Promise.all(Array.from({ length: opts.brokers ?? 2 }, () => cluster.prepareBroker()))
      await Promise.all([...routes, ...brokers].map((p) => p.start()))
    } catch (err) {
      await cluster.close()
      throw err
    }
    return cluster
  }

  /** Starts one more route (`settings` for it alone, e.g. a strategy); resolves once it answers. */
  async startRoute(settings: Settings = {}): Promise<RouteProcess> {
    const proc = await this.prepareRoute(settings)
    await proc.start()
    return this.routes.find((r) => r.name === proc.name)!
  }

  /** Starts one more broker; resolves once every running route lists it. */
  async startBroker(id?: string, settings: Settings = {}): Promise<BrokerProcess> {
    const proc = await this.prepareBroker(id, settings)
    await proc.start()
    return this.broker(proc.name)
  }

  private async prepareRoute(settings: Settings = {}): Promise<Proc> {
    let port = await freePort()
    const name = `route-${++this.routeSeq}`
    const url = () => `http://127.0.0.1:${port}`
    const via = this.nextVia()
    const proc = new Proc(name, () => commandOf('route', { ...this.values, ...settings, routePort: port }, via, this.dir, name),
      () => answers(`${url()}/v1/nodes`),
      async () => { port = await freePort() })
    this.procs.push(proc)
    this.routes.push(handle(proc, {
      role: 'route' as const,
      get port() { return port },
      get url() { return url() },
    }))
    return proc
  }

  private async prepareBroker(id?: string, settings: Settings = {}): Promise<Proc> {
    const pick = async () => {
      const [cimPort, httpPort, mqttPort, wsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
      return { cimPort, httpPort, mqttPort, wsPort }
    }
    let ports = await pick()
    const brokerId = id ?? `broker-${String.fromCharCode(97 + this.brokerSeq++)}`
    const via = this.nextVia()
    const proc = new Proc(brokerId, () => commandOf('broker', {
      ...this.values, ...settings, brokerId,
      cimPort: ports.cimPort, brokerHttpPort: ports.httpPort, mqttPort: ports.mqttPort, wsPort: ports.wsPort,
    }, via, this.dir, brokerId), async () => {
      if (!(await answers(`http://127.0.0.1:${ports.httpPort}/health`))) return false
      // Ready for tests once every running route would send logins and pushes to it.
      for (const r of this.routes) if (r.running && !(await listedIds(r.url)).includes(brokerId)) return false
      return true
    }, async () => { ports = await pick() })
    this.procs.push(proc)
    this.brokers.push(handle(proc, {
      role: 'broker' as const,
      id: brokerId,
      get cimPort() { return ports.cimPort },
      get httpPort() { return ports.httpPort },
      get mqttPort() { return ports.mqttPort },
      get wsPort() { return ports.wsPort },
    }))
    return proc
  }

  private nextVia(): 'flags' | 'env' | 'file' {
    const list = this.opts.configVia ?? ['flags']
    return list[this.viaSeq++ % list.length]
  }

  broker(id: string): BrokerProcess {
    const b = this.brokers.find((x) => x.id === id)
    if (!b) throw new Error(`no broker ${id}`)
    return b
  }

  /** Waits until every running route lists exactly `ids` (sorted); fails with what they list. */
  async waitListed(ids: string[], timeoutMs = 10_000): Promise<void> {
    const want = JSON.stringify([...ids].sort())
    const end = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      const lists = await Promise.all(this.routes.filter((r) => r.running).map((r) => listedIds(r.url).catch(() => ['?'])))
      last = JSON.stringify(lists)
      if (lists.every((l) => JSON.stringify([...l].sort()) === want)) return
      if (Date.now() > end) throw new Error(`routes list ${last}, expected ${want} within ${timeoutMs} ms\n${this.output()}`)
      await sleep(50)
    }
  }

  /** The output of every process, for failure messages. */
  output(): string {
    return this.procs.map((p) => p.output()).join('\n')
  }

  /** SIGKILLs every process. */
  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill()))
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function handle<T extends object>(proc: Proc, extra: T): ProcessInfo & T {
  const h: ProcessInfo = {
    name: proc.name,
    role: (extra as { role: 'broker' | 'route' }).role,
    get pid() { return proc.pid },
    get running() { return proc.running },
    output: () => proc.output(),
    kill: () => proc.kill(),
    stop: (ms?: number) => proc.stop(ms),
    restart: async () => { await proc.kill(); await proc.start() },
  }
  // defineProperties, not Object.assign: `pid`, `running` and the ports must stay live getters.
  return Object.defineProperties(h, Object.getOwnPropertyDescriptors(extra)) as ProcessInfo & T
}

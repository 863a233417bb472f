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
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { settings, type Config } from '../../config.ts'
import { freePort } from './servers.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

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
} satisfies Partial<Config>

/** How long a process may take to become ready (tsx startup is ~1-2 s of CPU per process). */
const READY_TIMEOUT_MS = 60_000

type Settings = Partial<Record<keyof Config, string | number>>

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const live = new Set<ChildProcess>()
let exitHook = false

function track(child: ChildProcess): void {
  live.add(child)
  child.once('exit', () => live.delete(child))
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => { for (const c of live) c.kill('SIGKILL') })
  }
  // Kills the child once this (test) process is gone without running its exit hook.
  const watchdog = spawn('sh', ['-c',
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.5; done; kill -0 "$1" 2>/dev/null || kill -9 "$2" 2>/dev/null',
    'watchdog', String(process.pid), String(child.pid)], { stdio: 'ignore', detached: true })
  watchdog.unref()
  child.once('exit', () => { watchdog.kill('SIGKILL') })
}

/** The environment of a child: ours without CIM_* settings, so nothing leaks in from the shell. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CIM_')) env[k] = v
  env.CIM_LOG_FORMAT = 'json'
  return env
}

/** CLI flags for Config keys, through config.ts's settings table (e.g. redisUrl → --redis). */
function flagsOf(values: Settings): string[] {
  const out: string[] = []
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue
    const setting = settings.find((s) => s.key === key)
    if (!setting) throw new Error(`unknown setting ${key}`)
    out.push(setting.flag, String(value))
  }
  return out
}

/** CIM_* environment variables for Config keys (e.g. redisUrl → CIM_REDIS_URL). */
function envOf(values: Settings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) env[settings.find((s) => s.key === key)!.env] = String(value)
  }
  return env
}

/** A command line for `role` carrying `values` the way `via` says. */
function commandOf(role: 'broker' | 'route', values: Settings, via: 'flags' | 'env' | 'file', dir: string, name: string): Launch {
  if (via === 'flags') return { args: [role, ...flagsOf(values)], env: {} }
  if (via === 'env') return { args: [role], env: envOf(values) }
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(values, null, 2))
  return { args: [role, '--config', file], env: {} }
}

interface Launch { args: string[]; env: NodeJS.ProcessEnv }

class Proc {
  child: ChildProcess | undefined
  private log = ''

  /**
   * `launch()` is read at every start; `repick()` chooses new free ports. A free port found by
   * freePort() can be taken by someone else before the child binds it (many processes share a
   * CI machine), so a start that fails with EADDRINUSE is retried on new ports.
   */
  constructor(
    readonly name: string,
    private readonly launch: () => Launch,
    private readonly ready: () => Promise<boolean>,
    private readonly repick: () => Promise<void>,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined
  }

  get running(): boolean {
    const c = this.child
    return !!c && c.exitCode === null && c.signalCode === null
  }

  output(): string {
    return this.log
  }

  private append(text: string): void {
    this.log = (this.log + text).slice(-16_384)
  }

  async start(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce(timeoutMs)
      } catch (err) {
        if (!(err as { portTaken?: boolean }).portTaken || attempt >= 3) throw err
        this.append(`--- ${this.name}: a port was taken; retrying on new ports\n`)
        await this.repick()
      }
    }
  }

  private async startOnce(timeoutMs: number): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`)
    const { args, env } = this.launch()
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', ...args], {
      cwd: ROOT, env: { ...childEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    track(child)
    const shown = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')
    this.append(`--- ${this.name} started (pid ${child.pid}): ${shown}cim ${args.join(' ')}\n`)
    let out = ''
    const add = (d: Buffer) => { out = (out + d.toString()).slice(-4096); this.append(d.toString()) }
    child.stdout!.on('data', add)
    child.stderr!.on('data', add)
    const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      this.append(`--- ${this.name} exited (${signal ?? code})\n`)
      resolve()
    }))
    const end = Date.now() + timeoutMs
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await exited // its last output is in
        const err = new Error(`${this.name} exited during startup:\n${this.log}`)
        throw Object.assign(err, { portTaken: out.includes('EADDRINUSE') })
      }
      if (await this.ready().catch(() => false)) return
      if (Date.now() > end) {
        await this.kill()
        throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.log}`)
      }
      await sleep(50)
    }
  }

  async kill(): Promise<void> {
    const c = this.child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await exited
  }

  async stop(timeoutMs = 15_000): Promise<number | null> {
    const c = this.child
    if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }
}

async function answers(url: string): Promise<boolean> {
  return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok
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

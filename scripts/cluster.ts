/**
 * `npm run cluster`: a local cluster on one machine — 2 brokers and 2 stateless routes, each its
 * own `cim broker` / `cim route` process, over Redis and ZooKeeper — on fixed ports, with a table
 * of where everything listens. Ctrl-C stops it all (brokers shut down gracefully).
 *
 * Redis and ZooKeeper: CIM_REDIS_URL / CIM_ZOOKEEPER when set; otherwise throwaway servers started
 * from the Debian packages (redis-server, zookeeper: `bash scripts/setup.sh` installs them) on
 * free ports, in a temp dir removed at exit. Other CIM_* variables (strategy, TTLs, log level,
 * advertise host, ...) reach every process as usual; ports and broker ids are fixed here.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { resolveConfig } from '../config.ts'
import { startRedis, startZooKeeper, type RedisServer, type ZooKeeperServer } from '../test/support/servers.ts'
import { setTimeout as sleep } from 'node:timers/promises'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

interface Node {
  name: string
  role: 'broker' | 'route'
  args: string[]
  child?: ChildProcess
}

const BROKERS = [
  { name: 'broker-1', cim: 11211, http: 8081, mqtt: 1883, ws: 9001 },
  { name: 'broker-2', cim: 11212, http: 8082, mqtt: 1884, ws: 9002 },
]
const ROUTES = [{ name: 'route-1', port: 8083 }, { name: 'route-2', port: 8084 }]

const config = resolveConfig({}, process.env)
const host = config.advertiseHost
let redis: RedisServer | undefined
let zookeeper: ZooKeeperServer | undefined
const nodes: Node[] = []
let stopping = false

/** Child logs are pino JSON lines; print them short, prefixed with the node's name. */
function relay(node: Node, stream: NodeJS.ReadableStream, to: NodeJS.WriteStream): void {
  createInterface({ input: stream }).on('line', (line) => {
    let text = line
    try {
      const o = JSON.parse(line) as { level?: number; msg?: string; err?: unknown }
      const level = ({ 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' } as Record<number, string>)[o.level ?? 30] ?? ''
      text = `${level} ${o.msg ?? ''}${o.err ? ` ${JSON.stringify(o.err)}` : ''}`
    } catch { /* not JSON: as is */ }
    to.write(`[${node.name}] ${text}\n`)
  })
}

/**
 * A local try-out cluster runs like `cim start`: open (--insecure) and upstream-compatible
 * (--compat, so `cim client` works), unless CIM_INSECURE / CIM_COMPAT say otherwise; the keys of
 * docs/security.md reach every process through CIM_* variables as usual.
 */
const MODE_FLAGS = [...(process.env.CIM_INSECURE ? [] : ['--insecure']), ...(process.env.CIM_COMPAT ? [] : ['--compat'])]

function start(node: Node, backends: { redisUrl: string; zookeeper: string }): void {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', node.role, ...node.args, ...MODE_FLAGS,
    '--redis', backends.redisUrl, '--zookeeper', backends.zookeeper], {
    cwd: ROOT,
    // Child stdout is a pipe: JSON logs, which relay() shortens. Warnings and errors by default.
    env: { ...process.env, CIM_LOG_FORMAT: 'json', CIM_LOG_LEVEL: process.env.CIM_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  node.child = child
  relay(node, child.stdout!, process.stdout)
  relay(node, child.stderr!, process.stderr)
  child.once('exit', (code, signal) => {
    if (stopping) return
    console.error(`[${node.name}] exited (${signal ?? code}); stopping the cluster`)
    void shutdown(1)
  })
}

async function ok(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok
  } catch {
    return false
  }
}

/** Every route answers and lists both brokers. */
async function waitReady(timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  const want = BROKERS.map((b) => b.name).join(',')
  for (;;) {
    const ready = await Promise.all(ROUTES.map(async (r) => {
      try {
        const res = await fetch(`http://127.0.0.1:${r.port}/v1/nodes`, { signal: AbortSignal.timeout(1_000) })
        const body = await res.json() as { items: Array<{ id: string }> }
        return body.items.map((b) => b.id).sort().join(',') === want
      } catch {
        return false
      }
    }))
    const healthy = await Promise.all(BROKERS.map((b) => ok(`http://127.0.0.1:${b.http}/health`)))
    if (ready.every(Boolean) && healthy.every(Boolean)) return
    if (Date.now() > end) throw new Error(`the cluster was not ready after ${timeoutMs / 1000} s`)
    await sleep(100)
  }
}

function table(backends: { redisUrl: string; zookeeper: string }, own: boolean): string {
  const rows: string[][] = [['node', 'listens on', 'what'], ['', '', '']]
  for (const r of ROUTES) {
    rows.push([r.name, `http://${host}:${r.port}`, `REST API · docs http://${host}:${r.port}/docs`])
  }
  for (const b of BROKERS) {
    rows.push([b.name, `${host}:${b.cim}`, 'CIM TCP (app clients)'])
    rows.push(['', `mqtt://${host}:${b.mqtt}`, 'MQTT (devices)'])
    rows.push(['', `ws://${host}:${b.ws}`, 'MQTT over WebSocket'])
    rows.push(['', `http://${host}:${b.http}`, 'health /health, metrics /metrics'])
  }
  rows.push(['redis', backends.redisUrl, own ? 'started here (redis-server), removed at exit' : 'CIM_REDIS_URL'])
  rows.push(['zookeeper', backends.zookeeper, own ? 'started here (zookeeper), removed at exit' : 'CIM_ZOOKEEPER'])
  const width = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => (r[0] === '' && r[1] === '' ? `${'-'.repeat(width[0])}  ${'-'.repeat(width[1])}  ${'-'.repeat(30)}`
    : `${r[0].padEnd(width[0])}  ${r[1].padEnd(width[1])}  ${r[2]}`)).join('\n')
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  if (nodes.length > 0) console.log('\nstopping: brokers drain (their clients log in again elsewhere), then routes, then Redis and ZooKeeper')
  const stop = (n: Node) => new Promise<void>((resolve) => {
    const c = n.child
    if (!c || c.exitCode !== null || c.signalCode !== null) return resolve()
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000)
    c.once('exit', () => { clearTimeout(timer); resolve() })
    c.kill('SIGTERM')
  })
  await Promise.all(nodes.filter((n) => n.role === 'broker').map(stop))
  await Promise.all(nodes.filter((n) => n.role === 'route').map(stop))
  await Promise.all([redis?.stop(), zookeeper?.stop()])
  process.exit(code)
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0))
  process.on('SIGTERM', () => void shutdown(0))

  let redisUrl = process.env.CIM_REDIS_URL ?? ''
  let zk = process.env.CIM_ZOOKEEPER ?? ''
  const own = !redisUrl || !zk
  if (!redisUrl) {
    if (!existsSync(process.env.CIM_TEST_REDIS_SERVER ?? '/usr/bin/redis-server')) {
      throw new Error('no Redis: set CIM_REDIS_URL, or install the Debian package redis-server (bash scripts/setup.sh)')
    }
  }
  if (!zk && !existsSync('/usr/share/java/zookeeper.jar')) {
    throw new Error('no ZooKeeper: set CIM_ZOOKEEPER, or install the Debian package zookeeper (bash scripts/setup.sh)')
  }
  ;[redis, zookeeper] = await Promise.all([redisUrl ? undefined : startRedis(), zk ? undefined : startZooKeeper()])
  redisUrl ||= redis!.url
  zk ||= zookeeper!.connectString
  const backends = { redisUrl, zookeeper: zk }

  for (const b of BROKERS) {
    nodes.push({
      name: b.name, role: 'broker',
      args: ['--broker-id', b.name, '--cim-port', String(b.cim), '--broker-http-port', String(b.http), '--mqtt-port', String(b.mqtt), '--ws-port', String(b.ws)],
    })
  }
  for (const r of ROUTES) nodes.push({ name: r.name, role: 'route', args: ['--route-port', String(r.port)] })
  console.log(`starting 2 brokers and 2 routes over Redis ${redisUrl} and ZooKeeper ${zk} ...`)
  for (const n of nodes) start(n, backends)
  await waitReady()
  console.log(`\nCIM Relay cluster is up (login strategy: ${config.strategy}):\n\n${table(backends, own)}\n`)
  console.log(`try: curl -s http://${host}:${ROUTES[0].port}/v1/nodes ; npx cim client --name alice --route http://${host}:${ROUTES[1].port}`)
  console.log('Ctrl-C stops everything.')
}

/**
 * Ctrl-C signals the terminal's whole foreground process group: Redis, ZooKeeper and every node
 * would die at once, Redis before the brokers could drain. So the cluster runs in a process group
 * of its own (a detached copy of this script), and this process turns Ctrl-C into one SIGTERM for
 * it, which stops the nodes in order.
 */
function supervise(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CIM_CLUSTER_SUPERVISED: String(process.pid) },
  })
  const forward = () => { child.kill('SIGTERM') }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  child.once('exit', (code) => process.exit(code ?? 1))
}

if (process.env.CIM_CLUSTER_SUPERVISED) {
  // Stop too if the supervising process is gone without telling us (killed with SIGKILL).
  const parent = Number(process.env.CIM_CLUSTER_SUPERVISED)
  setInterval(() => { try { process.kill(parent, 0) } catch { void shutdown(1) } }, 1_000).unref()
  main().catch((err: Error) => {
    console.error(`cluster: ${err.message}`)
    void shutdown(1)
  })
} else {
  supervise()
}

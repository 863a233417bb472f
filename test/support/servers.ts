/**
 * Real Redis and ZooKeeper servers for the distributed adapters' tests: each on a free port, with
 * its files in a fresh temp dir, stopped by `stop()` and killed when the test process exits. The
 * system services (if any) are never touched. `scripts/setup.sh` installs both Debian packages.
 *
 * A small `sh` watchdog beside each server kills it if this process dies without running its
 * exit handler (a SIGKILLed vitest worker), so no server outlives its test run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sleep } from './wait.ts'

export interface RedisServer {
  url: string
  port: number
  /** Kills the server and removes its temp dir. */
  stop(): Promise<void>
  /**
   * Kills the server (kill -9) and starts a new one on the same port, after `downMs` (default 0).
   * It comes back empty (nothing is persisted) with a new `run_id`, unless the test SAVEd first.
   */
  restart(downMs?: number): Promise<void>
}

export interface ZooKeeperServer {
  connectString: string
  port: number
  stop(): Promise<void>
  /** Kills the JVM and starts it again on the same port and data dir (sessions and znodes survive), after `downMs` (default 0). */
  restart(downMs?: number): Promise<void>
  /**
   * Kills the JVM (kill -9) and starts an empty server on the same port, after `downMs` (default 0):
   * every session and znode is gone, as after losing the server's disk. Clients reconnecting with
   * their old session are told it expired.
   */
  restartEmpty(downMs?: number): Promise<void>
}

const REDIS_BIN = process.env.CIM_TEST_REDIS_SERVER ?? '/usr/bin/redis-server'
const JAVA_BIN = process.env.CIM_TEST_JAVA ?? '/usr/bin/java'
// zookeeper.jar's manifest Class-Path names its other dependencies under /usr/share/java.
const ZK_CLASSPATH = ['zookeeper.jar', 'zookeeper-jute.jar', 'slf4j-simple.jar'].map((j) => `/usr/share/java/${j}`).join(':')

const live = new Set<ChildProcess>()
let exitHookInstalled = false

/** Kills `child` when this process exits, or (by a watchdog) once it is gone without running its exit hook. */
export function trackChild(child: ChildProcess): void {
  live.add(child)
  child.once('exit', () => live.delete(child))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => { for (const c of live) c.kill('SIGKILL') })
  }
  // Kills the server once this process is gone; ends by itself when the server is gone.
  const watchdog = spawn('sh', ['-c',
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.5; done; kill -0 "$1" 2>/dev/null || kill -9 "$2" 2>/dev/null',
    'watchdog', String(process.pid), String(child.pid)], { stdio: 'ignore', detached: true })
  watchdog.unref()
  child.once('exit', () => { watchdog.kill('SIGKILL') })
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

/** Keeps the last few KiB of a child's output for the error message when it fails to start. */
function capture(child: ChildProcess): () => string {
  let out = ''
  const add = (b: Buffer) => { out = (out + b.toString()).slice(-4096) }
  child.stdout?.on('data', add)
  child.stderr?.on('data', add)
  // CIM_TEST_SERVER_LOG=<file> appends the servers' own logs (warnings, errors) there, for debugging.
  const logFile = process.env.CIM_TEST_SERVER_LOG
  if (logFile) {
    const log = (b: Buffer) => appendFileSync(logFile, `[${child.pid}] ${b.toString()}`)
    child.stdout?.on('data', log)
    child.stderr?.on('data', log)
  }
  return () => out
}

/** Sends `request` on a fresh TCP connection and resolves true once `accept(reply)` holds. */
function probe(port: number, request: Buffer, accept: (reply: Buffer) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let got = Buffer.alloc(0)
    const done = (ok: boolean) => { s.destroy(); resolve(ok) }
    s.setTimeout(1_000, () => done(false))
    s.once('error', () => done(false))
    s.once('close', () => done(accept(got)))
    s.on('connect', () => s.write(request))
    s.on('data', (d) => { got = Buffer.concat([got, d]); if (accept(got)) done(true) })
  })
}

/** Waits until `ready()` or fails when the child exits or `ms` pass. */
async function waitReady(child: ChildProcess, output: () => string, what: string, ready: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited during startup:\n${output()}`)
    if (await ready()) return
    await sleep(30)
  }
  child.kill('SIGKILL')
  throw new Error(`${what} did not become ready in ${ms} ms:\n${output()}`)
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
}

// ---------------------------------------------------------------------------------------------

/** stop() and restart() of a server whose current process is `current()` and whose files are in `dir`. */
function lifecycle(current: () => ChildProcess | undefined, dir: string, launch: () => Promise<void>) {
  return {
    async stop(): Promise<void> {
      await kill(current())
      await rm(dir, { recursive: true, force: true })
    },
    async restart(downMs = 0): Promise<void> {
      await kill(current())
      await sleep(downMs)
      await launch()
    },
  }
}

export async function startRedis(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cim-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined

  const launch = async () => {
    child = spawn(REDIS_BIN, [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    trackChild(child)
    const output = capture(child)
    await waitReady(child, output, `redis-server on port ${port}`,
      () => probe(port, Buffer.from('PING\r\n'), (r) => r.toString().startsWith('+PONG')))
  }

  await launch()
  return { url: `redis://127.0.0.1:${port}`, port, ...lifecycle(() => child, dir, launch) }
}

// ---------------------------------------------------------------------------------------------

/** A ZooKeeper ConnectRequest (protocol 0, a new session, 4 s timeout): a full handshake proves the server serves. */
function zkConnectRequest(): Buffer {
  const body = Buffer.alloc(45) // int proto, long zxid, int timeout, long session, int passwdLen, 16-byte passwd, bool readOnly
  body.writeInt32BE(0, 0)
  body.writeBigInt64BE(0n, 4)
  body.writeInt32BE(4_000, 12)
  body.writeBigInt64BE(0n, 16)
  body.writeInt32BE(16, 24)
  const closeSession = Buffer.alloc(12) // int len, int xid, int type (-11 = closeSession)
  closeSession.writeInt32BE(8, 0)
  closeSession.writeInt32BE(1, 4)
  closeSession.writeInt32BE(-11, 8)
  const len = Buffer.alloc(4)
  len.writeInt32BE(body.length)
  return Buffer.concat([len, body, closeSession])
}

/** ConnectResponse: int len, int proto, int timeout (> 0 when a session was granted), ... */
function zkAccepted(reply: Buffer): boolean {
  return reply.length >= 12 && reply.readInt32BE(8) > 0
}

export async function startZooKeeper(): Promise<ZooKeeperServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cim-zk-'))
  await mkdir(join(dir, 'data'))
  const port = await freePort()
  // tickTime 500 lets tests use session timeouts down to 1 s (min = 2 ticks); the server checks
  // expiry once per tick. forceSync=no: the data dir is a throwaway; a kill keeps the OS cache.
  await writeFile(join(dir, 'zoo.cfg'), [
    'tickTime=500',
    `dataDir=${join(dir, 'data')}`,
    `clientPort=${port}`,
    'clientPortAddress=127.0.0.1',
    'minSessionTimeout=1000',
    'maxSessionTimeout=60000',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr',
    'forceSync=no',
    'maxClientCnxns=0',
    '',
  ].join('\n'))
  let child: ChildProcess | undefined

  const launch = async () => {
    child = spawn(JAVA_BIN, [
      // A small, quickly started JVM: this server holds a handful of znodes.
      '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xms16m', '-Xmx128m', '-Xshare:auto',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dzookeeper.jmx.log4j.disable=true',
      '-cp', ZK_CLASSPATH, 'org.apache.zookeeper.server.ZooKeeperServerMain', join(dir, 'zoo.cfg'),
    ], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
    trackChild(child)
    const output = capture(child)
    await waitReady(child, output, `ZooKeeper on port ${port}`, () => probe(port, zkConnectRequest(), zkAccepted))
  }

  await launch()
  const { stop, restart } = lifecycle(() => child, dir, launch)
  const restartEmpty = async (downMs = 0) => {
    await kill(child)
    await rm(join(dir, 'data'), { recursive: true, force: true })
    await mkdir(join(dir, 'data'))
    await sleep(downMs)
    await launch()
  }
  return { connectString: `127.0.0.1:${port}`, port, stop, restart, restartEmpty }
}

// ---------------------------------------------------------------------------------------------

export interface TcpProxy {
  port: number
  /** A network partition: drops every connection through the proxy and refuses new ones. */
  cut(): void
  /** Ends the partition: new connections reach the target again. */
  restore(): void
  close(): Promise<void>
}

/** A TCP proxy on a free port in front of `127.0.0.1:targetPort`, to cut one client off a server. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  let open = true
  const server = net.createServer((inbound) => {
    if (!open) { inbound.destroy(); return }
    const outbound = net.connect({ port: targetPort, host: '127.0.0.1' })
    for (const s of [inbound, outbound]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => { sockets.delete(s); inbound.destroy(); outbound.destroy() })
    }
    inbound.pipe(outbound).pipe(inbound)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      open = false
      for (const s of sockets) s.destroy()
    },
    restore() { open = true },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}

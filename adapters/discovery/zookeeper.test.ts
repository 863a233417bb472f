import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import { runDiscoveryContract } from './contract.ts'
import { ZooKeeperDiscovery, znodeName } from './zookeeper.ts'
import { closeClient, zk } from './zk-client.ts'
import type { BrokerInfo } from './index.ts'
import { startTcpProxy, startZooKeeper, type ZooKeeperServer } from '../../test/support/servers.ts'
import { eventually } from '../../test/support/wait.ts'

let server: ZooKeeperServer
beforeAll(async () => { server = await startZooKeeper() })
afterAll(async () => { await server?.stop() })

const freshRoot = () => `/t-${randomUUID()}/cim`
const info = (id: string, cimPort: number): BrokerInfo =>
  ({ id, host: '10.0.0.1', cimPort, httpPort: 8081, mqttPort: 1883, wsPort: 9001, connections: 0, draining: false, startedAt: 1 })

runDiscoveryContract('zookeeper', async () => {
  const root = freshRoot()
  return Promise.all([0, 1].map(() => ZooKeeperDiscovery.create({ connectString: server.connectString, root }))) as Promise<[ZooKeeperDiscovery, ZooKeeperDiscovery]>
})

describe('ZooKeeper discovery', () => {
  const opened: ZooKeeperDiscovery[] = []
  const children: ChildProcess[] = []
  const open = async (root: string, sessionTimeoutMs = 2_000) => {
    const d = await ZooKeeperDiscovery.create({ connectString: server.connectString, root, sessionTimeoutMs })
    opened.push(d)
    return d
  }
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL')
    await Promise.all(opened.splice(0).map((d) => d.close()))
  })

  it('uses upstream znode names under the root, with BrokerInfo as data', async () => {
    const root = freshRoot()
    const a = await open(root)
    await a.register(info('n1', 11211))
    const raw = zk.createClient(server.connectString)
    raw.connect()
    try {
      const [children, data] = await new Promise<[string[], string]>((resolve, reject) => {
        raw.getChildren(root, () => {}, (err, names) => {
          if (err) return reject(err)
          raw.getData(`${root}/${names[0]}`, (err2, buf) => (err2 ? reject(err2) : resolve([names, String(buf)])))
        })
      })
      expect(children).toEqual(['10.0.0.1:11211:8081'])
      expect(znodeName(info('x', 11211))).toBe('10.0.0.1:11211:8081')
      expect(JSON.parse(data)).toEqual(info('n1', 11211))
    } finally {
      await closeClient(raw)
    }
  })

  it('drops a broker whose process died without deregistering, once its session times out', async () => {
    const root = freshRoot()
    const watcher = await open(root)
    // A real crash: another process registers, then is SIGKILLed (no close, no goodbye).
    const module = fileURLToPath(new URL('./zookeeper.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      const { ZooKeeperDiscovery } = await import(${JSON.stringify(module)})
      const d = await ZooKeeperDiscovery.create({ connectString: ${JSON.stringify(server.connectString)}, root: ${JSON.stringify(root)}, sessionTimeoutMs: 2000 })
      await d.register(${JSON.stringify(info('crashy', 11300))})
      console.log('registered')
      setInterval(() => {}, 1000)
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(child)
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => { if (String(d).includes('registered')) resolve() })
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)))
    })
    await eventually(() => watcher.brokers().length === 1, 5_000)
    const killedAt = Date.now()
    child.kill('SIGKILL')
    await eventually(() => watcher.brokers().length === 0, 6_000)
    // Not before ZooKeeper's session timeout (2 s, minus a tick of server-side slack).
    expect(Date.now() - killedAt).toBeGreaterThan(1_000)
  })

  it('cut off past its session timeout, a handle starts a new session and registers again', async () => {
    const root = freshRoot()
    const proxy = await startTcpProxy(server.port)
    try {
      const a = await ZooKeeperDiscovery.create({ connectString: `127.0.0.1:${proxy.port}`, root, sessionTimeoutMs: 2_000 })
      opened.push(a)
      const b = await open(root)
      const reg = await a.register(info('n1', 11211))
      await eventually(() => b.brokers().length === 1 && a.brokers().length === 1, 5_000)
      const before = a.session().id.toString('hex')
      // A partition longer than the session timeout: ZooKeeper expires a's session and drops its znode.
      proxy.cut()
      await eventually(() => b.brokers().length === 0, 6_000)
      // a keeps serving its cached list meanwhile.
      expect(a.brokers().map((x) => x.id)).toEqual(['n1'])
      proxy.restore()
      await eventually(() => b.brokers().length === 1, 6_000)
      expect(a.session().id.toString('hex')).not.toBe(before)
      // The new session carries updates too.
      await reg.update({ connections: 7 })
      await eventually(() => b.brokers()[0]?.connections === 7, 5_000)
    } finally {
      await proxy.close()
    }
  })

  it('survives a ZooKeeper restart: registrations stay or come back, watches keep working', async () => {
    const root = freshRoot()
    const a = await open(root, 4_000)
    const b = await open(root, 4_000)
    const reg = await a.register(info('n1', 11211))
    await eventually(() => b.brokers().length === 1, 5_000)
    await server.restart()
    // While ZooKeeper is down or just back, b keeps serving its cached list.
    expect(b.brokers().map((x) => x.id)).toEqual(['n1'])
    await a.register(info('n2', 11212))
    await reg.update({ draining: true })
    await eventually(() => b.brokers().length === 2 && b.brokers()[0].draining, 10_000)
    expect(b.brokers().map((x) => x.id)).toEqual(['n1', 'n2'])
  })

  it('survives a ZooKeeper restarted EMPTY: new sessions, the root and every registration with its data come back', async () => {
    const root = freshRoot()
    const errors: string[] = []
    const a = await ZooKeeperDiscovery.create({ connectString: server.connectString, root, sessionTimeoutMs: 10_000, onError: (e) => errors.push(e.message) })
    opened.push(a)
    const b = await open(root, 10_000)
    await a.register(info('n1', 11211))
    await eventually(() => b.brokers().length === 1, 5_000)
    const before = a.session().id
    // The server refuses the clients' zxid (newer than its own) instead of saying the session
    // expired; the handles get past that by themselves, well before any session timeout.
    await server.restartEmpty(500)
    expect(b.brokers().map((x) => x.id)).toEqual(['n1']) // the cache served meanwhile
    const fresh = await open(root)
    await eventually(() => fresh.brokers().length === 1, 8_000)
    expect(fresh.brokers()[0]).toEqual(info('n1', 11211))
    expect(a.session().id.equals(before)).toBe(false)
    expect(errors.some((m) => m.includes('refused every handshake'))).toBe(true)
    // Watches work again: a new registration reaches the old reader.
    await a.register(info('n2', 11212))
    await eventually(() => b.brokers().length === 2, 8_000)
  })

  it('drops a connection whose handshake gets no answer and connects again', async () => {
    // ZooKeeper 3.8.0 can leave a connection made while it starts open and silent; the client
    // library would wait for its answer forever. Here the first connection is held silent.
    const held: net.Socket[] = []
    const front = net.createServer((inbound) => {
      if (held.length === 0) { held.push(inbound); return }
      const outbound = net.connect(server.port, '127.0.0.1')
      inbound.pipe(outbound).pipe(inbound)
      for (const s of [inbound, outbound]) s.on('error', () => {}).on('close', () => { inbound.destroy(); outbound.destroy() })
    })
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r))
    try {
      const d = await ZooKeeperDiscovery.create({
        connectString: `127.0.0.1:${(front.address() as net.AddressInfo).port}`, root: freshRoot(), handshakeTimeoutMs: 300, connectTimeoutMs: 5_000,
      })
      opened.push(d)
      expect(held.length).toBe(1)
      await d.register(info('n1', 11211))
    } finally {
      for (const s of held) s.destroy()
      await Promise.all(opened.splice(0).map((d) => d.close()))
      await new Promise((r) => front.close(r))
    }
  })

  it('close removes its own znodes at once', async () => {
    const root = freshRoot()
    const a = await ZooKeeperDiscovery.create({ connectString: server.connectString, root })
    const b = await open(root)
    await a.register(info('n1', 11211))
    await eventually(() => b.brokers().length === 1, 5_000)
    await a.close()
    await eventually(() => b.brokers().length === 0, 1_000)
  })
})

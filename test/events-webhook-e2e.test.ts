/**
 * Events to a real webhook receiver (README "Events to your backend"), from real processes:
 * `cim start` (memory adapters) with --webhook-url, the SDK and MQTT clients against it; and a
 * cluster (brokers + route over Redis and ZooKeeper) for a broker restarted while events wait.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CimClient } from '../client/index.ts'
import type { CimEvent } from '../events/index.ts'
import { Receiver } from './support/receiver.ts'
import { freePort, startRedis, startZooKeeper, type RedisServer, type ZooKeeperServer } from './support/servers.ts'
import { Cluster } from './support/cluster.ts'
import { connectMqtt } from './support/mqtt.ts'
import { postJson } from './support/wire.ts'
import { eventually, sleep } from './support/wait.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

interface NodeProcess { url: string; cimPort: number; mqttPort: number; child: ChildProcess; output: () => string }

const cleanup: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

/** `cim start` with memory adapters, the webhook pointing at `receiver`. */
async function startNode(receiver: Receiver, extra: string[] = []): Promise<NodeProcess> {
  const [routePort, cimPort, brokerHttpPort, mqttPort, wsPort] = await Promise.all(Array.from({ length: 5 }, () => freePort()))
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', 'start',
    '--host', '127.0.0.1', '--advertise-host', '127.0.0.1', '--log-level', 'warn', '--insecure', '--compat',
    '--registrations-per-address', '0', '--repeat-login', 'kick-old',
    '--route-port', String(routePort), '--cim-port', String(cimPort), '--broker-http-port', String(brokerHttpPort),
    '--mqtt-port', String(mqttPort), '--ws-port', String(wsPort),
    '--webhook-url', receiver.url, '--webhook-batch-ms', '20', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => { out = (out + c.toString()).slice(-20_000) })
  child.stderr!.on('data', (c: Buffer) => { out = (out + c.toString()).slice(-20_000) })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  cleanup.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  const url = `http://127.0.0.1:${routePort}`
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`cim start exited: ${out}`)
    return fetch(`${url}/v1/nodes`).then(async (r) => (await r.json() as { items: unknown[] }).items.length > 0, () => false)
  }, 30_000, 'cim start up')
  return { url, cimPort, mqttPort, child, output: () => out }
}

async function register(url: string, userName: string): Promise<number> {
  return (await postJson(`${url}/registerAccount`, { userName })).body.dataBody.userId as number
}

function sdk(url: string, userId: number, userName: string): CimClient {
  const c = new CimClient({ routeUrl: url, userId, userName, reconnect: false })
  cleanup.push(() => c.close())
  return c
}

async function receiver(): Promise<Receiver> {
  const r = await Receiver.start()
  cleanup.push(() => r.close())
  return r
}

const typesOf = (events: CimEvent[]) => events.map((e) => e.type)

describe('webhook from cim start', () => {
  it('a user and a device: online, acked push, chat, kicked, offline; connected, uplink, disconnected — in order', async () => {
    const r = await receiver()
    const node = await startNode(r)
    const alice = await register(node.url, 'alice')
    const bob = await register(node.url, 'bob')
    const first = sdk(node.url, alice, 'alice')
    await first.connect()
    const pushed = (await postJson(`${node.url}/v1/push/users/${alice}`, { message: 'stored', qos: 1 })).body.results[0]
    await postJson(`${node.url}/p2pRoute`, { userId: bob, receiveUserId: alice, msg: 'hi alice' })
    // A repeat login kicks the first connection; then the second one hangs up.
    const second = sdk(node.url, alice, 'alice')
    await second.connect()
    await eventually(() => r.of('user.online').length === 2, 15_000)
    second.close()

    const device = await connectMqtt(`mqtt://127.0.0.1:${node.mqttPort}`, 'meter-1')
    await device.publishAsync('uplink/meter-1/kwh', '42', { qos: 1 })
    await device.endAsync()

    await eventually(() => r.of('user.offline').length === 2 && r.of('device.disconnected').length === 1, 15_000, 'all events')
    // alice's events (source user:alice) in the order they happened; the chat one is bob's.
    const user = r.of('user.online', 'push.acked', 'user.offline')
    expect(user.map((e) => [e.type, (e as { reason?: string }).reason])).toEqual([
      ['user.online', undefined], ['push.acked', undefined], ['push.acked', undefined],
      ['user.offline', 'kicked'], ['user.online', undefined], ['user.offline', 'closed'],
    ])
    const [restReceipt, chatReceipt] = r.of('push.acked')
    expect(restReceipt).toMatchObject({ userId: alice, msgId: pushed.msgId, seq: pushed.seq })
    const [chat] = r.of('user.message')
    expect(chat).toMatchObject({ from: bob, to: alice, text: 'hi alice' })
    // The p2p message is stored for alice (qos 1): its receipt names the chat message.
    expect(chatReceipt).toMatchObject({ userId: alice, msgId: (chat as { msgId: string }).msgId, seq: pushed.seq + 1 })
    expect(typesOf(r.of('device.connected', 'device.uplink', 'device.disconnected'))).toEqual(['device.connected', 'device.uplink', 'device.disconnected'])
    expect(r.of('device.uplink')[0]).toMatchObject({ clientId: 'meter-1', topic: 'uplink/meter-1/kwh', payload: Buffer.from('42').toString('base64') })
    expect(r.of('device.disconnected')[0]).toMatchObject({ reason: 'closed' })
  })

  it('receiver down, then up: nothing lost, each source in order', async () => {
    const r = await receiver()
    const node = await startNode(r)
    await r.down()
    const devices = await Promise.all(['d-a', 'd-b'].map((id) => connectMqtt(`mqtt://127.0.0.1:${node.mqttPort}`, id)))
    for (let i = 0; i < 20; i++) {
      for (const [k, d] of devices.entries()) await d.publishAsync(`uplink/${k}`, String(i), { qos: 1 })
    }
    await sleep(1_500) // a few failed attempts
    expect(r.events).toEqual([])
    await r.up()
    await eventually(() => r.of('device.uplink').length === 40, 30_000, '40 uplinks')
    for (const id of ['d-a', 'd-b']) {
      const mine = r.of('device.uplink').filter((e) => (e as { clientId: string }).clientId === id)
      expect(mine.map((e) => Buffer.from((e as { payload: string }).payload, 'base64').toString())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
    }
  })

  it('a receiver that answers after 3 s: REST pushes complete while it is still stuck', async () => {
    const r = await receiver()
    const node = await startNode(r)
    const id = await register(node.url, 'carol')
    const c = sdk(node.url, id, 'carol')
    r.delayMs = 3_000
    await c.connect() // user.online: the first batch now waits 3 s on the receiver
    await eventually(() => r.requests > 0, 10_000, 'a request in flight')
    const answers = []
    for (let i = 0; i < 50; i++) answers.push((await postJson(`${node.url}/v1/push/users/${id}`, { message: `m${i}` })).body.results[0].status)
    expect(answers.every((s) => s === 'delivered')).toBe(true)
    // The receiver has not answered yet: the pushes did not wait for it.
    expect(r.events).toEqual([])
    r.delayMs = 0
    await eventually(() => r.of('user.online').length === 1, 15_000)
  })
})

describe('webhook in a cluster', () => {
  let redis: RedisServer
  let zk: ZooKeeperServer
  beforeAll(async () => { [redis, zk] = await Promise.all([startRedis(), startZooKeeper()]) }, 60_000)
  afterAll(async () => { await Promise.all([redis?.stop(), zk?.stop()]) })

  it('a broker restarted while the receiver is down delivers its pending events once it is back', async () => {
    const r = await receiver()
    await r.down()
    const cluster = await Cluster.start({
      redisUrl: redis.url, zookeeper: zk.connectString, brokers: 1, routes: 1,
      settings: { webhookUrl: r.url, webhookBatchMs: 20 },
    })
    cleanup.push(() => cluster.close())
    const [broker] = cluster.brokers
    const device = await connectMqtt(`mqtt://127.0.0.1:${broker.mqttPort}`, 'pending-1')
    for (let i = 0; i < 10; i++) await device.publishAsync('uplink/p', String(i), { qos: 1 })
    await device.endAsync()
    await sleep(500)
    await broker.stop()
    await broker.restart()
    await r.up()
    await eventually(() => r.of('device.uplink').length === 10, 40_000, 'the pending uplinks')
    expect(r.of('device.uplink').map((e) => Buffer.from((e as { payload: string }).payload, 'base64').toString()))
      .toEqual(Array.from({ length: 10 }, (_, i) => String(i)))
    expect(typesOf(r.of('device.connected', 'device.disconnected'))).toEqual(['device.connected', 'device.disconnected'])
  }, 90_000)
})

/**
 * The TypeScript SDK (what the console client and apps use) against real brokers and a real route:
 * chat, at-least-once replay with acks, and moving to another broker when one drains.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { CimClient, type CimMessage } from '../client/index.ts'
import { createBroker } from '../broker/index.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { silentLogger, testConfig } from './support/config.ts'
import { postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'

const opened: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
})

async function start(overrides = {}): Promise<AllInOne> {
  const node = await startAllInOne(overrides)
  opened.push(node)
  return node
}

function client(node: AllInOne, userName: string): { c: CimClient; inbox: CimMessage[] } {
  const inbox: CimMessage[] = []
  const c = new CimClient({ routeUrl: node.routeUrl, userName, heartbeatMs: 1_000, reconnect: { minMs: 50, maxMs: 500 }, onMessage: (m) => inbox.push(m) })
  opened.push(c)
  return { c, inbox }
}

describe('CimClient end to end', () => {
  it('registers, logs in through the route, and chats p2p and in a group', async () => {
    const node = await start()
    const alice = client(node, 'sdk-alice')
    const bob = client(node, 'sdk-bob')
    await alice.c.connect()
    await bob.c.connect()
    const sent = await alice.c.sendP2P(bob.c.userId!, 'hi bob')
    expect(sent.delivered).toBe(true)
    await eventually(() => bob.inbox.some((m) => m.text === 'hi bob'))
    const m = bob.inbox.find((x) => x.text === 'hi bob')!
    expect(m).toMatchObject({ sendUserId: alice.c.userId, sendUserName: 'sdk-alice', receiveUserId: bob.c.userId, offline: false })
    await bob.c.sendGroup('hello everyone')
    await eventually(() => alice.inbox.some((x) => x.text === 'hello everyone'))
    expect((await alice.c.onlineUsers()).map((u) => u.userName)).toEqual(expect.arrayContaining(['sdk-alice', 'sdk-bob']))
  })

  it('qos 1 pushes queued while offline arrive in seq order at login and are acked out of the inbox', async () => {
    const node = await start()
    const reg = await postJson(`${node.routeUrl}/v1/users`, { userName: 'sdk-late' })
    const id = reg.body.userId as number
    for (const text of ['one', 'two', 'three']) {
      const res = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: text, qos: 1 })
      expect(res.body.results[0].status).toBe('queued')
    }
    const late = client(node, 'sdk-late')
    await late.c.connect()
    await eventually(() => late.inbox.length === 3)
    expect(late.inbox.map((m) => m.text)).toEqual(['one', 'two', 'three'])
    expect(late.inbox.map((m) => m.seq)).toEqual([1, 2, 3])
    await eventually(async () => (await node.adapters.inbox.list(id)).length === 0)
  })

  it('moves to another broker when its broker drains, and is reachable there', async () => {
    const node = await start({ strategy: 'round-robin' })
    const second = createBroker({ config: testConfig({ brokerId: 'second' }), adapters: node.adapters, logger: silentLogger })
    await second.listen()
    opened.push(second)
    await eventually(() => node.adapters.discovery.brokers().length === 2)

    const users = [client(node, 'sdk-move-1'), client(node, 'sdk-move-2')]
    for (const u of users) await u.c.connect()
    const onFirst = users.find((u) => u.c.broker?.cimServerPort === node.ports.cimPort)
    expect(onFirst, 'round robin puts one of two users on each broker').toBeDefined()

    await node.broker.close() // drain: deregister, KICK CIM_DRAINING, close
    await eventually(() => onFirst!.c.state === 'connected' && onFirst!.c.broker?.cimServerPort !== node.ports.cimPort, 5_000)
    const res = await postJson(`${node.routeUrl}/v1/push/users/${onFirst!.c.userId}`, { message: 'found you' })
    expect(res.body.results[0].status).toBe('delivered')
    await eventually(() => onFirst!.inbox.some((m) => m.text === 'found you'))
  })
})

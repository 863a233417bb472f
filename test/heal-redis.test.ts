/**
 * Redis restarts EMPTY under a running cluster (kill -9, nothing persisted: a Redis without AOF, or a
 * failover to a replica that missed the last writes), with users on both brokers and MQTT devices
 * connected and pushes flowing. The brokers hold the connections, so they write presence back as
 * soon as Redis answers (broker/registration.ts, README "Durable data"): every user and device is
 * reachable again by REST push, without reconnecting and without any process restarting.
 *
 * The presence TTL is long here (heartbeat every 20 s), so what heals within seconds is the
 * brokers' reaction to the reconnect, not their next heartbeat. The heal time is printed, not
 * asserted: the figure the README quotes comes from `npm run bench -- heal`.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import type { BrokerProcess, RouteProcess } from './support/cluster.ts'
import { WAIT, eventually, useCluster } from './support/cluster-fixtures.ts'
import { RawClient, postJson } from './support/wire.ts'
import { sleep } from './support/wait.ts'
import { BaseCommand } from '../proto/codec.ts'

const fx = useCluster({ brokers: 2, routes: 1, settings: { presenceTtlMs: 60_000, readTimeoutMs: 600_000 } })
let A: BrokerProcess, B: BrokerProcess, route: RouteProcess

interface User { userId: number; peer: RawClient; on: string }
interface Device { id: string; client: MqttClient; got: string[] }
const users: User[] = []
const devices: Device[] = []

beforeAll(async () => {
  ;[A, B] = fx.cluster.brokers
  ;[route] = fx.cluster.routes
  for (const broker of [A, B]) {
    for (let i = 0; i < 2; i++) {
      const { userId, peer } = await fx.rawUser(route, broker, `heal-${broker.id}-${i}`)
      users.push({ userId, peer, on: broker.id })
    }
    const id = `heal-dev-${broker.id}`
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: id, reconnectPeriod: 200 })
    fx.closers.push(() => client.endAsync(true))
    const got: string[] = []
    client.on('message', (_t, payload) => got.push(payload.toString()))
    devices.push({ id, client, got })
  }
}, 120_000)

const pids = () => [A, B, route].map((p) => p.pid)
let tag = 0

/** One qos 0 push; true once it was delivered and the client read it. */
async function reachUser(u: User): Promise<boolean> {
  const text = `push ${u.userId} #${++tag}`
  const res = await postJson(`${route.url}/v1/push/users/${u.userId}`, { message: text })
  if (res.body.results?.[0]?.status !== 'delivered') return false
  return eventually(() => u.peer.messages().some((f) => f.resMsg === text), 2_000).then(() => true, () => false)
}

async function reachDevice(d: Device): Promise<boolean> {
  const payload = `dev ${d.id} #${++tag}`
  const res = await postJson(`${route.url}/v1/push/devices/${d.id}`, { payload })
  if (res.body.results?.[0]?.status !== 'delivered') return false
  return eventually(() => d.got.includes(payload), 2_000).then(() => true, () => false)
}

describe('Redis restarted empty', () => {
  it('every connected user and device is reachable again soon after Redis answers; nothing restarts', async () => {
    for (const u of users) expect(await reachUser(u), `user ${u.userId} before`).toBe(true)
    for (const d of devices) expect(await reachDevice(d), `device ${d.id} before`).toBe(true)
    const before = pids()

    // Traffic throughout, one sender per user: each push answered with a status or a clear code.
    const answers = new Map<string, number>()
    let traffic = true
    const pusher = Promise.all(users.map(async (u) => {
      for (let i = 0; traffic; i++) {
        const res = await postJson(`${route.url}/v1/push/users/${u.userId}`, { message: `traffic ${i}` }).catch(() => undefined)
        const key = res ? `${res.status} ${res.body.results?.[0]?.status ?? res.body.code}` : 'no answer'
        answers.set(key, (answers.get(key) ?? 0) + 1)
        await sleep(20)
      }
    }))
    await sleep(200)

    await fx.redis.restart(1_000) // kill -9, down 1 s, back empty on the same port
    const answeredAt = Date.now()
    const healed = await Promise.all([
      ...users.map(async (u) => { await eventually(() => reachUser(u), 20_000); return Date.now() - answeredAt }),
      ...devices.map(async (d) => { await eventually(() => reachDevice(d), 20_000); return Date.now() - answeredAt }),
    ])
    console.log(`heal after an empty Redis restart: all ${users.length} users and ${devices.length} devices reachable ${Math.max(...healed)} ms after Redis answered (each: ${healed.join(', ')} ms)`)
    await sleep(500) // traffic goes on after the heal
    traffic = false
    await pusher
    // Every push got a clear answer: delivered; 503 CIM_BACKEND_UNAVAILABLE while Redis was down
    // (if a queued command gave up); or, before the heal, 404 CIM_USER_NOT_FOUND, the account
    // being gone too. Never another error, never a hang.
    console.log(`pushes during the restart: ${JSON.stringify(Object.fromEntries(answers))}`)
    for (const key of answers.keys()) expect(['200 delivered', '404 CIM_USER_NOT_FOUND', '503 CIM_BACKEND_UNAVAILABLE']).toContain(key)
    expect(answers.get('200 delivered')).toBeGreaterThan(0)
    expect(pids()).toEqual(before)
  }, 60_000)

  it('the accounts went with it: a login for a vanished account is refused with CIM_USER_NOT_FOUND; a new account logs in', async () => {
    const gone = users[0]
    const again = await RawClient.connectAndLogin(A.cimPort, gone.userId, `heal-${A.id}-0`, { proto: '2' })
    fx.closers.push(() => again.close())
    const reply = await again.next((f) => f.cmd === BaseCommand.LOGIN_REPLY, WAIT)
    expect(reply.properties.code).toBe('CIM_USER_NOT_FOUND')
    // The connected user it would have replaced is still there and reachable.
    expect(await reachUser(gone)).toBe(true)

    const { userId, peer } = await fx.rawUser(route, B, 'heal-new')
    expect(await reachUser({ userId, peer, on: B.id })).toBe(true)
  })
})

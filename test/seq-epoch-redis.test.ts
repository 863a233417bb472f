/**
 * A user's seq counter lost with Redis's data (issue 12 item 2): Redis is killed and restarted
 * EMPTY under a running route + broker while a proto=2 CimClient that acked 57 qos 1 messages stays
 * connected. The next message is stored as seq 1 again, under a new stream epoch: the client
 * must take it (and every one after) as new — not drop it as a duplicate of its old seq 1 — and
 * ack it out of the new inbox (docs/protocol.md, Epochs).
 *
 * Accounts vanish with the data. The REST API has no way to register a given userId, so the test
 * writes the account back into Redis as an operator restoring it from the backend's records would
 * (and the broker rewrites the user's presence by itself once Redis answers).
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { CimClient, type CimMessage } from '../client/index.ts'
import { createAdapters } from '../adapters/index.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { testConfig } from './support/config.ts'
import { getJson, postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'

let redis: RedisServer
let node: AllInOne | undefined
let client: CimClient | undefined
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => {
  await client?.close()
  await node?.close()
  await redis?.stop()
})

const BEFORE = 57
const AFTER = 20

describe('the seq counter lost with Redis (restarted empty)', () => {
  it('a proto=2 client that acked 57 messages receives and acks every qos 1 message stored after the loss', async () => {
    const prefix = `cim:t-${randomUUID()}:`
    const overrides = { presenceTtlMs: 60_000 }
    node = await startAllInOne(overrides, await createAdapters({ ...testConfig(overrides), redisUrl: redis.url }, { redisPrefix: prefix }))
    const n = node
    const userName = 'epoch-user'
    const userId = (await postJson(`${n.routeUrl}/v1/users`, { userName })).body.userId as number
    const received: CimMessage[] = []
    client = new CimClient({ routeUrl: n.routeUrl, userName, heartbeatMs: 1_000, reconnect: { minMs: 50, maxMs: 500 }, onMessage: (m) => received.push(m) })
    await client.connect()

    const push = async (text: string) => (await postJson(`${n.routeUrl}/v1/push/users/${userId}`, { message: text, qos: 1 })).body.results[0]
    for (let i = 1; i <= BEFORE; i++) expect((await push(`before ${i}`)).status).toBe('delivered')
    await eventually(() => received.length === BEFORE)
    await eventually(async () => (await n.adapters.inbox.floor(userId)).seq === BEFORE)
    expect((await n.adapters.inbox.list(userId)).length).toBe(0)
    const oldEpoch = received[BEFORE - 1].properties.epoch
    expect(oldEpoch).toBeTruthy()
    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: BEFORE }, (_, i) => i + 1))

    await redis.restart()
    // The account is restored as it was; presence comes back from the broker that holds the connection.
    const direct = new Redis(redis.url)
    try {
      await eventually(async () => (await direct.ping().catch(() => '')) === 'PONG', 5_000)
      await direct.hset(`${prefix}accounts:byId`, String(userId), userName)
      await direct.hset(`${prefix}accounts:byName`, userName, String(userId))
      await direct.set(`${prefix}accounts:lastId`, String(userId))
    } finally {
      direct.disconnect()
    }
    await eventually(async () => (await getJson(`${n.routeUrl}/v1/users/${userId}/presence`)).body.online === true, 10_000)
    expect(client.state).toBe('connected')
    expect((await n.adapters.inbox.floor(userId)).seq).toBe(0)

    const droppedBefore = client.duplicatesDropped
    const results = []
    for (let i = 1; i <= AFTER; i++) results.push(await push(`after ${i}`))
    expect(results.map((r) => r.status)).toEqual(Array(AFTER).fill('delivered'))

    await eventually(() => received.length === BEFORE + AFTER)
    const after = received.slice(BEFORE)
    expect(after.map((m) => m.text)).toEqual(Array.from({ length: AFTER }, (_, i) => `after ${i + 1}`))
    // The same seqs as the first messages the client acked, under a new epoch: none taken for a duplicate.
    expect(after.map((m) => m.seq)).toEqual(Array.from({ length: AFTER }, (_, i) => i + 1))
    const newEpoch = after[0].properties.epoch
    expect(newEpoch).toBeTruthy()
    expect(newEpoch).not.toBe(oldEpoch)
    expect(after.every((m) => m.properties.epoch === newEpoch)).toBe(true)
    expect(client.duplicatesDropped).toBe(droppedBefore)
    // Acked in the new stream: the inbox empties and its floor reaches the last seq.
    await eventually(async () => (await n.adapters.inbox.floor(userId)).seq === AFTER)
    expect(await n.adapters.inbox.floor(userId)).toEqual({ seq: AFTER, epoch: newEpoch })
    expect((await n.adapters.inbox.list(userId)).length).toBe(0)
  }, 60_000)
})

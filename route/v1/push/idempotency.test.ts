/** idempotencyKey on /v1/push/users*: the first answer comes back and nothing is sent again. */
import { describe, it, expect, afterEach } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../app.ts'
import type { Config } from '../../../config.ts'
import { FakeBroker, routeHarness, type RouteHarness } from '../../../test/support/fake-broker.ts'
import { sleep } from '../../../test/support/wait.ts'

let h: RouteHarness
let b1: FakeBroker
const extra: FastifyInstance[] = []

async function setup(overrides: Partial<Config> = {}) {
  h = await routeHarness(overrides)
  b1 = await FakeBroker.start(h.adapters, { id: 'b1' })
}
afterEach(async () => {
  for (const app of extra.splice(0)) await app.close()
  await b1.stop()
  await h.close()
})

const post = (payload: object, url: string, app = h.app) => app.inject({ method: 'POST', url, payload })

describe('idempotencyKey', () => {
  it('a repeat returns the first answer, marked replayed, and sends and stores nothing again', async () => {
    await setup()
    const on = (await h.adapters.accounts.register('on')).userId
    const off = (await h.adapters.accounts.register('off')).userId
    await b1.connect(on, 'on')
    const body = { userIds: [on, off], message: 'once', qos: 1, idempotencyKey: 'order-17' }
    const first = await post(body, '/v1/push/users')
    expect(first.json().results).toEqual([
      { userId: on, status: 'delivered', msgId: expect.any(String), seq: 1 }, { userId: off, status: 'queued', msgId: expect.any(String), seq: 1 },
    ])
    expect(first.headers['idempotent-replayed']).toBeUndefined()
    // Meanwhile `off` came online: a real re-run would now say delivered. The repeat does not run.
    await b1.connect(off, 'off')
    const again = await post(body, '/v1/push/users')
    expect(again.json()).toEqual(first.json())
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(b1.of('push')).toHaveLength(1)
    expect(await h.adapters.inbox.list(off)).toHaveLength(1)
  })

  it('scopes keys to the endpoint and target, and runs pushes without a key every time', async () => {
    await setup()
    const [a, b] = await Promise.all(['a', 'b'].map(async (n) => (await h.adapters.accounts.register(n)).userId))
    await post({ message: 'x', qos: 1, idempotencyKey: 'k' }, `/v1/push/users/${a}`)
    await post({ message: 'x', qos: 1, idempotencyKey: 'k' }, `/v1/push/users/${b}`)
    await post({ message: 'x', qos: 1 }, `/v1/push/users/${a}`)
    await post({ message: 'x', qos: 1 }, `/v1/push/users/${a}`)
    expect((await h.adapters.inbox.list(a)).length).toBe(3)
    expect((await h.adapters.inbox.list(b)).length).toBe(1)
  })

  it('concurrent duplicates on two route nodes run once and all get the same answer', async () => {
    await setup()
    const second = await buildApp({ config: h.config, adapters: h.adapters })
    await second.ready()
    extra.push(second)
    const id = (await h.adapters.accounts.register('c')).userId
    await b1.connect(id, 'c')
    const url = `/v1/push/users/${id}`
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      post({ message: 'race', qos: 1, idempotencyKey: 'race-1' }, url, i % 2 ? second : h.app)))
    for (const r of answers) expect(r.json()).toEqual(answers[0].json())
    expect(answers[0].json()).toEqual({ results: [{ userId: id, status: 'delivered', msgId: expect.any(String), seq: 1 }] })
    expect(answers.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(7)
    expect(b1.of('push')).toHaveLength(1)
    expect(await h.adapters.inbox.list(id)).toHaveLength(1)
  })

  it('a request that failed is run again by its retry, with the same msgId', async () => {
    await setup()
    const id = (await h.adapters.accounts.register('f')).userId
    const inbox = h.adapters.inbox
    const realAppend = inbox.append.bind(inbox)
    const msgIds: string[] = []
    let fail = true
    inbox.append = async (userId, msg) => {
      msgIds.push(msg.msgId)
      if (fail) { fail = false; throw new Error('redis went away') }
      return realAppend(userId, msg)
    }
    const body = { message: 'retry me', qos: 1, idempotencyKey: 'flaky' }
    expect((await post(body, `/v1/push/users/${id}`)).statusCode).toBe(500)
    const retry = await post(body, `/v1/push/users/${id}`)
    expect(retry.json()).toMatchObject({ results: [{ userId: id, status: 'queued', seq: 1 }] })
    expect(msgIds).toHaveLength(2)
    expect(msgIds[1]).toBe(msgIds[0])
  })

  it('forgets a key after the idempotency window', async () => {
    await setup({ idempotencyWindowSeconds: 0.2 })
    const id = (await h.adapters.accounts.register('w')).userId
    const body = { message: 'w', qos: 1, idempotencyKey: 'short' }
    await post(body, `/v1/push/users/${id}`)
    await post(body, `/v1/push/users/${id}`)
    expect(await h.adapters.inbox.list(id)).toHaveLength(1)
    await sleep(300)
    await post(body, `/v1/push/users/${id}`)
    expect(await h.adapters.inbox.list(id)).toHaveLength(2)
  })
})

// Issue 9 item 2: a key is the caller's name for ONE request (Stripe's semantics).
describe('idempotencyKey checks the request and is scoped per caller', () => {
  const as = (key: string) => ({ authorization: `Bearer ${key}` })

  it('the same key with a different message answers 422 CIM_IDEMPOTENCY_MISMATCH and sends nothing', async () => {
    await setup()
    const id = (await h.adapters.accounts.register('m')).userId
    await b1.connect(id, 'm')
    const url = `/v1/push/users/${id}`
    expect((await post({ message: 'pay 10', qos: 1, idempotencyKey: 'inv-1' }, url)).statusCode).toBe(200)
    const other = await post({ message: 'pay 1000', qos: 1, idempotencyKey: 'inv-1' }, url)
    expect(other.statusCode).toBe(422)
    expect(other.json()).toMatchObject({ statusCode: 422, code: 'CIM_IDEMPOTENCY_MISMATCH' })
    expect(other.headers['idempotent-replayed']).toBeUndefined()
    expect(b1.of('push')).toHaveLength(1)
    expect((await h.adapters.inbox.list(id)).map((m) => m.text)).toEqual(['pay 10'])
    // Another target under the same key is another request: it runs (the key is scoped to the target).
    const [a, b] = [(await h.adapters.accounts.register('ma')).userId, (await h.adapters.accounts.register('mb')).userId]
    expect((await post({ userIds: [a], message: 'x', idempotencyKey: 'batch' }, '/v1/push/users')).statusCode).toBe(200)
    expect((await post({ userIds: [a, b], message: 'x', idempotencyKey: 'batch' }, '/v1/push/users')).statusCode).toBe(422)
  })

  it('two API keys using the same idempotencyKey get independent results', async () => {
    await setup({ apiKeys: 'key-one-0123456789,key-two-0123456789' })
    const id = (await h.adapters.accounts.register('k')).userId
    const url = `/v1/push/users/${id}`
    const send = (key: string, message: string) => h.app.inject({ method: 'POST', url, headers: as(key), payload: { message, qos: 1, idempotencyKey: 'order-1' } })
    // The second caller neither gets the first one's answer nor is blocked by its claim.
    const first = await send('key-one-0123456789', 'from one')
    const second = await send('key-two-0123456789', 'from two')
    expect([first.statusCode, second.statusCode]).toEqual([200, 200])
    expect(second.headers['idempotent-replayed']).toBeUndefined()
    expect((await h.adapters.inbox.list(id)).map((m) => m.text)).toEqual(['from one', 'from two'])
    // Each caller's own repeat is replayed.
    const again = await send('key-two-0123456789', 'from two')
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.json()).toEqual(second.json())
    expect(await h.adapters.inbox.list(id)).toHaveLength(2)
  })

  it('the same key with the same body (fields in another order) is replayed', async () => {
    await setup()
    const id = (await h.adapters.accounts.register('s')).userId
    const url = `/v1/push/users/${id}`
    const first = await post({ message: 'hi', qos: 1, properties: { a: '1', b: '2' }, idempotencyKey: 'same' }, url)
    const again = await h.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ idempotencyKey: 'same', properties: { b: '2', a: '1' }, qos: 1, message: 'hi' }) })
    expect(again.statusCode).toBe(200)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.json()).toEqual(first.json())
    expect(await h.adapters.inbox.list(id)).toHaveLength(1)
  })
})

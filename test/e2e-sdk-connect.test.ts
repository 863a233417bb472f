/**
 * The SDK with compat OFF (the `cim route` default): it finds its broker through
 * POST /v1/users/{userId}/connect with its token (docs/security.md, Tokens), against a real broker
 * and route in this process, and the upstream-compatible /login is not there to fall back on.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { CimClient, CimRouteError, type CimMessage } from '../client/index.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'

const SECRET = 'e2e-sdk-connect-secret-0123456789abcdef'

const opened: Array<{ close(): unknown }> = []
afterEach(async () => { for (const c of opened.splice(0).reverse()) await c.close() })

async function start(): Promise<AllInOne> {
  const node = await startAllInOne({ compat: false, tokenSecret: SECRET })
  opened.push(node)
  return node
}

async function register(node: AllInOne, userName: string): Promise<number> {
  return (await postJson(`${node.routeUrl}/v1/users`, { userName })).body.userId as number
}

describe('SDK login with compat off and a token key', () => {
  it('logs in via /v1 with a token provider and receives a push', async () => {
    const node = await start()
    const id = await register(node, 'v1-alice')
    let calls = 0
    const inbox: CimMessage[] = []
    const c = new CimClient({
      routeUrl: node.routeUrl, userName: 'v1-alice', userId: id, reconnect: false, onMessage: (m) => inbox.push(m),
      tokenProvider: async () => {
        calls++
        return (await postJson(`${node.routeUrl}/v1/users/${id}/token`, {})).body.token as string
      },
    })
    opened.push(c)
    await c.connect()
    expect(c.state).toBe('connected')
    expect(calls).toBe(1)
    expect(c.broker).toMatchObject({ brokerId: node.broker.id, cimServerPort: node.ports.cimPort })
    // No compat endpoints here: the login went through /v1 only.
    expect((await postJson(`${node.routeUrl}/login`, { userId: id, userName: 'v1-alice' })).status).toBe(404)

    const pushed = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'over v1' })
    expect(pushed.status).toBe(200)
    await eventually(() => inbox.some((m) => m.text === 'over v1'))
  })

  it('without a token connect() is refused by the route with CIM_UNAUTHORIZED', async () => {
    const node = await start()
    const id = await register(node, 'v1-bob')
    const c = new CimClient({ routeUrl: node.routeUrl, userName: 'v1-bob', userId: id, reconnect: false })
    opened.push(c)
    const err = await c.connect().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CimRouteError)
    expect(err).toMatchObject({ code: 'CIM_UNAUTHORIZED', path: `/v1/users/${id}/connect` })
    expect(await node.adapters.presence.users.get(String(id))).toBeUndefined()
  })

  it('another user\'s token is refused with CIM_UNAUTHORIZED', async () => {
    const node = await start()
    const alice = await register(node, 'v1-alice')
    const mallory = await register(node, 'v1-mallory')
    const token = (await postJson(`${node.routeUrl}/v1/users/${mallory}/token`, {})).body.token as string
    const c = new CimClient({ routeUrl: node.routeUrl, userName: 'v1-alice', userId: alice, token, reconnect: false })
    opened.push(c)
    await expect(c.connect()).rejects.toMatchObject({ code: 'CIM_UNAUTHORIZED' })
  })
})

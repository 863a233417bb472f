/**
 * A broker killed (SIGKILL) and restarted with the same id faster than the ZooKeeper session
 * timeout takes over its old registration, so the routes never see it leave. The presence entries
 * of its previous run must not outlive that run: the restarting broker clears them before it
 * takes logins (broker/index.ts), so its users log in again at once instead of being answered
 * "already logged in" (5000) for the presence TTL.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import type { BrokerProcess, RouteProcess } from './support/cluster.ts'
import { useCluster } from './support/cluster-fixtures.ts'
import { eventually } from './support/wait.ts'
import { getJson, postJson } from './support/wire.ts'

// Both far longer than the test: only the restart can explain the entries going away.
const fx = useCluster({ brokers: 1, routes: 1, settings: { zkSessionTimeoutMs: 20_000, presenceTtlMs: 60_000 } })
let A: BrokerProcess, route: RouteProcess
beforeAll(() => { [A] = fx.cluster.brokers; [route] = fx.cluster.routes })

describe('broker restarted within the ZooKeeper session', () => {
  it('kill -9 and restart with the same id within 1 s: its users (and devices) read offline and log in again within a second', async () => {
    const users = await Promise.all(['ria', 'rob', 'rey'].map((name) => fx.rawUser(route, A, name)))
    for (const u of users) expect(u.reply!.properties.code).toBe('9000')
    const device = await mqtt.connectAsync({ host: '127.0.0.1', port: A.mqttPort, clientId: 'restart-dev', reconnectPeriod: 0 })
    fx.closers.push(() => device.endAsync(true))
    const devices = async () => ((await getJson(`${route.url}/v1/devices/online`)).body.items as Array<{ deviceId: string }>).map((d) => d.deviceId)
    await eventually(async () => (await devices()).includes('restart-dev'))
    // The reject policy: an online user's second login answers 5000.
    expect((await postJson(`${route.url}/login`, { userId: users[0].userId, userName: 'ria' })).body.code).toBe('5000')

    await A.kill()
    const killedAt = Date.now()
    await A.restart()
    expect(Date.now() - killedAt, 'the restart itself').toBeLessThan(60_000)
    const readyAt = Date.now()

    // Within a second of the restarted broker being ready, every user logs in again.
    await eventually(async () => {
      for (const [i, name] of ['ria', 'rob', 'rey'].entries()) {
        const login = await postJson(`${route.url}/login`, { userId: users[i].userId, userName: name })
        if (login.body.code !== '9000') throw new Error(`${name}: ${JSON.stringify(login.body)}`)
      }
      return true
    }, 1_000)
    expect(Date.now() - readyAt).toBeLessThan(1_500)
    expect(await devices()).not.toContain('restart-dev')
  }, 120_000)
})

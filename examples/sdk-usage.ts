#!/usr/bin/env -S node --import tsx
/**
 * Using CimClient from code: two users log in through the route, chat privately and in the group,
 * list who is online, and leave. Start the server first (`npm start`), then:
 *
 *   npx tsx examples/sdk-usage.ts            # route at http://127.0.0.1:8083
 *   CIM_ROUTE_URL=http://host:8083 npx tsx examples/sdk-usage.ts
 */
import { CimClient, type CimMessage } from '../client/index.ts'

const routeUrl = process.env.CIM_ROUTE_URL ?? 'http://127.0.0.1:8083'

function show(who: string) {
  return (m: CimMessage) => console.log(`${who} <- ${m.sendUserName}: ${m.text}${m.offline ? ' (offline)' : ''}${m.seq ? ` seq=${m.seq}` : ''}`)
}

async function main(): Promise<void> {
  // No userId: each client registers its name through /registerAccount (idempotent by name).
  const alice = new CimClient({ routeUrl, userName: 'alice', onMessage: show('alice') })
  const bob = new CimClient({ routeUrl, userName: 'bob' })
  bob.on('message', show('bob'))

  for (const c of [alice, bob]) {
    c.on('connected', (i) => console.log(`${i.userName} (${i.userId}) connected to ${i.brokerId ?? `${i.ip}:${i.cimServerPort}`}`))
    c.on('disconnected', (d) => console.log(`${c.userName} disconnected: ${d.reason}${d.willReconnect ? ', reconnecting' : ''}`))
    c.on('kicked', (k) => console.log(`${c.userName} kicked: ${k.code} ${k.reason}`))
    c.on('error', (err) => console.error(`${c.userName}: ${err.message}`))
  }

  await Promise.all([alice.connect(), bob.connect()])

  const online = await alice.onlineUsers()
  console.log('online:', online.map((u) => `${u.userName}(${u.userId})`).join(', '))

  const sent = await alice.sendP2P(bob.userId as number, 'hi bob, private')
  console.log(`p2p ${sent.delivered ? 'delivered' : 'stored for later'}`)
  await bob.sendGroup('hello everyone')

  // Give the pushes a moment to arrive before leaving.
  await new Promise((r) => setTimeout(r, 500))

  // offline() closes the socket and clears the login on the route (what the console's :q! does);
  // close() alone just disconnects without reconnecting.
  await Promise.all([alice.offline(), bob.offline()])
}

main().catch((err: Error & { code?: string }) => {
  console.error(`sdk-usage: ${err.message}${err.code ? ` [${err.code}]` : ''}`)
  process.exit(1)
})

/** The console chat client driven line by line, as a person types, against `cim start`. */
import { PassThrough } from 'node:stream'
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { runConsoleClient } from '../client/console.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'

let node: AllInOne
beforeAll(async () => { node = await startAllInOne() })
afterAll(async () => { await node.close() })

function console_(userName: string) {
  const input = new PassThrough()
  const output = new PassThrough()
  let screen = ''
  output.on('data', (d) => { screen += d })
  const done = runConsoleClient({ routeUrl: node.routeUrl, userName, input, output })
  return { type: (line: string) => input.write(line + '\n'), screen: () => screen, done, end: () => input.end() }
}

describe('cim client (console)', () => {
  it('chats privately and to everyone, lists users, and quits', async () => {
    const alice = console_('con-alice')
    const bob = console_('con-bob')
    await eventually(() => alice.screen().includes('type :all') && bob.screen().includes('type :all'), 5_000)
    const bobId = (await postJson(`${node.routeUrl}/v1/users`, { userName: 'con-bob' })).body.userId

    alice.type(`${bobId};;hi bob`)
    await eventually(() => /\[\d\d:\d\d:\d\d\] con-alice: hi bob/.test(bob.screen()), 5_000)

    bob.type('hello all')
    await eventually(() => /\[\d\d:\d\d:\d\d\] con-bob: hello all/.test(alice.screen()), 5_000)

    alice.type(':olu')
    await eventually(() => alice.screen().includes('con-bob'), 5_000)
    alice.type(':pu con-b')
    alice.type(':info')
    await eventually(() => alice.screen().includes('con-alice') && /userId \d+/.test(alice.screen()), 5_000)

    alice.type(':q!')
    bob.type(':q!')
    await Promise.all([alice.done, bob.done])
    const online = await fetch(`${node.routeUrl}/v1/users/${bobId}/presence`).then((r) => r.json())
    expect(online.online).toBe(false)
  })
  it('runs commands piped in before the login finished (printf ... | cim client)', async () => {
    const c = console_('con-piped')
    c.type(':info')
    c.type(':q!')
    await c.done
    expect(c.screen()).toMatch(/userId=\d+ userName=con-piped/)
    expect(c.screen()).toContain('logging out')
  })
})

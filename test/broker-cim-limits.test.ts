/**
 * The CIM TCP server's bounds against clients that hold resources without using them (README,
 * Limits): a login deadline (--login-timeout-ms), a connection cap (--max-connections) and a
 * broker-wide cap on bytes buffered for partial frames (--max-pending-frame-bytes). Raw sockets,
 * as an attacker would use them.
 */
import { describe, expect, it } from 'vitest'
import { BaseCommand } from '../proto/codec.ts'
import { brokerFixture, type TestBroker } from './support/broker-harness.ts'
import { eventually, sleep } from './support/wait.ts'
import type { RawClient } from './support/wire.ts'

const fx = brokerFixture()

async function disconnects(tb: TestBroker, code: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${tb.ports.httpPort}/metrics`)).text()
  const m = text.match(new RegExp(`^cim_disconnects_total\\{code="${code}"\\} (\\d+)$`, 'm'))
  return m ? Number(m[1]) : 0
}

/** A varint length prefix announcing a body of `n` bytes. */
function lengthPrefix(n: number): Buffer {
  const out: number[] = []
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7 }
  out.push(n)
  return Buffer.from(out)
}

describe('CIM login deadline', () => {
  it('closes a socket that trickles a byte every 100 ms but never logs in (CIM_LOGIN_DEADLINE), and keeps one that logged in', async () => {
    const tb = await fx.broker({ loginTimeoutMs: 500 })
    const { userId } = await tb.adapters.accounts.register('prompt')
    const good = await fx.client(tb.ports.cimPort)
    good.login(userId, 'prompt', { proto: '2' })
    await good.frame(BaseCommand.LOGIN_REPLY)

    const slow = await fx.client(tb.ports.cimPort)
    slow.send(lengthPrefix(1000))
    const started = Date.now()
    const trickle = setInterval(() => { if (slow.isOpen) slow.send(Buffer.from([0x0a])) }, 100)
    try {
      // Every byte resets the read timeout (30 s); only the login deadline ends it.
      await slow.waitClosed(3_000)
    } finally {
      clearInterval(trickle)
    }
    expect(Date.now() - started).toBeLessThan(2_500)
    expect(await disconnects(tb, 'CIM_LOGIN_DEADLINE')).toBe(1)
    good.ping()
    await sleep(700)
    expect(good.isOpen).toBe(true)
  })
})

describe('CIM connection cap', () => {
  it('accepts maxConnections sockets, closes the next at once (counted in /metrics), and accepts again once one left', async () => {
    const tb = await fx.broker({ maxConnections: 3 })
    const held: RawClient[] = []
    for (let i = 0; i < 3; i++) held.push(await fx.client(tb.ports.cimPort))
    await eventually(() => tb.broker.connections() === 3)

    const refused = await fx.client(tb.ports.cimPort)
    await refused.waitClosed(2_000)
    expect(refused.frames).toEqual([])
    expect(await disconnects(tb, 'CIM_TOO_MANY_CONNECTIONS')).toBe(1)
    expect(held.every((c) => c.isOpen)).toBe(true)

    held[0].close()
    await eventually(() => tb.broker.connections() === 2)
    const { userId } = await tb.adapters.accounts.register('late')
    const again = await fx.client(tb.ports.cimPort)
    again.login(userId, 'late', { proto: '2' })
    expect((await again.frame(BaseCommand.LOGIN_REPLY)).properties.code).toBe('9000')
  })
})

describe('CIM partial-frame bytes', () => {
  it('closes the connection holding the largest partial frame once the broker-wide cap is passed; the others keep theirs', async () => {
    const tb = await fx.broker({ maxPendingFrameBytes: 200_000 })
    const sizes = [50_000, 60_000, 40_000, 55_000]
    const clients: RawClient[] = []
    for (const size of sizes) {
      const c = await fx.client(tb.ports.cimPort)
      // A frame announced 64,000 bytes long, `size` bytes of it sent: the broker buffers them.
      c.send(Buffer.concat([lengthPrefix(64_000), Buffer.alloc(size, 0x0a)]))
      clients.push(c)
      await sleep(100)
    }
    // 205,000 bytes held: the 60,000-byte holder is closed, not the newest.
    await clients[1].waitClosed(2_000)
    await sleep(200)
    expect(clients.map((c) => c.isOpen)).toEqual([true, false, true, true])
    expect(await disconnects(tb, 'CIM_PENDING_FRAMES_FULL')).toBe(1)
  })
})

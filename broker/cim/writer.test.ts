import { describe, expect, it } from 'vitest'
import type { Socket } from 'node:net'
import { FlushScheduler, Writer } from './writer.ts'

/** Records what the writer hands to the socket. */
class FakeSocket {
  writes: Buffer[] = []
  corks = 0
  writableLength = 0
  destroyed = false
  writable = true
  write(b: Buffer, cb?: (err?: Error | null) => void): boolean {
    this.writes.push(Buffer.from(b))
    cb?.(null)
    return true
  }
  cork(): void { this.corks++ }
  uncork(): void {}
}

class TestWriter extends Writer {
  slow: number[] = []
  open = true
  protected get writable(): boolean { return this.open }
  protected onSlowConsumer(bytes: number): void {
    this.slow.push(bytes)
    this.open = false
  }
}

function setup(max = 1024 * 1024) {
  const scheduler = new FlushScheduler(max)
  const socket = new FakeSocket()
  const w = new TestWriter(socket as unknown as Socket, scheduler)
  return { scheduler, socket, w }
}

const turn = () => new Promise((r) => setImmediate(r))

describe('Writer', () => {
  it('writes everything queued in one turn as one write, after the turn', async () => {
    const { socket, w } = setup()
    w.write(Buffer.from('ab'))
    w.write2(Buffer.from('cd'), Buffer.from('ef'))
    expect(socket.writes).toHaveLength(0)
    expect(w.queuedBytes).toBe(6)
    await turn()
    expect(socket.writes.map(String)).toEqual(['abcdef'])
    expect(w.queuedBytes).toBe(0)
  })

  it('flushes every dirty writer in one scheduler pass', async () => {
    const scheduler = new FlushScheduler(1024)
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()]
    const writers = sockets.map((s) => new TestWriter(s as unknown as Socket, scheduler))
    writers.forEach((w, i) => { w.write(Buffer.from(`a${i}`)); w.write(Buffer.from(`b${i}`)) })
    scheduler.flushAll()
    expect(sockets.map((s) => s.writes.map(String))).toEqual([['a0b0'], ['a1b1'], ['a2b2']])
    await turn() // the scheduled run finds nothing left
    expect(sockets.every((s) => s.writes.length === 1)).toBe(true)
  })

  it('drops a slow reader once socket backlog + queue would pass the limit, and refuses more', async () => {
    const { socket, w } = setup(100)
    socket.writableLength = 60
    expect(w.write(Buffer.alloc(30))).toBe(true)
    expect(w.write(Buffer.alloc(20))).toBe(false)
    expect(w.slow).toEqual([110])
    expect(w.write(Buffer.alloc(1))).toBe(false)
    await turn()
    expect(socket.writes).toHaveLength(0) // the queued 30 bytes were dropped, not written
  })

  it('hands a queue past 64 KiB to the socket at once, as one corked batch', async () => {
    const { socket, w } = setup()
    for (let i = 0; i < 40; i++) w.write(Buffer.alloc(2000, i))
    // 33 chunks (66,000 bytes) went out corked (one writev) when the queue passed 64 KiB.
    expect(socket.corks).toBe(1)
    expect(socket.writes).toHaveLength(33)
    await turn()
    expect(socket.writes).toHaveLength(34) // the other 7 joined into one write at the end of the turn
    expect(Buffer.concat(socket.writes).length).toBe(80_000)
    const big = setup()
    big.w.write(Buffer.alloc(70_000))
    expect(big.socket.writes).toHaveLength(1)
  })

  it('writeNow writes queued frames first and reports when the socket took the frame', async () => {
    const { socket, w } = setup()
    w.write(Buffer.from('1'))
    const done = await new Promise<Error | null | undefined>((resolve) => w.writeNow(Buffer.from('2'), resolve))
    expect(done).toBeFalsy()
    expect(socket.writes.map(String)).toEqual(['1', '2'])
    socket.destroyed = true
    const failed = await new Promise<Error | null | undefined>((resolve) => w.writeNow(Buffer.from('3'), resolve))
    expect(failed).toBeInstanceOf(Error)
  })
})

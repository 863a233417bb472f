/**
 * Child process: the memory baseline — a bare net server that only holds its sockets (an error
 * listener each, nothing else), to show what an idle TCP socket costs in Node on this machine.
 */
import net from 'node:net'
import { listenOnLoopback, serve, sleep } from '../lib/ipc.ts'
import { memoryAfterGc } from '../lib/payload.ts'

const sockets = new Set<net.Socket>()
const noop = () => {}
const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket)
  socket.on('error', noop)
  socket.on('close', () => sockets.delete(socket))
})

serve({
  start() {
    return listenOnLoopback(server)
  },
  async waitOnline({ count, timeoutMs = 60_000 }: { count: number; timeoutMs?: number }) {
    const end = Date.now() + timeoutMs
    while (sockets.size < count && Date.now() < end) await sleep(25)
    return { online: sockets.size, connections: sockets.size }
  },
  mem() {
    return memoryAfterGc()
  },
  async close() {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  },
})

/**
 * Child process: the naive baseline for broadcast — a plain net server that reads the CIM login,
 * then for each broadcast encodes one full frame per recipient and calls socket.write() once per
 * message per socket (what a straightforward port of upstream's server loop does).
 */
import net from 'node:net'
import { BaseCommand, FrameDecoder, decodeRequest, encodeResponse } from '../../proto/codec.ts'
import { CreditDriver, type DriveOptions } from '../lib/credit.ts'
import { listenOnLoopback, serve, sleep } from '../lib/ipc.ts'
import { SENDER, broadcastText } from '../lib/payload.ts'

interface Peer { socket: net.Socket; userId: number }

const peers: Peer[] = []
const sockets = new Set<net.Socket>()
let driver: CreditDriver | undefined

const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket)
  const decoder = new FrameDecoder()
  let peer: Peer | undefined
  socket.on('data', (chunk) => decoder.push(chunk, (body) => {
    if (peer) return
    const login = decodeRequest(body)
    peer = { socket, userId: login.requestId }
    peers.push(peer)
  }))
  socket.on('error', () => {})
  socket.on('close', () => {
    sockets.delete(socket)
    if (peer) peers.splice(peers.indexOf(peer), 1)
  })
})

function broadcast(text: string): number {
  for (const p of peers) {
    // Per-recipient encode: the whole message, recipient fields included, once per socket.
    p.socket.write(encodeResponse({
      resMsg: text, responseId: p.userId, cmd: BaseCommand.MESSAGE,
      properties: { ...SENDER, receiveUserId: String(p.userId) },
    }))
  }
  return peers.length
}

serve({
  start() {
    return listenOnLoopback(server)
  },
  async waitOnline({ count, timeoutMs = 60_000 }: { count: number; timeoutMs?: number }) {
    const end = Date.now() + timeoutMs
    while (peers.length < count && Date.now() < end) await sleep(25)
    return { online: peers.length, connections: sockets.size }
  },
  broadcastOnce({ text }: { text: string }) {
    return [{ users: broadcast(text) }]
  },
  async drive(opts: DriveOptions) {
    driver = new CreditDriver((i) => { broadcast(broadcastText(i)) }, opts)
    return { ...(await driver.run()), failures: 0 }
  },
  credit(delivered: number) {
    driver?.credit(delivered)
  },
  cpu() {
    return process.cpuUsage()
  },
  async close() {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  },
})

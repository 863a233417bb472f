/**
 * Child process: a webhook receiver (node:http) that counts the events POSTed to it
 * (README "Events to your backend") and answers 200 at once.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nowMs, serve } from '../lib/ipc.ts'

let events = 0
let uplinks = 0
let requests = 0
let firstAt = 0
let lastAt = 0

const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    requests++
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { events: Array<{ type: string }> }
    for (const e of body.events) {
      events++
      if (e.type === 'device.uplink') {
        if (uplinks++ === 0) firstAt = nowMs()
        lastAt = nowMs()
      }
    }
    res.writeHead(200).end()
  })
})

serve({
  async start() {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, pid: process.pid }
  },
  report() {
    return { events, uplinks, requests, firstAt, lastAt }
  },
  reset() {
    events = uplinks = requests = firstAt = lastAt = 0
    return { ok: true }
  },
  cpu() {
    return process.cpuUsage()
  },
})

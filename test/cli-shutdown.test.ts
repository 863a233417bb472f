/**
 * SIGTERM of `cim start` (memory adapters) under qos 1 push load: the route refuses pushes first
 * (503 CIM_SHUTTING_DOWN with Retry-After), then the broker drains and the process exits 0. No
 * push sent after the shutdown began is answered `queued`: with memory adapters the inbox dies
 * with the process, so that answer would be a lie (README, Limits).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from './support/wait.ts'
import { postJson } from './support/wire.ts'
import { encodeRequest } from '../proto/codec.ts'

const ROOT = new URL('..', import.meta.url)

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

interface Answer { sentAt: number; status: number; code?: string; result?: string; retryAfter: string | null }

let child: ChildProcess | undefined
afterEach(() => { child?.kill('SIGKILL') })

describe('cim start shutdown', () => {
  it('SIGTERM under qos 1 push load: pushes are refused with 503 CIM_SHUTTING_DOWN and Retry-After, never answered queued, and it exits 0', async () => {
    const [route, cim, http, mqttPort, ws] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])
    child = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', 'start', '--route-port', String(route), '--cim-port', String(cim),
      '--broker-http-port', String(http), '--mqtt-port', String(mqttPort), '--ws-port', String(ws), '--log-level', 'warn'],
    { cwd: ROOT, env: { ...process.env, CIM_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout!.on('data', (d) => { output += d })
    child.stderr!.on('data', (d) => { output += d })
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)))
    const base = `http://127.0.0.1:${route}`
    await eventually(async () => (await fetch(`${base}/v1/nodes`)).ok, 30_000, 'cim start')
    // Offline users: a qos 1 push is stored and answered `queued` (spread so no inbox fills up).
    const users: number[] = []
    for (let i = 0; i < 20; i++) users.push((await postJson(`${base}/v1/users`, { userName: `sleeper-${i}` })).body.userId as number)
    let next = 0
    // A connected app that does not close its end when the broker does (as a phone on a bad
    // network): the drain waits for it, which gives the shutdown its length.
    const lingerer = (await postJson(`${base}/v1/users`, { userName: 'lingerer' })).body.userId as number
    const app = net.connect({ port: cim, host: '127.0.0.1', allowHalfOpen: true })
    app.on('error', () => {})
    app.write(encodeRequest({ requestId: lingerer, reqMsg: 'lingerer', properties: { proto: '2' } }))
    await eventually(async () => (await fetch(`${base}/v1/users/${lingerer}/presence`).then((r) => r.json()) as { online: boolean }).online, 10_000, 'login')

    const answers: Answer[] = []
    let running = true
    const pusher = async (): Promise<void> => {
      while (running) {
        const sentAt = Date.now()
        try {
          const res = await fetch(`${base}/v1/push/users/${users[next++ % users.length]}`, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'keep me', qos: 1 }),
          })
          const body = await res.json() as { code?: string; results?: Array<{ status: string }> }
          answers.push({ sentAt, status: res.status, code: body.code, result: body.results?.[0]?.status, retryAfter: res.headers.get('retry-after') })
        } catch {
          await new Promise((r) => setTimeout(r, 10)) // refused while the process exits
        }
      }
    }
    const pushers = Array.from({ length: 8 }, pusher)
    await eventually(() => answers.filter((a) => a.result === 'queued').length >= 50, 10_000, 'queued pushes')

    const termAt = Date.now()
    child.kill('SIGTERM')
    const code = await exited
    running = false
    await Promise.all(pushers)
    expect(code, output).toBe(0)

    const refused = answers.filter((a) => a.status === 503)
    expect(refused.length, JSON.stringify(answers.slice(-5))).toBeGreaterThan(0)
    for (const a of refused) {
      expect(a.code).toBe('CIM_SHUTTING_DOWN')
      expect(Number(a.retryAfter)).toBeGreaterThan(0)
    }
    // The signal reaches the process within moments; a push sent later is never answered `queued`.
    const lateQueued = answers.filter((a) => a.sentAt > termAt + 200 && a.result === 'queued')
    expect(lateQueued, `${lateQueued.length} of ${answers.filter((a) => a.sentAt > termAt + 200).length} late pushes`).toEqual([])
    // Once one push was refused, every push sent after that answer was refused too.
    const firstRefusal = answers.find((a) => a.status === 503)!
    expect(answers.filter((a) => a.sentAt > firstRefusal.sentAt + 50 && a.status !== 503)).toEqual([])
  }, 60_000)
})

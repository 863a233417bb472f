/**
 * `npm start` is `cim start`: this spawns the real CLI as a user would, on free ports, and checks
 * every listener answers and SIGTERM shuts it down cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import mqtt from 'mqtt'
import { getJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'
import { settings } from '../config.ts'

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

let child: ChildProcess | undefined
afterEach(() => { child?.kill('SIGKILL') })

describe('cim CLI', () => {
  it('--help lists every process mode and setting', async () => {
    const out = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', 'start', '--help'], { cwd: new URL('..', import.meta.url) })
      let text = ''
      p.stdout.on('data', (d) => { text += d })
      p.on('close', () => resolve(text))
    })
    expect(out).toContain('--route-port')
    expect(out).toContain('CIM_REPEAT_LOGIN')
    expect(out).toContain('consistent-hash')
    // Every setting of the table is a flag, with its variable in the text.
    for (const s of settings) {
      if (!s.flag || !s.env) continue // config-file-only settings are in the README table
      expect(out).toContain(s.kind === 'boolean' ? s.flag : `${s.flag} <`)
      expect(out).toContain(s.env)
    }
  }, 30_000)

  it('cim start serves REST, CIM TCP, MQTT and broker health, honours --hooks, and exits 0 on SIGTERM', async () => {
    const [route, cim, http, mqttPort, ws] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])
    // An operator's hooks module: refuses one device at CONNECT.
    const hooks = join(mkdtempSync(join(tmpdir(), 'cim-cli-hooks-')), 'hooks.mjs')
    writeFileSync(hooks, `export const auth = { async authenticateDevice({ clientId }) { return clientId === 'cli-banned' ? 'banned' : true } }`)
    child = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', 'start',
      '--host', '127.0.0.1', '--advertise-host', '127.0.0.1', '--route-port', String(route), '--cim-port', String(cim),
      '--broker-http-port', String(http), '--mqtt-port', String(mqttPort), '--ws-port', String(ws), '--log-level', 'warn',
      '--hooks', hooks],
    { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (d) => { stderr += d })

    const nodes = await eventually(async () => (await getJson(`http://127.0.0.1:${route}/v1/nodes`)), 20_000)
    expect(JSON.stringify(nodes.body)).toContain(`"cimPort":${cim}`)
    expect((await fetch(`http://127.0.0.1:${http}/health`)).status).toBe(200)
    await new Promise<void>((resolve, reject) => net.connect(cim, '127.0.0.1', function (this: net.Socket) { this.destroy(); resolve() }).on('error', reject))
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'cli-check', reconnectPeriod: 0 })
    await client.endAsync()
    const wsClient = await mqtt.connectAsync(`ws://127.0.0.1:${ws}`, { clientId: 'cli-check-ws', reconnectPeriod: 0 })
    await wsClient.endAsync()
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'cli-banned', reconnectPeriod: 0 }))
      .rejects.toThrow(/Not authorized/i)

    const code = await new Promise<number | null>((resolve) => {
      child!.on('exit', (c) => resolve(c))
      child!.kill('SIGTERM')
    })
    expect(code, stderr).toBe(0)
  }, 40_000)
})

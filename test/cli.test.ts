/**
 * `npm start` is `cim start`: this spawns the real CLI as a user would, on free ports, and checks
 * every listener answers and SIGTERM shuts it down cleanly; and the security modes
 * (security/modes.ts): which process refuses to start open, and how --insecure overrides it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import mqtt from 'mqtt'
import { getJson, postJson } from './support/wire.ts'
import { eventually } from './support/wait.ts'
import { defaultAdvertiseHost, settings } from '../config.ts'

const ROOT = new URL('..', import.meta.url)

/** Runs `cim <args>` to its exit (a refusal); resolves with its exit code and output. */
function runToExit(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => { stdout += d })
    p.stderr.on('data', (d) => { stderr += d })
    p.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Starts `cim <args>` (kept in `child` for afterEach); its output accumulates in the returned object. */
function startCli(args: string[]): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' }
  child = spawn(process.execPath, ['--import', 'tsx', 'cli.ts', ...args], { cwd: ROOT, env: { ...process.env, CIM_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (d) => { out.stdout += d })
  child.stderr!.on('data', (d) => { out.stderr += d })
  return out
}

/** Free ports for every listener of `cim start`, as flags. */
async function portFlags(): Promise<{ route: number; flags: string[] }> {
  const [route, cim, http, mqttPort, ws] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])
  return { route, flags: ['--route-port', String(route), '--cim-port', String(cim), '--broker-http-port', String(http), '--mqtt-port', String(mqttPort), '--ws-port', String(ws)] }
}

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

  it('cim start (no --host: loopback, security off) serves REST, CIM TCP, MQTT and broker health, honours --hooks, and exits 0 on SIGTERM', async () => {
    const [route, cim, http, mqttPort, ws] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])
    // An operator's hooks module: refuses one device at CONNECT.
    const hooks = join(mkdtempSync(join(tmpdir(), 'cim-cli-hooks-')), 'hooks.mjs')
    writeFileSync(hooks, `export const auth = { async authenticateDevice({ clientId }) { return clientId === 'cli-banned' ? 'banned' : true } }`)
    // The laptop default: no --host, no --advertise-host, no keys.
    const out = startCli(['start', '--route-port', String(route), '--cim-port', String(cim),
      '--broker-http-port', String(http), '--mqtt-port', String(mqttPort), '--ws-port', String(ws), '--log-level', 'warn',
      '--hooks', hooks])

    const nodes = await eventually(async () => (await getJson(`http://127.0.0.1:${route}/v1/nodes`)), 20_000)
    expect(JSON.stringify(nodes.body)).toContain(`"cimPort":${cim}`)
    // Bound and advertised on loopback; one warn line says security is off.
    expect(JSON.stringify(nodes.body)).toContain('"host":"127.0.0.1"')
    expect(out.stdout.split('\n').filter((l) => l.includes('security is off'))).toHaveLength(1)
    // Compat is on: the upstream endpoints answer without a key.
    expect((await postJson(`http://127.0.0.1:${route}/registerAccount`, { userName: 'cli-alice' })).body.code).toBe('9000')
    const outside = defaultAdvertiseHost()
    if (outside !== '127.0.0.1') {
      await expect(fetch(`http://${outside}:${route}/v1/nodes`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow()
    }
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
    expect(code, out.stderr).toBe(0)
  }, 40_000)
})

describe('cim security modes', () => {
  it('cim start refuses to bind a non-loopback interface with security off (exit 1, a clear message)', async () => {
    const { flags } = await portFlags()
    const res = await runToExit(['start', '--host', '0.0.0.0', ...flags])
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/cim start: refusing to bind 0\.0\.0\.0 with security is off: .*--insecure/)
  }, 30_000)

  it('cim start --host 0.0.0.0 --insecure starts, binds every interface, and warns', async () => {
    const { route, flags } = await portFlags()
    const out = startCli(['start', '--host', '0.0.0.0', '--insecure', '--log-level', 'warn', ...flags])
    const outside = defaultAdvertiseHost()
    const nodes = await eventually(async () => (await getJson(`http://${outside}:${route}/v1/nodes`)), 20_000)
    expect(nodes.status).toBe(200)
    // Advertised on a reachable address, not loopback.
    expect(JSON.stringify(nodes.body)).toContain(`"host":"${outside}"`)
    expect(out.stdout).toContain('--insecure: security is off')
  }, 40_000)

  it('cim start --host 0.0.0.0 with keys still refuses while compat is on; --no-compat is secure', async () => {
    const { flags } = await portFlags()
    const res = await runToExit(['start', '--host', '0.0.0.0', '--api-keys', 'k-123', '--token-secret', 's'.repeat(32), ...flags])
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/partly off: compat is on/)
    const { route, flags: more } = await portFlags()
    startCli(['start', '--host', '0.0.0.0', '--no-compat', '--api-keys', 'k-123', '--token-secret', 's'.repeat(32), ...more])
    const refused = await eventually(async () => (await getJson(`http://${defaultAdvertiseHost()}:${route}/v1/nodes`)), 20_000)
    expect(refused.status).toBe(401)
  }, 40_000)

  it('cim route refuses to start without API keys and a token key', async () => {
    const res = await runToExit(['route', '--route-port', String(await freePort())])
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/cim route: refusing to start with security is off: the REST API takes no API key.*--insecure/)
    const broker = await runToExit(['broker', '--api-keys', 'k'])
    expect(broker.code).toBe(1)
    expect(broker.stderr).toMatch(/cim broker: refusing to start with security is off: CIM logins and MQTT connections need no token/)
  }, 30_000)

  it('cim route --insecure starts open, without compat', async () => {
    const port = await freePort()
    const out = startCli(['route', '--insecure', '--host', '127.0.0.1', '--route-port', String(port), '--log-level', 'warn'])
    const nodes = await eventually(async () => (await getJson(`http://127.0.0.1:${port}/v1/nodes`)), 20_000)
    expect(nodes.status).toBe(200)
    expect((await postJson(`http://127.0.0.1:${port}/registerAccount`, { userName: 'x' })).status).toBe(404)
    expect(out.stdout).toContain('--insecure: security is off')
  }, 40_000)

  it('cim route with an API key and a token secret starts and asks for the key', async () => {
    const port = await freePort()
    startCli(['route', '--host', '127.0.0.1', '--route-port', String(port), '--api-keys', 'cli-key-123', '--token-secret', 's'.repeat(32)])
    const refused = await eventually(async () => (await getJson(`http://127.0.0.1:${port}/v1/nodes`)), 20_000)
    expect(refused.status).toBe(401)
    const ok = await fetch(`http://127.0.0.1:${port}/v1/nodes`, { headers: { authorization: 'Bearer cli-key-123' } })
    expect(ok.status).toBe(200)
  }, 40_000)
})

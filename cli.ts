#!/usr/bin/env -S node --import tsx
/**
 * The `cim` command. The only place (with examples/) that listens on configured ports.
 *   cim start   route + one broker in one process, memory adapters (the default `npm start`)
 *   cim broker  one broker node (Redis + ZooKeeper when configured)
 *   cim route   one stateless route node
 *   cim client  the console chat client
 */
import { Command, Option } from 'commander'
import { defaults, readConfigFile, resolveConfig, settings, type Config } from './config.ts'
import { createLogger } from './logger.ts'
import { createNode } from './node.ts'
import { runConsoleClient } from './client/console.ts'
import { checkSecurityMode, type Role } from './security/modes.ts'

/** `cim start` is the laptop default: loopback only, upstream-compatible (docs/security.md, "Modes"). */
const MODE_DEFAULTS: Record<Role, Partial<Config>> = { start: { compat: true, host: '127.0.0.1' }, broker: {}, route: {} }

function addSettings(cmd: Command): Command {
  for (const s of settings) {
    if (!s.flag) continue // a config-file-only (json) setting
    const flag = s.kind === 'boolean' ? s.flag : `${s.flag} <${s.kind === 'number' ? 'n' : 'value'}>`
    const def = s.default !== '' ? ` (default: ${s.default})` : s.defaultText ? ` (default: ${s.defaultText.replace(/`/g, '')})` : ''
    const opt = new Option(flag, `${s.description}${def}; env ${s.env}`)
    if (s.choices) opt.choices(s.choices as string[])
    cmd.addOption(opt)
    // A boolean can also be turned off on the command line (`cim start --no-compat`).
    if (s.kind === 'boolean') cmd.addOption(new Option(`--no-${s.flag.slice(2)}`, `turn ${s.flag} off`))
  }
  cmd.option('--config <file>', 'JSON file of settings (keys as in config.ts, e.g. {"cimPort": 11212}); flags and env override it; env CIM_CONFIG')
  return cmd
}

/** Commander names each option by its flag in camelCase (--redis → redis); the table maps it to its key. */
function toConfig(opts: Record<string, unknown>, role: Role): Config {
  const overrides: Record<string, unknown> = {}
  for (const s of settings) {
    if (!s.flag) continue
    const name = s.flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    if (opts[name] !== undefined) overrides[s.key] = opts[name]
  }
  const file = (opts.config as string | undefined) ?? process.env.CIM_CONFIG
  return resolveConfig(overrides as Partial<Config>, process.env, file ? readConfigFile(file) : {}, MODE_DEFAULTS[role])
}

async function runNodes(role: Role, opts: Record<string, unknown>): Promise<void> {
  const config = toConfig(opts, role)
  const roles = { broker: role !== 'route', route: role !== 'broker' }
  // Refuses (exit 1, message on stderr) before anything binds.
  const { warnings } = checkSecurityMode(role, config)
  const logger = createLogger(config.logLevel)
  for (const w of warnings) logger.warn(w)
  const node = await createNode({ roles, settings: config, logger })
  const { broker, routePort } = await node.listen()
  if (broker) {
    const secure = broker.cimTlsPort !== undefined ? `, CIM TLS :${broker.cimTlsPort}, MQTTS :${broker.mqttsPort}, MQTT/WSS :${broker.wssPort}` : ''
    logger.info({ id: node.broker!.id, ...broker }, `broker ${node.broker!.id}: CIM TCP :${broker.cimPort}, MQTT :${broker.mqttPort}, MQTT/WS :${broker.wsPort}${secure}, HTTP :${broker.httpPort}`)
  }
  if (routePort !== undefined) {
    const base = `${config.tlsCert ? 'https' : 'http'}://${config.advertiseHost}:${routePort}`
    logger.info(`route: REST ${base}  docs ${base}/docs  metrics /metrics`)
  }

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: refuse pushes (503), deregister, stop accepting, drain, close')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    await node.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

const program = new Command('cim')
  .description('CIM Relay: push notifications and IoT relay (CIM TCP, MQTT, REST)')
  .showHelpAfterError()

addSettings(program.command('start').description('route + one broker in one process with memory adapters (no external services)'))
  .action((opts: Record<string, unknown>) => runNodes('start', opts))

addSettings(program.command('broker').description('one broker node: CIM TCP, MQTT, MQTT/WS, HTTP health; Redis + ZooKeeper via --redis/--zookeeper'))
  .action((opts: Record<string, unknown>) => runNodes('broker', opts))

addSettings(program.command('route').description('one stateless route node (REST API, OpenAPI at /docs)'))
  .action((opts: Record<string, unknown>) => runNodes('route', opts))

program.command('client')
  .description('console chat client (upstream cim-client commands: :all :olu :q! :info :pu <prefix>, <userId>;;<text>)')
  .requiredOption('--name <userName>', 'user name (registered on first use)')
  .option('--route <url>', 'route URL', process.env.CIM_ROUTE_URL ?? `http://127.0.0.1:${defaults.routePort}`)
  .option('--token <jwt>', 'login token (POST /v1/users/{userId}/token; docs/security.md, Tokens)', process.env.CIM_TOKEN)
  .action((opts: { name: string; route: string; token?: string }) =>
    runConsoleClient({ routeUrl: opts.route, userName: opts.name, client: opts.token ? { token: opts.token } : undefined }))

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`cim: ${err.message}`)
  process.exit(1)
})

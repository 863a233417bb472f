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

function addSettings(cmd: Command): Command {
  for (const s of settings) {
    if (!s.flag) continue // a config-file-only (json) setting
    const flag = s.kind === 'boolean' ? s.flag : `${s.flag} <${s.kind === 'number' ? 'n' : 'value'}>`
    const def = s.default !== '' ? ` (default: ${s.default})` : s.defaultText ? ` (default: ${s.defaultText.replace(/`/g, '')})` : ''
    const opt = new Option(flag, `${s.description}${def}; env ${s.env}`)
    if (s.choices) opt.choices(s.choices as string[])
    cmd.addOption(opt)
  }
  cmd.option('--config <file>', 'JSON file of settings (keys as in config.ts, e.g. {"cimPort": 11212}); flags and env override it; env CIM_CONFIG')
  return cmd
}

/** Commander names each option by its flag in camelCase (--redis → redis); the table maps it to its key. */
function toConfig(opts: Record<string, unknown>): Config {
  const overrides: Record<string, unknown> = {}
  for (const s of settings) {
    if (!s.flag) continue
    const name = s.flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    if (opts[name] !== undefined) overrides[s.key] = opts[name]
  }
  const file = (opts.config as string | undefined) ?? process.env.CIM_CONFIG
  return resolveConfig(overrides as Partial<Config>, process.env, file ? readConfigFile(file) : {})
}

async function runNodes(config: Config, roles: { broker: boolean; route: boolean }): Promise<void> {
  const logger = createLogger(config.logLevel)
  const node = await createNode({ roles, settings: config, logger })
  const { broker, routePort } = await node.listen()
  if (broker) {
    logger.info({ id: node.broker!.id, ...broker }, `broker ${node.broker!.id}: CIM TCP :${broker.cimPort}, MQTT :${broker.mqttPort}, MQTT/WS :${broker.wsPort}, HTTP :${broker.httpPort}`)
  }
  if (routePort !== undefined) {
    logger.info(`route: REST http://${config.advertiseHost}:${routePort}  docs http://${config.advertiseHost}:${routePort}/docs  metrics /metrics`)
  }

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: deregister, stop accepting, drain, close')
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
  .action((opts) => runNodes(toConfig(opts), { broker: true, route: true }))

addSettings(program.command('broker').description('one broker node: CIM TCP, MQTT, MQTT/WS, HTTP health; Redis + ZooKeeper via --redis/--zookeeper'))
  .action((opts) => runNodes(toConfig(opts), { broker: true, route: false }))

addSettings(program.command('route').description('one stateless route node (REST API, OpenAPI at /docs)'))
  .action((opts) => runNodes(toConfig(opts), { broker: false, route: true }))

program.command('client')
  .description('console chat client (upstream cim-client commands: :all :olu :q! :info :pu <prefix>, <userId>;;<text>)')
  .requiredOption('--name <userName>', 'user name (registered on first use)')
  .option('--route <url>', 'route URL', process.env.CIM_ROUTE_URL ?? `http://127.0.0.1:${defaults.routePort}`)
  .action((opts: { name: string; route: string }) => runConsoleClient({ routeUrl: opts.route, userName: opts.name }))

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`cim: ${err.message}`)
  process.exit(1)
})

/**
 * An operator's own code, plugged in without a fork: `--hooks ./my-hooks.mjs` (CIM_HOOKS, or
 * `"hooks"` in a config file) names an ES module whose exports replace the defaults:
 *   export const auth = { async authenticateUser(login) { ... } }  // any of the AuthHooks methods
 *   export async function uplink(msg) { ... }                         // every device uplink message
 *   export const balancer = { strategy: 'consistent-hash', choose(key, brokers) { ... } }
 * Auth hooks replace the default hook of the same name only (broker/auth.ts defaultAuth).
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AuthHooks } from './broker/auth.ts'
import type { UplinkRelay } from './broker/types.ts'
import type { Balancer } from './route/balancer.ts'

export interface NodeHooks {
  /** Replaces the default auth hooks it names (CIM logins and MQTT connections alike). */
  auth?: Partial<AuthHooks>
  /** Receives every device publish under the uplink prefix. Default: logged. */
  uplink?: UplinkRelay
  /** Broker selection at login. Default: the --strategy built-in. */
  balancer?: Balancer
}

const AUTH_METHODS = ['authenticateUser', 'authenticateDevice', 'authorizePublish', 'authorizeSubscribe'] as const
const KNOWN_EXPORTS = ['auth', 'uplink', 'balancer']

/** Checks what a hooks module exports; throws naming the module and the export at fault. */
export function checkHooks(exports: Record<string, unknown>, source: string): NodeHooks {
  const fail = (what: string) => new Error(`hooks module ${source}: ${what}`)
  // A CommonJS module arrives as a default export only.
  const names = Object.keys(exports)
  const hooks = names.length === 1 && names[0] === 'default' && typeof exports.default === 'object' && exports.default !== null
    ? exports.default as Record<string, unknown>
    : exports
  for (const name of Object.keys(hooks)) {
    // Refused rather than ignored: `export const uplnk` would otherwise do nothing, silently.
    if (!KNOWN_EXPORTS.includes(name)) throw fail(`unknown export "${name}" (known: ${KNOWN_EXPORTS.join(', ')})`)
  }
  const { auth, uplink, balancer } = hooks
  if (auth !== undefined) {
    if (typeof auth !== 'object' || auth === null) throw fail('"auth" must be an object of AuthHooks methods')
    for (const key of Object.keys(auth)) {
      if (!(AUTH_METHODS as readonly string[]).includes(key)) throw fail(`"auth.${key}" is not an auth hook (known: ${AUTH_METHODS.join(', ')})`)
      if (typeof (auth as Record<string, unknown>)[key] !== 'function') throw fail(`"auth.${key}" must be a function`)
    }
  }
  if (uplink !== undefined && typeof uplink !== 'function') throw fail('"uplink" must be a function (msg) => void | Promise<void>')
  if (balancer !== undefined && typeof (balancer as Partial<Balancer> | null)?.choose !== 'function') {
    throw fail('"balancer" must be an object with choose(key, brokers)')
  }
  return { auth: auth as NodeHooks['auth'], uplink: uplink as NodeHooks['uplink'], balancer: balancer as NodeHooks['balancer'] }
}

/** Imports the hooks module at `path` (relative to the working directory) and checks its exports. */
export async function loadHooks(path: string): Promise<NodeHooks> {
  let exports: Record<string, unknown>
  try {
    exports = await import(pathToFileURL(resolve(path)).href) as Record<string, unknown>
  } catch (err) {
    throw new Error(`hooks module ${path}: ${(err as Error).message}`)
  }
  return checkHooks(exports, path)
}

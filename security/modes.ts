/**
 * Which security a process needs before it starts (docs/security.md, "Modes"), decided in one place:
 * - `cim start` with no security settings is the laptop default: open, compat on, bound to loopback,
 *   with one warning line. Serving a non-loopback interface with anything open needs `--insecure`.
 * - `cim route` needs API keys and a token key, `cim broker` a token key, else `--insecure`.
 * Compat (upstream's trust model) is an explicit choice: it is reported, not refused, on broker
 * and route; on `cim start`, where it is on by default, it counts as an open surface.
 */
import { isLoopbackHost, type Config } from '../config.ts'

export type Role = 'start' | 'broker' | 'route'

export type ModeSettings = Pick<Config, 'host' | 'insecure' | 'compat' | 'apiKeys' | 'namedApiKeys' | 'tokenSecret' | 'tokenPublicKey' | 'tokenPrivateKey'>

export interface ModeVerdict {
  /** Log these at start (warn): what runs without protection, on purpose. */
  warnings: string[]
}

const REST_OPEN = 'the REST API takes no API key (set --api-keys, or namedApiKeys in a --config file)'
const LOGIN_OPEN = 'CIM logins and MQTT connections need no token (set --token-secret or --token-public-key)'
const ROUTE_NO_TOKEN_KEY = 'the route has no token key to mint user and device tokens (set --token-secret, --token-public-key or --token-private-key)'
const COMPAT_OPEN = 'compat is on: the upstream-compatible endpoints take no key and CIM logins need no token (upstream\'s trust model; --no-compat turns it off)'

function hasApiKeys(c: ModeSettings): boolean {
  return c.apiKeys.split(',').some((k) => k.trim() !== '') || c.namedApiKeys.length > 0
}

function verifiesTokens(c: ModeSettings): boolean {
  return c.tokenSecret !== '' || c.tokenPublicKey !== ''
}

/** What this process would serve without authentication, one clause each. */
export function openSurfaces(role: Role, c: ModeSettings): string[] {
  const open: string[] = []
  if (role !== 'broker' && !hasApiKeys(c)) open.push(REST_OPEN)
  if (role !== 'route' && !verifiesTokens(c)) open.push(LOGIN_OPEN)
  if (role === 'route' && !verifiesTokens(c) && c.tokenPrivateKey === '') open.push(ROUTE_NO_TOKEN_KEY)
  if (c.compat) open.push(COMPAT_OPEN)
  return open
}

/**
 * Throws (the CLI prints it and exits 1) when `role` may not start with `c`; otherwise returns
 * the warnings to log. Pure: the unit tests call it with settings, the CLI with the resolved Config.
 */
export function checkSecurityMode(role: Role, c: ModeSettings): ModeVerdict {
  const open = openSurfaces(role, c)
  // Compat is an explicit choice on broker and route (off by default there): said, never refused.
  const missing = role === 'start' ? open : open.filter((o) => o !== COMPAT_OPEN)
  // Off: none of the role's keys is configured (a broker has one kind, route and start two).
  const off = missing.filter((o) => o !== COMPAT_OPEN).length === (role === 'broker' ? 1 : 2)
  const summary = off ? 'security is off' : 'security is partly off'
  const warnings = open.length ? [`${summary}: ${open.join('; ')}. See docs/security.md before exposing this node.`] : []
  if (missing.length === 0 || c.insecure) return { warnings: c.insecure && missing.length ? [`--insecure: ${warnings[0]}`] : warnings }

  if (role === 'start') {
    if (isLoopbackHost(c.host)) return { warnings }
    throw new Error(`cim start: refusing to bind ${c.host} with ${summary}: ${missing.join('; ')}. `
      + 'Bind loopback (the default --host 127.0.0.1), configure security (docs/security.md), or pass --insecure to serve this network open.')
  }
  throw new Error(`cim ${role}: refusing to start with ${summary}: ${missing.join('; ')}. `
    + 'Configure security (docs/security.md), or pass --insecure to run open on a trusted network.')
}

/**
 * MQTT topic filter matching for the ACL (security/mqtt-acl.ts; docs/security.md, MQTT topic
 * rules). A filter is compiled once into its levels; matching a topic against it walks the topic
 * with indexOf and allocates nothing, because it may run per delivered message (aedes'
 * authorizeForward, on the fan-out path).
 */

const DOLLAR = 36 // '$'

/** A filter split into its levels (`a/+/#` → ['a', '+', '#']). */
export type FilterLevels = readonly string[]

export function compileFilter(filter: string): FilterLevels {
  return filter.split('/')
}

/**
 * Why `filter` is not a valid MQTT 3.1.1 topic filter (§4.7.1), or undefined when it is: not empty,
 * `+` only as a whole level, `#` only as the whole last level.
 */
export function filterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'is empty'
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '`#` must be the whole last level'
    if (level.includes('+') && level !== '+') return '`+` must be a whole level'
  }
  return undefined
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#')
}

/**
 * True when the concrete `topic` matches the filter. As MQTT: `+` is one level, `#` the rest
 * including the parent (`a/#` matches `a`), and a wildcard first level never matches a topic
 * starting with `$` ([MQTT-4.7.2-1]).
 */
export function topicMatches(levels: FilterLevels, topic: string): boolean {
  const n = levels.length
  if (n > 0 && topic.charCodeAt(0) === DOLLAR && (levels[0] === '#' || levels[0] === '+')) return false
  let start = 0
  for (let i = 0; i < n; i++) {
    const f = levels[i]
    if (f === '#') return true
    if (start > topic.length) return false
    let end = topic.indexOf('/', start)
    if (end === -1) end = topic.length
    if (f !== '+' && (end - start !== f.length || !topic.startsWith(f, start))) return false
    start = end + 1
  }
  return start === topic.length + 1
}

/**
 * True when every topic the subscription `filter` can match is matched by `pattern` (an operator
 * rule covers a SUBSCRIBE): `sensors/#` covers `sensors/+/temp`, but not `#`.
 */
export function filterCovers(pattern: FilterLevels, filter: FilterLevels): boolean {
  const dollarFirst = filter.length > 0 && filter[0].charCodeAt(0) === DOLLAR
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]
    if (p === '#') return !(i === 0 && dollarFirst)
    const f = filter[i]
    if (f === undefined || f === '#') return false
    if (p === '+') {
      if (i === 0 && dollarFirst) return false
      continue
    }
    if (f !== p) return false
  }
  return filter.length === pattern.length
}

/**
 * True when `filter` can match some topic that starts with `levels` followed by at least one more
 * level (`uplink/#` and `uplink/+/t` can match `uplink/d1/t`; `uplink/d2/#` and `uplink/+` cannot).
 * `levels` are literal (a client id split at `/`).
 */
export function filterReachesBelow(filter: FilterLevels, levels: readonly string[]): boolean {
  for (let i = 0; i < levels.length; i++) {
    const f = filter[i]
    if (f === undefined) return false
    if (f === '#') return true
    if (f !== '+' && f !== levels[i]) return false
  }
  return filter.length > levels.length
}

/** Prints the configuration and error tables for README.md from config.ts and errors.ts. */
import { defaults, settings } from '../config.ts'
import { catalogue } from '../errors.ts'

const when: Record<string, string> = {}
const args = process.argv.slice(2)
if (args.includes('config')) {
  for (const s of settings) {
    const d = defaults[s.key] === '' ? (s.key === 'advertiseHost' ? 'first non-loopback IPv4' : s.key === 'brokerId' ? '`host:cimPort:httpPort`' : '—') : `\`${defaults[s.key]}\``
    console.log(`| \`${s.flag}\` | \`${s.env}\` | ${d} | ${s.description}${s.choices ? ` (${s.choices.join(', ')})` : ''} |`)
  }
}
if (args.includes('errors')) {
  for (const e of Object.values(catalogue)) {
    console.log(`| \`${e.code}\` | ${e.status} | ${e.compat} | ${when[e.code] ?? e.message.replace(/%s/g, '…')} |`)
  }
}

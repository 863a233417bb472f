/** Prints the configuration and error tables for README.md from config.ts and errors.ts. */
import { settingsTableRows } from '../config.ts'
import { catalogue } from '../errors.ts'

/** A row's "when" column where the message alone does not say it. */
const when: Record<string, string> = {
  CIM_CLIENT_CLOSED: 'The client closed the connection (never sent: the reason a session ended, in `cim_disconnects_total`)',
  CIM_LOGIN_TIMEOUT: 'No login answer from … within … ms (client SDK only: the broker did not answer the login in time)',
}
const args = process.argv.slice(2)
if (args.includes('config')) for (const row of settingsTableRows()) console.log(row)
if (args.includes('errors')) {
  for (const e of Object.values(catalogue)) {
    console.log(`| \`${e.code}\` | ${e.status} | ${e.compat} | ${when[e.code] ?? e.message.replace(/%s/g, '…')} |`)
  }
}

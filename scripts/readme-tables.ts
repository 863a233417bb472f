/** Prints the configuration and error tables for README.md from config.ts and errors.ts. */
import { settingsTableRows } from '../config.ts'
import { catalogue } from '../errors.ts'

/** A row's "when" column where the message alone does not say it. */
const when: Record<string, string> = {
  CIM_CLIENT_CLOSED: 'The client closed the connection (never sent: the reason a session ended, in `cim_disconnects_total`)',
  CIM_LOGIN_TIMEOUT: 'No login answer from … within … ms (client SDK only: the broker did not answer the login in time)',
  CIM_RESERVED_PROPERTY: 'A push\'s `properties` set a name the route or the broker owns: `sendUserId`, `sendUserName`, `receiveUserId`, `msgId`, `ts`, `seq`, `prevSeq`, `qos` (the message names it)',
  CIM_PAYLOAD_TOO_LARGE: 'Payload too large: a body over the route\'s body limit, or a push whose encoded CIM frame (text, properties and up to 207 bytes the broker adds) could exceed `--max-frame-bytes`',
  CIM_METHOD_NOT_ALLOWED: 'Method … not allowed on … (the path exists with other methods, listed in `allow`; route and broker HTTP port)',
  CIM_HEADERS_TOO_LARGE: 'Request headers or URL over Node\'s maximum header size (16 KiB by default; route and broker HTTP port)',
}
const args = process.argv.slice(2)
if (args.includes('config')) for (const row of settingsTableRows()) console.log(row)
if (args.includes('errors')) {
  for (const e of Object.values(catalogue)) {
    console.log(`| \`${e.code}\` | ${e.status} | ${e.compat} | ${when[e.code] ?? e.message.replace(/%s/g, '…')} |`)
  }
}

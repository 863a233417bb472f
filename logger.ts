/**
 * pino, pretty on a terminal and JSON otherwise (what log shippers want). One logger per process;
 * the route's fastify and the broker get children of it.
 */
import pino, { type Logger } from 'pino'

export function createLogger(level: string, name = 'cim'): Logger {
  const pretty = process.stdout.isTTY && process.env.CIM_LOG_FORMAT !== 'json'
  return pino({
    name,
    level,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  })
}

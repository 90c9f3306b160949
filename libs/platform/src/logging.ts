import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

declare const __non_webpack_require__: NodeRequire | undefined;

/** Header names that may carry a secret; pino replaces their values before a line is written. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.client_secret',
  '*.access_token',
  '*.token',
];

/** Pretty lines when asked, or when a person reads a terminal; JSON lines otherwise (collectors, pipes). */
export function prettyLogs(format: 'json' | 'pretty' | undefined, isTTY = Boolean(process.stdout.isTTY)): boolean {
  return (format === 'pretty' || (format === undefined && isTTY)) && prettyPrinterInstalled();
}

/** pino-pretty is a development dependency: an image built with production dependencies only logs JSON. */
function prettyPrinterInstalled(): boolean {
  try {
    // webpack would turn require.resolve into a module id; Node's own require really looks
    const nodeRequire: NodeRequire = typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require;
    nodeRequire.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** Logs, one line each, with the app's name and the request's correlation id: JSON, or pino-pretty for a terminal. */
export function loggingModule(app: string, level: string, format?: 'json' | 'pretty') {
  return LoggerModule.forRoot({
    pinoHttp: {
      level,
      transport: prettyLogs(format)
        ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' } }
        : undefined,
      base: { app },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      genReqId: (req: IncomingMessage) => {
        const given = req.headers['x-correlation-id'];
        return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
      },
      customProps: (req: IncomingMessage) => ({ correlation_id: (req as IncomingMessage & { id?: string }).id }),
      autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') },
      serializers: {
        // never the body: it may hold a secret or a message payload
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url?.split('?')[0] }),
      },
    },
  });
}

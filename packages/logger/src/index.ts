import { pino } from 'pino';
import type { Logger, LoggerOptions, DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths whose values never reach a log line: secrets, cookies, authorization headers, tokens,
 * raw client addresses and user agents. Request objects are also replaced by `serializers.req`
 * below, which keeps none of those in the first place; the redaction is the second fence.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["user-agent"]',
  'req.headers["x-forwarded-for"]',
  'req.headers["x-real-ip"]',
  'req.headers["stripe-signature"]',
  'req.remoteAddress',
  'req.ip',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["user-agent"]',
  'password',
  'token',
  'secret',
  'ip',
  'userAgent',
  '*.password',
  '*.newPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.idToken',
  '*.secret',
  '*.apiKey',
  '*.cookie',
  '*.authorization',
  '*.ip',
  '*.userAgent',
  '*.remoteAddress',
];

/** Removes the query string: tokens, codes and states travel there. */
export function safePath(url: string | undefined): string | undefined {
  if (!url) return url;
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?[redacted]`;
}

interface RequestLike {
  id?: unknown;
  method?: string;
  url?: string;
  routeOptions?: { url?: string };
}

export const serializers = {
  // Replaces Fastify's default, which logs remoteAddress, remotePort, hostname and the raw URL.
  req(req: RequestLike) {
    return { id: req.id, method: req.method, url: safePath(req.url), route: req.routeOptions?.url };
  },
  res(res: { statusCode?: number }) {
    return { statusCode: res.statusCode };
  },
  err: pino.stdSerializers.err,
};

export interface CreateLoggerOptions {
  service: string;
  level?: string;
  /** Where lines go; stdout by default. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

export function loggerOptions(service: string, level = 'info'): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger({ service, level, destination }: CreateLoggerOptions): Logger {
  const options = loggerOptions(service, level);
  return destination ? pino(options, destination) : pino(options);
}

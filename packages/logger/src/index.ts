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
  // Node puts the raw bytes of a request it could not parse on the error (Fastify logs it at
  // trace): request line, cookie, user agent, forwarding headers, all of it.
  'err.rawPacket',
  '*.rawPacket',
  // Postgres puts the values of the row it refused in an error's detail ("Key (email)=(…) already
  // exists."): an address, a name. The message and code still say what went wrong.
  'err.detail',
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

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
type LevelName = (typeof LEVELS)[number];
type LogArgs = Parameters<Logger['info']>;

/**
 * A request's child logger that is only built when a line is actually written at an enabled
 * level. pino serialises (and redacts) a child's bindings when the child is created; a server
 * creating one per request at `warn` pays that for lines it never writes. Bindings, redaction and
 * output are those of `parent.child(bindings, options)` once anything is logged.
 */
class LazyChild {
  private real: Logger | undefined;
  private readonly parent: Logger;
  private readonly bindings: Record<string, unknown>;
  private readonly options: Parameters<Logger['child']>[1];
  constructor(
    parent: Logger,
    bindings: Record<string, unknown>,
    options: Parameters<Logger['child']>[1],
  ) {
    this.parent = parent;
    this.bindings = bindings;
    this.options = options;
  }
  private materialise(): Logger {
    return (this.real ??= this.parent.child<never>(this.bindings, this.options as never));
  }
  /** What `fatal` … `trace` do (defined on the prototype below, so nothing is allocated per child). */
  write(level: LevelName, args: LogArgs): void {
    if (this.parent.isLevelEnabled(level)) (this.materialise()[level] as (...a: LogArgs) => void)(...args);
  }
  get level(): string {
    return this.real?.level ?? this.parent.level;
  }
  isLevelEnabled(level: string): boolean {
    return (this.real ?? this.parent).isLevelEnabled(level);
  }
  child(bindings: Record<string, unknown>, options?: Parameters<Logger['child']>[1]): Logger {
    return this.materialise().child<never>(bindings, options as never);
  }
  silent(): void {}
}

for (const level of LEVELS) {
  Object.defineProperty(LazyChild.prototype, level, {
    value: function (this: LazyChild, ...args: LogArgs) {
      this.write(level, args);
    },
  });
}

export function lazyChildLogger(parent: Logger, bindings: Record<string, unknown>, options?: Parameters<Logger['child']>[1]): Logger {
  // A child with a level of its own (Fastify's per-route logLevel) decides what it writes: built at once.
  if (options?.level) return parent.child<never>(bindings, options as never);
  return new LazyChild(parent, bindings, options) as unknown as Logger;
}

import winston from 'winston';
import { ConfigError } from '../errors';

export type Logger = winston.Logger;

export interface LoggerOptions {
  /** error, warn, info or debug. Default: LOG_LEVEL, else info. */
  level?: string;
  /** Readable lines instead of JSON. Default: when stdout is a terminal. */
  readable?: boolean;
  /** Fields added to every line. */
  fields?: Record<string, unknown>;
  /** Write nowhere; for tests that only need a logger to hand in. */
  silent?: boolean;
}

/**
 * JSON lines for machines, readable lines for a person at a terminal. Context travels as fields
 * (replica, pool, image, container), never inside the message text, so logs can be filtered.
 */
/** The levels warmpool logs at, most severe first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    // An unknown level would silence every line, errors included.
    throw new ConfigError(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  const readable = options.readable ?? process.stdout.isTTY === true;
  const format = readable
    ? winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...fields }) => {
          const context = Object.entries(fields)
            .filter(([key]) => key !== 'replica')
            .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
            .join(' ');
          return `${timestamp} ${level} ${message}${context ? `  ${context}` : ''}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());

  return winston.createLogger({
    level,
    defaultMeta: options.fields,
    format,
    silent: options.silent,
    transports: [new winston.transports.Console()],
  });
}

/** The first 12 characters of a container id, as `docker ps` shows them. */
export function shortId(containerId: string): string {
  return containerId.slice(0, 12);
}

/**
 * warmpool's few error classes. The HTTP layer maps each to a status code; messages are written
 * for the caller or the operator who reads them, so they name the limit, its unit and what was
 * found. Stack traces go to the log, never into a response.
 */
export class WarmpoolError extends Error {
  /** The HTTP status this error answers with when it reaches a caller. */
  readonly status: number = 500;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something malformed or out of range. */
export class InvalidRequestError extends WarmpoolError {
  override readonly status = 400;
}

/** The caller asked for an image that no pool serves. */
export class UnknownImageError extends WarmpoolError {
  override readonly status = 404;

  constructor(
    readonly image: string,
    served: readonly string[],
  ) {
    super(`image "${image}" is not configured here; configured images: ${served.join(', ') || '(none)'}`);
  }
}

/** The request body is larger than the configured limit. */
export class PayloadTooLargeError extends WarmpoolError {
  override readonly status = 413;
}

/** The request body has a content type the endpoint does not take. */
export class UnsupportedMediaTypeError extends WarmpoolError {
  override readonly status = 415;
}

/** The Docker Engine does not answer, so nothing can be run until it is back. */
export class EngineUnavailableError extends WarmpoolError {
  override readonly status = 503;
}

/** warmpool is shutting down and takes no new runs. */
export class ShuttingDownError extends WarmpoolError {
  override readonly status = 503;

  constructor() {
    super('this replica is shutting down and takes no new runs; retry on another replica');
  }
}

/** Too many runs wait for a slot: answered before any container is taken. */
export class QueueFullError extends WarmpoolError {
  override readonly status = 503;
}

/** The caller went away before the run finished; nobody reads the result (logged as nginx does). */
export class RunAbandonedError extends WarmpoolError {
  override readonly status = 499;
}

/** The run's container stopped under it, from outside: nothing the program did. Worth a retry. */
export class ContainerLostError extends WarmpoolError {
  override readonly status = 503;
}

/**
 * The container's tar refused the run's files (too large for the work area, or an image whose tar
 * cannot read them). Nothing of the program ran.
 */
export class UnpackFailedError extends WarmpoolError {
  override readonly status = 422;
}

/** A run could not be carried out because of a fault inside warmpool or the engine. */
export class RunFailedError extends WarmpoolError {}

/** A Docker call took longer than its time-out. */
export class EngineTimeoutError extends WarmpoolError {
  override readonly status = 503;
}

/** The configuration file is missing, unreadable or invalid; start-up stops. */
export class ConfigError extends WarmpoolError {}

/** The HTTP status a thrown value answers with. */
export function statusOf(error: unknown): number {
  return error instanceof WarmpoolError ? error.status : 500;
}

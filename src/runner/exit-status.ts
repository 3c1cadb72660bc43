import { constants } from 'node:os';

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/**
 * The signal behind a shell exit status: a shell reports a child killed by signal n as 128 + n.
 * A program may also exit with such a status on its own; the status alone cannot tell, so the
 * name is a reading of the status, as shells give it.
 */
export function signalOf(exitCode: number | null): string | null {
  if (exitCode === null || exitCode <= 128 || exitCode > 128 + 64) return null;
  return SIGNAL_NAMES.get(exitCode - 128) ?? null;
}

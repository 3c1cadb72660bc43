/** Exit status the run script uses when the run's files could not be unpacked. */
export const UNPACK_FAILED_STATUS = 125;
/** Printed on stderr with UNPACK_FAILED_STATUS, so the runner can tell it from a program's own 125. */
export const UNPACK_FAILED_MARKER = 'warmpool-unpack-failed';

/**
 * What one `docker exec` runs, as the sandbox user: unpack the run's tgz from stdin at /, run
 * /tmp/main.sh from /sandbox with stdin at end-of-file, then kill every process the program left
 * behind (`kill -9 -1` reaches every process of the sandbox uid but this shell; the entrypoint
 * runs under another uid and survives), so background children cannot hold the run open.
 * An executable main.sh runs by its own #! line; any other runs under /bin/sh.
 */
export const RUN_SCRIPT = [
  `tar -xzf - -C / || { echo ${UNPACK_FAILED_MARKER} >&2; exit ${UNPACK_FAILED_STATUS}; }`,
  'cd /sandbox',
  'if [ -x /tmp/main.sh ]; then /tmp/main.sh </dev/null; else /bin/sh /tmp/main.sh </dev/null; fi',
  'status=$?',
  'kill -9 -1 2>/dev/null',
  'exit $status',
].join('\n');

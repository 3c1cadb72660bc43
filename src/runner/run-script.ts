/** Exit status the run script uses when the run's files could not be unpacked. */
export const UNPACK_FAILED_STATUS = 125;
/** Printed on stderr with UNPACK_FAILED_STATUS, so the runner can tell it from a program's own 125. */
export const UNPACK_FAILED_MARKER = 'warmpool-unpack-failed';

/**
 * What one `docker exec` runs, as the sandbox user.
 *
 * stdin brings one line, "<marker> <files|none>", then the run's plain tar. The marker is fresh for
 * each run and known only to this shell (a shell's `read` takes no byte past the newline from a
 * pipe, and the program's stdin is /dev/null), so the host can tell where the program's stdout
 * ends and the report written after it begins.
 *
 * Steps: unpack the tar at /; run /tmp/main.sh from /sandbox with stdin at end-of-file (by its own
 * #! line when executable, else under /bin/sh); kill every process it left (`kill -9 -1` reaches
 * every process of the sandbox uid but this shell; the entrypoint runs under another uid and
 * survives), so background children cannot hold the run open; then report on stdout: the marker,
 * main.sh's exit status and the container's OOM-kill counter (cgroup v1 or v2), and, when asked,
 * /sandbox as a plain tar, since the tmpfs is invisible to the engine's archive API.
 */
export const RUN_SCRIPT = [
  'IFS=" " read -r marker wanted',
  `tar -xf - -C / || { echo ${UNPACK_FAILED_MARKER} >&2; exit ${UNPACK_FAILED_STATUS}; }`,
  'cd /sandbox',
  'if [ -x /tmp/main.sh ]; then /tmp/main.sh </dev/null; else /bin/sh /tmp/main.sh </dev/null; fi',
  'status=$?',
  'kill -9 -1 2>/dev/null',
  'oom=0',
  'for counters in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do',
  '  [ -r "$counters" ] || continue',
  '  while read -r key value; do [ "$key" = oom_kill ] && oom=$value; done < "$counters"',
  'done',
  'printf "%s %s %s\\n" "$marker" "$status" "$oom"',
  // chmod first: tar would skip a file the program made unreadable to itself.
  'if [ "$wanted" = files ] && cd /sandbox; then chmod -R u+rX . 2>/dev/null; tar -cf - . 2>/dev/null; fi',
  'exit $status',
].join('\n');

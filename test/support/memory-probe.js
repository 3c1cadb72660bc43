// Preloaded into a daemon process by tests (node --expose-gc --require), to read its memory from
// outside: on SIGUSR2 it collects garbage fully and prints what is still reachable on stderr.
process.on('SIGUSR2', () => {
  global.gc();
  const { heapUsed, external, rss } = process.memoryUsage();
  process.stderr.write(`memory-probe retained=${heapUsed + external} rss=${rss}\n`);
});

// Preloaded into a daemon process by tests (node --expose-gc --require), to read its memory from
// outside: on SIGUSR2 it collects garbage fully and prints, on stderr, the JavaScript heap in use
// and the bytes held in Buffers and ArrayBuffers still reachable.
process.on('SIGUSR2', () => {
  global.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  process.stderr.write(`memory-probe heap=${heapUsed} buffers=${arrayBuffers}\n`);
});

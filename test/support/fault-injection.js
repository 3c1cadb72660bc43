// Preloaded into a daemon process by tests (node --require), to force faults no request can cause:
// a stray promise rejection, then an exception nothing catches.
const rejectAfterMs = Number(process.env.WARMPOOL_TEST_REJECT_AFTER_MS);
const throwAfterMs = Number(process.env.WARMPOOL_TEST_THROW_AFTER_MS);

if (rejectAfterMs > 0) {
  setTimeout(() => { Promise.reject(new Error('stray rejection injected by a test')); }, rejectAfterMs);
}
if (throwAfterMs > 0) {
  setTimeout(() => { throw new Error('fatal error injected by a test'); }, throwAfterMs);
}

/**
 * Lets every promise callback already queued run, p-queue's included. Works under jest's fake
 * timers as long as setImmediate is left real.
 */
export function flushPromises(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Fake timers that leave setImmediate and the microtask queues real, so flushPromises works. */
export function useFakeTimers(): void {
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
}

import { QueueFullError } from '../../src/errors';
import { RunQueue } from '../../src/runner/run-queue';
import { Deadline } from '../../src/runner/deadline';
import { flushPromises } from './support/flush';

/** A task the test ends by hand, to hold a slot for as long as it likes. */
function heldTask() {
  let finish!: (value: string) => void;
  const done = new Promise<string>((resolve) => {
    finish = resolve;
  });
  const task = jest.fn(() => done);
  return { task, finish };
}

const open = () => new AbortController().signal;

describe('RunQueue', () => {
  it('runs at most `concurrency` tasks at once and starts the next as one ends', async () => {
    const queue = new RunQueue({ concurrency: 2, maxWaiting: 10 });
    const tasks = [heldTask(), heldTask(), heldTask()];

    const results = tasks.map(({ task }) => queue.schedule('image', open(), task));
    await flushPromises();
    expect(tasks.map(({ task }) => task.mock.calls.length)).toEqual([1, 1, 0]);
    expect({ running: queue.running, waiting: queue.waiting }).toEqual({ running: 2, waiting: 1 });

    tasks[0].finish('first');
    await flushPromises();
    expect(tasks[2].task).toHaveBeenCalledTimes(1);
    tasks[1].finish('second');
    tasks[2].finish('third');
    await expect(Promise.all(results)).resolves.toEqual(['first', 'second', 'third']);
  });

  it('refuses at once, with QueueFullError, a run beyond the waiting room', async () => {
    const queue = new RunQueue({ concurrency: 1, maxWaiting: 1 });
    const running = heldTask();
    const waiting = heldTask();
    void queue.schedule('image', open(), running.task);
    void queue.schedule('image', open(), waiting.task);
    await flushPromises();

    const refused = heldTask();
    await expect(queue.schedule('image', open(), refused.task)).rejects.toBeInstanceOf(QueueFullError);
    await expect(queue.schedule('image', open(), refused.task)).rejects.toThrow(/1 waiting, 1 under way/);
    expect(refused.task).not.toHaveBeenCalled();
  });

  it('frees the place of a caller that leaves while waiting, and never runs its task', async () => {
    const queue = new RunQueue({ concurrency: 1, maxWaiting: 1 });
    const running = heldTask();
    void queue.schedule('image', open(), running.task);
    const caller = new AbortController();
    const leaving = heldTask();
    const left = queue.schedule('image', caller.signal, leaving.task);
    await flushPromises();

    caller.abort(new Error('caller left'));

    await expect(left).rejects.toThrow('caller left');
    expect(queue.waiting).toBe(0);
    const next = heldTask();
    const nextResult = queue.schedule('image', open(), next.task);
    running.finish('done');
    await flushPromises();
    expect(leaving.task).not.toHaveBeenCalled();
    expect(next.task).toHaveBeenCalledTimes(1);
    next.finish('next');
    await expect(nextResult).resolves.toBe('next');
  });

  it('with no waiting room still runs what a free slot can take at once', async () => {
    const queue = new RunQueue({ concurrency: 1, maxWaiting: 0 });
    const first = heldTask();

    const running = queue.schedule('image', open(), first.task);
    await flushPromises();
    await expect(queue.schedule('image', open(), jest.fn())).rejects.toBeInstanceOf(QueueFullError);

    first.finish('ran');
    await expect(running).resolves.toBe('ran');
  });

  it('refuses a run whose signal has already fired', async () => {
    const queue = new RunQueue({ concurrency: 1, maxWaiting: 1 });
    const caller = new AbortController();
    caller.abort(new Error('too late'));

    await expect(queue.schedule('image', caller.signal, jest.fn())).rejects.toThrow('too late');
    expect(queue.waiting).toBe(0);
  });

  it('keeps to the per-image limit while other images use the rest of the replica', async () => {
    const queue = new RunQueue({ concurrency: 3, maxWaiting: 10, perImage: { slow: 1 } });
    const slow = [heldTask(), heldTask()];
    const fast = heldTask();

    slow.forEach(({ task }) => void queue.schedule('slow', open(), task));
    void queue.schedule('fast', open(), fast.task);
    await flushPromises();

    expect(slow.map(({ task }) => task.mock.calls.length)).toEqual([1, 0]);
    expect(fast.task).toHaveBeenCalledTimes(1);
    slow[0].finish('one');
    await flushPromises();
    expect(slow[1].task).toHaveBeenCalledTimes(1);
  });

  it("passes a task's failure to its caller and goes on with the next", async () => {
    const queue = new RunQueue({ concurrency: 1, maxWaiting: 5 });

    const failing = queue.schedule('image', open(), () => Promise.reject(new Error('exec failed')));
    const next = queue.schedule('image', open(), () => Promise.resolve('fine'));

    await expect(failing).rejects.toThrow('exec failed');
    await expect(next).resolves.toBe('fine');
  });
});

describe('RunQueue with a run deadline', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  it('drops a waiting run when its deadline passes, since queued time counts against it', async () => {
    const queue = new RunQueue({ concurrency: 1, maxWaiting: 5 });
    const running = heldTask();
    void queue.schedule('image', open(), running.task);
    const deadline = new Deadline(1000);
    const waiting = heldTask();
    const late = queue.schedule('image', deadline.signal, waiting.task);
    const outcome = late.then(
      () => 'ran',
      () => (deadline.expired ? 'expired' : 'other'),
    );

    await jest.advanceTimersByTimeAsync(999);
    expect(queue.waiting).toBe(1);
    await jest.advanceTimersByTimeAsync(1);

    await expect(outcome).resolves.toBe('expired');
    expect(queue.waiting).toBe(0);
    running.finish('done');
    await flushPromises();
    expect(waiting.task).not.toHaveBeenCalled();
    deadline.dispose();
  });
});

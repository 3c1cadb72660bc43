import { PassThrough } from 'node:stream';
import { EngineWatcher } from '../../src/engine/engine-watcher';
import { createLogger } from '../../src/log/logger';
import { flushPromises, useFakeTimers } from './support/flush';

const log = createLogger({ silent: true });

/** An engine that answers or not as the test says, with an event stream the test writes to. */
class FakeEngine {
  answers = true;
  pings = 0;
  streams: PassThrough[] = [];
  filters: Record<string, string[]>[] = [];

  async ping(): Promise<void> {
    this.pings += 1;
    if (!this.answers) throw new Error('connect ECONNREFUSED');
  }

  async streamEvents(filters: Record<string, string[]>): Promise<PassThrough> {
    if (!this.answers) throw new Error('connect ECONNREFUSED');
    this.filters.push(filters);
    const stream = new PassThrough();
    this.streams.push(stream);
    return stream;
  }

  get events(): PassThrough {
    return this.streams[this.streams.length - 1];
  }
}

function watch(engine: FakeEngine) {
  const watcher = new EngineWatcher({
    engine,
    labels: { 'warmpool.replica': 'r1' },
    log,
    healthCheckMs: 5000,
    retryMs: 500,
    maxRetryMs: 4000,
  });
  const seen: string[] = [];
  watcher.on('up', () => seen.push('up'));
  watcher.on('down', () => seen.push('down'));
  watcher.on('gone', ({ id, action }) => seen.push(`${action} ${id}`));
  return { watcher, seen };
}

beforeEach(() => useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('EngineWatcher', () => {
  it("reports the engine up and follows the events of this replica's containers", async () => {
    const engine = new FakeEngine();
    const { watcher, seen } = watch(engine);

    await expect(watcher.start()).resolves.toBe(true);

    expect(watcher.available).toBe(true);
    expect(seen).toEqual(['up']);
    expect(engine.filters).toEqual([
      { type: ['container'], label: ['warmpool.replica=r1'], event: ['die', 'destroy', 'oom'] },
    ]);
    watcher.stop();
  });

  it('passes on container events, whole lines only, even when split across chunks', async () => {
    const engine = new FakeEngine();
    const { watcher, seen } = watch(engine);
    await watcher.start();

    engine.events.write('{"Action":"die","Actor":{"ID":"abc"}}\n{"Action":"dest');
    engine.events.write('roy","Actor":{"ID":"def"}}\nnot json\n');
    await flushPromises();

    expect(seen).toEqual(['up', 'die abc', 'destroy def']);
    watcher.stop();
  });

  it('reports the engine down when the event stream ends, then pings with a growing pause', async () => {
    const engine = new FakeEngine();
    const { watcher, seen } = watch(engine);
    await watcher.start();
    engine.answers = false;
    const pingsBefore = engine.pings;

    engine.events.end();
    await flushPromises();
    expect(seen).toEqual(['up', 'down']);
    expect(watcher.available).toBe(false);

    await jest.advanceTimersByTimeAsync(500);
    expect(engine.pings - pingsBefore).toBe(1);
    await jest.advanceTimersByTimeAsync(999);
    expect(engine.pings - pingsBefore).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(engine.pings - pingsBefore).toBe(2);
    await jest.advanceTimersByTimeAsync(2000 + 4000 + 4000);
    expect(engine.pings - pingsBefore).toBe(5);
    watcher.stop();
  });

  it('reports the engine up again once it answers, and follows a fresh event stream', async () => {
    const engine = new FakeEngine();
    const { watcher, seen } = watch(engine);
    await watcher.start();
    engine.answers = false;
    engine.events.end();
    await flushPromises();

    engine.answers = true;
    await jest.advanceTimersByTimeAsync(500);

    expect(seen).toEqual(['up', 'down', 'up']);
    expect(engine.streams).toHaveLength(2);
    watcher.stop();
  });

  it('notices a silent engine through its health ping', async () => {
    const engine = new FakeEngine();
    const { watcher, seen } = watch(engine);
    await watcher.start();

    engine.answers = false;
    await jest.advanceTimersByTimeAsync(5000);

    expect(seen).toEqual(['up', 'down']);
    watcher.stop();
  });

  it('starts down when no engine answers, and comes up when one does', async () => {
    const engine = new FakeEngine();
    engine.answers = false;
    const { watcher, seen } = watch(engine);

    await expect(watcher.start()).resolves.toBe(false);
    expect(seen).toEqual([]);
    engine.answers = true;
    await jest.advanceTimersByTimeAsync(500);

    expect(seen).toEqual(['up']);
    watcher.stop();
  });
});

describe('EngineWatcher.stop', () => {
  it('follows nothing and reports nothing when stopped while a ping was out', async () => {
    const engine = new FakeEngine();
    let answerPing!: () => void;
    engine.ping = () =>
      new Promise<void>((resolve) => {
        answerPing = resolve;
      });
    const { watcher, seen } = watch(engine);

    const started = watcher.start();
    watcher.stop();
    answerPing();
    await started;

    expect(seen).toEqual([]);
    expect(watcher.available).toBe(false);
    expect(engine.streams.every((stream) => stream.destroyed)).toBe(true);
  });
});

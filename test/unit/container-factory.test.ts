import { DEFAULT_LIMITS } from '../../src/config/defaults';
import type { DockerEngine } from '../../src/engine/docker-engine';
import { createLogger } from '../../src/log/logger';
import { DockerContainerFactory } from '../../src/pool/container-factory';
import { READY_MARKER } from '../../src/pool/container-spec';

const log = createLogger({ silent: true });

/** The engine calls a factory makes, recorded, with the ones a test names failing. */
function fakeEngine(failing: Partial<Record<'start' | 'wait' | 'pause', Error>> = {}) {
  const calls: string[] = [];
  const step = (name: string, error?: Error) => async () => {
    calls.push(name);
    if (error) throw error;
  };
  const engine = {
    createContainer: async () => {
      calls.push('create');
      return 'c1';
    },
    startContainer: step('start', failing.start),
    waitForLogLine: async (_id: string, marker: string) => {
      calls.push(`wait for ${marker}`);
      if (failing.wait) throw failing.wait;
    },
    pauseContainer: step('pause', failing.pause),
    unpauseContainer: step('unpause'),
    removeContainer: step('remove'),
  };
  return { engine: engine as unknown as DockerEngine, calls };
}

describe('DockerContainerFactory', () => {
  it('creates, starts, waits for the entrypoint and pauses a container for the pool', async () => {
    const { engine, calls } = fakeEngine();

    const id = await new DockerContainerFactory(engine, 'r1', 1000, log).create('img', DEFAULT_LIMITS, 'paused');

    expect(id).toBe('c1');
    expect(calls).toEqual(['create', 'start', `wait for ${READY_MARKER}`, 'pause']);
  });

  it('leaves a container made for a waiting caller running', async () => {
    const { engine, calls } = fakeEngine();

    await new DockerContainerFactory(engine, 'r1', 1000, log).create('img', DEFAULT_LIMITS, 'running');

    expect(calls).not.toContain('pause');
  });

  it.each([
    ['cannot be started', { start: new Error('no such image') }],
    ['never reaches its entrypoint', { wait: new Error('stopped before its entrypoint was ready') }],
    ['cannot be paused', { pause: new Error('unable to freeze') }],
  ])('removes a container that %s, and passes the failure on', async (_what, failing) => {
    const { engine, calls } = fakeEngine(failing);
    const factory = new DockerContainerFactory(engine, 'r1', 1000, log);

    await expect(factory.create('img', DEFAULT_LIMITS, 'paused')).rejects.toThrow(Object.values(failing)[0].message);
    expect(calls[calls.length - 1]).toBe('remove');
  });
});

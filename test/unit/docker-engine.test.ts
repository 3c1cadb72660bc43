import type Docker from 'dockerode';
import { DockerEngine } from '../../src/engine/docker-engine';
import { EngineTimeoutError, EngineUnavailableError } from '../../src/errors';
import { createLogger } from '../../src/log/logger';
import { useFakeTimers } from './support/flush';

const log = createLogger({ silent: true });

function engineWith(container: Partial<Record<'pause' | 'remove' | 'kill', jest.Mock>>, timeoutMs = 1000) {
  const docker = { getContainer: () => container, ping: jest.fn() } as unknown as Docker;
  return new DockerEngine(docker, log, timeoutMs);
}

function statusError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode, json: { message } });
}

beforeEach(() => useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('DockerEngine', () => {
  it('gives up on a call that does not answer within its time-out, naming the call, the container and the limit', async () => {
    const engine = engineWith({ pause: jest.fn(() => new Promise(() => {})) }, 1000);

    const paused = engine.pauseContainer('0123456789abcdef');
    const failure = paused.catch((error: Error) => error);
    await jest.advanceTimersByTimeAsync(1000);

    const error = await failure;
    expect(error).toBeInstanceOf(EngineTimeoutError);
    expect((error as Error).message).toBe('docker pause of container 0123456789ab did not answer within 1000 ms');
  });

  it('treats removing a container that is already gone, or going, as done', async () => {
    const gone = engineWith({ remove: jest.fn().mockRejectedValue(statusError(404, 'No such container')) });
    const going = engineWith({ remove: jest.fn().mockRejectedValue(statusError(409, 'removal in progress')) });

    await expect(gone.removeContainer('abc')).resolves.toBeUndefined();
    await expect(going.removeContainer('abc')).resolves.toBeUndefined();
  });

  it('reports an engine that does not answer as unavailable, and an engine that says no as a plain failure', async () => {
    const refused = engineWith({
      pause: jest.fn().mockRejectedValue(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })),
    });
    const saysNo = engineWith({ pause: jest.fn().mockRejectedValue(statusError(500, 'unable to freeze')) });

    await expect(refused.pauseContainer('abc')).rejects.toBeInstanceOf(EngineUnavailableError);
    const error = await saysNo.pauseContainer('abc').catch((caught: Error) => caught);
    expect(error).not.toBeInstanceOf(EngineUnavailableError);
    expect((error as Error).message).toBe('docker pause of container abc failed: unable to freeze');
  });
});

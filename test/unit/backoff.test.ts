import { Backoff } from '../../src/pool/backoff';

describe('Backoff', () => {
  it('waits 500 ms after a first failure and doubles the wait with each further one', () => {
    const backoff = new Backoff();

    const delays = [1, 2, 3, 4, 5].map(() => backoff.fail());

    expect(delays).toEqual([500, 1000, 2000, 4000, 8000]);
  });

  it('never waits longer than 60 s by default', () => {
    const backoff = new Backoff();

    const delays = Array.from({ length: 12 }, () => backoff.fail());

    expect(delays.slice(-4)).toEqual([60_000, 60_000, 60_000, 60_000]);
    expect(Math.max(...delays)).toBe(60_000);
  });

  it('follows the initial and maximum delays it is given', () => {
    const backoff = new Backoff(100, 350);

    const delays = [1, 2, 3, 4].map(() => backoff.fail());

    expect(delays).toEqual([100, 200, 350, 350]);
  });

  it('stays at the maximum however long failures go on, never overflowing', () => {
    const backoff = new Backoff(500, 60_000);

    for (let i = 0; i < 2000; i += 1) backoff.fail();

    expect(backoff.fail()).toBe(60_000);
  });

  it('counts consecutive failures', () => {
    const backoff = new Backoff();

    backoff.fail();
    backoff.fail();

    expect(backoff.consecutiveFailures).toBe(2);
  });

  it('starts again from the initial delay after a success', () => {
    const backoff = new Backoff(100, 10_000);
    backoff.fail();
    backoff.fail();
    backoff.fail();

    backoff.succeed();

    expect(backoff.consecutiveFailures).toBe(0);
    expect(backoff.fail()).toBe(100);
  });
});

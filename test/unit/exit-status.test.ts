import { signalOf } from '../../src/runner/exit-status';

describe('signalOf', () => {
  it('reads 128 + n as the signal n', () => {
    expect(signalOf(137)).toBe('SIGKILL');
    expect(signalOf(143)).toBe('SIGTERM');
    expect(signalOf(139)).toBe('SIGSEGV');
  });

  it('reads ordinary statuses and unknown ones as no signal', () => {
    expect(signalOf(0)).toBeNull();
    expect(signalOf(3)).toBeNull();
    expect(signalOf(128)).toBeNull();
    expect(signalOf(null)).toBeNull();
  });
});

import { BUSYBOX, PYTHON, run } from '../support/daemon-harness';
import { useReplica } from '../support/use-replica';

describe.each([BUSYBOX, PYTHON])('isolation of a run in %s', (image) => {
  const replica = useReplica('isolation', { pools: [{ image, size: 2 }] }, { healthyAfterEach: true });

  it('has no network interface but loopback', async () => {
    const result = await run(replica.url, image, 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "');

    expect(result.stdout.content).toBe('lo\n');
  });

  it('cannot write to the root filesystem or /etc', async () => {
    const result = await run(
      replica.url,
      image,
      [
        'touch /etc/passwd 2>/dev/null && echo "wrote /etc" || echo "/etc read-only"',
        'touch /new-file 2>/dev/null && echo "wrote /" || echo "/ read-only"',
        'touch /sandbox/ok && echo "/sandbox writable"',
      ].join('\n'),
    );

    expect(result.stdout.content).toBe('/etc read-only\n/ read-only\n/sandbox writable\n');
  });

  it('is not root, has no capabilities, and cannot gain privileges', async () => {
    const result = await run(
      replica.url,
      image,
      [
        'id -u; id -g',
        'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status | tr -s "\\t " " "',
      ].join('\n'),
    );

    expect(result.stdout.content).toBe(
      [
        '40000',
        '40000',
        'CapInh: 0000000000000000',
        'CapPrm: 0000000000000000',
        'CapEff: 0000000000000000',
        'CapBnd: 0000000000000000',
        'CapAmb: 0000000000000000',
        'NoNewPrivs: 1',
        '',
      ].join('\n'),
    );
  });

  it('gains nothing from setuid binaries', async () => {
    // The python image has Debian's setuid su, mount and passwd; busybox ones are not setuid.
    const result = await run(
      replica.url,
      image,
      [
        'for binary in $(find / -xdev -perm -4000 -type f 2>/dev/null); do echo "setuid $binary"; done',
        'if [ -x /usr/bin/su ]; then /usr/bin/su -c "id -u" root </dev/null >/dev/null 2>&1 && echo "su worked" || echo "su refused"; fi',
        'if [ -x /usr/bin/mount ]; then /usr/bin/mount -t tmpfs none /mnt 2>/dev/null && echo "mount worked" || echo "mount refused"; fi',
        'id -u',
      ].join('\n'),
    );

    expect(result.stdout.content).not.toMatch(/worked/);
    expect(result.stdout.content).toMatch(/40000\n$/);
    if (image === PYTHON) expect(result.stdout.content).toMatch(/setuid \/usr\/bin\/su[\s\S]*su refused/);
  });

  it('cannot reach the Docker socket', async () => {
    const result = await run(
      replica.url,
      image,
      [
        'for path in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock; do',
        '  [ -e "$path" ] && echo "found $path"',
        'done',
        'echo checked',
      ].join('\n'),
    );

    expect(result.stdout.content).toBe('checked\n');
  });

  it('cannot see the files or processes of another run on the same image at the same time', async () => {
    const first = run(
      replica.url,
      image,
      ['echo secret > /sandbox/secret-of-first; echo secret > /tmp/secret-of-first', 'sleep 3 & wait'].join('\n'),
      { maxSeconds: 10 },
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const second = await run(
      replica.url,
      image,
      [
        'ls -a /sandbox /tmp /home/sandbox | grep secret || echo "no secret"',
        'for cmdline in /proc/[0-9]*/cmdline; do tr "\\0" " " < $cmdline 2>/dev/null; echo; done | grep "[s]leep 3" || echo "no sleep 3"',
      ].join('\n'),
    );

    expect(second.stdout.content).toBe('no secret\nno sleep 3\n');
    expect((await first).exitCode).toBe(0);
  });

  it('starts every run from empty work areas, whatever the run before left', async () => {
    await run(replica.url, image, 'echo left > /sandbox/leftover; echo left > /tmp/leftover; echo left > ~/leftover');

    const result = await run(replica.url, image, 'find /sandbox /home/sandbox /tmp -name leftover | wc -l');

    expect(result.stdout.content.trim()).toBe('0');
  });
});

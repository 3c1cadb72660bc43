import {
  BUSYBOX,
  docker,
  eventually,
  poolLevels,
  postRun,
  replicaContainers,
  run,
  waitForFullPool,
} from '../support/daemon-harness';
import { useReplica } from '../support/use-replica';

describe('pooled containers that die, and images that cannot be created', () => {
  const replica = useReplica(
    'pool-faults',
    {
      pools: [
        { image: BUSYBOX, size: 2 },
        { image: 'warmpool-test/no-such-image', size: 1 },
      ],
    },
    { waitFor: [BUSYBOX] },
  );

  async function readyIds(): Promise<string[]> {
    const containers = await replicaContainers(replica.config.replicaId);
    return containers
      .filter((container) => container.Labels['warmpool.pool'] === BUSYBOX && container.State === 'paused')
      .map((container) => container.Id);
  }

  it('replaces a ready container an operator removed with docker rm -f', async () => {
    const [victim] = await readyIds();
    const before = await poolLevels(replica.url, BUSYBOX);

    await docker.getContainer(victim).remove({ force: true });

    await eventually(
      async () => (await poolLevels(replica.url, BUSYBOX)).created > before.created,
      15_000,
      'replacement created',
    );
    await waitForFullPool(replica.url, BUSYBOX);
    expect(await readyIds()).not.toContain(victim);
    expect(await readyIds()).toHaveLength(2);
  });

  it('replaces a ready container that was killed, and removes what is left of it', async () => {
    const [victim] = await readyIds();

    await docker.getContainer(victim).kill();

    await eventually(
      async () => !(await replicaContainers(replica.config.replicaId)).some((c) => c.Id === victim),
      15_000,
      'killed container removed',
    );
    await waitForFullPool(replica.url, BUSYBOX);
    expect(await readyIds()).toHaveLength(2);
  });

  it('hands out a working container even when every ready one died unnoticed', async () => {
    // Removed faster than events arrive: the checkout meets dead containers and quietly goes on.
    const ids = await readyIds();
    await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true })));

    const result = await run(replica.url, BUSYBOX, 'echo fine');

    expect(result).toMatchObject({ stdout: { content: 'fine\n' }, exitCode: 0 });
    await waitForFullPool(replica.url, BUSYBOX);
  });

  it('answers 503 when the container of a run under way is killed from outside', async () => {
    await waitForFullPool(replica.url, BUSYBOX);
    const answer = postRun(replica.url, { image: BUSYBOX, main: 'echo started; sleep 20', maxSeconds: 30 });
    // The run's container is the one whose processes include the run's sleep; refills run too, briefly.
    let leased: { Id: string } | undefined;
    await eventually(
      async () => {
        for (const container of await replicaContainers(replica.config.replicaId)) {
          if (container.State !== 'running') continue;
          const top = await docker
            .getContainer(container.Id)
            .top()
            .catch(() => ({ Processes: [] }));
          if ((top.Processes ?? []).some((process: string[]) => process.join(' ').includes('sleep 20')))
            leased = container;
        }
        return leased !== undefined;
      },
      10_000,
      'run under way',
    );

    await docker.getContainer(leased!.Id).kill();

    const { status, body } = await answer;
    expect(status).toBe(503);
    expect(body.error).toMatch(/stopped before the run finished/);
  });

  it('shows an image that cannot be created in /pools, retries it calmly, and answers its runs clearly', async () => {
    const image = 'warmpool-test/no-such-image';
    await eventually(async () => (await poolLevels(replica.url, image)).failed >= 1, 15_000, 'a failure counted');
    const first = await poolLevels(replica.url, image);
    expect(first).toMatchObject({ ready: 0, created: 0 });
    expect((first as unknown as { lastError: string }).lastError).toMatch(/no-such-image/);

    await new Promise((resolve) => setTimeout(resolve, 3000));
    const later = await poolLevels(replica.url, image);
    // The backoff doubles from 500 ms: a few tries in 3 s, never a hot loop.
    expect(later.failed - first.failed).toBeLessThanOrEqual(3);

    const answer = await postRun(replica.url, { image, main: 'echo hi' });
    expect(answer.status).toBe(500);
    expect(answer.body.error).toMatch(/could not create a container of warmpool-test\/no-such-image/);
  });
});

import type { ContainerLimits } from '../config/config';
import type { DockerEngine } from '../engine/docker-engine';
import { type Logger, shortId } from '../log/logger';
import { containerSpec, READY_MARKER } from './container-spec';

/** The container mechanics a pool needs; pools are unit-tested against a fake of this. */
export interface ContainerFactory {
  /** Creates and starts a container whose entrypoint waits; paused ones go to the pool. */
  create(image: string, limits: ContainerLimits, leaveAs: 'paused' | 'running'): Promise<string>;
  unpause(id: string): Promise<void>;
  remove(id: string): Promise<void>;
}

/** Makes pooled containers on the real engine: create, start, wait for the entrypoint, pause. */
export class DockerContainerFactory implements ContainerFactory {
  constructor(
    private readonly engine: DockerEngine,
    private readonly replicaId: string,
    private readonly readyTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  async create(image: string, limits: ContainerLimits, leaveAs: 'paused' | 'running'): Promise<string> {
    const id = await this.engine.createContainer(containerSpec(image, this.replicaId, limits));

    try {
      await this.engine.startContainer(id);
      await this.engine.waitForLogLine(id, READY_MARKER, this.readyTimeoutMs);
      // A container that fails to pause is removed below, never pooled.
      if (leaveAs === 'paused') await this.engine.pauseContainer(id);
      return id;
    } catch (error) {
      await this.remove(id).catch((removeError: Error) =>
        this.log.warn('could not remove a container that failed to start', {
          image,
          container: shortId(id),
          error: removeError.message,
        }),
      );
      throw error;
    }
  }

  async unpause(id: string): Promise<void> {
    await this.engine.unpauseContainer(id);
  }

  async remove(id: string): Promise<void> {
    await this.engine.removeContainer(id);
  }
}

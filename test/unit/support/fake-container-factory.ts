import type { ContainerLimits } from '../../../src/config/config';
import type { ContainerFactory } from '../../../src/pool/container-factory';

export interface CreationCall {
  /** The id the container gets if its creation succeeds. */
  id: string;
  image: string;
  limits: ContainerLimits;
  leaveAs: 'paused' | 'running';
}

interface Held {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * The container mechanics of a pool without Docker: records every call, and lets a test choose
 * whether creations and removals end at once or wait until the test ends them.
 */
export class FakeContainerFactory implements ContainerFactory {
  readonly creations: CreationCall[] = [];
  readonly unpaused: string[] = [];
  /** Ids asked to be removed, in order, whether the removal succeeded or not. */
  readonly removed: string[] = [];
  /** Containers whose unpause fails, as one that died while paused does. */
  readonly dead = new Set<string>();
  /** When set, every creation fails with this error. */
  createError: Error | undefined;
  /** When set, every removal fails with this error. */
  removeError: Error | undefined;
  /** When true, creations wait for finishCreation() or failCreation(). */
  holdCreations = false;
  /** When true, removals wait for finishRemoval(). */
  holdRemovals = false;
  private readonly heldCreations: Held[] = [];
  private readonly heldRemovals: Held[] = [];

  async create(image: string, limits: ContainerLimits, leaveAs: 'paused' | 'running'): Promise<string> {
    const id = `container-${this.creations.length + 1}`;
    this.creations.push({ id, image, limits, leaveAs });

    if (this.holdCreations) await wait(this.heldCreations);
    if (this.createError) throw this.createError;
    return id;
  }

  async unpause(id: string): Promise<void> {
    this.unpaused.push(id);
    if (this.dead.has(id)) throw new Error(`container ${id} is not running`);
  }

  async remove(id: string): Promise<void> {
    this.removed.push(id);

    if (this.holdRemovals) await wait(this.heldRemovals);
    if (this.removeError) throw this.removeError;
  }

  /** Creations started and not yet ended by the test. */
  get heldCreationCount(): number {
    return this.heldCreations.length;
  }

  /** Ends the oldest held creation; it succeeds unless createError is set. */
  finishCreation(): void {
    this.takeHeld(this.heldCreations, 'creation').resolve();
  }

  failCreation(error: Error): void {
    this.takeHeld(this.heldCreations, 'creation').reject(error);
  }

  finishRemoval(): void {
    this.takeHeld(this.heldRemovals, 'removal').resolve();
  }

  private takeHeld(held: Held[], what: string): Held {
    const next = held.shift();
    if (!next) throw new Error(`no ${what} is waiting to be finished`);
    return next;
  }
}

function wait(held: Held[]): Promise<void> {
  return new Promise<void>((resolve, reject) => held.push({ resolve, reject }));
}

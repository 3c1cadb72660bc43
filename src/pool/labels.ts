/** Every label key warmpool puts on a container, in one place. */
export const LABELS = {
  /** The replica that created the container; each replica sweeps only its own. */
  replica: 'warmpool.replica',
  /** The pool (by image) the container was created for. */
  pool: 'warmpool.pool',
} as const;

export function containerLabels(replicaId: string, image: string): Record<string, string> {
  return { [LABELS.replica]: replicaId, [LABELS.pool]: image };
}

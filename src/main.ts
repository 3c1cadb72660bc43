import { loadConfig } from './config/load-config';
import { Daemon } from './daemon';
import { WarmpoolError } from './errors';
import { createLogger } from './log/logger';

/** The daemon's process: reads the configuration, starts one replica and stops it on a signal. */
async function main(): Promise<void> {
  let log = createLogger();
  const config = loadConfig();
  log = createLogger({ fields: { replica: config.replicaId } });

  const daemon = new Daemon(config, log);
  watchProcess(daemon, log);
  const address = await daemon.start();

  const example = config.pools[0]?.image ?? 'IMAGE';
  process.stderr.write(
    [
      '',
      `warmpool is ready on http://${address.address}:${address.port}. Try:`,
      '',
      `  curl -s http://${address.address}:${address.port}/run -H 'content-type: application/json' \\`,
      `    -d '{"image": "${example}", "main": "echo hello"}'`,
      '',
      `  curl -s http://${address.address}:${address.port}/pools`,
      '',
      '',
    ].join('\n'),
  );
}

function watchProcess(daemon: Daemon, log: ReturnType<typeof createLogger>): void {
  let forced = false;
  let signals = 0;
  const stop = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      forced = true;
      // A second signal means "now": runs under way are dropped, but no container is left behind.
      log.warn("received a second signal; removing this replica's containers and exiting now", { signal });
      daemon.pools.closeNow().finally(() => process.exit(1));
      return;
    }
    log.info('received a signal; finishing the runs under way', { signal });
    daemon.stop().then(
      () => process.exit(forced ? 1 : 0),
      (error: Error) => {
        log.error('shutdown failed', { error: error.message, stack: error.stack });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // A stray rejection is a bug to log, not a reason to drop every run under way.
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled rejection', { error: String(reason), stack: (reason as Error)?.stack });
  });
  process.on('uncaughtException', (error) => {
    log.error("uncaught exception; removing this replica's containers and exiting", {
      error: error.message,
      stack: error.stack,
    });
    daemon.pools.closeNow().finally(() => process.exit(1));
  });
}

main().catch((error: Error) => {
  const message = error instanceof WarmpoolError ? error.message : (error.stack ?? String(error));
  process.stderr.write(`warmpool: could not start: ${message}\n`);
  process.exit(1);
});

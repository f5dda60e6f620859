/**
 * --max-host-memory's default: what a run's simulated RAM may hold on the
 * host (vmlab run, vmlab repl). Apart from run.ts so that main.ts can show
 * it in --help without loading the scenario engine.
 */
export const DEFAULT_MAX_HOST_MEMORY = "2G";

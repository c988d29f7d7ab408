/**
 * One synth, as `cdk synth` runs it: a fresh process that loads the
 * library, builds the benchmark site with the given number of overrides
 * and synthesizes its app. bench/run.ts times this process as a whole:
 * it prints the CPU time it took, which other load on the machine does not
 * inflate as it does wall time.
 */
import { synthesize } from './run';

synthesize(Number(process.argv[2]));
const { user, system } = process.cpuUsage();
console.log(JSON.stringify({ cpuMs: (user + system) / 1000 }));

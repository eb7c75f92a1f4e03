/**
 * V8 flags for the processes that run test files: the unit runner's (./runner.js) and jest's
 * workers. V8 compiles a function with TurboFan, on a thread beside the process's own, once the
 * function has run 66 KB of bytecode (--interrupt-budget=67584). A test process runs a great deal
 * of code a few times each: in a unit process a fifth of its CPU time went to compiling functions
 * that then hardly ran. With a budget 15 times higher, only code that keeps running is compiled:
 * `npm test` took 5 % less CPU (46.8 against 49.5 CPU-s, four runs each, alternately). Not for
 * `jest -i`, whose files run in jest's own process, started before the runner.
 */
const TEST_PROCESS_V8_FLAGS = ["--interrupt-budget=1000000"];

module.exports = { TEST_PROCESS_V8_FLAGS };

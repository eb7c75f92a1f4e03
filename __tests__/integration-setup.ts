// The integration project's tests start real programs (nginx, app processes, terraform, main.ts in
// a child process), whose time follows the machine's load: on a fresh clone's CI, beside the
// drills, a plan test that takes 0.7 s alone passed jest's default of 5 s. 30 s for a test or hook
// that sets no timeout of its own; those that set one keep it.
jest.setTimeout(30_000);

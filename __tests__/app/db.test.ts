/**
 * The sample app's database code (app/db.js), in-process: how often it reads the secret while the
 * first read fails. The password reader is the test's own; no database is needed (no pool is made
 * while no password is known). The drills in __tests__/server run the same code against real servers.
 */

interface Settings {
  readonly dialect: string;
  readonly secretId: string;
}
interface DatabaseClass {
  new (
    settings: Settings,
    log: (line: string) => void,
    options: { readPassword: (settings: Settings) => Promise<string> },
  ): { ready(): Promise<unknown>; ping(timeoutMs: number): Promise<void> };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Database } = require("../../app/db.js") as { Database: DatabaseClass };

const SETTINGS: Settings = { dialect: "postgres", secretId: "app/db" };

test("while Secrets Manager cannot be read, health pings and requests do not each start a new read: one per 2 s at most", async () => {
  let now = 1_000_000;
  const clock = jest.spyOn(Date, "now").mockImplementation(() => now);
  try {
    let reads = 0;
    const readPassword = async () => {
      reads++;
      throw new Error("reading secret app/db failed: Could not connect to the endpoint URL");
    };
    const db = new Database(SETTINGS, () => {}, { readPassword });
    // the app's start, then 20 health pings and requests within the next second
    await expect(db.ready()).rejects.toThrow(/Could not connect/);
    for (let i = 0; i < 20; i++) {
      now += 50;
      await expect(db.ping(1000)).rejects.toThrow(/Could not connect/);
    }
    expect(reads).toBe(1);
    // several callers at once, once the window is over: one read for all of them
    now += 2000;
    const callers = await Promise.allSettled([db.ready(), db.ready(), db.ping(1000)]);
    expect(callers.map((c) => c.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(reads).toBe(2);
    now += 1999;
    await expect(db.ready()).rejects.toThrow(/Could not connect/);
    expect(reads).toBe(2);
  } finally {
    clock.mockRestore();
  }
});

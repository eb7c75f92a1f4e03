import { parseEnvironment } from "../../src/config/load";
import { COST_DEFAULTS } from "../../src/config/schema";
import { environmentFile } from "../helpers";

// The cost: section: usage the monthly estimate assumes, each with a stated default.
describe("an environment's cost assumptions", () => {
  test("default to the documented figures when the file has no cost: section", () => {
    expect(parseEnvironment("dev", environmentFile()).environment!.cost).toEqual(COST_DEFAULTS);
  });

  test("take the file's figures, field by field", () => {
    const env = parseEnvironment("dev", environmentFile({ cost: { natProcessedGbPerMonth: 500, s3StoredGb: 0 } }));
    expect(env.environment!.cost).toEqual({ ...COST_DEFAULTS, natProcessedGbPerMonth: 500, s3StoredGb: 0 });
  });

  test.each([
    [{ natProcessedGbPerMonth: -1 }, "cost.natProcessedGbPerMonth must be a number from 0 to 1000000 (got -1)"],
    [{ requestsPerSecond: "lots" }, 'cost.requestsPerSecond must be a number from 0 to 1000000 (got "lots")'],
    [{ trafic: 1 }, /^cost.trafic is not a known field \(allowed: requestsPerSecond, internetEgressGbPerMonth,/],
  ])("reject bad figures in one line naming the field: %j", (cost, message) => {
    const { problems } = parseEnvironment("dev", environmentFile({ cost }));
    expect(problems).toContainEqual(typeof message === "string" ? message : expect.stringMatching(message));
  });
});

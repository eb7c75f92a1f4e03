import { parseWrk } from "../scripts/bench-in-server";

// A wrk --latency report in wrk 4's layout, written by this test (not captured from a run).
const REPORT = `Running 10s test @ http://127.0.0.1:8080/work
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    15.86ms    6.10ms  80.11ms   75.00%
  Latency Distribution
     50%   15.86ms
     75%   20.01ms
     90%   24.50ms
     99%    1.20s
  5204 requests in 10.00s, 1.01MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    520.40
Transfer/sec:    103.33KB
`;

test("the bench reads throughput, p50/p99 in ms whatever wrk's unit, and counts every failed request", () => {
  expect(parseWrk(REPORT)).toEqual({ requestsPerSecond: 520.4, p50Ms: 15.86, p99Ms: 1200, errors: 7 });
  expect(parseWrk(REPORT.replace("15.86ms\n     75%", "840.00us\n     75%")).p50Ms).toBeCloseTo(0.84);
  expect(() => parseWrk("wrk: connection refused")).toThrow(/unexpected wrk output/);
});

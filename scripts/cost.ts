import { costCommand } from "../src/cost/command";

// `npm run cost [-- <env>...]`: each environment's monthly on-demand estimate, line by line, from
// the shipped price table (src/cost/prices.json). `npm run cost -- --update` refreshes the table
// from the AWS Price List API. See src/cost/command.ts.
costCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`cost: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);

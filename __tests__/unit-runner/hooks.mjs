// Node.js module hooks for the unit runner (./register.js): a .ts file that is import()ed (the
// runner imports each test file, its URL given a query) loads as CommonJS, through the .ts
// require hook register.js installs, like every module it requires in turn.
export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && /\.ts(\?[^#]*)?$/.test(url)) return { format: "commonjs", shortCircuit: true };
  return nextLoad(url, context);
}

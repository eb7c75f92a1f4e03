import { REGION_PLACES, regionLabel, regionOfPlace } from "./regions";

/**
 * "Did you mean ...?" for a value that is close to an allowed one: a typo (`ap-northeast2`,
 * `natGateway`) or another way of naming it (`seoul` for `ap-northeast-2`). Kept to a plain edit
 * distance over a few dozen names; a dependency would not say more.
 */

/** Levenshtein distance: insertions, deletions and substitutions, each costing 1. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The one candidate `input` most likely meant: equal ignoring case, or within a small edit distance
 * (a third of its length, at most 3), and closer than any other; `undefined` when none is.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const wanted = input.toLowerCase();
  const scored = candidates
    .map((candidate) => ({ candidate, distance: editDistance(wanted, candidate.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance);
  const [best, next] = scored;
  if (!best) return undefined;
  const allowed = Math.min(3, Math.floor(best.candidate.length / 3));
  if (best.distance > allowed || (next && next.distance === best.distance)) return undefined;
  return best.candidate;
}

/**
 * What a value outside an allowed list most likely meant, worded for a message: a region's place
 * name or a near-miss of its code gives `ap-northeast-2 (Seoul)`; any other list, the closest value.
 */
export function valueMeant(input: string, allowed: readonly string[]): string | undefined {
  const region = regionOfPlace(input);
  const meant = region && allowed.includes(region) ? region : closest(input, allowed);
  if (meant === undefined) return undefined;
  return REGION_PLACES[meant] ? regionLabel(meant) : meant;
}

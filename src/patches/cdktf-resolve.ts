// Copyright (c) HashiCorp, Inc.
// SPDX-License-Identifier: MPL-2.0
// Derived from cdktf 0.21.0's lib/tokens/private/resolve.js: unlike the rest of this repository
// (MIT), this file is subject to the Mozilla Public License, v. 2.0 (https://mozilla.org/MPL/2.0/).

/**
 * Stands in for cdktf's `lib/tokens/private/resolve` module (cdktf 0.21.0), where its
 * `lib/tokens/token.js` loads it, in the bundle that scripts/run.js builds and in the tests
 * (__tests__/resolver.js, __tests__/unit-runner/register.js).
 *
 * cdktf resolves every element of a stack twice per synth (once "preparing", once for output) and
 * then the merged stack once more, and its `resolve` pays for each value it visits as if it might
 * hold a token: a context with closures, a copy of the options, a longer path array, the path
 * joined into a string (used only in error messages), and three regular-expression tests per
 * string. Most values are plain strings, numbers, booleans or undefined. That was over half of
 * what one more environment costs a synth (docs/development.md#benchmark).
 *
 * This is cdktf's own code (MPL-2.0, HashiCorp), in the same order and with the same results,
 * with changes that cannot change what it returns or throws, or what any token sees:
 * - the path of an error message is joined only when there is an error;
 * - a string that contains no token marker and no number-token pattern is returned as it is,
 *   before the tests that would each find nothing (the string, list and map token patterns start
 *   with their markers, and every number-token match holds an "e": checked on the first resolve,
 *   and a shortcut whose check fails is not taken); likewise only keys and list elements that hold
 *   a marker are tested;
 * - an element of an array or object that is such a string, a number that is not a token,
 *   a boolean, null or undefined is taken as it is, without the context and options cdktf
 *   builds for a recursive call that would return it unchanged. That context is never handed to
 *   any token (only values that may hold a token reach a resolver, through the unchanged path),
 *   and past cdktf's depth limit every value still takes the unchanged path and its error;
 * - any other element is resolved with a copy of the four fields its context would have copied
 *   (suppressBraces, ignoreEscapes, warnEscapes, iteratorContext) in place of that context: the
 *   recursive call reads nothing else of it, and no token ever holds it.
 * One addition throws where cdktf would not: a reference to another stack's resource, which needs
 * the preparing pass this project's stacks skip (`refuseUnpreparedCrossStackReference`).
 * __tests__/patches/cdktf-resolve.test.ts compares it with cdktf's module on every shipped
 * environment (each element, and whole synths) and on tokens of every kind, and fails when cdktf's
 * module is not the one this was written from.
 */
import type { IConstruct } from "constructs";
import * as errors from "cdktf/lib/errors";
import {
  DefaultTokenResolver,
  StringConcat,
  type IPostProcessor,
  type IResolvable,
  type IResolveContext,
  type ITokenResolver,
} from "cdktf/lib/tokens/resolvable";
import {
  BEGIN_LIST_TOKEN_MARKER,
  BEGIN_MAP_TOKEN_MARKER,
  BEGIN_STRING_TOKEN_MARKER,
  containsMapToken,
  containsNumberListTokenElement,
  containsStringListTokenElement,
  extractTokenDouble,
  regexQuote,
  TokenString,
} from "cdktf/lib/tokens/private/encoding";
import { TokenMap } from "cdktf/lib/tokens/private/token-map";
import { Token, Tokenization } from "cdktf/lib/tokens/token";
import type { TokenizedStringFragments } from "cdktf/lib/tokens/string-fragments";

export interface IResolveOptions {
  scope: IConstruct;
  preparing: boolean;
  resolver: ITokenResolver;
  prefix?: string[];
  previousContext?: IResolveContext;
}

/** cdktf's depth limit: a deeper path is taken for a circular reference. */
const MAX_DEPTH = 200;

/** The text every string, list and map token marker holds. */
const MARKER_TEXT = "TfToken[";

/** Whether cdktf's pattern of a token of this kind starts with its marker (else no shortcut for it). */
function startsWithMarker(tokenString: TokenString, marker: string): boolean {
  return (tokenString as unknown as { re: RegExp }).re.source.startsWith(regexQuote(marker));
}

/**
 * cdktf's token patterns, and which shortcuts they allow: read on the first resolve, not while
 * this module loads (cdktf's encoding module may still be loading then).
 */
interface Patterns {
  /** cdktf's own pattern of a number token in a string (the very RegExp object, global flag and all). */
  readonly numberToken: RegExp;
  /** Every match of that pattern contains an "e"; checked, so a changed pattern only loses the shortcut. */
  readonly numberTokenNeedsE: boolean;
  readonly listStartsWithMarker: boolean;
  readonly mapStartsWithMarker: boolean;
  /** Whether a string without MARKER_TEXT can hold no string, list or map token (else no shortcut). */
  readonly markers: boolean;
}
let patterns: Patterns | undefined;
function tokenPatterns(): Patterns {
  if (patterns) return patterns;
  const numberToken = (TokenString.forNumbers("") as unknown as { re: RegExp }).re;
  const stringStartsWithMarker = startsWithMarker(TokenString.forString(""), BEGIN_STRING_TOKEN_MARKER);
  const listStartsWithMarker = startsWithMarker(TokenString.forListToken(""), BEGIN_LIST_TOKEN_MARKER);
  const mapStartsWithMarker = startsWithMarker(TokenString.forMapToken(""), BEGIN_MAP_TOKEN_MARKER);
  return (patterns = {
    numberToken,
    numberTokenNeedsE: numberToken.source === "[-|\\d|.\\+]+(e[-|\\d|.|e|E|\\+]+)",
    listStartsWithMarker,
    mapStartsWithMarker,
    markers:
      stringStartsWithMarker &&
      listStartsWithMarker &&
      mapStartsWithMarker &&
      [BEGIN_STRING_TOKEN_MARKER, BEGIN_LIST_TOKEN_MARKER, BEGIN_MAP_TOKEN_MARKER].every((m) =>
        m.includes(MARKER_TEXT),
      ),
  });
}

/** cdktf's `containsStringListTokenElement`, testing only the strings that hold the list marker. */
function hasStringListTokenElement(xs: unknown[]): boolean {
  if (!tokenPatterns().listStartsWithMarker) return containsStringListTokenElement(xs);
  return xs.some(
    (x) => typeof x === "string" && x.includes(BEGIN_LIST_TOKEN_MARKER) && TokenString.forListToken(x).test(),
  );
}

/** cdktf's `containsMapToken`, testing only the keys that hold the map marker. */
function hasMapTokenKey(xs: object): boolean {
  if (!tokenPatterns().mapStartsWithMarker) return containsMapToken(xs);
  return Object.keys(xs).some(
    (x) => typeof x === "string" && x.includes(BEGIN_MAP_TOKEN_MARKER) && TokenString.forMapToken(x).test(),
  );
}

/** cdktf's `unresolved` for an object that is neither null nor an array, with `hasMapTokenKey`. */
function isUnresolvedObject(obj: object): boolean {
  return hasMapTokenKey(obj) || Tokenization.isResolvable(obj);
}

/**
 * (stand-in, the one addition that can throw where cdktf would not) cdktf's `Reference` token, an
 * attribute of a resource, data source, local, variable or module, carries the stack it belongs
 * to. Resolved in another stack, it needs what cdktf's preparing pass adds (an output and a remote
 * state), and this project's stacks skip that pass (src/stacks/independent-stack.ts, which probes
 * for this error's code before it does): such a reference stops the synthesis here, where cdktf
 * would write the attribute's address as if it were in this stack.
 */
function refuseUnpreparedCrossStackReference(token: object, scope: IConstruct, pathName: () => string): void {
  const reference = token as {
    identifier?: unknown;
    originStack?: IConstruct;
    crossStackIdentifier?: Record<string, string>;
  };
  if (reference.originStack === undefined || reference.crossStackIdentifier === undefined) return;
  const here = stackOf(scope);
  // outside any stack, cdktf's own resolve of the reference throws its error, unchanged
  if (here === undefined) return;
  if (reference.originStack === here || reference.crossStackIdentifier[String(here)] !== undefined) return;
  const what = typeof reference.identifier === "string" ? reference.identifier : "an attribute";
  throw Object.assign(
    new Error(
      `Stack "${here.node.id}" refers to ${what} of stack "${reference.originStack.node.id}" (at ${pathName()}): ` +
        "every stack here stands alone, with its own state, and cannot read another stack's resources. " +
        "Pass the value in through the environment's configuration instead.",
    ),
    // what src/stacks/independent-stack.ts's probe looks for (CROSS_STACK_REFERENCE there)
    { code: "CROSS_STACK_REFERENCE" },
  );
}

/** The stack `scope` belongs to, found as cdktf's `TerraformStack.of` finds it (its marker symbol). */
function stackOf(scope: IConstruct): IConstruct | undefined {
  for (let c: IConstruct | undefined = scope; c !== undefined; c = c.node.scope) {
    if (STACK_SYMBOL in c) return c;
  }
  return undefined;
}

const STACK_SYMBOL = Symbol.for("cdktf/TerraformStack");

// This file should not be exported to consumers, resolving should happen through Construct.resolve()
const tokenMap = TokenMap.instance();

/**
 * Whether `resolve` returns string `s` unchanged, touching nothing: no token marker, not one of
 * the map-token values it rejects, and nothing the number-token pattern matches.
 */
function isPlainString(s: string): boolean {
  const { markers, numberToken, numberTokenNeedsE } = tokenPatterns();
  if (!markers || s.includes(MARKER_TEXT)) return false;
  if (s === Token.STRING_MAP_TOKEN_VALUE || s === Token.ANY_MAP_TOKEN_VALUE) return false;
  if (numberTokenNeedsE && !s.includes("e")) return true;
  numberToken.lastIndex = 0; // as TokenString.test() does
  return !numberToken.test(s);
}

/** Returned by `plainValue` for a value that must go through `resolve`. */
const NOT_PLAIN: unique symbol = Symbol("not plain");

/** `x` itself when `resolve` would return it unchanged, touching nothing; else NOT_PLAIN. */
function plainValue(x: unknown): unknown {
  switch (typeof x) {
    case "undefined":
    case "boolean":
      return x;
    case "string":
      return isPlainString(x) ? x : NOT_PLAIN;
    case "number":
      return x !== Token.NUMBER_MAP_TOKEN_VALUE && extractTokenDouble(x, false) === undefined ? x : NOT_PLAIN;
    case "object":
      return x === null ? null : NOT_PLAIN;
    default:
      return NOT_PLAIN;
  }
}

/**
 * Resolves an object by evaluating all tokens and removing any undefined or empty objects or arrays.
 * Values can only be primitives, arrays or tokens. Other objects (i.e. with methods) will be rejected.
 *
 * @param obj The object to resolve.
 * @param prefix Prefix key path components for diagnostics.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolve(obj: any, options: IResolveOptions): any {
  const prefix = options.prefix || [];
  // cdktf joins it at every call; only an error message reads it
  const pathName = () => "/" + prefix.join("/");

  /**
   * Make a new resolution context
   */
  function makeContext(appendPath?: string): [IResolveContext, IPostProcessor] {
    const newPrefix = appendPath !== undefined ? prefix.concat([appendPath]) : options.prefix;
    let postProcessor: IPostProcessor | undefined;
    const context: IResolveContext = {
      preparing: options.preparing,
      scope: options.scope,
      suppressBraces: options.previousContext?.suppressBraces,
      ignoreEscapes: options.previousContext?.ignoreEscapes,
      warnEscapes: options.previousContext?.warnEscapes,
      iteratorContext: options.previousContext?.iteratorContext,
      registerPostProcessor(pp) {
        postProcessor = pp;
      },
      resolve(x: unknown) {
        return resolve(x, {
          ...options,
          prefix: newPrefix,
          previousContext: context,
        });
      },
    };
    return [
      context,
      {
        postProcess(x) {
          return postProcessor ? postProcessor.postProcess(x, context) : x;
        },
      },
    ];
  }

  /**
   * (stand-in) What `makeContext(key)[0].resolve(x)` does, without building that context: the call
   * it makes reads only these four fields of it (in its own `makeContext`), copied here as
   * `makeContext` copies them, and nothing else can reach it (it is no token's context).
   */
  function resolveElement(x: unknown, key: string): unknown {
    const previous = options.previousContext;
    const copied: Pick<IResolveContext, "suppressBraces" | "ignoreEscapes" | "warnEscapes" | "iteratorContext"> = {
      suppressBraces: previous?.suppressBraces,
      ignoreEscapes: previous?.ignoreEscapes,
      warnEscapes: previous?.warnEscapes,
      iteratorContext: previous?.iteratorContext,
    };
    return resolve(x, { ...options, prefix: prefix.concat([key]), previousContext: copied as IResolveContext });
  }

  // protect against cyclic references by limiting depth.
  if (prefix.length > MAX_DEPTH) {
    throw errors.unableToResolveCircularReference(pathName());
  }

  //
  // undefined
  //
  if (typeof obj === "undefined") {
    return undefined;
  }

  //
  // null
  //
  if (obj === null) {
    return null;
  }

  //
  // functions - not supported (only tokens are supported)
  //
  if (typeof obj === "function") {
    throw errors.cannotResolveFunction(pathName(), obj);
  }

  //
  // string - potentially replace all stringified Tokens
  //
  if (typeof obj === "string") {
    // (stand-in) what every test below would find nothing in
    if (isPlainString(obj)) return obj;

    // If this is a "list element" Token, it should never occur by itself in string context
    if (TokenString.forListToken(obj).test()) {
      throw errors.encodedListTokenInScalarStringContext();
    }

    if (obj === Token.STRING_MAP_TOKEN_VALUE || obj === Token.ANY_MAP_TOKEN_VALUE) {
      throw errors.encodedMapTokenInScalarStringContext();
    }

    let str: string = obj;
    const context = makeContext()[0];
    const tokenStr = TokenString.forString(str, !context.ignoreEscapes, context.warnEscapes);
    if (tokenStr.test()) {
      const fragments = tokenStr.split(tokenMap.lookupToken.bind(tokenMap));
      str = options.resolver.resolveString(fragments, makeContext()[0]);
    }

    // replace concatenated token numbers
    const tokenNumberStr = TokenString.forNumbers(str);
    if (tokenNumberStr.test()) {
      const fragments = tokenNumberStr.split((id) => {
        return TokenMap.instance().lookupNumberToken(parseFloat(id));
      });
      const context = makeContext()[0];
      str = fragments.mapTokens(context).join(new StringConcat());
    }

    return str;
  }

  //
  // number - potentially decode Tokenized number
  //
  if (typeof obj === "number") {
    if (obj === Token.NUMBER_MAP_TOKEN_VALUE) {
      throw errors.encodedMapTokenInScalarNumberContext();
    }
    return resolveNumberToken(obj, makeContext()[0]);
  }

  //
  // primitives - as-is
  //
  if (typeof obj !== "object" || obj instanceof Date) {
    return obj;
  }

  // (stand-in) whether an element's own call would pass the depth check; past it, it must throw
  const elementsWithinDepth = prefix.length + 1 <= MAX_DEPTH;

  //
  // arrays - resolve all values, remove undefined and remove empty arrays
  //
  if (Array.isArray(obj)) {
    if (hasStringListTokenElement(obj)) {
      return options.resolver.resolveList(obj, makeContext()[0]);
    }

    if (containsNumberListTokenElement(obj)) {
      return options.resolver.resolveNumberList(obj, makeContext()[0]);
    }

    const arr = obj
      .map((x, i) => {
        const plain = elementsWithinDepth ? plainValue(x) : NOT_PLAIN;
        return plain !== NOT_PLAIN ? plain : resolveElement(x, `${i}`);
      })
      .filter((x) => typeof x !== "undefined");

    return arr;
  }

  // check for tokenized map
  if (hasMapTokenKey(obj)) {
    return options.resolver.resolveMap(obj, makeContext()[0]);
  }

  //
  // tokens - invoke 'resolve' and continue to resolve recursively
  //
  if (isUnresolvedObject(obj)) {
    if (!options.preparing) refuseUnpreparedCrossStackReference(obj, options.scope, pathName);
    const [context, postProcessor] = makeContext();
    return options.resolver.resolveToken(obj, context, postProcessor);
  }

  //
  // objects - deep-resolve all values
  //

  // Must not be a Construct at this point, otherwise you probably made a typo
  // mistake somewhere and resolve will get into an infinite loop recursing into
  // child.parent <---> parent.children
  if (isConstruct(obj)) {
    throw errors.constructsCannotBeResolved(pathName());
  }

  const result: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    // (stand-in) a key's own call has this call's depth, which passed the check above
    const resolvedKey = isPlainString(key) ? key : makeContext()[0].resolve(key);
    if (typeof resolvedKey !== "string") {
      throw errors.mapKeyMustResolveToString(pathName(), key, resolvedKey);
    }

    const element = obj[key]; // read once, as cdktf does (a getter or a proxy may make a new token each time)
    const plain = elementsWithinDepth ? plainValue(element) : NOT_PLAIN;
    const value = plain !== NOT_PLAIN ? plain : resolveElement(element, key);

    // skip undefined
    if (typeof value === "undefined") {
      continue;
    }

    result[resolvedKey] = value;
  }

  return result;
}

/**
 * Find all Tokens that are used in the given structure
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function findTokens(scope: IConstruct, fn: () => any): IResolvable[] {
  const resolver = new RememberingTokenResolver(new StringConcat());

  resolve(fn(), { scope, prefix: [], resolver, preparing: true });

  return resolver.tokens;
}

/**
 * Remember all Tokens encountered while resolving
 */
export class RememberingTokenResolver extends DefaultTokenResolver {
  private readonly tokensSeen = new Set<IResolvable>();

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  public resolveToken(t: IResolvable, context: IResolveContext, postProcessor: IPostProcessor): any {
    this.tokensSeen.add(t);
    return super.resolveToken(t, context, postProcessor);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  public resolveString(s: TokenizedStringFragments, context: IResolveContext): any {
    const ret = super.resolveString(s, context);
    return ret;
  }

  public get tokens(): IResolvable[] {
    return Array.from(this.tokensSeen);
  }
}

/**
 * Determine whether an object is a Construct
 *
 * Not in 'construct.ts' because that would lead to a dependency cycle via 'uniqueid.ts',
 * and this is a best-effort protection against a common programming mistake anyway.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function isConstruct(x: any): boolean {
  return x._children !== undefined && x._metadata !== undefined;
}

/**
 * Resolves a number token
 */
function resolveNumberToken(x: number, context: IResolveContext): unknown {
  const token = TokenMap.instance().lookupNumberToken(x);
  if (token === undefined) {
    return x;
  }
  return context.resolve(token);
}

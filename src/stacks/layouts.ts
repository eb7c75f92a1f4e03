import type { Construct } from "constructs";
import type { Layout } from "../config/schema";
import { AppDbSplitStack } from "./app-db-split-stack";
import type { EnvironmentStack, EnvironmentStackProps } from "./environment-stack";
import { LoadBalancedStack } from "./load-balanced-stack";
import { SingleServerStack } from "./single-server-stack";

/** The stack class of each layout: one class per layout, each composing the same tier constructs. */
export const LAYOUT_STACKS: Record<
  Layout,
  new (scope: Construct, id: string, props: EnvironmentStackProps) => EnvironmentStack
> = {
  "single-server": SingleServerStack,
  "app-db-split": AppDbSplitStack,
  "load-balanced": LoadBalancedStack,
};

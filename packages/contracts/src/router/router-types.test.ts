/**
 * The router is assembled from the tables generically; these assertions (checked by `tsc`) prove that clients
 * still infer each procedure's input as its schema's input, its output as its schema's output, and each
 * subscription's events, as they did when every procedure was written out by hand.
 */
import type { inferRouterInputs, inferRouterOutputs, inferSubscriptionOutput } from "@trpc/server";
import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";

import type { AttemptAssignmentSchema } from "../agent.js";
import type { ExecutionEvent, ExecutionListEvent, LogChunk } from "../events.js";
import type {
  CreateExecutionInput,
  ExecutionDetailSchema,
  ExecutionSummarySchema,
  ListExecutionsInput,
} from "../executions.js";
import type { IdeContextSchema, IdeHandlers, IdeRequestContext, IdeRouter } from "../ide.js";
import type { AuthorizeTunnelInput } from "../relay.js";
import type { ResumeSessionInput } from "../sessions.js";
import type {
  AgentContext,
  AppHandlers,
  AppRouter,
  HealthSchema,
  ProjectContext,
  RelayContext,
  RequestContext,
  UserContext,
} from "./index.js";

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;

describe("AppRouter as clients infer it", () => {
  it("types outputs as the output schemas parse them", () => {
    expectTypeOf<Outputs["executions"]["get"]>().toEqualTypeOf<
      z.output<typeof ExecutionDetailSchema>
    >();
    expectTypeOf<Outputs["executions"]["list"]>().toEqualTypeOf<
      z.output<typeof ExecutionSummarySchema>[]
    >();
    expectTypeOf<Outputs["agent"]["assignment"]>().toEqualTypeOf<
      z.output<typeof AttemptAssignmentSchema>
    >();
    expectTypeOf<Outputs["health"]>().toEqualTypeOf<z.output<typeof HealthSchema>>();
  });

  it("types inputs as the input schemas accept them (defaults optional)", () => {
    expectTypeOf<Inputs["executions"]["create"]>().toEqualTypeOf<
      z.input<typeof CreateExecutionInput>
    >();
    expectTypeOf<Inputs["executions"]["list"]>().toEqualTypeOf<
      z.input<typeof ListExecutionsInput>
    >();
    expectTypeOf<Inputs["executions"]["list"]>().not.toEqualTypeOf<
      z.output<typeof ListExecutionsInput>
    >();
    expectTypeOf<Inputs["relay"]["authorizeTunnel"]>().toEqualTypeOf<
      z.input<typeof AuthorizeTunnelInput>
    >();
    expectTypeOf<Inputs["projects"]["list"]>().toEqualTypeOf<void>();
  });

  it("types each subscription's events", () => {
    expectTypeOf<
      inferSubscriptionOutput<AppRouter["executions"]["watch"]>
    >().toEqualTypeOf<ExecutionEvent>();
    expectTypeOf<
      inferSubscriptionOutput<AppRouter["executions"]["watchList"]>
    >().toEqualTypeOf<ExecutionListEvent>();
    expectTypeOf<
      inferSubscriptionOutput<AppRouter["executions"]["tailLogs"]>
    >().toEqualTypeOf<LogChunk>();
    expectTypeOf<
      AppRouter["executions"]["watch"]["_def"]["type"]
    >().toEqualTypeOf<"subscription">();
    expectTypeOf<AppRouter["executions"]["get"]["_def"]["type"]>().toEqualTypeOf<"query">();
    expectTypeOf<AppRouter["executions"]["create"]["_def"]["type"]>().toEqualTypeOf<"mutation">();
  });
});

describe("AppHandlers", () => {
  it("gives each handler the parsed input and the context of its access", () => {
    expectTypeOf<AppHandlers["executions"]["list"]>().parameters.toEqualTypeOf<
      [z.output<typeof ListExecutionsInput>, ProjectContext]
    >();
    expectTypeOf<AppHandlers["sessions"]["resume"]>().parameters.toEqualTypeOf<
      [z.output<typeof ResumeSessionInput>, ProjectContext]
    >();
    expectTypeOf<AppHandlers["agent"]["next"]>().parameters.toEqualTypeOf<[void, AgentContext]>();
    expectTypeOf<AppHandlers["relay"]["sessionReady"]>().parameter(1).toEqualTypeOf<RelayContext>();
    expectTypeOf<AppHandlers["health"]>().parameter(1).toEqualTypeOf<RequestContext>();
    expectTypeOf<AppHandlers["auth"]["me"]>().parameter(1).toEqualTypeOf<UserContext>();
  });

  it("lets a handler answer what the output schema accepts, and a subscription stream its events", () => {
    expectTypeOf<ReturnType<AppHandlers["executions"]["get"]>>().toEqualTypeOf<
      z.input<typeof ExecutionDetailSchema> | Promise<z.input<typeof ExecutionDetailSchema>>
    >();
    expectTypeOf<AppHandlers["executions"]["tailLogs"]>().parameters.toEqualTypeOf<
      [{ attemptId: string; offset: number }, ProjectContext, AbortSignal]
    >();
    expectTypeOf<ReturnType<AppHandlers["executions"]["tailLogs"]>>().toEqualTypeOf<
      AsyncIterable<LogChunk>
    >();
  });
});

describe("IdeRouter", () => {
  it("types outputs and handlers from the IDE table", () => {
    expectTypeOf<inferRouterOutputs<IdeRouter>["context"]>().toEqualTypeOf<
      z.output<typeof IdeContextSchema>
    >();
    expectTypeOf<{ choice: "original" }>().toExtend<inferRouterInputs<IdeRouter>["resume"]>();
    expectTypeOf<undefined>().toExtend<inferRouterInputs<IdeRouter>["resume"]>();
    expectTypeOf<IdeRouter["keepAlive"]["_def"]["type"]>().toEqualTypeOf<"mutation">();
    expectTypeOf<IdeHandlers["status"]>().parameters.toEqualTypeOf<[void, IdeRequestContext]>();
  });
});

import { createElement, isValidElement } from "react";
import type { ReactElement, ReactNode } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";

import type { Gate } from "../identity/roles.js";
import type { ResumeChoice } from "../ui/types.js";

// The console's tRPC client, as the pane calls it: sessions.resume is what a confirmed choice sends.
const resumeCalls = vi.hoisted(() => [] as unknown[]);
vi.mock("../api.js", () => ({
  api: {
    sessions: {
      resume: {
        mutate: (input: unknown) => {
          resumeCalls.push(input);
          return Promise.resolve({});
        },
      },
    },
  },
  errorMessage: (e: unknown) => (e instanceof Error ? e.message : String(e)),
  appCode: () => undefined,
}));
const { ConfirmResumeChoice, PausedResumeView, requestResume } = await import("./ResumeActions.js");
const { ConfirmDialog } = await import("./ConfirmDialog.js");
const { resumeOffers } = await import("./resume-choices.js");

type ViewProps = Parameters<typeof PausedResumeView>[0];

const allowed: Gate = { allowed: true };
const offers = resumeOffers({ reason: "exception" });

/** Every element of a rendered tree, depth first (function components are not called). */
function elements(node: ReactNode): ReactElement<Record<string, unknown>>[] {
  if (Array.isArray(node)) return node.flatMap(elements);
  if (!isValidElement<Record<string, unknown>>(node)) return [];
  return [node, ...elements(node.props.children as ReactNode)];
}

function view(extra: Partial<ViewProps> = {}) {
  const asked: ResumeChoice[] = [];
  const confirmed: ResumeChoice[] = [];
  const props: ViewProps = {
    offers,
    confirming: undefined,
    requested: undefined,
    busy: false,
    error: null,
    editor: allowed,
    onAsk: (c) => asked.push(c),
    onConfirm: (c) => confirmed.push(c),
    onCancel: () => undefined,
    ...extra,
  };
  return { tree: PausedResumeView(props), asked, confirmed };
}

function button(tree: ReactNode, label: string) {
  const found = elements(tree).find((e) => e.type === "button" && e.props.children === label);
  if (!found) throw new Error(`no button ${label}`);
  return found.props as { onClick: () => void; disabled: boolean };
}

/** The confirmation the view shows, as its ConfirmDialog. */
function dialog(tree: ReactNode) {
  const confirm = elements(tree).find((e) => e.type === ConfirmResumeChoice);
  if (!confirm) return undefined;
  const shown = ConfirmResumeChoice(confirm.props as Parameters<typeof ConfirmResumeChoice>[0]);
  expect(shown.type).toBe(ConfirmDialog);
  return shown.props as { title: string; confirmLabel: string; onConfirm: () => void };
}

describe("a paused task's resume choices", () => {
  const cases = [
    ["Resume with edits", "edited"],
    ["Run original again", "original"],
    ["End as failed", "fail"],
  ] as const;

  it.each(cases)(
    "%s asks for Confirm, then sends sessions.resume with %s",
    async (label, choice) => {
      const first = view();
      expect(dialog(first.tree)).toBeUndefined();
      button(first.tree, label).onClick();
      expect(first.asked).toEqual([choice]);

      // Asked: the confirmation of that choice is shown; only its Confirm sends it.
      const offer = offers.find((o) => o.choice === first.asked[0]);
      const second = view({ confirming: offer });
      const confirm = dialog(second.tree);
      expect(confirm?.confirmLabel).toBe("Confirm");
      expect(second.confirmed).toEqual([]);
      confirm?.onConfirm();
      expect(second.confirmed).toEqual([choice]);

      resumeCalls.length = 0;
      await requestResume({ executionId: "x1", nodeId: "n2" }, second.confirmed[0] ?? "edited");
      expect(resumeCalls).toEqual([{ executionId: "x1", nodeId: "n2", choice }]);
    },
  );

  it("says in each confirmation what the choice does", () => {
    const html = (choice: ResumeChoice, reason: "exception" | "before" = "exception") => {
      const offer = resumeOffers({ reason }).find((o) => o.choice === choice);
      if (!offer) throw new Error(choice);
      return renderToStaticMarkup(
        createElement(ConfirmResumeChoice, {
          offer,
          busy: false,
          onConfirm: () => undefined,
          onCancel: () => undefined,
        }),
      );
    };
    expect(html("edited")).toMatch(/Resume with the edited code\?<\/h2>.*edited in the IDE/s);
    expect(html("original")).toMatch(/Run the original code again\?<\/h2>.*a new attempt/s);
    expect(html("fail")).toMatch(/End the task as failed\?<\/h2>.*original error and stack/s);
    expect(html("fail")).toContain('<button type="button" class="danger">Confirm</button>');
    expect(html("original")).toContain('<button type="button" class="primary">Confirm</button>');
    // Held before it ran: the original code goes on in this attempt, and failing does not run it.
    expect(html("original", "before")).toContain("in this attempt");
    expect(html("fail", "before")).toContain("The task does not run");
  });

  it("offers nothing more while a choice is being sent or once one was asked for", () => {
    for (const extra of [{ busy: true }, { requested: "fail" as const }]) {
      const { tree } = view(extra);
      for (const [label] of cases) expect(button(tree, label).disabled).toBe(true);
    }
    expect(button(view().tree, "End as failed").disabled).toBe(false);
  });

  it("shows why the server refused a choice", () => {
    const html = renderToStaticMarkup(
      view({ error: new Error("the task of n2 is not paused") }).tree,
    );
    expect(html).toContain(
      '<p class="inline-error" role="alert">Could not resume: the task of n2 is not paused</p>',
    );
  });
});

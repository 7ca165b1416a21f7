import { describe, expect, it } from "vitest";

import {
  actorText,
  AUDIT_ACTIONS,
  AUDIT_PAGE_SIZE,
  auditFiltersSearch,
  auditQueryInput,
  detailText,
  isoToLocalInput,
  localInputToIso,
  readAuditFilters,
} from "./audit-filters.js";

describe("audit filters", () => {
  it("reads the URL's filters, dropping unknown actions and dates that are not dates", () => {
    const search = new URLSearchParams(
      "project=ops&since=2030-01-01T00:00:00Z&until=nope&action=session.share&action=bogus" +
        "&action=session.share&action=execution.abort&actor=+bob@example.com+&execution=x1&all=1",
    );
    expect(readAuditFilters(search)).toEqual({
      since: "2030-01-01T00:00:00.000Z",
      actions: ["session.share", "execution.abort"],
      actor: "bob@example.com",
      executionId: "x1",
      allProjects: true,
    });
    expect(readAuditFilters(new URLSearchParams(""))).toEqual({ actions: [], allProjects: false });
  });

  it("writes filters to the URL and reads them back unchanged", () => {
    const filters = {
      since: "2030-01-01T00:00:00.000Z",
      until: "2030-01-02T00:00:00.000Z",
      actions: AUDIT_ACTIONS.slice(0, 2),
      actor: "u-bob",
      executionId: "x1",
      allProjects: false,
    };
    const search = auditFiltersSearch(filters, "ops");
    expect(search.get("project")).toBe("ops");
    expect(search.getAll("action")).toEqual(AUDIT_ACTIONS.slice(0, 2));
    expect(readAuditFilters(search)).toEqual(filters);
    expect(auditFiltersSearch({ actions: [], allProjects: false }, "ops").toString()).toBe(
      "project=ops",
    );
  });

  it("makes audit.list's input for a project, with the page cursor", () => {
    expect(
      auditQueryInput(
        {
          actions: ["session.share"],
          actor: "bob",
          allProjects: false,
          since: "2030-01-01T00:00:00.000Z",
        },
        "ops",
        "1200",
      ),
    ).toEqual({
      procedure: "list",
      input: {
        project: "ops",
        limit: AUDIT_PAGE_SIZE,
        actions: ["session.share"],
        actor: "bob",
        since: "2030-01-01T00:00:00.000Z",
        before: "1200",
      },
    });
    // No actions chosen means every action: the filter is left out, not sent empty.
    expect(auditQueryInput({ actions: [], allProjects: false }, "ops")).toEqual({
      procedure: "list",
      input: { project: "ops", limit: AUDIT_PAGE_SIZE },
    });
  });

  it("asks audit.listAll, with no project, for every project", () => {
    expect(auditQueryInput({ actions: [], executionId: "x1", allProjects: true }, "ops")).toEqual({
      procedure: "listAll",
      input: { limit: AUDIT_PAGE_SIZE, executionId: "x1" },
    });
  });

  it("converts datetime-local values in the browser's zone to ISO and back", () => {
    const local = "2030-03-04T05:06";
    const iso = localInputToIso(local);
    expect(iso).toBe(new Date(2030, 2, 4, 5, 6).toISOString());
    expect(isoToLocalInput(iso)).toBe(local);
    expect(localInputToIso("")).toBeUndefined();
    expect(isoToLocalInput(undefined)).toBe("");
  });
});

describe("audit entries as the table shows them", () => {
  it("names who acted and how", () => {
    expect(actorText({ kind: "user", user: { id: "u1", name: "Ada" }, via: "session" })).toBe(
      "Ada",
    );
    expect(actorText({ kind: "user", user: { id: "u1", name: "Ada" }, via: "apiKey" })).toBe(
      "Ada (API key)",
    );
    expect(actorText({ kind: "agent" })).toBe("the IDE's agent");
    expect(actorText({ kind: "system" })).toBe("Drydock");
  });

  it("puts the particulars on one line", () => {
    expect(detailText({ choice: "resume", hours: 8, user: { id: "u-bob" } })).toBe(
      'choice: resume · hours: 8 · user: {"id":"u-bob"}',
    );
    expect(detailText({})).toBe("");
  });
});

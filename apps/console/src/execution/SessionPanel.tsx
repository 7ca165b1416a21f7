/**
 * An interactive node's session in the task pane: where it stands (and where its task is paused), the VSCode
 * (User) link once the IDE is ready (for editors of the project and teammates it is shared with), the
 * countdown to its end with Keep alive, Resume (or a paused task's three choices), and who may open it and
 * who is connected.
 */
import { describePause } from "@drydock/contracts/constants";
import { useMutation, useQuery } from "@tanstack/react-query";
import type { MouseEvent } from "react";
import { useState } from "react";

import { api, errorMessage } from "../api.js";
import { useMe } from "../identity/identity-context.js";
import type { Gate } from "../identity/roles.js";
import { ideGate, roleGate, shareGate } from "../identity/roles.js";
import { StatusBadge } from "../ui/status.js";
import type { InteractiveSession, PauseInfo, ResumeRecord, UserRef } from "../ui/types.js";
import { ErrorBlock } from "./blocks.js";
import { PausedResumeActions, ResumeAction } from "./ResumeActions.js";
import { useSharedClock } from "./shared-clock.js";
import { SessionAccessPanel, sessionAccessQuery } from "./SessionAccess.js";
import {
  canOpenIde,
  countdownText,
  isLiveSession,
  sessionEndExplanation,
  sessionHeadline,
} from "./session.js";

/** VSCode (User) for someone who may not open it: a disabled button saying whom to ask. */
function IdeLinkRefused({ reason }: { reason: string }) {
  return (
    <div className="ide-link">
      <button type="button" className="primary" disabled title={reason}>
        VSCode (User)
      </button>{" "}
      <span className="muted">{reason}.</span>
    </div>
  );
}

function IdeLink({ session }: { session: InteractiveSession & { link: string } }) {
  const [blockedUrl, setBlockedUrl] = useState<string>();
  const ticket = useMutation({
    mutationFn: () => api.sessions.ideTicket.mutate({ sessionId: session.id }),
  });
  const open = (event: MouseEvent<HTMLAnchorElement>) => {
    event.preventDefault();
    setBlockedUrl(undefined);
    // Opened now, in the click, so the browser allows it; it is pointed at the IDE once the ticket is issued.
    const tab = window.open("", "_blank");
    ticket.mutate(undefined, {
      onSuccess: ({ url }) => {
        if (!tab) {
          setBlockedUrl(url);
          return;
        }
        tab.opener = null;
        tab.location.href = url;
      },
      onError: () => tab?.close(),
    });
  };
  return (
    <div className="ide-link">
      <a
        className="button primary"
        href={session.link}
        target="_blank"
        rel="noopener noreferrer"
        onClick={open}
      >
        VSCode (User)
      </a>
      {ticket.isPending && <span className="muted"> Signing you in to the IDE…</span>}
      {ticket.isError && (
        <p className="inline-error" role="alert">
          Could not open VS Code: {errorMessage(ticket.error)}
        </p>
      )}
      {blockedUrl && (
        <p role="status">
          The browser blocked the new tab.{" "}
          <a href={blockedUrl} target="_blank" rel="noopener noreferrer">
            Open VS Code in a new tab
          </a>{" "}
          (the link works once, for a short time).
        </p>
      )}
    </div>
  );
}

/** The countdown to the session's end by the limit that applies (unopened, then idle), with Keep alive. */
function Countdown({
  executionId,
  nodeId,
  session,
  editor,
}: {
  executionId: string;
  nodeId: string;
  session: InteractiveSession & { idleDeadline: string };
  editor: Gate;
}) {
  const now = useSharedClock(true);
  const keepAlive = useMutation({
    mutationFn: () => api.sessions.keepAlive.mutate({ executionId, nodeId }),
  });
  return (
    <div className="idle-countdown">
      <span
        data-testid="idle-countdown"
        data-deadline={session.idleDeadline}
        data-limit={session.limit}
        aria-live="off"
      >
        {countdownText(session.idleDeadline, now, session.limit)}
      </span>{" "}
      <button
        type="button"
        onClick={() => keepAlive.mutate()}
        disabled={keepAlive.isPending || !editor.allowed}
        title={editor.allowed ? undefined : editor.reason}
      >
        Keep alive
      </button>
      {keepAlive.isError && (
        <p className="inline-error" role="alert">
          Could not keep the session alive: {errorMessage(keepAlive.error)}
        </p>
      )}
    </div>
  );
}

function ExtensionProblems({ problems }: { problems: InteractiveSession["extensionProblems"] }) {
  return (
    <div className="extension-problems">
      <h4>Extensions that could not be installed (the IDE opened without them)</h4>
      <ul>
        {problems.map((p) => (
          <li key={p.extension}>
            <code>{p.extension}</code>: {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Where the task's process is paused: "paused at steps.ts:12: boom", the error's stack folded away. */
function PauseLine({ pause }: { pause: PauseInfo }) {
  return (
    <div className="session-pause" data-testid="session-pause" data-reason={pause.reason}>
      <p className="session-pause-where">{describePause(pause)}</p>
      {pause.stack && (
        <details>
          <summary>Stack trace</summary>
          <pre className="error-stack" tabIndex={0}>
            {pause.stack}
          </pre>
        </details>
      )}
    </div>
  );
}

/** Resume, or a paused task's three choices; the one asked for, once it was. */
function SessionResume({
  executionId,
  nodeId,
  session,
  editor,
}: {
  executionId: string;
  nodeId: string;
  session: InteractiveSession;
  editor: Gate;
}) {
  const ref = { executionId, nodeId, editor };
  if (!session.pause)
    return <ResumeAction {...ref} requested={Boolean(session.resumeRequestedAt)} />;
  const requested = session.resumeRequestedAt ? (session.resumeChoice ?? "edited") : undefined;
  return <PausedResumeActions {...ref} pause={session.pause} requested={requested} />;
}

interface SessionPanelProps {
  executionId: string;
  nodeId: string;
  session: InteractiveSession;
  /** How the session's attempt was resumed, once recorded: says why a resumed session ended. */
  resume?: ResumeRecord | undefined;
  /** The execution's project: my role there decides what is offered. */
  project: string;
  /** Who launched the execution: the session's owner, who may share it. */
  owner: UserRef | undefined;
}

/** What I may do with the session: the server decides, the panel disables what it would refuse. */
function useSessionGates(session: InteractiveSession, project: string, owner: UserRef | undefined) {
  const live = isLiveSession(session);
  const now = useSharedClock(live);
  const me = useMe();
  const access = useQuery(sessionAccessQuery(session.id, live));
  return {
    live,
    now,
    access: access.data,
    editor: roleGate(me, project, "editor"),
    ide: ideGate(me, project, access.data, now),
    share: shareGate(me, project, owner ?? access.data?.owner),
  };
}

export function SessionPanel({
  executionId,
  nodeId,
  session,
  resume,
  project,
  owner,
}: SessionPanelProps) {
  const { live, now, access, editor, ide, share } = useSessionGates(session, project, owner);
  const explanation = sessionEndExplanation(session, resume);
  return (
    <section className="pane-section session-panel" aria-label="VS Code session">
      <h3>
        VS Code session <StatusBadge status={session.state} />
      </h3>
      <p data-testid="session-state" data-state={session.state}>
        {sessionHeadline(session)}
        {explanation ? ` — ${explanation}.` : ""}
      </p>
      {live && session.pause && <PauseLine pause={session.pause} />}
      {session.state === "STARTING" && (
        <p className="muted">The VSCode (User) link appears here as soon as the IDE answers.</p>
      )}
      {session.firstRunError && (
        <ErrorBlock
          error={session.firstRunError}
          title="The first run failed; the IDE opened to debug it"
          testId="first-run-error"
        />
      )}
      {canOpenIde(session) &&
        (ide.allowed ? <IdeLink session={session} /> : <IdeLinkRefused reason={ide.reason} />)}
      {live && session.idleDeadline && (
        <Countdown
          executionId={executionId}
          nodeId={nodeId}
          session={{ ...session, idleDeadline: session.idleDeadline }}
          editor={editor}
        />
      )}
      {live && (
        <SessionResume
          executionId={executionId}
          nodeId={nodeId}
          session={session}
          editor={editor}
        />
      )}
      {session.extensionProblems.length > 0 && (
        <ExtensionProblems problems={session.extensionProblems} />
      )}
      {access && (
        <SessionAccessPanel access={access} canShare={share.allowed} live={live} now={now} />
      )}
    </section>
  );
}

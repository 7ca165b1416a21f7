/**
 * An interactive node's session in the task pane: where it stands, the VSCode (User) link once the IDE is
 * ready (for editors of the project and teammates it is shared with), the idle countdown with Keep alive,
 * Resume, and who may open it and who is connected.
 */
import { useMutation, useQuery } from "@tanstack/react-query";
import type { MouseEvent } from "react";
import { useState } from "react";

import { api, errorMessage } from "../api.js";
import { useMe } from "../identity/identity-context.js";
import type { Gate } from "../identity/roles.js";
import { ideGate, roleGate, shareGate } from "../identity/roles.js";
import { StatusBadge } from "../ui/status.js";
import type { InteractiveSession, UserRef } from "../ui/types.js";
import { ErrorBlock } from "./blocks.js";
import { useSharedClock } from "./shared-clock.js";
import { ConfirmDialog } from "./ConfirmDialog.js";
import { SessionAccessPanel, sessionAccessQuery } from "./SessionAccess.js";
import {
  canOpenIde,
  idleCountdownText,
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

function IdleCountdown({
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
      <span data-testid="idle-countdown" data-deadline={session.idleDeadline} aria-live="off">
        {idleCountdownText(session.idleDeadline, now)}
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

/** Resume ends the IDE and runs the task for real: asked for once more, saying what it does. */
function ConfirmResume(props: { busy: boolean; onConfirm: () => void; onCancel: () => void }) {
  return (
    <ConfirmDialog title="Resume the task?" confirmLabel="Resume task" {...props}>
      <p>
        code-server will stop, and the task then runs for real with the edited code and its original
        inputs: it writes its outputs and the workflow continues downstream.
      </p>
      <p>Open editors close; use Download changes afterwards to keep your edits.</p>
    </ConfirmDialog>
  );
}

/** Resume with its confirmation; for editors of the project. */
function ResumeAction({
  executionId,
  nodeId,
  requested,
  editor,
}: {
  executionId: string;
  nodeId: string;
  requested: boolean;
  editor: Gate;
}) {
  const [confirming, setConfirming] = useState(false);
  const resume = useMutation({
    mutationFn: () => api.sessions.resume.mutate({ executionId, nodeId }),
    onSettled: () => setConfirming(false),
  });
  return (
    <>
      <div className="pane-actions">
        <button
          type="button"
          onClick={() => setConfirming(true)}
          disabled={requested || resume.isPending || !editor.allowed}
          title={editor.allowed ? undefined : editor.reason}
        >
          Resume
        </button>
        {requested && <span role="status">Resume requested…</span>}
      </div>
      {resume.isError && (
        <p className="inline-error" role="alert">
          Could not resume: {errorMessage(resume.error)}
        </p>
      )}
      {confirming && (
        <ConfirmResume
          busy={resume.isPending}
          onConfirm={() => resume.mutate()}
          onCancel={() => setConfirming(false)}
        />
      )}
    </>
  );
}

interface SessionPanelProps {
  executionId: string;
  nodeId: string;
  session: InteractiveSession;
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

export function SessionPanel({ executionId, nodeId, session, project, owner }: SessionPanelProps) {
  const { live, now, access, editor, ide, share } = useSessionGates(session, project, owner);
  const explanation = sessionEndExplanation(session);
  return (
    <section className="pane-section session-panel" aria-label="VS Code session">
      <h3>
        VS Code session <StatusBadge status={session.state} />
      </h3>
      <p data-testid="session-state" data-state={session.state}>
        {sessionHeadline(session)}
        {explanation ? ` — ${explanation}.` : ""}
      </p>
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
        <IdleCountdown
          executionId={executionId}
          nodeId={nodeId}
          session={{ ...session, idleDeadline: session.idleDeadline }}
          editor={editor}
        />
      )}
      {live && (
        <ResumeAction
          executionId={executionId}
          nodeId={nodeId}
          requested={Boolean(session.resumeRequestedAt)}
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

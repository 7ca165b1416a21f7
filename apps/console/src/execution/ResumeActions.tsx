/**
 * Resuming a live session from the task pane, each way asked for once more: Resume for a session whose
 * task waits for its IDE, and for a paused task (at a throw, or before it ran) three choices.
 */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";

import { api, errorMessage } from "../api.js";
import type { Gate } from "../identity/roles.js";
import type { PauseInfo, ResumeChoice } from "../ui/types.js";
import { ConfirmDialog } from "./ConfirmDialog.js";
import type { ResumeOffer } from "./resume-choices.js";
import { resumeOffers } from "./resume-choices.js";

interface NodeRef {
  executionId: string;
  nodeId: string;
}

/** sessions.resume for the node: the agent acts on it at its next heartbeat. */
export function requestResume({ executionId, nodeId }: NodeRef, choice: ResumeChoice) {
  return api.sessions.resume.mutate({ executionId, nodeId, choice });
}

function ResumeError({ error }: { error: unknown }) {
  return (
    <p className="inline-error" role="alert">
      Could not resume: {errorMessage(error)}
    </p>
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

interface ResumeProps extends NodeRef {
  /** A resume was asked for already: nothing more is offered. */
  requested: boolean;
  editor: Gate;
}

/** Resume with its confirmation; for editors of the project. */
export function ResumeAction({ requested, editor, ...ref }: ResumeProps) {
  const [confirming, setConfirming] = useState(false);
  const resume = useMutation({
    mutationFn: () => requestResume(ref, "edited"),
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
      {resume.isError && <ResumeError error={resume.error} />}
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

/** One choice, asked for once more: Confirm sends it. */
export function ConfirmResumeChoice({
  offer,
  busy,
  onConfirm,
  onCancel,
}: {
  offer: ResumeOffer;
  busy: boolean;
  onConfirm: (choice: ResumeChoice) => void;
  onCancel: () => void;
}) {
  return (
    <ConfirmDialog
      title={offer.question}
      confirmLabel="Confirm"
      danger={offer.danger}
      busy={busy}
      onConfirm={() => onConfirm(offer.choice)}
      onCancel={onCancel}
    >
      <p>{offer.effect}</p>
    </ConfirmDialog>
  );
}

export interface PausedResumeViewProps {
  offers: readonly ResumeOffer[];
  /** The choice being confirmed, if any. */
  confirming: ResumeOffer | undefined;
  /** The choice already asked for (a resume was requested): nothing more is offered. */
  requested: ResumeChoice | undefined;
  busy: boolean;
  error: unknown;
  editor: Gate;
  onAsk: (choice: ResumeChoice) => void;
  onConfirm: (choice: ResumeChoice) => void;
  onCancel: () => void;
}

/** The paused task's three buttons, the confirmation of the one pressed, and why a resume failed. */
export function PausedResumeView({
  offers,
  confirming,
  requested,
  busy,
  error,
  editor,
  onAsk,
  onConfirm,
  onCancel,
}: PausedResumeViewProps) {
  const asked = offers.find((o) => o.choice === requested);
  return (
    <>
      <div className="pane-actions resume-choices" data-testid="resume-choices">
        {offers.map((offer) => (
          <button
            key={offer.choice}
            type="button"
            className={offer.danger ? "danger" : undefined}
            data-choice={offer.choice}
            onClick={() => onAsk(offer.choice)}
            disabled={requested !== undefined || busy || !editor.allowed}
            title={editor.allowed ? undefined : editor.reason}
          >
            {offer.label}
          </button>
        ))}
        {requested && (
          <span role="status">Resume requested: {asked?.label.toLowerCase() ?? requested}…</span>
        )}
      </div>
      {error !== null && error !== undefined && <ResumeError error={error} />}
      {confirming && (
        <ConfirmResumeChoice
          offer={confirming}
          busy={busy}
          onConfirm={onConfirm}
          onCancel={onCancel}
        />
      )}
    </>
  );
}

/** Resume with edits, Run original again, End as failed: for editors of the project. */
export function PausedResumeActions({
  pause,
  requested,
  editor,
  ...ref
}: NodeRef & { pause: PauseInfo; requested: ResumeChoice | undefined; editor: Gate }) {
  const [confirming, setConfirming] = useState<ResumeChoice>();
  const resume = useMutation({
    mutationFn: (choice: ResumeChoice) => requestResume(ref, choice),
    onSettled: () => setConfirming(undefined),
  });
  const offers = resumeOffers(pause);
  return (
    <PausedResumeView
      offers={offers}
      confirming={offers.find((o) => o.choice === confirming)}
      requested={requested}
      busy={resume.isPending}
      error={resume.error}
      editor={editor}
      onAsk={setConfirming}
      onConfirm={(choice) => resume.mutate(choice)}
      onCancel={() => setConfirming(undefined)}
    />
  );
}

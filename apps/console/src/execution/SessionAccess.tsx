/**
 * Who may reach a session's IDE and who does: the teammates it is shared with (with Revoke), the Share form,
 * who is connected now and who has opened it. Read from `sessions.access`, asked every 2 s while the session
 * is live (connections come and go without an event on the execution's watch).
 */
import { queryOptions, useMutation, useQueryClient } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useId, useState } from "react";

import { api, errorMessage } from "../api.js";
import { retryUnlessRefused } from "../pages/retry.js";
import type { SessionAccess, SessionShare } from "../ui/types.js";
import {
  activeShares,
  connectionsText,
  DEFAULT_SHARE_HOURS,
  readShareHours,
  SHARE_EXPIRIES,
  shareExpiresAt,
} from "./share.js";
import type { ShareHours } from "./share.js";
import { formatTimeOfDay } from "./time-of-day.js";

/** How often a live session's access is asked for: "Connected now" should follow within a couple of seconds. */
export const ACCESS_POLL_MS = 2_000;

export const sessionAccessQuery = (sessionId: string, live: boolean) =>
  queryOptions({
    queryKey: ["sessions", "access", sessionId] as const,
    queryFn: () => api.sessions.access.query({ sessionId }),
    refetchInterval: live ? ACCESS_POLL_MS : false,
    retry: retryUnlessRefused,
  });

/** "until 14:03:27" today; the date too when it is another day. */
function untilText(iso: string, now: number): string {
  const at = new Date(iso);
  const sameDay = at.toDateString() === new Date(now).toDateString();
  return `until ${sameDay ? formatTimeOfDay(iso) : at.toLocaleString()}`;
}

function ShareRow({
  sessionId,
  share,
  canRevoke,
  now,
}: {
  sessionId: string;
  share: SessionShare;
  canRevoke: boolean;
  now: number;
}) {
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => api.sessions.revokeShare.mutate({ sessionId, user: share.user.id }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["sessions", "access", sessionId] }),
  });
  return (
    <li>
      <span className="share-who">{share.user.name}</span>{" "}
      <span className="muted">
        {untilText(share.expiresAt, now)} · shared by {share.grantedBy.name}
      </span>{" "}
      {canRevoke && (
        <button
          type="button"
          className="link"
          onClick={() => revoke.mutate()}
          disabled={revoke.isPending}
          aria-label={`Revoke access for ${share.user.name}`}
        >
          Revoke
        </button>
      )}
      {revoke.isError && (
        <p className="inline-error" role="alert">
          Could not revoke: {errorMessage(revoke.error)}
        </p>
      )}
    </li>
  );
}

function SharedWith(props: {
  sessionId: string;
  shares: SessionShare[];
  canRevoke: boolean;
  now: number;
}) {
  const headingId = useId();
  return (
    <div className="access-block">
      <h4 id={headingId}>Shared with</h4>
      {props.shares.length === 0 ? (
        <p className="muted">Not shared with anyone.</p>
      ) : (
        <ul aria-labelledby={headingId} data-testid="shared-with">
          {props.shares.map((s) => (
            <ShareRow key={s.user.id} share={s} {...props} />
          ))}
        </ul>
      )}
    </div>
  );
}

/** The Share form: a teammate (email or user id) and how long they may open the IDE. */
function ShareForm({ sessionId }: { sessionId: string }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState("");
  const [hours, setHours] = useState<ShareHours>(DEFAULT_SHARE_HOURS);
  const [problem, setProblem] = useState<string>();
  const userId = useId();
  const hoursId = useId();
  const share = useMutation({
    mutationFn: (teammate: string) =>
      api.sessions.share.mutate({
        sessionId,
        user: teammate,
        expiresAt: shareExpiresAt(hours, Date.now()),
      }),
    onSuccess: () => {
      setUser("");
      return queryClient.invalidateQueries({ queryKey: ["sessions", "access", sessionId] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const teammate = user.trim();
    setProblem(teammate === "" ? "Name a teammate by email address or user id." : undefined);
    if (teammate !== "") share.mutate(teammate);
  };
  const error = problem ?? (share.isError ? errorMessage(share.error) : undefined);
  return (
    <form className="share-form" onSubmit={submit} noValidate aria-label="Share this session">
      <div className="filter">
        <label htmlFor={userId}>Teammate (email or id)</label>
        <input
          id={userId}
          value={user}
          onChange={(e) => setUser(e.target.value)}
          autoComplete="off"
          aria-invalid={error ? true : undefined}
        />
      </div>
      <div className="filter">
        <label htmlFor={hoursId}>Expires after</label>
        <select
          id={hoursId}
          value={hours}
          onChange={(e) => setHours(readShareHours(e.target.value))}
        >
          {SHARE_EXPIRIES.map((e) => (
            <option key={e.hours} value={e.hours}>
              {e.label}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" disabled={share.isPending}>
        Share
      </button>
      {error && (
        <p className="inline-error" role="alert">
          Could not share: {error}
        </p>
      )}
      {share.isSuccess && (
        <p role="status">
          Shared with {share.data.user.name} {untilText(share.data.expiresAt, Date.now())}.
        </p>
      )}
    </form>
  );
}

function ConnectedNow({ access }: { access: SessionAccess }) {
  const headingId = useId();
  return (
    <div className="access-block">
      <h4 id={headingId}>Connected now</h4>
      {access.connected.length === 0 ? (
        <p className="muted">Nobody is connected now.</p>
      ) : (
        <ul aria-labelledby={headingId} data-testid="connected-now">
          {access.connected.map((c) => (
            <li key={c.user.id} data-user={c.user.id}>
              {c.user.name}{" "}
              <span className="muted">
                {connectionsText(c.connections)}, since {formatTimeOfDay(c.since)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function OpenedBy({ access }: { access: SessionAccess }) {
  const headingId = useId();
  if (access.openedBy.length === 0) return null;
  return (
    <div className="access-block">
      <h4 id={headingId}>Opened by</h4>
      <ul aria-labelledby={headingId} data-testid="opened-by">
        {access.openedBy.map((o) => (
          <li key={o.user.id}>
            {o.user.name}{" "}
            <span className="muted">
              {o.times === 1 ? "once" : `${o.times} times`}, last at {formatTimeOfDay(o.lastAt)}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

export interface SessionAccessPanelProps {
  access: SessionAccess;
  /** I launched the execution or administer its project: Share and Revoke are offered. */
  canShare: boolean;
  live: boolean;
  now: number;
}

export function SessionAccessPanel({ access, canShare, live, now }: SessionAccessPanelProps) {
  const shares = activeShares(access, now);
  return (
    <div className="session-access" role="group" aria-label="Session access">
      {(live || shares.length > 0) && (
        <SharedWith sessionId={access.sessionId} shares={shares} canRevoke={canShare} now={now} />
      )}
      {live && canShare && <ShareForm sessionId={access.sessionId} />}
      {live && <ConnectedNow access={access} />}
      <OpenedBy access={access} />
    </div>
  );
}

/** A task node's attempts in the task pane: the table of them, and the live logs of the one shown. */
import { durationBetween, StatusBadge } from "../ui/status.js";
import type { Attempt } from "../ui/types.js";
import { LogView } from "./LogView.js";
import { resumeRecordText } from "./session.js";
import { formatTimeOfDay } from "./time-of-day.js";

interface AttemptsProps {
  attempts: Attempt[];
  /** The attempt whose logs are shown. */
  shown: string | undefined;
  onShow: (id: string) => void;
  now: number;
}

function AttemptRow({
  attempt: a,
  shown,
  onShow,
  now,
}: Omit<AttemptsProps, "attempts"> & { attempt: Attempt }) {
  return (
    <tr data-testid={`attempt-${a.number}`}>
      <td>{a.number}</td>
      <td>
        <StatusBadge status={a.status} />
        {a.error && <div className="attempt-error">{a.error.message}</div>}
        {a.resume && (
          <div
            className="attempt-resume"
            data-testid={`attempt-${a.number}-resume`}
            data-choice={a.resume.choice}
          >
            {resumeRecordText(a.resume)}
          </div>
        )}
      </td>
      <td>
        {formatTimeOfDay(a.startedAt)}
        {a.endedAt ? ` – ${formatTimeOfDay(a.endedAt)}` : ""}
      </td>
      <td>{a.startedAt ? durationBetween(a.startedAt, a.endedAt, now) : "–"}</td>
      <td>
        {shown === a.id ? (
          <span className="muted">shown</span>
        ) : (
          <button type="button" className="link" onClick={() => onShow(a.id)}>
            Show logs
          </button>
        )}
      </td>
    </tr>
  );
}

export function AttemptsSection({ attempts, shown, onShow, now }: AttemptsProps) {
  return (
    <section className="pane-section" aria-label="Attempts">
      <h3>Attempts</h3>
      <table className="list attempts">
        <caption className="visually-hidden">Attempts</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Status</th>
            <th scope="col">Ran</th>
            <th scope="col">Took</th>
            <th scope="col">Logs</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a) => (
            <AttemptRow key={a.number} attempt={a} shown={shown} onShow={onShow} now={now} />
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The logs of one attempt, named by its number when the node had more than one. */
export function AttemptLogs({ attempt, numbered }: { attempt: Attempt; numbered: boolean }) {
  return (
    <section className="pane-section" aria-label="Logs">
      <h3>Logs{numbered ? ` of attempt ${attempt.number}` : ""}</h3>
      <LogView key={attempt.id} attemptId={attempt.id} lost={attempt.logLost} />
    </section>
  );
}

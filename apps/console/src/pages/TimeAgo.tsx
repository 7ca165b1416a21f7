/** When something happened, as a list row shows it: how long ago, with the local date and time on hover. */
import { formatLocalTime, formatRelativeTime } from "./relative-time.js";

export function TimeAgo({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} title={formatLocalTime(iso)}>
      {formatRelativeTime(iso, now)}
    </time>
  );
}

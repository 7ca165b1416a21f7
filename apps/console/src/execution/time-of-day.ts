/** The local time of day of an ISO timestamp ("14:03:27"), or a dash for a moment that has not come. */
export function formatTimeOfDay(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleTimeString() : "–";
}

/** The statuses of attempts and nodes that are not over yet: what a sweep watches and an ending execution closes. */
export const ACTIVE_ATTEMPT = ["QUEUED", "RUNNING"] as const;
export const ACTIVE_NODE = ["PENDING", "QUEUED", "RUNNING"] as const;

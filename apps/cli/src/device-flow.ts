/**
 * `drydock login` without a key: the OpenID device flow, proxied by the server. The person approves in a
 * browser (any device); the CLI polls until then and receives an API key made for it.
 */
import type { UserRef } from "@drydock/contracts";

import type { ApiClient } from "./client.js";
import { isApiError } from "./client.js";
import { CliError } from "./errors.js";

/** RFC 8628 §3.5: after `slow_down`, poll this much less often, for the rest of the flow. */
const SLOW_DOWN_SECONDS = 5;

export interface DeviceSignIn {
  apiKey: string;
  user: UserRef;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the flow; a server without an OpenID provider is told apart, with the way that does work. */
async function startDeviceFlow(api: ApiClient, endpoint: string) {
  try {
    return await api.auth.deviceStart.mutate();
  } catch (error) {
    if (isApiError(error, "PRECONDITION_FAILED"))
      throw new CliError(
        `${endpoint} has no OpenID provider to sign in through: sign in with an API key instead, \`drydock login --endpoint ${endpoint} --api-key <key>\` (make one in the console's API keys page)`,
        1,
      );
    throw error;
  }
}

/**
 * Prints where to approve and the code to check there, then polls at the interval the server gives,
 * honouring `slow_down`, until the person approves (the key), denies or lets the code expire (errors, exit 1).
 */
export async function signInWithDevice(
  api: ApiClient,
  endpoint: string,
  say: (line: string) => void,
): Promise<DeviceSignIn> {
  const start = await startDeviceFlow(api, endpoint);
  say(`To sign in, open ${start.verificationUriComplete ?? start.verificationUri}`);
  say(`and check that it shows the code ${start.userCode}.`);
  say(`Waiting for you to approve (until ${start.expiresAt})…`);
  const expired = () =>
    new CliError(
      `the sign-in code ${start.userCode} expired before it was approved: nothing was saved; run \`drydock login\` again`,
      1,
    );
  let intervalSeconds = start.intervalSeconds;
  for (;;) {
    await sleep(intervalSeconds * 1_000);
    if (Date.now() > Date.parse(start.expiresAt)) throw expired();
    const poll = await api.auth.devicePoll.mutate({ handle: start.handle });
    switch (poll.status) {
      case "approved":
        return { apiKey: poll.apiKey, user: poll.user };
      case "pending":
        break;
      case "slow_down":
        intervalSeconds += SLOW_DOWN_SECONDS;
        break;
      case "denied":
        throw new CliError(
          `the sign-in was denied in the browser (code ${start.userCode}): nothing was saved`,
          1,
        );
      case "expired":
        throw expired();
    }
  }
}

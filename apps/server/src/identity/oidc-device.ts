/**
 * `drydock login` through the OpenID provider's device flow (RFC 8628), proxied by the server: the CLI holds
 * only a handle, the provider's device code stays here, and once the person approves at the provider the CLI
 * gets an API key of its own. The server, not the CLI, is the provider's client, so the client secret never
 * leaves it.
 */
import type { z } from "zod";

import type { DevicePollSchema, DeviceStartSchema } from "@drydock/contracts";
import type { ClientInfo } from "@drydock/contracts/router";
import * as oidc from "openid-client";

import type { OidcConfig } from "../env.js";
import type { Db } from "../db/database.js";
import { OIDC_SCOPES, OidcErrors, OidcRelyingParty, providerError } from "./oidc.js";
import { PendingSignIns } from "./pending-sign-ins.js";
import type { SignInPort } from "./oidc.js";

export type DeviceStart = z.infer<typeof DeviceStartSchema>;
export type DevicePoll = z.infer<typeof DevicePollSchema>;

const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** RFC 8628 §3.5: after `slow_down`, poll this much less often. */
const SLOW_DOWN_SECONDS = 5;

/** One CLI's sign-in waiting for its person. */
interface PendingDevice {
  deviceCode: string;
  intervalSeconds: number;
}

/** The name of the API key a device sign-in creates, e.g. "drydock login (2026-12-06)". */
export function cliKeyName(at: Date): string {
  return `drydock login (${at.toISOString().slice(0, 10)})`;
}

export interface DeviceLogin {
  /** Asks the provider for a user code; PRECONDITION_FAILED when no provider is configured. */
  start(client: ClientInfo): Promise<DeviceStart>;
  /** Asks the provider once whether the person approved; approved: an API key, this once. */
  poll(handle: string, client: ClientInfo): Promise<DevicePoll>;
}

/** The device sign-in behind `auth.deviceStart` and `auth.devicePoll`. */
export function createDeviceLogin(options: {
  config: OidcConfig | undefined;
  signIn: SignInPort;
  /** Where sign-ins under way are kept, so each poll may reach any replica. */
  db: Db;
  now?: () => Date;
}): DeviceLogin {
  const { config, signIn } = options;
  const now = options.now ?? (() => new Date());
  if (!config)
    return {
      start: () => Promise.reject(OidcErrors.noProvider()),
      poll: () => Promise.reject(OidcErrors.noProvider()),
    };
  const party = new OidcRelyingParty(config);
  // Each handle lives as long as the provider's device code; the cap bounds what anonymous callers can start.
  const pending = new PendingSignIns<PendingDevice>(options.db, "device", 10 * 60_000, 1_000, now);
  /** Polls on their way to the provider from this replica: a second poll meanwhile waits for the same answer. */
  const inFlight = new Map<string, Promise<DevicePoll>>();

  async function start(): Promise<DeviceStart> {
    const configuration = await party.configuration();
    const answer = await oidc
      .initiateDeviceAuthorization(configuration, { scope: OIDC_SCOPES })
      .catch((error: unknown) => {
        throw providerError(error, "to start a device sign-in");
      });
    const intervalSeconds = answer.interval ?? 5;
    const handle = await pending.put(
      { deviceCode: answer.device_code, intervalSeconds },
      answer.expires_in * 1_000,
    );
    return {
      handle,
      userCode: answer.user_code,
      verificationUri: answer.verification_uri,
      ...(answer.verification_uri_complete
        ? { verificationUriComplete: answer.verification_uri_complete }
        : {}),
      intervalSeconds,
      expiresAt: new Date(now().getTime() + answer.expires_in * 1_000).toISOString(),
    };
  }

  /** One question to the provider's token endpoint, and what its answer means for the CLI. */
  async function askProvider(
    handle: string,
    device: PendingDevice,
    client: ClientInfo,
  ): Promise<DevicePoll> {
    const configuration = await party.configuration();
    let tokens: Awaited<ReturnType<typeof oidc.genericGrantRequest>>;
    try {
      tokens = await oidc.genericGrantRequest(configuration, DEVICE_CODE_GRANT, {
        device_code: device.deviceCode,
      });
    } catch (error) {
      return notYet(handle, device, error);
    }
    // The device code is spent: whatever happens next, this handle is done.
    await pending.delete(handle);
    const identity = await party.identify(tokens).catch((error: unknown) => {
      throw providerError(error, "the device sign-in");
    });
    const user = await signIn.userFromOidc(identity, client);
    const apiKey = await signIn.issueCliKey(user.id, cliKeyName(now()), client);
    return { status: "approved", apiKey, user: { id: user.id, name: user.name } };
  }

  /** The provider's refusals that RFC 8628 defines, as poll answers; anything else is an error. */
  async function notYet(
    handle: string,
    device: PendingDevice,
    error: unknown,
  ): Promise<DevicePoll> {
    if (!(error instanceof oidc.ResponseBodyError))
      throw providerError(error, "the device sign-in");
    switch (error.error) {
      case "authorization_pending":
        return { status: "pending" };
      case "slow_down":
        await pending.update(handle, {
          ...device,
          intervalSeconds: device.intervalSeconds + SLOW_DOWN_SECONDS,
        });
        return { status: "slow_down" };
      case "access_denied":
        await pending.delete(handle);
        return { status: "denied" };
      case "expired_token":
        await pending.delete(handle);
        return { status: "expired" };
      default:
        await pending.delete(handle);
        throw providerError(error, "the device sign-in");
    }
  }

  return {
    start,
    async poll(handle, client) {
      const asking = inFlight.get(handle);
      if (asking) return asking;
      const device = await pending.get(handle);
      // An unknown handle is one whose sign-in ended or ran out of time: either way, start again.
      if (!device) return { status: "expired" };
      const again = inFlight.get(handle);
      if (again) return again;
      const answer = askProvider(handle, device, client).finally(() => inFlight.delete(handle));
      inFlight.set(handle, answer);
      return answer;
    },
  };
}

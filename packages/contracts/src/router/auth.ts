import { z } from "zod";

import {
  DevicePollInput,
  DevicePollSchema,
  DeviceStartSchema,
  MeSchema,
  SignInLinkSchema,
  SignInMethodsSchema,
  UserSchema,
} from "../identity.js";
import { mutation, query } from "./access.js";

/** Who I am and how people sign in. Signing in and out of the console are HTTP routes (`/auth/…`). */
export const authProcedures = {
  /** How this instance signs people in (the console's sign-in page asks before anyone is signed in). */
  methods: query("public", { output: SignInMethodsSchema }),
  me: query("signedIn", { output: MeSchema }),
  /** A single-use link that signs me into the console (`drydock up` prints one; `drydock console` asks). */
  signInCode: mutation("signedIn", { output: SignInLinkSchema }),
  /** `drydock login`: starts the OpenID device flow (PRECONDITION_FAILED without a provider). */
  deviceStart: mutation("public", { output: DeviceStartSchema }),
  /** `drydock login` polls until the person approved at the provider, then gets its API key once. */
  devicePoll: mutation("public", { input: DevicePollInput, output: DevicePollSchema }),
};

/** The instance's people. */
export const userProcedures = {
  list: query("instanceAdmin", { output: z.array(UserSchema) }),
};

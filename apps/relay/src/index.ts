/** The relay is built by issue 3; this package holds only its place in the monorepo. */
export const RELAY_PACKAGE_STATUS = "skeleton" as const;

import pkg from "../../package.json";

/** The one place the version comes from; the release workflow stamps package.json from the tag. */
export const VERSION: string = pkg.version;

export * from "./errors.ts";
export * from "./report.ts";
export * from "./signature.ts";
export * from "./time.ts";

// The dashboard's stylesheet and script, embedded in the binary at build time. Served as files
// under /admin/assets/ (so the CSP needs no 'unsafe-inline') and inlined into exports.
import css from "./assets/dashboard.css" with { type: "text" };
import js from "./assets/dashboard.js" with { type: "text" };

export const DASHBOARD_CSS: string = css;
export const DASHBOARD_JS: string = js;

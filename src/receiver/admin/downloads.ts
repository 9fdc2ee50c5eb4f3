// The data downloads: usage.csv/json (a row per user, day and model) and people.csv/json (a row per
// person), over any range the overview can show; CSV downloads are audited.
import { type DayRange, daysIn } from "../analytics/ranges.ts";
import { evidenceOf, seatAdvice } from "../analytics/seats.ts";
import type { Services } from "../services.ts";
import type { AdminDeps, Auth, GuardedApp } from "./access.ts";
import { type ExportFormat, usageStream } from "./export.ts";
import { parseDayRange, parseDivision } from "./model.ts";
import { personExport, personRows } from "./people-export.ts";
import { adminResponse, exportFileName } from "./responses.ts";

/** The range an export asks for, or the 400 that says what to change. */
function exportRange(url: URL): DayRange | Response {
  const { range, problem } = parseDayRange(url.searchParams, Date.now());
  if (!problem) return range;
  return adminResponse(`${problem}\n`, 400, { "Content-Type": "text/plain; charset=utf-8" });
}

export function addDownloadRoutes(app: GuardedApp, { ctx, audit }: AdminDeps): void {
  /** A download over range, its file named after path. */
  function download(
    request: Request,
    auth: Auth,
    services: Services,
    format: ExportFormat,
    range: DayRange,
    path: string,
    body: BodyInit,
  ): Response {
    const url = new URL(request.url);
    // People download CSV; JSON is what dashboards such as Grafana poll, so only CSV is audited.
    if (format === "csv")
      audit(services, request, auth, "export", url.pathname, `${range.from} to ${range.to}`);
    return adminResponse(body, 200, {
      "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/json",
      "Content-Disposition": `${format === "csv" ? "attachment" : "inline"}; filename="${exportFileName(
        new URL(path, url),
        format,
        range,
      )}"`,
    });
  }

  function usageExport(request: Request, auth: Auth, format: ExportFormat): Response {
    const range = exportRange(new URL(request.url));
    if (range instanceof Response) return range;
    const services = ctx.store.services();
    // Making the stream reads nothing: its first page is read after this handler has returned.
    const stream = usageStream(format, (after, limit) => services.analytics.exportPage(range, after, limit));
    return download(request, auth, services, format, range, "/admin/usage", stream);
  }

  /** One row per person over the overview's range (custom too) and division filter. */
  function peopleExport(request: Request, auth: Auth, format: ExportFormat): Response {
    const url = new URL(request.url);
    const now = Date.now();
    const range = exportRange(url);
    if (range instanceof Response) return range;
    const division = parseDivision(url.searchParams);
    const services = ctx.store.services();
    const overview = services.analytics.overview(range, now, division);
    const rows = personRows(overview.people, seatAdvice(overview.people.map(evidenceOf), daysIn(range)));
    return download(request, auth, services, format, range, "/admin/people", personExport(format, rows));
  }

  app
    .get("/admin/api/usage.csv", ({ request, auth }) => usageExport(request, auth as Auth, "csv"))
    .get("/admin/api/usage.json", ({ request, auth }) => usageExport(request, auth as Auth, "json"))
    .get("/admin/api/people.csv", ({ request, auth }) => peopleExport(request, auth as Auth, "csv"))
    .get("/admin/api/people.json", ({ request, auth }) => peopleExport(request, auth as Auth, "json"));
}

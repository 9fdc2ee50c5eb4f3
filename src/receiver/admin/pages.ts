// The dashboard's pages: overview, a user's page, search, devices, users & tokens, the audit log and
// the show-once page of a new token; ?export makes most of them a download (audited).
import type { DayRange } from "../analytics/ranges.ts";
import type { Services } from "../services.ts";
import { normaliseEmail } from "../tokens/service.ts";
import type { AdminDeps, Auth, GuardedApp } from "./access.ts";
import type { Html } from "./html.ts";
import { AdminModel, parseDayRange, parseDivision, rangeProblemNotice } from "./model.ts";
import { exportFileName, htmlResponse, message, redirect } from "./responses.ts";
import { auditPage } from "./views/audit.ts";
import { devicesPage } from "./views/devices.ts";
import type { View } from "./views/layout.ts";
import { overviewPage } from "./views/overview.ts";
import { choosePage } from "./views/paging.ts";
import { userHref } from "./views/parts.ts";
import { searchPage } from "./views/search.ts";
import { EMPTY_FORM, issuedPage, type ProvisionForm, tokensPage } from "./views/tokens.ts";
import { modelsInColour } from "./views/usage-parts.ts";
import { userPage } from "./views/user.ts";

const AUDIT_ROWS = 500;
const RECENT_EVENTS = 50;
const USER_SESSIONS = 200;
/** A search reads at most this many matches (then asks for more of the email) and this long a text. */
const SEARCH_MATCHES = 1000;
const SEARCH_CHARS = 200;

export function viewFor(request: Request, auth: Auth): View {
  const url = new URL(request.url);
  return {
    exported: url.searchParams.has("export"),
    csrf: auth.kind === "session" ? auth.csrf : "",
    url,
    now: Date.now(),
  };
}

/** Users & tokens, with the provisioning form as given and what was wrong with it. */
export function renderTokensPage(
  services: Services,
  view: View,
  form: ProvisionForm,
  problem: string | null,
  status = 200,
): Response {
  return htmlResponse(tokensPage(view, services.tokens.list(), form, problem), status);
}

/** The user page's paged lists: their limit events and device keys, a page of each. */
function userListPages(view: View, services: Services, email: string) {
  const limitEventsPage = choosePage(view, "limits_page", services.analytics.userLimitEventCount(email));
  const counts = services.keys.counts(email);
  const devicesPage = choosePage(view, "devices_page", counts.total);
  return {
    limitEvents: services.analytics.userLimitEvents(email, limitEventsPage.offset, limitEventsPage.limit),
    limitEventsPage,
    devices: services.keys.page(email, devicesPage.offset, devicesPage.limit),
    devicesPage,
    activeDevices: counts.active,
  };
}

export function addPageRoutes(app: GuardedApp, { ctx, audit }: AdminDeps): void {
  /** A dashboard page, or with ?export the same page as a download (audited), named after its range. */
  function show(
    request: Request,
    auth: Auth,
    view: View,
    page: Html,
    services: Services,
    range?: DayRange,
  ): Response {
    if (!view.exported) return htmlResponse(page);
    audit(services, request, auth, "export", view.url.pathname, "html");
    return htmlResponse(page, 200, {
      "Content-Disposition": `attachment; filename="${exportFileName(view.url, "html", range)}"`,
    });
  }

  app
    .get("/admin/", ({ request, auth }) => {
      const a = auth as Auth;
      const view = viewFor(request, a);
      const { range, problem } = parseDayRange(view.url.searchParams, view.now);
      const division = parseDivision(view.url.searchParams);
      const services = ctx.store.services();
      const overview = services.analytics.overview(range, view.now, division);
      const page = overviewPage(view, {
        overview,
        division,
        problem: problem && rangeProblemNotice(problem),
        recent: services.analytics.recentEvents(RECENT_EVENTS),
        lastActive: (email) => services.analytics.lastActiveOf(email),
        sessionCounts: (emails) => services.analytics.sessionCounts(emails, range),
        colourSlots: services.analytics.modelColourSlots(modelsInColour(overview.models)),
        tierIntervalSecs: ctx.config.tierInferenceIntervalSecs,
        pricesTakenOn: ctx.config.prices.takenOn,
      });
      if (problem) return htmlResponse(page, 400);
      return show(request, a, view, page, services, range);
    })
    .get(
      "/admin/users/:email",
      ({ request, auth, params }) => {
        const a = auth as Auth;
        const view = viewFor(request, a);
        const { range, problem } = parseDayRange(view.url.searchParams, view.now);
        const email = normaliseEmail(params.email);
        const services = ctx.store.services();
        if (!services.analytics.userExists(email)) {
          return message(404, "No such user", `${email} has no usage, no token and no device key here.`, {
            href: "/admin/",
            label: "Go to the overview",
          });
        }
        const usage = services.analytics.userUsage(email, range, view.now);
        const page = userPage(view, {
          email,
          range,
          problem: problem && rangeProblemNotice(problem),
          ...usage,
          windows: services.analytics.userWindows(email, range, view.now),
          sessions: services.analytics.userSessions(email, range, USER_SESSIONS),
          sessionLimit: USER_SESSIONS,
          ...userListPages(view, services, email),
          tokens: services.tokens.list(email),
          colourSlots: services.analytics.modelColourSlots(modelsInColour(usage.models)),
          pricesTakenOn: ctx.config.prices.takenOn,
        });
        if (problem) return htmlResponse(page, 400);
        return show(request, a, view, page, services, range);
      },
      { params: AdminModel.userEmail },
    )
    .get("/admin/search", ({ request, auth }) => {
      const view = viewFor(request, auth as Auth);
      const raw = view.url.searchParams.get("q") ?? "";
      const q = raw.trim().slice(0, SEARCH_CHARS);
      const problem =
        raw.trim().length > SEARCH_CHARS
          ? `The search was cut to its first ${SEARCH_CHARS} characters.`
          : null;
      const people = q ? ctx.store.services().analytics.findPeople(q, SEARCH_MATCHES + 1) : [];
      if (people.length === 1 && !view.exported && !problem) return redirect(userHref(people[0]!.email));
      return htmlResponse(
        searchPage(view, {
          q,
          people: people.slice(0, SEARCH_MATCHES),
          truncated: people.length > SEARCH_MATCHES,
          problem,
        }),
      );
    })
    .get("/admin/devices", ({ request, auth }) => {
      const a = auth as Auth;
      const view = viewFor(request, a);
      const services = ctx.store.services();
      const counts = services.keys.counts();
      const choice = choosePage(view, "page", counts.total);
      const keys = services.keys.page(undefined, choice.offset, choice.limit);
      const activePerUser = services.keys.activeCounts(keys.map((k) => k.email));
      return show(request, a, view, devicesPage(view, { keys, counts, activePerUser, choice }), services);
    })
    .get("/admin/tokens", ({ request, auth }) => {
      const a = auth as Auth;
      const view = viewFor(request, a);
      const services = ctx.store.services();
      if (view.exported) {
        return show(request, a, view, tokensPage(view, services.tokens.list(), EMPTY_FORM, null), services);
      }
      return renderTokensPage(services, view, EMPTY_FORM, null);
    })
    .get("/admin/audit", ({ request, auth }) => {
      const a = auth as Auth;
      const view = viewFor(request, a);
      const services = ctx.store.services();
      return show(
        request,
        a,
        view,
        auditPage(view, services.admin.auditLog(AUDIT_ROWS), AUDIT_ROWS),
        services,
      );
    })
    .get("/admin/tokens/issued", ({ request, auth }) => {
      const view = { ...viewFor(request, auth as Auth), exported: false };
      const nonce = view.url.searchParams.get("reveal") ?? "";
      const issued = nonce ? ctx.store.services().admin.takeReveal(nonce, view.now) : null;
      if (!issued) {
        return message(
          410,
          "Already shown",
          "A new token is shown only once, within 10 minutes of issuing it, and this one has been shown or has timed out. If it was not copied, reissue it from Users & tokens.",
          { href: "/admin/tokens", label: "Go to users & tokens" },
        );
      }
      const others = ctx.store.services().tokens.othersActive(issued.email, issued.id);
      return htmlResponse(issuedPage(view, issued, ctx.config.baseUrl, others));
    });
}

// Pages without data: the login form, the disabled notice, errors.
import { type Html, html } from "../html.ts";
import { simplePage } from "./layout.ts";

export function loginPage(next: string, problem: string | null): Html {
  return simplePage(
    "Log in",
    html`${problem ? html`<p class="error" role="alert">${problem}</p>` : ""}<form method="post" action="/admin/login" class="login"><input type="hidden" name="next" value="${next}"><label>Admin token <input type="password" name="token" required autocomplete="current-password" autofocus></label><button type="submit">Log in</button></form><p class="note">The admin token is the receiver's ADMIN_TOKEN setting. A session lasts 12 hours.</p>`,
  );
}

export function messagePage(title: string, message: string, action?: { href: string; label: string }): Html {
  return simplePage(
    title,
    html`<p>${message}</p>${action ? html`<p><a href="${action.href}">${action.label}</a></p>` : ""}`,
  );
}

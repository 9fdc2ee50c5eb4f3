// Device keys: the table the setup guide sends admins to, with a Revoke button per key.
import type { DeviceKeyRow, KeyCounts } from "../../keys/service.ts";
import { type Html, html } from "../html.ts";
import { shortName, timeCell, timeSortKey } from "./format.ts";
import { actionForm, link, page, type View } from "./layout.ts";
import { type PageChoice, pager } from "./paging.ts";
import { dataTable, section, userHref } from "./parts.ts";

function revokeMessage(key: DeviceKeyRow, devicesOfUser: number): string {
  const device = key.device_id
    ? `${shortName(key.email)}'s device “${key.device_id}”`
    : `this device of ${key.email}`;
  const others =
    devicesOfUser > 1
      ? "their other devices and their refresh token keep working"
      : "their refresh token keeps working, and a new device key can register";
  return `Revoke this key? ${device} will stop reporting on its next turn and cannot register a new key until you allow it again; ${others}.`;
}

function reissueMessage(key: DeviceKeyRow): string {
  return `Revoke this key and ${key.email}'s refresh token? Use this when the device is lost: it may hold the token. A new token is shown once, for you to give them; until they enter it, their other devices stop reporting too.`;
}

/** The buttons of one row: revoke (or revoke and reissue) an active key; allow a revoked one's device again. */
function keyActions(view: View, key: DeviceKeyRow, devicesOfUser: number, returnTo: string): Html {
  const fields = { public_key: key.public_key, return: returnTo };
  if (key.revoked) {
    if (key.released_at || !key.device_id) return html``;
    return actionForm(view, {
      action: "/admin/devices/allow",
      label: "Allow a new key",
      confirm: `Let ${key.email}'s device “${key.device_id}” register a new key? Do this once it is back in safe hands; its reporter registers on its next turn.`,
      fields,
    });
  }
  return html`${actionForm(view, {
    action: "/admin/devices/revoke",
    label: "Revoke",
    danger: true,
    confirm: revokeMessage(key, devicesOfUser),
    fields,
  })} ${actionForm(view, {
    action: "/admin/devices/revoke",
    label: "Revoke and reissue token",
    danger: true,
    confirm: reissueMessage(key),
    fields: { ...fields, reissue: "1" },
  })}`;
}

function statusOf(key: DeviceKeyRow): Html {
  if (!key.revoked) return html`<span class="status active">active</span>`;
  return key.released_at
    ? html`<span class="status revoked">revoked</span> (new key allowed)`
    : html`<span class="status revoked">revoked</span>`;
}

/** `activePerUser`: each listed person's active keys, on every page, for the revoke question. */
export function devicesTable(
  view: View,
  keys: readonly DeviceKeyRow[],
  activePerUser: ReadonlyMap<string, number>,
): Html {
  const perUser = activePerUser;
  const returnTo = `${view.url.pathname}${view.url.search}`;
  return dataTable({
    name: "devices",
    item: "device key",
    columns: [
      { key: "user", label: "User" },
      { key: "device", label: "Device id" },
      { key: "key", label: "Public key" },
      { key: "registered", label: "Registered", byValue: true },
      { key: "seen", label: "Last seen", byValue: true },
      { key: "status", label: "Status" },
      ...(view.exported ? [] : [{ key: "action", label: "" }]),
    ],
    rows: keys.map(
      (key) =>
        html`<tr><td>${link(view, userHref(key.email), key.email)}</td><td class="device">${key.device_id ?? ""}</td><td class="mono key" title="${key.public_key}">${key.public_key}</td><td data-value="${timeSortKey(
          key.registered_at,
        )}">${timeCell(key.registered_at, "unknown")}</td><td data-value="${timeSortKey(key.last_seen_at)}">${timeCell(
          key.last_seen_at,
        )}</td><td>${statusOf(key)}</td>${
          view.exported ? "" : html`<td>${keyActions(view, key, perUser.get(key.email) ?? 0, returnTo)}</td>`
        }</tr>`,
    ),
    empty:
      "No device keys registered yet. A device registers its key on its user's first turn with the plugin.",
  });
}

export interface DevicesPageData {
  keys: DeviceKeyRow[];
  counts: KeyCounts;
  activePerUser: ReadonlyMap<string, number>;
  choice: PageChoice;
}

export function devicesPage(view: View, data: DevicesPageData): Html {
  const { active, total } = data.counts;
  return page(view, {
    title: "Device Keys",
    section: "devices",
    body: html`${section(
      "device-keys",
      "Device keys",
      html`${devicesTable(view, data.keys, data.activePerUser)}${pager(view, "page", data.choice, "device keys")}`,
      `${active} active, ${total - active} revoked. Revoking a key stops that device on its next turn, and its device id cannot register a new key until you allow it again; the user's other devices and tokens are unaffected. For a lost device, revoke and reissue the token: the device may hold it. Check that every device has registered before turning on REQUIRE_SIGNATURES.`,
    )}`,
  });
}

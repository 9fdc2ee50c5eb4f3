// The dashboard's only script: local times, sortable and filterable tables whose state lives in
// the query string, confirmations before destructive actions, and a copy button. It works the
// same on the live page and in an exported file opened from disk.

(() => {
  const MINUTE = 60_000;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  const absolute = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
  const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const integer = new Intl.NumberFormat("en-US");

  function relative(ms, now) {
    const delta = now - ms;
    const ahead = delta < 0;
    const span = Math.abs(delta);
    const say = (n, unit) => (ahead ? `in ${n} ${unit}` : `${n} ${unit} ago`);
    if (span < MINUTE) return ahead ? "in under a minute" : "just now";
    if (span < HOUR) return say(Math.floor(span / MINUTE), "min");
    if (span < DAY) return say(Math.floor(span / HOUR), "h");
    if (span < 7 * DAY) {
      const days = Math.floor(span / DAY);
      return say(days, days === 1 ? "day" : "days");
    }
    return dateOnly.format(new Date(ms));
  }

  function showTimes() {
    const now = Date.now();
    for (const el of document.querySelectorAll("time[datetime]")) {
      const ms = Date.parse(el.getAttribute("datetime"));
      if (Number.isNaN(ms)) continue;
      el.title = absolute.format(new Date(ms));
      el.textContent = el.hasAttribute("data-absolute") ? dateOnly.format(new Date(ms)) : relative(ms, now);
    }
  }

  // Table state in the query string: <name>.sort=<key>, <name>.dir=asc|desc, <name>.q=<text>.
  function readState(name) {
    const params = new URLSearchParams(location.search);
    return {
      sort: params.get(`${name}.sort`),
      dir: params.get(`${name}.dir`) === "asc" ? "asc" : "desc",
      q: params.get(`${name}.q`) || "",
    };
  }

  function writeState(name, state) {
    const params = new URLSearchParams(location.search);
    const set = (key, value) =>
      value ? params.set(`${name}.${key}`, value) : params.delete(`${name}.${key}`);
    set("sort", state.sort);
    set("dir", state.sort ? state.dir : "");
    set("q", state.q);
    const query = params.toString();
    try {
      history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
    } catch {
      // Some browsers refuse history changes on file:// pages; the table still works.
    }
    refreshLinks(params);
  }

  // Links that keep the page's state (the range selector, Export) carry the tables' state too.
  function refreshLinks(current) {
    for (const a of document.querySelectorAll("a[data-keep-state]")) {
      const params = new URLSearchParams(a.search);
      for (const key of [...params.keys()]) if (key.includes(".")) params.delete(key);
      for (const [key, value] of current) if (key.includes(".")) params.set(key, value);
      a.search = params.toString();
    }
  }

  function cellValue(row, index, numeric) {
    const cell = row.cells[index];
    if (!cell) return numeric ? 0 : "";
    const raw = cell.getAttribute("data-value") ?? cell.textContent.trim();
    return numeric ? Number(raw) || 0 : raw.toLowerCase();
  }

  function setUpTable(table) {
    const name = table.getAttribute("data-table");
    const body = table.tBodies[0];
    if (!body) return;
    const rows = [...body.rows];
    const headers = [...table.tHead.rows[0].cells];
    const filter = document.querySelector(`input[data-filter-for="${name}"]`);
    const count = document.querySelector(`[data-count-for="${name}"]`);
    // The same words as the page's countOf: "1 device key", "2 of 3 device keys".
    const nouns = (n) =>
      n === 1 ? count?.getAttribute("data-item") || "row" : count?.getAttribute("data-items") || "rows";
    const state = readState(name);
    const texts = rows.map((row) => row.textContent.toLowerCase());

    function apply() {
      const header = headers.find((h) => h.getAttribute("data-key") === state.sort);
      for (const h of headers) h.removeAttribute("aria-sort");
      let ordered = rows;
      if (header) {
        const index = headers.indexOf(header);
        const numeric = header.getAttribute("data-type") === "number";
        const sign = state.dir === "asc" ? 1 : -1;
        ordered = [...rows].sort((a, b) => {
          const x = cellValue(a, index, numeric);
          const y = cellValue(b, index, numeric);
          return (x < y ? -1 : x > y ? 1 : 0) * sign;
        });
        header.setAttribute("aria-sort", state.dir === "asc" ? "ascending" : "descending");
      }
      const needle = state.q.toLowerCase();
      let shown = 0;
      for (const row of ordered) {
        const visible = !needle || texts[rows.indexOf(row)].includes(needle);
        row.hidden = !visible;
        if (visible) shown++;
        body.appendChild(row);
      }
      if (count) {
        count.textContent =
          shown === rows.length
            ? `${integer.format(rows.length)} ${nouns(rows.length)}`
            : `${integer.format(shown)} of ${integer.format(rows.length)} ${nouns(rows.length)}`;
      }
    }

    for (const header of headers) {
      const key = header.getAttribute("data-key");
      if (!key) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.append(...header.childNodes);
      header.append(button);
      button.addEventListener("click", () => {
        const numeric = header.getAttribute("data-type") === "number";
        if (state.sort === key) state.dir = state.dir === "asc" ? "desc" : "asc";
        else {
          state.sort = key;
          state.dir = numeric ? "desc" : "asc";
        }
        apply();
        writeState(name, state);
      });
    }
    if (filter) {
      filter.value = state.q;
      filter.addEventListener("input", () => {
        state.q = filter.value;
        apply();
        writeState(name, state);
      });
    }
    apply();
  }

  document.addEventListener("submit", (event) => {
    const message = event.target.getAttribute?.("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(
      () => {
        button.textContent = "Copied";
      },
      () => {
        getSelection().selectAllChildren(source);
        button.textContent = "Press Ctrl+C to copy";
      },
    );
  });

  function start() {
    showTimes();
    setInterval(showTimes, MINUTE);
    for (const table of document.querySelectorAll("table[data-table]")) setUpTable(table);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

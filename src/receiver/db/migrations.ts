// Ordered schema migrations; PRAGMA user_version records how many have run.
// Append new ones at the end, never edit a released one: files in the field are at every version.

/**
 * An email as the receiver keeps it, in SQL: surrounding blanks gone, ASCII letters lower-case.
 * SQLite's lower() changes only ASCII letters, and normaliseEmail() does exactly the same, so a
 * row typed in sqlite3 and one made by the receiver always agree.
 */
const NORMALISED = (column: string) => `lower(trim(${column}, char(32, 9, 10, 13)))`;

/** `SET a = a + excluded.a, …` for an upsert that adds a merged row into an existing one. */
const ADD_EXCLUDED = (columns: string[]) => columns.map((c) => `${c} = ${c} + excluded.${c}`).join(", ");

const DAILY_COUNTS = [
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "requests",
  "subagent_input_tokens",
  "subagent_output_tokens",
  "subagent_cache_read_tokens",
  "subagent_cache_write_tokens",
  "turns",
];
const HOURLY_COUNTS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "turns"];

/**
 * The rollups of every other spelling, added into the normalised one's rows: exactly what each
 * spelling had counted, however the report service split it (hours, days), then the old rows go.
 */
const MERGE_ROLLUPS = `
  INSERT INTO usage_daily (email, day, model, ${DAILY_COUNTS.join(", ")})
  SELECT ${NORMALISED("email")}, day, model, ${DAILY_COUNTS.map((c) => `sum(${c})`).join(", ")}
  FROM usage_daily WHERE email != ${NORMALISED("email")} GROUP BY ${NORMALISED("email")}, day, model
  ON CONFLICT (email, day, model) DO UPDATE SET ${ADD_EXCLUDED(DAILY_COUNTS)};
  DELETE FROM usage_daily WHERE email != ${NORMALISED("email")};

  INSERT INTO usage_hourly (email, hour, ${HOURLY_COUNTS.join(", ")}, last_event_at)
  SELECT ${NORMALISED("email")}, hour, ${HOURLY_COUNTS.map((c) => `sum(${c})`).join(", ")}, max(last_event_at)
  FROM usage_hourly WHERE email != ${NORMALISED("email")} GROUP BY ${NORMALISED("email")}, hour
  ON CONFLICT (email, hour) DO UPDATE SET ${ADD_EXCLUDED(HOURLY_COUNTS)},
    last_event_at = nullif(max(coalesce(last_event_at, ''), coalesce(excluded.last_event_at, '')), '');
  DELETE FROM usage_hourly WHERE email != ${NORMALISED("email")};

  INSERT INTO session_days (email, day, session_id, turns)
  SELECT ${NORMALISED("email")}, day, session_id, sum(turns)
  FROM session_days WHERE email != ${NORMALISED("email")} GROUP BY ${NORMALISED("email")}, day, session_id
  ON CONFLICT (email, day, session_id) DO UPDATE SET turns = turns + excluded.turns;
  DELETE FROM session_days WHERE email != ${NORMALISED("email")};
`;

/** The session span of the trigger's row (NEW or OLD), as a WHERE on session_spans. */
const SPAN_OF = (row: "NEW" | "OLD") =>
  `FROM session_spans WHERE email = ${row}.email AND session_id = ${row}.session_id`;

/** A session's span taken out of the per-day start and end counts (before it changes). */
const SPAN_COUNTED_OFF = (row: "NEW" | "OLD") => `UPDATE org_session_days SET
      started = started - (day = (SELECT first_day ${SPAN_OF(row)})),
      ended = ended - (day = (SELECT last_day ${SPAN_OF(row)}))
    WHERE day IN (SELECT first_day ${SPAN_OF(row)} UNION SELECT last_day ${SPAN_OF(row)});`;

/** A session's span added to the per-day start and end counts (after it changed). */
const SPAN_COUNTED_ON = (row: "NEW" | "OLD") => `INSERT INTO org_session_days (day, started)
      SELECT first_day, 1 ${SPAN_OF(row)} ON CONFLICT (day) DO UPDATE SET started = started + 1;
    INSERT INTO org_session_days (day, ended)
      SELECT last_day, 1 ${SPAN_OF(row)} ON CONFLICT (day) DO UPDATE SET ended = ended + 1;`;

/** One more write on the trigger row's day (NEW or OLD), for migration 14. */
const DAY_WRITTEN = (row: "NEW" | "OLD") =>
  `INSERT INTO usage_day_writes VALUES (${row}.day, 1) ON CONFLICT (day) DO UPDATE SET writes = writes + 1;`;

export const MIGRATIONS: readonly string[] = [
  // 1: the tables of docs/protocol.md §5 exactly as the guide's SQL uses them, plus usage storage.
  `
  CREATE TABLE refresh_tokens (
    token TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    division TEXT,
    expires_at TIMESTAMP NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    -- A stable number for references and admin forms, so neither ever carries the token.
    id INTEGER UNIQUE,
    last_used_at TIMESTAMP
  );
  CREATE INDEX refresh_tokens_email ON refresh_tokens (email);

  -- Rows inserted by hand in sqlite3 (the guide's INSERT) get their id here too.
  CREATE TRIGGER refresh_tokens_assign_id AFTER INSERT ON refresh_tokens WHEN NEW.id IS NULL
  BEGIN
    UPDATE refresh_tokens SET id = (SELECT coalesce(max(id), 0) + 1 FROM refresh_tokens) WHERE rowid = NEW.rowid;
  END;

  CREATE TABLE device_keys (
    public_key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    device_id TEXT,
    registered_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_seen_at TIMESTAMP,
    revoked INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX device_keys_email ON device_keys (email);

  -- Only a SHA-256 of each access token is kept.
  CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    refresh_token_id INTEGER NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
  ) WITHOUT ROWID;
  CREATE INDEX access_tokens_refresh_token ON access_tokens (refresh_token_id);

  -- One row per user, session, turn and model. Identity is the email, so history outlives tokens.
  CREATE TABLE usage_events (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    refresh_token_id INTEGER,
    public_key TEXT,
    device_id TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL,
    turn_index INTEGER NOT NULL,
    model TEXT NOT NULL,
    event_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    session_start_at TIMESTAMP,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER,
    cache_write_1h_tokens INTEGER,
    requests INTEGER,
    subagent_input_tokens INTEGER,
    subagent_output_tokens INTEGER,
    subagent_cache_read_tokens INTEGER,
    subagent_cache_write_tokens INTEGER,
    schema_version INTEGER NOT NULL,
    plugin_version TEXT,
    claude_code_version TEXT,
    UNIQUE (email, session_id, turn_index, model)
  );

  -- Deleting a refresh token (the guide's re-provisioning) must work whatever the admin's
  -- foreign_keys setting: its access tokens go, usage rows keep their history without the link.
  -- usage_events has no index beyond its unique key on purpose: every index is written on every
  -- report. Per-user reads use the key's email prefix; a rare re-provisioning can afford one scan.
  CREATE TRIGGER refresh_tokens_release AFTER DELETE ON refresh_tokens
  BEGIN
    DELETE FROM access_tokens WHERE refresh_token_id = OLD.id;
    UPDATE usage_events SET refresh_token_id = NULL WHERE refresh_token_id = OLD.id;
  END;

  -- Rollups kept in the same transaction as each report, so pages never scan raw events.
  CREATE TABLE usage_daily (
    email TEXT NOT NULL,
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    subagent_input_tokens INTEGER NOT NULL DEFAULT 0,
    subagent_output_tokens INTEGER NOT NULL DEFAULT 0,
    subagent_cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    subagent_cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    turns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (email, day, model)
  ) WITHOUT ROWID;
  CREATE INDEX usage_daily_day ON usage_daily (day);

  -- Per user and UTC hour: 5-hour windows start and end on whole hours, so this is exact for them.
  CREATE TABLE usage_hourly (
    email TEXT NOT NULL,
    hour TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    turns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (email, hour)
  ) WITHOUT ROWID;
  CREATE INDEX usage_hourly_hour ON usage_hourly (hour);

  -- Distinct sessions per user and day, for session counts over any range of days.
  CREATE TABLE session_days (
    email TEXT NOT NULL,
    day TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (email, day, session_id)
  ) WITHOUT ROWID;
  CREATE INDEX session_days_day ON session_days (day);

  CREATE TABLE limit_events (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    session_id TEXT NOT NULL,
    timestamp_utc TEXT NOT NULL,
    event_at TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    resets_at TIMESTAMP,
    public_key TEXT,
    device_id TEXT NOT NULL DEFAULT '',
    received_at TIMESTAMP NOT NULL,
    UNIQUE (email, session_id, timestamp_utc)
  );
  CREATE INDEX limit_events_email_time ON limit_events (email, event_at);

  -- GET /health writes here: a real write proves the disk takes writes.
  CREATE TABLE health_probe (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TIMESTAMP NOT NULL);
  `,
  // 2: the admin dashboard's own state. Additive only: no table of migration 1 changes.
  `
  -- Server-side login sessions; only a SHA-256 of the cookie's random id is kept.
  CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    address TEXT NOT NULL DEFAULT ''
  ) WITHOUT ROWID;

  -- A newly issued refresh token may be shown once: the redirect after the POST carries a random
  -- nonce whose hash points here, and showing the page deletes the row.
  CREATE TABLE admin_token_reveals (
    nonce_hash TEXT PRIMARY KEY,
    refresh_token_id INTEGER NOT NULL,
    expires_at TIMESTAMP NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE admin_audit (
    id INTEGER PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
  );

  -- Per range ('7', '30', '90', 'all') and user: 5-hour window figures and the tier estimate,
  -- recomputed in the background (TIER_INFERENCE_INTERVAL_SECS). tier is NULL for users with
  -- too few closed windows.
  CREATE TABLE tier_estimates (
    range_key TEXT NOT NULL,
    email TEXT NOT NULL,
    window_count INTEGER NOT NULL,
    peak_billed_tokens INTEGER NOT NULL,
    average_billed_tokens REAL NOT NULL,
    limit_windows INTEGER NOT NULL,
    p75_billed_tokens INTEGER,
    counted_windows INTEGER NOT NULL,
    tier INTEGER,
    confidence TEXT,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (range_key, email)
  ) WITHOUT ROWID;

  -- Each model keeps the colour slot it was first given, so it has one colour on every chart.
  CREATE TABLE model_colours (
    model TEXT PRIMARY KEY,
    slot INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 3: what a limit event says about the limit (protocol v2 limit_type and overage_status).
  `
  ALTER TABLE limit_events ADD COLUMN limit_type TEXT;
  ALTER TABLE limit_events ADD COLUMN overage_status TEXT;
  `,
  // 4: distinct model names are capped per user and per organisation (reports/model-names.ts).
  // model_colours doubles as the organisation's list of names; the slot index makes the next slot
  // a lookup instead of a scan.
  `
  CREATE TABLE user_models (
    email TEXT NOT NULL,
    model TEXT NOT NULL,
    PRIMARY KEY (email, model)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO user_models (email, model) SELECT DISTINCT email, model FROM usage_daily;

  CREATE INDEX model_colours_slot ON model_colours (slot);
  INSERT INTO model_colours (model, slot)
    SELECT model, (SELECT coalesce(max(slot) + 1, 0) FROM model_colours) + row_number() OVER (ORDER BY model) - 1
    FROM (SELECT DISTINCT model FROM usage_daily WHERE model NOT IN (SELECT model FROM model_colours));
  `,
  // 5: per device key, the delivery sequence held (docs/protocol.md §4, delivery_seq). On the key's own row, so
  // a restored or copied database answers its own, older number and reporters send again what it lacks.
  `
  ALTER TABLE device_keys ADD COLUMN delivery_held INTEGER NOT NULL DEFAULT 0;
  `,
  // 6: the time of the latest turn in each user-hour, so "last active" is exact rather than the
  // hour it fell in. Filled for each user's latest hour (all a page reads); older hours stay NULL.
  `
  ALTER TABLE usage_hourly ADD COLUMN last_event_at TIMESTAMP;
  UPDATE usage_hourly SET last_event_at = (SELECT max(e.event_at) FROM usage_events e WHERE e.email = usage_hourly.email)
  WHERE hour = (SELECT max(h.hour) FROM usage_hourly h WHERE h.email = usage_hourly.email);
  `,
  // 7: limit events are capped per person per day (reports/limit-event-cap.ts), counted by this index.
  `
  CREATE INDEX limit_events_email_received ON limit_events (email, received_at);
  `,
  // 8: each call's tokens in their own hour (protocol v2 models[m].hours), kept with the event so
  // the rollups can be rebuilt from it. NULL: all of the event's tokens in the hour of event_at.
  `
  ALTER TABLE usage_events ADD COLUMN hours TEXT;
  `,
  // 9: one person, one email. Emails are kept trimmed and lower-case ('DUP@Example.org' and
  // 'dup@example.org' were two people): existing spellings are merged, usage history included
  // (the rollups add up what each spelling counted; a turn stored under both keeps its first event
  // row, as the unique key allows one), and rows typed by hand in sqlite3 are normalised as written.
  `
  CREATE TEMP TABLE email_merge AS
    SELECT DISTINCT ${NORMALISED("email")} AS email FROM (
      SELECT email FROM refresh_tokens UNION SELECT email FROM device_keys
      UNION SELECT email FROM usage_daily UNION SELECT email FROM limit_events)
    WHERE email != ${NORMALISED("email")};
  -- Every spelling of those emails that has usage or limit events (usage_daily has each spelling
  -- of usage_events, and is far smaller), so the merges below can use the tables' unique keys.
  CREATE TEMP TABLE email_spellings AS
    SELECT DISTINCT email AS spelling, ${NORMALISED("email")} AS email
    FROM (SELECT email FROM usage_daily UNION SELECT email FROM limit_events)
    WHERE ${NORMALISED("email")} IN (SELECT email FROM email_merge);

  UPDATE refresh_tokens SET email = ${NORMALISED("email")} WHERE email != ${NORMALISED("email")};
  UPDATE device_keys SET email = ${NORMALISED("email")} WHERE email != ${NORMALISED("email")};

  DELETE FROM usage_events WHERE id IN (
    SELECT e.id FROM email_spellings se
    JOIN usage_events e ON e.email = se.spelling
    JOIN email_spellings sf ON sf.email = se.email
    JOIN usage_events f ON f.email = sf.spelling AND f.session_id = e.session_id
      AND f.turn_index = e.turn_index AND f.model = e.model AND f.id < e.id);
  UPDATE usage_events SET email = ${NORMALISED("email")}
  WHERE email IN (SELECT spelling FROM email_spellings WHERE spelling != email);

  DELETE FROM limit_events WHERE id IN (
    SELECT e.id FROM email_spellings se
    JOIN limit_events e ON e.email = se.spelling
    JOIN email_spellings sf ON sf.email = se.email
    JOIN limit_events f ON f.email = sf.spelling AND f.session_id = e.session_id
      AND f.timestamp_utc = e.timestamp_utc AND f.id < e.id);
  UPDATE limit_events SET email = ${NORMALISED("email")}
  WHERE email IN (SELECT spelling FROM email_spellings WHERE spelling != email);
  ${MERGE_ROLLUPS}
  -- Model names remembered per person (migration 4): the union of both spellings' names.
  UPDATE OR IGNORE user_models SET email = ${NORMALISED("email")} WHERE email != ${NORMALISED("email")};
  DELETE FROM user_models WHERE email != ${NORMALISED("email")};
  -- Estimated again by the background job within TIER_INFERENCE_INTERVAL_SECS.
  DELETE FROM tier_estimates WHERE ${NORMALISED("email")} IN (SELECT email FROM email_merge);
  DROP TABLE email_spellings;
  DROP TABLE email_merge;

  -- The guide's INSERT (and any hand-typed UPDATE) may spell an email any way.
  CREATE TRIGGER refresh_tokens_normalise_email AFTER INSERT ON refresh_tokens
  WHEN NEW.email != ${NORMALISED("NEW.email")}
  BEGIN
    UPDATE refresh_tokens SET email = ${NORMALISED("NEW.email")} WHERE rowid = NEW.rowid;
  END;
  CREATE TRIGGER refresh_tokens_normalise_email_update AFTER UPDATE OF email ON refresh_tokens
  WHEN NEW.email != ${NORMALISED("NEW.email")}
  BEGIN
    UPDATE refresh_tokens SET email = ${NORMALISED("NEW.email")} WHERE rowid = NEW.rowid;
  END;
  `,
  // 10: a revoked device stays out. A revoked key also blocks new keys that its owner registers under
  // the same device id (the lost laptop's reporter making itself a fresh key), until an admin
  // allows that device again, which sets released_at on its revoked keys. The guide's
  // UPDATE device_keys SET revoked = 1 needs nothing more: registration reads revoked keys.
  `
  ALTER TABLE device_keys ADD COLUMN released_at TIMESTAMP;
  `,
  // 11: rollups that make every dashboard range as cheap as the shortest. Triggers on usage_daily
  // keep them, so every writer of the daily rollup (reports, an admin's SQL) keeps them right.
  `
  -- Per user and model, the first and last day with usage: the pairs a range of days can hold.
  ALTER TABLE user_models ADD COLUMN first_day TEXT;
  ALTER TABLE user_models ADD COLUMN last_day TEXT;
  INSERT OR IGNORE INTO user_models (email, model) SELECT DISTINCT email, model FROM usage_daily;
  UPDATE user_models SET first_day = d.first_day, last_day = d.last_day
    FROM (SELECT email, model, min(day) AS first_day, max(day) AS last_day FROM usage_daily GROUP BY email, model) d
    WHERE d.email = user_models.email AND d.model = user_models.model;

  -- Per user and model: running totals through each day with usage, so any range of days is two
  -- lookups per user and model (totals through its last day minus totals before its first).
  CREATE TABLE usage_cumulative (
    email TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    turns INTEGER NOT NULL,
    active_days INTEGER NOT NULL,
    PRIMARY KEY (email, model, day)
  ) WITHOUT ROWID;
  INSERT INTO usage_cumulative
    SELECT email, model, day, sum(input_tokens) OVER w, sum(output_tokens) OVER w, sum(cache_read_tokens) OVER w,
      sum(cache_write_tokens) OVER w, sum(cache_write_5m_tokens) OVER w, sum(cache_write_1h_tokens) OVER w,
      sum(turns) OVER w, count(*) OVER w
    FROM usage_daily WINDOW w AS (PARTITION BY email, model ORDER BY day);

  -- The whole organisation per day and model, for headline figures and charts over any range.
  CREATE TABLE usage_org_daily (
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    turns INTEGER NOT NULL,
    PRIMARY KEY (day, model)
  ) WITHOUT ROWID;
  INSERT INTO usage_org_daily
    SELECT day, model, sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
      sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(turns)
    FROM usage_daily GROUP BY day, model;

  CREATE TRIGGER usage_daily_added AFTER INSERT ON usage_daily
  BEGIN
    INSERT INTO user_models (email, model, first_day, last_day) VALUES (NEW.email, NEW.model, NEW.day, NEW.day)
      ON CONFLICT (email, model) DO UPDATE SET
        first_day = min(coalesce(first_day, excluded.first_day), excluded.first_day),
        last_day = max(coalesce(last_day, excluded.last_day), excluded.last_day);
    INSERT INTO usage_org_daily (day, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
        cache_write_5m_tokens, cache_write_1h_tokens, turns)
      VALUES (NEW.day, NEW.model, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens,
        NEW.cache_write_5m_tokens, NEW.cache_write_1h_tokens, NEW.turns)
      ON CONFLICT (day, model) DO UPDATE SET
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
        turns = turns + excluded.turns;
    -- The new day starts from the totals of the pair's previous day, then it and every later day grow.
    INSERT INTO usage_cumulative (email, model, day, input_tokens, output_tokens, cache_read_tokens,
        cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, turns, active_days)
      SELECT NEW.email, NEW.model, NEW.day, coalesce(p.input_tokens, 0), coalesce(p.output_tokens, 0),
        coalesce(p.cache_read_tokens, 0), coalesce(p.cache_write_tokens, 0), coalesce(p.cache_write_5m_tokens, 0),
        coalesce(p.cache_write_1h_tokens, 0), coalesce(p.turns, 0), coalesce(p.active_days, 0)
      FROM (SELECT 1) LEFT JOIN (SELECT * FROM usage_cumulative WHERE email = NEW.email AND model = NEW.model
        AND day < NEW.day ORDER BY day DESC LIMIT 1) p ON true
      WHERE true ON CONFLICT (email, model, day) DO NOTHING;
    UPDATE usage_cumulative SET input_tokens = input_tokens + NEW.input_tokens,
        output_tokens = output_tokens + NEW.output_tokens, cache_read_tokens = cache_read_tokens + NEW.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + NEW.cache_write_tokens,
        cache_write_5m_tokens = cache_write_5m_tokens + NEW.cache_write_5m_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens + NEW.cache_write_1h_tokens,
        turns = turns + NEW.turns, active_days = active_days + 1
      WHERE email = NEW.email AND model = NEW.model AND day >= NEW.day;
  END;

  CREATE TRIGGER usage_daily_grown AFTER UPDATE ON usage_daily
  BEGIN
    UPDATE usage_org_daily SET input_tokens = input_tokens + NEW.input_tokens - OLD.input_tokens,
        output_tokens = output_tokens + NEW.output_tokens - OLD.output_tokens,
        cache_read_tokens = cache_read_tokens + NEW.cache_read_tokens - OLD.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + NEW.cache_write_tokens - OLD.cache_write_tokens,
        cache_write_5m_tokens = cache_write_5m_tokens + NEW.cache_write_5m_tokens - OLD.cache_write_5m_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens + NEW.cache_write_1h_tokens - OLD.cache_write_1h_tokens,
        turns = turns + NEW.turns - OLD.turns
      WHERE day = NEW.day AND model = NEW.model;
    UPDATE usage_cumulative SET input_tokens = input_tokens + NEW.input_tokens - OLD.input_tokens,
        output_tokens = output_tokens + NEW.output_tokens - OLD.output_tokens,
        cache_read_tokens = cache_read_tokens + NEW.cache_read_tokens - OLD.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + NEW.cache_write_tokens - OLD.cache_write_tokens,
        cache_write_5m_tokens = cache_write_5m_tokens + NEW.cache_write_5m_tokens - OLD.cache_write_5m_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens + NEW.cache_write_1h_tokens - OLD.cache_write_1h_tokens,
        turns = turns + NEW.turns - OLD.turns
      WHERE email = NEW.email AND model = NEW.model AND day >= NEW.day;
  END;

  -- An admin deleting daily rows by hand: the running totals and the day's sums give them back.
  CREATE TRIGGER usage_daily_removed AFTER DELETE ON usage_daily
  BEGIN
    UPDATE usage_org_daily SET input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens, cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens, turns = turns - OLD.turns
      WHERE day = OLD.day AND model = OLD.model;
    UPDATE usage_cumulative SET input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens, cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
        cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens, turns = turns - OLD.turns,
        active_days = active_days - 1
      WHERE email = OLD.email AND model = OLD.model AND day > OLD.day;
    DELETE FROM usage_cumulative WHERE email = OLD.email AND model = OLD.model AND day = OLD.day;
  END;

  -- Limit events over a range of days, for everyone.
  CREATE INDEX limit_events_time ON limit_events (event_at);

  -- What the window job learns from confirmed limits, per range and user.
  ALTER TABLE tier_estimates ADD COLUMN limit_billed_tokens INTEGER;
  ALTER TABLE tier_estimates ADD COLUMN anchored_windows INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tier_estimates ADD COLUMN peak_week_billed_tokens INTEGER NOT NULL DEFAULT 0;
  `,
  // 12: each user and model's totals over all time on its user_models row (what the running totals
  // hold on its last day), so a range that ends today needs no lookup for its end.
  `
  ALTER TABLE user_models ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE user_models ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE user_models ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE user_models ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE user_models ADD COLUMN cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE user_models ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE user_models ADD COLUMN turns INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE user_models ADD COLUMN active_days INTEGER NOT NULL DEFAULT 0;
  UPDATE user_models SET input_tokens = d.input_tokens, output_tokens = d.output_tokens, cache_read_tokens = d.cache_read_tokens, cache_write_tokens = d.cache_write_tokens, cache_write_5m_tokens = d.cache_write_5m_tokens, cache_write_1h_tokens = d.cache_write_1h_tokens, turns = d.turns, active_days = d.active_days
    FROM (SELECT email, model, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens, sum(cache_write_5m_tokens) AS cache_write_5m_tokens, sum(cache_write_1h_tokens) AS cache_write_1h_tokens, sum(turns) AS turns, count(*) AS active_days FROM usage_daily GROUP BY email, model) d
    WHERE d.email = user_models.email AND d.model = user_models.model;

  CREATE TRIGGER usage_daily_added_totals AFTER INSERT ON usage_daily
  BEGIN
    INSERT INTO user_models (email, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens, turns, active_days)
      VALUES (NEW.email, NEW.model, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens, NEW.cache_write_5m_tokens, NEW.cache_write_1h_tokens, NEW.turns, 1)
      ON CONFLICT (email, model) DO UPDATE SET
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
        cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
        cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
        turns = turns + excluded.turns,
        active_days = active_days + excluded.active_days;
  END;

  CREATE TRIGGER usage_daily_grown_totals AFTER UPDATE ON usage_daily
  BEGIN
    UPDATE user_models SET
      input_tokens = input_tokens + NEW.input_tokens - OLD.input_tokens,
      output_tokens = output_tokens + NEW.output_tokens - OLD.output_tokens,
      cache_read_tokens = cache_read_tokens + NEW.cache_read_tokens - OLD.cache_read_tokens,
      cache_write_tokens = cache_write_tokens + NEW.cache_write_tokens - OLD.cache_write_tokens,
      cache_write_5m_tokens = cache_write_5m_tokens + NEW.cache_write_5m_tokens - OLD.cache_write_5m_tokens,
      cache_write_1h_tokens = cache_write_1h_tokens + NEW.cache_write_1h_tokens - OLD.cache_write_1h_tokens,
      turns = turns + NEW.turns - OLD.turns
    WHERE email = NEW.email AND model = NEW.model;
  END;

  CREATE TRIGGER usage_daily_removed_totals AFTER DELETE ON usage_daily
  BEGIN
    UPDATE user_models SET
      input_tokens = input_tokens - OLD.input_tokens,
      output_tokens = output_tokens - OLD.output_tokens,
      cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
      cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
      cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens,
      cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens,
      turns = turns - OLD.turns,
      active_days = active_days - 1
    WHERE email = OLD.email AND model = OLD.model;
  END;
  `,
  // 13: sessions and turns over any range of days without a scan. A session's span (first and
  // last day) and, per day, how many spans start and end then: the sessions in [from, to] are those
  // started by its last day less those ended before its first. A turn lies on one day, so turns
  // per day add up. Kept by triggers on session_days, whoever writes it.
  `
  CREATE TABLE session_spans (
    email TEXT NOT NULL,
    session_id TEXT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    PRIMARY KEY (email, session_id)
  ) WITHOUT ROWID;
  CREATE TABLE org_session_days (
    day TEXT PRIMARY KEY,
    started INTEGER NOT NULL DEFAULT 0,
    ended INTEGER NOT NULL DEFAULT 0,
    turns INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  INSERT INTO session_spans SELECT email, session_id, min(day), max(day) FROM session_days GROUP BY email, session_id;
  INSERT INTO org_session_days (day, turns) SELECT day, sum(turns) FROM session_days GROUP BY day;
  INSERT INTO org_session_days (day, started) SELECT first_day, count(*) FROM session_spans WHERE true GROUP BY first_day
    ON CONFLICT (day) DO UPDATE SET started = excluded.started;
  INSERT INTO org_session_days (day, ended) SELECT last_day, count(*) FROM session_spans WHERE true GROUP BY last_day
    ON CONFLICT (day) DO UPDATE SET ended = excluded.ended;

  -- A new day of a session: its old span is counted off, the grown one counted on.
  CREATE TRIGGER session_days_added AFTER INSERT ON session_days
  BEGIN
    ${SPAN_COUNTED_OFF("NEW")}
    INSERT INTO session_spans (email, session_id, first_day, last_day) VALUES (NEW.email, NEW.session_id, NEW.day, NEW.day)
      ON CONFLICT (email, session_id) DO UPDATE SET
        first_day = min(first_day, excluded.first_day), last_day = max(last_day, excluded.last_day);
    ${SPAN_COUNTED_ON("NEW")}
    INSERT INTO org_session_days (day, turns) VALUES (NEW.day, NEW.turns)
      ON CONFLICT (day) DO UPDATE SET turns = turns + excluded.turns;
  END;

  CREATE TRIGGER session_days_grown AFTER UPDATE OF turns ON session_days WHEN NEW.turns != OLD.turns
  BEGIN
    UPDATE org_session_days SET turns = turns + NEW.turns - OLD.turns WHERE day = OLD.day;
  END;

  -- An admin deleting rows by hand: the span shrinks to the session's remaining days, or goes.
  CREATE TRIGGER session_days_removed AFTER DELETE ON session_days
  BEGIN
    UPDATE org_session_days SET turns = turns - OLD.turns WHERE day = OLD.day;
    ${SPAN_COUNTED_OFF("OLD")}
    DELETE FROM session_spans WHERE email = OLD.email AND session_id = OLD.session_id;
    INSERT INTO session_spans (email, session_id, first_day, last_day)
      SELECT OLD.email, OLD.session_id, min(day), max(day) FROM session_days
      WHERE email = OLD.email AND session_id = OLD.session_id HAVING count(*) > 0;
    ${SPAN_COUNTED_ON("OLD")}
  END;
  `,
  // 14: how often each past day's daily rows have changed. The running totals through a day change
  // only when a day up to it does, so a copy of them read earlier is still right while the sum up
  // to that day is unchanged; the overview keeps such copies, always of days before today (a range
  // through today ends at each pair's own totals), so today's writes, nearly all of them, are not
  // counted.
  `
  CREATE TABLE usage_day_writes (day TEXT PRIMARY KEY, writes INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO usage_day_writes SELECT day, count(*) FROM usage_daily GROUP BY day;
  CREATE TRIGGER usage_daily_written AFTER INSERT ON usage_daily WHEN NEW.day < date('now')
  BEGIN
    ${DAY_WRITTEN("NEW")}
  END;
  CREATE TRIGGER usage_daily_rewritten AFTER UPDATE ON usage_daily WHEN NEW.day < date('now')
  BEGIN
    ${DAY_WRITTEN("NEW")}
  END;
  CREATE TRIGGER usage_daily_moved AFTER UPDATE OF day ON usage_daily WHEN OLD.day != NEW.day
  BEGIN
    ${DAY_WRITTEN("OLD")}
  END;
  CREATE TRIGGER usage_daily_unwritten AFTER DELETE ON usage_daily
  BEGIN
    ${DAY_WRITTEN("OLD")}
  END;
  `,
];

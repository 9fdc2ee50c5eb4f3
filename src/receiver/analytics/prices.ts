// The API list prices ccflux compares usage with, built into the binary, and the admin's
// override (PRICES_FILE). Pure: the caller reads the file; this parses and validates its text.

/** US dollars per million tokens of each kind. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Cache writes with the default 5-minute lifetime; also used for writes a reporter did not split. */
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
}

export interface PriceTable {
  /** The day the prices were read (YYYY-MM-DD), shown beside every cost. */
  takenOn: string;
  source: string;
  /** Keyed by model id without its date suffix (`claude-sonnet-4-5`, not `…-20250929`). */
  models: Record<string, ModelPrice>;
}

/** Each price's name in a PRICES_FILE. */
const FILE_FIELDS: Record<keyof ModelPrice, string> = {
  input: "input",
  output: "output",
  cacheWrite5m: "cache_write_5m",
  cacheWrite1h: "cache_write_1h",
  cacheRead: "cache_read",
};

function price(input: number, cacheWrite5m: number, cacheWrite1h: number, cacheRead: number, output: number) {
  return { input, output, cacheWrite5m, cacheWrite1h, cacheRead };
}

const OPUS_4_5_TO_5 = price(5, 6.25, 10, 0.5, 25);
const OPUS_4 = price(15, 18.75, 30, 1.5, 75);
const SONNET_4 = price(3, 3.75, 6, 0.3, 15);
const SONNET_5 = price(2, 2.5, 4, 0.2, 10);

/**
 * Anthropic's published per-model prices (platform.claude.com/docs/en/about-claude/pricing and
 * the model overview pages), read on 2026-12-02. Claude Haiku 5.5 is left out on purpose: its
 * price depends on each request's prompt length, which a per-turn total cannot tell.
 */
export const BUILT_IN_PRICES: PriceTable = {
  takenOn: "2026-12-02",
  source: "Anthropic's published API list prices (platform.claude.com/docs/en/about-claude/pricing)",
  models: {
    "claude-fable-5-1": price(10, 12.5, 20, 0.25, 50),
    "claude-fable-5": price(10, 12.5, 20, 1, 50),
    "claude-opus-5-5": price(4, 5, 8, 0.2, 20),
    "claude-opus-5": OPUS_4_5_TO_5,
    "claude-opus-4-8": OPUS_4_5_TO_5,
    "claude-opus-4-7": OPUS_4_5_TO_5,
    "claude-opus-4-6": OPUS_4_5_TO_5,
    "claude-opus-4-5": OPUS_4_5_TO_5,
    "claude-opus-4-1": OPUS_4,
    "claude-opus-4": OPUS_4,
    "claude-sonnet-5-5": SONNET_5,
    "claude-sonnet-5": SONNET_5,
    "claude-sonnet-4-6": SONNET_4,
    "claude-sonnet-4-5": SONNET_4,
    "claude-sonnet-4": SONNET_4,
    "claude-haiku-4-5": price(1, 1.25, 2, 0.1, 5),
    "claude-3-5-haiku": price(0.8, 1, 1.6, 0.08, 4),
  },
};

/** The table key of a model id as Claude Code reports it: no `-YYYYMMDD`, no `[1m]` suffix. */
export function priceKey(model: string): string {
  return model
    .trim()
    .toLowerCase()
    .replace(/\[[^\]]*\]$/, "")
    .replace(/-\d{8}$/, "");
}

// Model names repeat on every row: remember each one's price per table.
const known = new WeakMap<PriceTable, Map<string, ModelPrice | null>>();

export function priceOf(table: PriceTable, model: string): ModelPrice | null {
  let prices = known.get(table);
  if (!prices) {
    prices = new Map();
    known.set(table, prices);
  }
  let price = prices.get(model);
  if (price === undefined) {
    const key = priceKey(model);
    price = Object.hasOwn(table.models, key) ? table.models[key]! : null;
    prices.set(model, price);
  }
  return price;
}

/**
 * A PRICES_FILE's text: `{"taken_on": "YYYY-MM-DD", "source"?: "...", "models": {"<model>":
 * {"input": $, "output": $, "cache_write_5m": $, "cache_write_1h": $, "cache_read": $}}}`, in
 * dollars per million tokens. Its models replace the built-in ones of the same name and add new
 * ones. Throws Error with a message naming what is wrong.
 */
export function parsePriceFile(text: string, path: string, base: PriceTable = BUILT_IN_PRICES): PriceTable {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new Error("expected a JSON object");
  const { taken_on: takenOn, source, models } = data as Record<string, unknown>;
  if (
    typeof takenOn !== "string" ||
    !/^\d{4}-\d{2}-\d{2}$/.test(takenOn) ||
    Number.isNaN(Date.parse(takenOn))
  ) {
    throw new Error('"taken_on" must be the day the prices were read, as YYYY-MM-DD');
  }
  if (source !== undefined && typeof source !== "string") throw new Error('"source" must be text');
  if (typeof models !== "object" || models === null || Array.isArray(models)) {
    throw new Error('"models" must be an object of model names to prices');
  }
  const parsed: Record<string, ModelPrice> = { ...base.models };
  for (const [model, value] of Object.entries(models)) {
    if (typeof value !== "object" || value === null) throw new Error(`models["${model}"] must be an object`);
    const raw = value as Record<string, unknown>;
    const entry = {} as ModelPrice;
    for (const [field, jsonName] of Object.entries(FILE_FIELDS) as [keyof ModelPrice, string][]) {
      const amount = raw[jsonName];
      if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) {
        throw new Error(
          `models["${model}"].${jsonName} must be a number of dollars per million tokens, 0 or more`,
        );
      }
      entry[field] = amount;
    }
    parsed[priceKey(model)] = entry;
  }
  return { takenOn, source: source ?? path, models: parsed };
}

// Caps on distinct model names. Every name a report brings is remembered per user (user_models)
// and for the organisation (model_colours, which also gives the name its colour slot), so a new
// name costs a few index lookups and a known one a single lookup, never a scan.
import type { Database } from "../db/database.ts";

/** Distinct model names one user may ever report. Claude Code has used a handful per year. */
export const MAX_MODELS_PER_USER = 32;
/** Distinct model names all users together may ever report. */
export const MAX_MODELS_PER_ORGANISATION = 256;

export type ModelRefusal = "user" | "organisation";

export function createModelNames(
  db: Database,
  caps = { perUser: MAX_MODELS_PER_USER, perOrganisation: MAX_MODELS_PER_ORGANISATION },
) {
  const userHas = db.query<{ one: number }, [string, string]>(
    "SELECT 1 AS one FROM user_models WHERE email = ? AND model = ?",
  );
  const userCount = db.query<{ n: number }, [string]>(
    "SELECT count(*) AS n FROM user_models WHERE email = ?",
  );
  const organisationHas = db.query<{ one: number }, [string]>(
    "SELECT 1 AS one FROM model_colours WHERE model = ?",
  );
  const organisationCount = db.query<{ n: number }, []>("SELECT count(*) AS n FROM model_colours");
  const addForUser = db.query<unknown, [string, string]>(
    "INSERT OR IGNORE INTO user_models (email, model) VALUES (?, ?)",
  );
  const addForOrganisation = db.query<unknown, [string]>(
    `INSERT OR IGNORE INTO model_colours (model, slot)
     VALUES (?, (SELECT coalesce(max(slot) + 1, 0) FROM model_colours))`,
  );

  return {
    /**
     * Records the names new to this user (and to the organisation), or refuses them all when
     * either cap would be passed. Runs in the caller's transaction, before the report is stored.
     */
    admit(email: string, models: readonly string[]): ModelRefusal | null {
      const newToUser = models.filter((model) => userHas.get(email, model) === null);
      if (newToUser.length === 0) return null;
      if (userCount.get(email)!.n + newToUser.length > caps.perUser) return "user";
      const newToOrganisation = newToUser.filter((model) => organisationHas.get(model) === null).sort();
      if (
        newToOrganisation.length > 0 &&
        organisationCount.get()!.n + newToOrganisation.length > caps.perOrganisation
      ) {
        return "organisation";
      }
      for (const model of newToOrganisation) addForOrganisation.run(model);
      for (const model of newToUser) addForUser.run(email, model);
      return null;
    },
  };
}

export type ModelNames = ReturnType<typeof createModelNames>;

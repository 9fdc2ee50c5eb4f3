// Each model keeps the colour slot it was first given (table model_colours), so it has one
// colour on every chart. Reports give new names their slot as they arrive (reports/model-names.ts);
// a name that reached the rollups another way (demo data, an admin's SQL) gets one when first drawn.
import type { Database } from "../db/database.ts";

export function createModelColours(db: Database) {
  const slotOf = db.query<{ slot: number }, [string]>("SELECT slot FROM model_colours WHERE model = ?");
  const addColour = db.query<unknown, [string]>(
    `INSERT OR IGNORE INTO model_colours (model, slot)
     VALUES (?, (SELECT coalesce(max(slot) + 1, 0) FROM model_colours))`,
  );
  return {
    /**
     * Colour slots for these models (only these: a page asks for the few it draws), giving new
     * ones the next slot, in name order so that it is stable.
     */
    modelColourSlots(models: readonly string[]): Map<string, number> {
      const slots = new Map<string, number>();
      const missing: string[] = [];
      for (const model of models) {
        const row = slotOf.get(model);
        if (row) slots.set(model, row.slot);
        else missing.push(model);
      }
      if (missing.length > 0) {
        db.transaction(() => {
          for (const model of missing.sort()) addColour.run(model);
        }).immediate();
        for (const model of missing) slots.set(model, slotOf.get(model)!.slot);
      }
      return slots;
    },
  };
}

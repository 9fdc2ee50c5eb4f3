// Each model keeps the colour slot it was first given (table model_colours), so it has one
// colour on every chart.
import type { Database } from "../db/database.ts";

export function createModelColours(db: Database) {
  const coloursAll = db.query<{ model: string; slot: number }, []>("SELECT model, slot FROM model_colours");
  const addColour = db.query<unknown, [string]>(
    `INSERT OR IGNORE INTO model_colours (model, slot)
     VALUES (?, (SELECT coalesce(max(slot) + 1, 0) FROM model_colours))`,
  );
  return {
    /** Colour slots for these models, giving new ones the next slot (in name order, so it is stable). */
    modelColourSlots(models: readonly string[]): Map<string, number> {
      let slots = new Map(coloursAll.all().map((row) => [row.model, row.slot]));
      const missing = models.filter((m) => !slots.has(m)).sort();
      if (missing.length > 0) {
        db.transaction(() => {
          for (const model of missing) addColour.run(model);
        }).immediate();
        slots = new Map(coloursAll.all().map((row) => [row.model, row.slot]));
      }
      return slots;
    },
  };
}

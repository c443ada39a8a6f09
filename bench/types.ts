/** One printed row of `npm run bench`. */
export interface BenchRow {
  /** Which benchmark group the row belongs to, e.g. `metrics`. */
  group: string;
  /** What was measured, e.g. `pixel AUROC, 100 × 256×256`. */
  name: string;
  /** The measured figure. */
  value: number;
  /** Its unit, e.g. `ms`, `images/s`, `GFLOP/s`, `MiB`. */
  unit: string;
  /** Backend or other context, e.g. `wasm`. */
  note?: string;
}

/** A benchmark module: runs its measurements and returns rows. */
export type BenchFn = () => Promise<BenchRow[]>;

/** The options of the `dynalite` package (v4) that the local runtime uses; it ships no types. */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB folder; in memory when absent. */
    path?: string;
    /** How long a table stays CREATING (ms, default 500). */
    createTableMs?: number;
    /** How long a table stays DELETING (ms, default 500). */
    deleteTableMs?: number;
    /** How long a table stays UPDATING (ms, default 500). */
    updateTableMs?: number;
  }

  /** An HTTP server speaking the DynamoDB JSON protocol; closing it also closes its LevelDB. */
  function dynalite(options?: DynaliteOptions): Server;

  export = dynalite;
}

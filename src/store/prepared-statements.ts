/**
 * Prepared statements by SQL text, for one SQLite database. Preparing is a parse and a plan on
 * every call; the callers' statements are constant strings, so the map is bounded by the
 * statements in their source. Used by the SQLite store and the party journal.
 */
import type Database from 'better-sqlite3';

/** Each SQL text prepared once per database. */
export class PreparedStatements {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** The statement for `text`, prepared on first use. */
  get(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (statement === undefined) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** Every SQL text prepared so far (the query-plan test reads them). */
  texts(): string[] {
    return [...this.statements.keys()];
  }
}

using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>
/// The versioned schema of both providers: migration n brings a database from version n − 1 to n.
/// Append new migrations; never edit one that has shipped.
/// </summary>
internal static class SchemaMigrations
{
    /// <summary>SQLite: timestamps as integer microseconds (UTC), NaN as NULL.</summary>
    public static readonly string[] Sqlite =
    [
        """
        CREATE TABLE series (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL,
          node TEXT NOT NULL,
          source TEXT NOT NULL,
          type TEXT NOT NULL,
          labels TEXT NOT NULL,
          UNIQUE (name, node, source, type, labels)
        );
        CREATE TABLE samples (
          series_id INTEGER NOT NULL,
          ts INTEGER NOT NULL,
          value REAL,
          step INTEGER,
          text TEXT
        );
        CREATE INDEX samples_series_ts ON samples (series_id, ts);
        """,
    ];

    /// <summary>PostgreSQL, in the configured schema ({0}): timestamptz, NaN as NULL; the series identity is unique on md5(labels) so long label sets fit a btree.</summary>
    public static readonly string[] Postgres =
    [
        """
        CREATE TABLE {0}.series (
          id bigserial PRIMARY KEY,
          name text NOT NULL,
          node text NOT NULL,
          source text NOT NULL,
          type text NOT NULL,
          labels text NOT NULL
        );
        CREATE UNIQUE INDEX series_identity ON {0}.series (name, node, source, type, md5(labels));
        CREATE TABLE {0}.samples (
          series_id bigint NOT NULL,
          ts timestamptz NOT NULL,
          value double precision,
          step bigint,
          text text
        );
        CREATE INDEX samples_series_ts ON {0}.samples (series_id, ts);
        """,
    ];

    /// <summary>The version this build creates and understands.</summary>
    public static int Latest => Sqlite.Length;

    /// <summary>The error for a database written by a newer Tracelet: downgrading could corrupt it, so it is refused.</summary>
    public static PluginPermanentException Newer(string target, int found) =>
        new($"the metric store {target} has schema version {found}, newer than this Tracelet knows ({Latest}); upgrade Tracelet or point the sql backend at another database");
}

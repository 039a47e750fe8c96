using Npgsql;
using Tracelet.Abstractions;

namespace Tracelet.Backends.Sql;

/// <summary>Which database the sql backend writes to.</summary>
public enum SqlProvider
{
    /// <summary>An embedded SQLite file in the node's data directory (the default).</summary>
    Sqlite,

    /// <summary>A PostgreSQL database that every node of a cluster writes to.</summary>
    Postgres,
}

/// <summary>
/// The sql backend's configuration (its <c>config { }</c> block), shared by the backend and by
/// <see cref="SqlMetricReader"/> so that a query reads the store the backend writes.
/// </summary>
/// <param name="Provider">sqlite or postgres.</param>
/// <param name="SqlitePath">The SQLite file (provider sqlite).</param>
/// <param name="ConnectionString">The PostgreSQL connection string (provider postgres).</param>
/// <param name="Schema">The PostgreSQL schema holding the tables.</param>
/// <param name="Retention">Samples older than this are deleted; null keeps everything.</param>
/// <param name="RetryFor">How long a write keeps retrying a transient fault before it fails.</param>
/// <param name="SynchronousFull">SQLite synchronous=FULL (survives power loss) instead of NORMAL (survives a process crash).</param>
public sealed partial record SqlStoreOptions(
    SqlProvider Provider,
    string SqlitePath,
    string ConnectionString,
    string Schema,
    TimeSpan? Retention,
    TimeSpan RetryFor,
    bool SynchronousFull)
{
    /// <summary>The environment variable that may hold the PostgreSQL connection string, so that passwords stay out of files.</summary>
    public const string ConnectionVariable = "TRACELET_SQL_CONNECTION";

    /// <summary>The JSON Schema of the backend's config block.</summary>
    public const string ConfigSchema = """
        {
          "type": "object",
          "properties": {
            "provider": { "enum": ["sqlite", "postgres", "postgresql"], "description": "sqlite (default, a file per node) or postgres (one database for a cluster)" },
            "path": { "type": "string", "minLength": 1, "description": "SQLite file; default <data-dir>/sql/metrics.db" },
            "connection-string": { "type": "string", "minLength": 1, "description": "PostgreSQL connection string; default from TRACELET_SQL_CONNECTION" },
            "schema": { "type": "string", "pattern": "^[a-z_][a-z0-9_]{0,62}$", "description": "PostgreSQL schema for the tables; default tracelet" },
            "retention": { "type": ["string", "number"], "description": "delete samples older than this (\"30d\", \"12h\"); absent or \"forever\" keeps everything" },
            "retry-for": { "type": ["string", "number"], "description": "how long a write retries a locked, unreachable or full database before it fails; default 30s" },
            "synchronous": { "enum": ["normal", "full"], "description": "SQLite: normal survives a process crash, full also a power loss; default normal" }
          },
          "additionalProperties": false
        }
        """;

    /// <summary>Where the samples go, for status and messages: the file, or host:port/database (schema), never the password.</summary>
    public string Target => Provider == SqlProvider.Sqlite ? SqlitePath : PostgresTarget(ConnectionString, Schema);

    /// <summary>Reads the config block; throws <see cref="FormatException"/> naming the key for a bad value.</summary>
    public static SqlStoreOptions From(PluginConfig config, string dataDirectory, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var provider = config.GetString("provider", "sqlite") switch
        {
            "sqlite" => SqlProvider.Sqlite,
            "postgres" or "postgresql" => SqlProvider.Postgres,
            var other => throw new FormatException($"config key 'provider': '{other}' is not a provider (use sqlite or postgres)"),
        };
        var path = Path.GetFullPath(config.GetString("path", Path.Combine(dataDirectory, "sql", "metrics.db")));
        var connection = config.GetString("connection-string", environment(ConnectionVariable) ?? "");
        if (provider == SqlProvider.Postgres && string.IsNullOrWhiteSpace(connection))
            throw new FormatException($"config key 'connection-string': provider postgres needs a connection string (or the {ConnectionVariable} environment variable)");
        if (provider == SqlProvider.Postgres)
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(connection);
            }
            catch (ArgumentException e)
            {
                throw new FormatException($"config key 'connection-string': not a PostgreSQL connection string: {e.Message}");
            }
        }
        TimeSpan? retention = config.GetString("retention", "") is "forever" or "" && !(config.Root.TryGetProperty("retention", out var r) && r.ValueKind == System.Text.Json.JsonValueKind.Number)
            ? null
            : config.GetDuration("retention", TimeSpan.Zero);
        if (retention is { } kept && kept <= TimeSpan.Zero)
            throw new FormatException("config key 'retention': must be longer than zero (or \"forever\")");
        var retryFor = config.GetDuration("retry-for", TimeSpan.FromSeconds(30));
        // Checked here too, not only by the JSON schema: GET /query builds options without the plugin validator, and the name goes into SQL.
        var schema = config.GetString("schema", "tracelet");
        if (!SchemaName().IsMatch(schema))
            throw new FormatException($"config key 'schema': '{schema}' is not a schema name (lower-case letters, digits and _, not starting with a digit, at most 63 characters)");
        return new SqlStoreOptions(provider, path, connection, schema, retention, retryFor,
            config.GetString("synchronous", "normal") == "full");
    }

    /// <summary>A PostgreSQL identifier in double quotes (any quote inside doubled).</summary>
    internal static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial System.Text.RegularExpressions.Regex SchemaName();

    private static string PostgresTarget(string connectionString, string schema)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"postgres://{b.Host}:{b.Port}/{b.Database} (schema {schema})";
        }
        catch (ArgumentException)
        {
            return $"postgres (schema {schema})";
        }
    }
}

using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Tracelet.Backends.Sql;

/// <summary>Which database faults are worth retrying, and how to say what went wrong in one line.</summary>
internal static class SqlFaults
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteIoError = 10;
    private const int SqliteFull = 13;
    private const int SqliteCantOpen = 14;

    /// <summary>A locked, busy, full or unreachable database may recover; a constraint or syntax error will not.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        SqliteException s => (s.SqliteErrorCode & 0xff) is SqliteBusy or SqliteLocked or SqliteIoError or SqliteFull or SqliteCantOpen,
        PostgresException p => p.IsTransient || p.SqlState.StartsWith("53", StringComparison.Ordinal) || p.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException n => n.IsTransient || n.InnerException is SocketException or IOException or TimeoutException,
        SocketException or IOException or TimeoutException => true,
        _ => false,
    };

    /// <summary>One line naming the target and the cause.</summary>
    public static string Describe(Exception e, string target) => e switch
    {
        SqliteException s => (s.SqliteErrorCode & 0xff) switch
        {
            SqliteBusy or SqliteLocked => $"SQLite database {target} is locked by another connection (SQLITE_BUSY): {s.Message}",
            SqliteFull => $"disk full writing SQLite database {target} (SQLITE_FULL): {s.Message}",
            SqliteIoError => $"I/O error on SQLite database {target} (SQLITE_IOERR): {s.Message}",
            SqliteCantOpen => $"cannot open SQLite database {target} (SQLITE_CANTOPEN): {s.Message}",
            _ => $"SQLite database {target}: {s.Message}",
        },
        PostgresException p when p.SqlState.StartsWith("53", StringComparison.Ordinal) => $"PostgreSQL {target} is out of resources ({p.SqlState}, e.g. disk full): {p.MessageText}",
        PostgresException p => $"PostgreSQL {target}: {p.SqlState} {p.MessageText}",
        NpgsqlException n => $"PostgreSQL {target} is unreachable: {Innermost(n).Message}",
        _ => $"{target}: {e.GetType().Name}: {e.Message}",
    };

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}

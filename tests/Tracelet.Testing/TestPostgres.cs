using Npgsql;

namespace Tracelet.Testing;

/// <summary>
/// The PostgreSQL server the "Postgres" test category uses: the documented default address
/// (127.0.0.1:5432, user and password <c>postgres</c>, the one <c>./test.sh</c> and
/// <c>.ci/start-postgres.sh</c> start), or the Npgsql connection string in
/// <see cref="Variable"/> when it is set.
/// </summary>
public static class TestPostgres
{
    /// <summary>The environment variable that points the tests at another server.</summary>
    public const string Variable = "TRACELET_TEST_POSTGRES";

    /// <summary>The server <c>.ci/start-postgres.sh</c> serves.</summary>
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    /// <summary>The connection string the tests use: <see cref="Variable"/>, else the default address.</summary>
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { } configured && !string.IsNullOrWhiteSpace(configured)
            ? configured
            : DefaultConnectionString;

    /// <summary>
    /// Opens and closes one connection, or throws naming the server and what to run: tests that
    /// need PostgreSQL fail with that message, never skip.
    /// </summary>
    public static async Task RequireAsync()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Timeout = 5 };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException(Unavailable(builder, e), e);
        }
    }

    /// <summary>The failure message when the server at <paramref name="builder"/> cannot be used.</summary>
    public static string Unavailable(NpgsqlConnectionStringBuilder builder, Exception error) =>
        $"PostgreSQL is needed for this test and cannot be used at {builder.Host}:{builder.Port} as {builder.Username} " +
        $"({(string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable)) ? "the default address" : $"from {Variable}")}): " +
        $"{error.GetType().Name}: {error.Message}. Run `./test.sh` (it starts one), or `bash .ci/start-postgres.sh` " +
        $"(PostgreSQL on 127.0.0.1:5432, user postgres, password postgres), or set {Variable} to an Npgsql connection " +
        "string for a server where this user may create databases and schemas.";
}

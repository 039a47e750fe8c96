using System.Net;

namespace Tracelet.Backends.Mlflow;

/// <summary>An MLflow tracking server answered with an error: the endpoint, HTTP status, and the server's error_code and message.</summary>
internal sealed class MlflowApiException(string endpoint, HttpStatusCode status, string errorCode, string serverMessage)
    : Exception($"MLflow {endpoint}: HTTP {(int)status} {errorCode}: {serverMessage}")
{
    public string Endpoint { get; } = endpoint;
    public HttpStatusCode Status { get; } = status;
    public string ErrorCode { get; } = errorCode;

    /// <summary>5xx and 429 may pass; the request is worth sending again.</summary>
    public bool IsTransient => (int)Status >= 500 || Status == HttpStatusCode.TooManyRequests;
}

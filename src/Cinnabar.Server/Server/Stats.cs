namespace Cinnabar.Server;

/// <summary>The counters INFO stats reports; reset by CONFIG RESETSTAT.</summary>
public sealed class Stats
{
    public long ConnectionsReceived, CommandsProcessed, NetInputBytes, NetOutputBytes, NetReplOutputBytes;
    public long RejectedConnections, ExpiredKeys, EvictedKeys, KeyspaceHits, KeyspaceMisses;
    public long TotalErrorReplies, UnexpectedErrorReplies, ReadsProcessed, WritesProcessed;
    public long ExpiredStalePercBase, ExpireCycleCpuMs, TotalEvictionExceededMs, EvictedClients;
    public readonly Dictionary<string, long> ErrorCodes = new();

    // instantaneous_ops_per_sec: samples of (time, commands) like Redis's trackInstantaneousMetric.
    readonly long[] opsSamples = new long[16];
    readonly long[] inSamples = new long[16];
    readonly long[] outSamples = new long[16];
    int sampleIndex;
    long lastSampleMs, lastOps, lastIn, lastOut;

    public void CountError(string text)
    {
        TotalErrorReplies++;
        int space = text.IndexOf(' ');
        string code = space < 0 ? text : text[..space];
        if (code.Length > 0 && code[0] == '-') code = code[1..];
        ErrorCodes.TryGetValue(code, out long n);
        ErrorCodes[code] = n + 1;
    }

    public void Sample(long nowMs)
    {
        if (lastSampleMs == 0) { lastSampleMs = nowMs; lastOps = CommandsProcessed; lastIn = NetInputBytes; lastOut = NetOutputBytes; return; }
        long dt = nowMs - lastSampleMs;
        if (dt < 100) return;
        opsSamples[sampleIndex] = (CommandsProcessed - lastOps) * 1000 / dt;
        inSamples[sampleIndex] = (NetInputBytes - lastIn) * 1000 / dt;
        outSamples[sampleIndex] = (NetOutputBytes - lastOut) * 1000 / dt;
        sampleIndex = (sampleIndex + 1) % opsSamples.Length;
        lastSampleMs = nowMs; lastOps = CommandsProcessed; lastIn = NetInputBytes; lastOut = NetOutputBytes;
    }

    public long InstantaneousOps => (long)opsSamples.Average();
    public double InstantaneousInputKbps => inSamples.Average() / 1024.0;
    public double InstantaneousOutputKbps => outSamples.Average() / 1024.0;

    public void Reset()
    {
        ConnectionsReceived = CommandsProcessed = NetInputBytes = NetOutputBytes = NetReplOutputBytes = 0;
        RejectedConnections = ExpiredKeys = EvictedKeys = KeyspaceHits = KeyspaceMisses = 0;
        TotalErrorReplies = UnexpectedErrorReplies = ReadsProcessed = WritesProcessed = 0;
        ExpireCycleCpuMs = TotalEvictionExceededMs = EvictedClients = 0;
        ErrorCodes.Clear();
    }
}

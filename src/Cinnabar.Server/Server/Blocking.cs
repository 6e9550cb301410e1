using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>
/// Clients blocked on keys (BLPOP, BZPOPMIN, XREAD BLOCK, ...). A command that finds nothing to serve calls
/// <see cref="BlockForKeys"/>; when a key it waits on is written with a value of the type it waits for, the
/// blocked clients are served in the order they blocked by running their command again, which answers or
/// blocks once more without losing its place. Timeouts answer with the command's own timeout reply.
/// </summary>
public sealed partial class CinnabarServer
{
    readonly record struct BlockKey(int Db, byte[] Key);

    sealed class BlockKeyComparer : IEqualityComparer<BlockKey>
    {
        public bool Equals(BlockKey a, BlockKey b) => a.Db == b.Db && a.Key.AsSpan().SequenceEqual(b.Key);
        public int GetHashCode(BlockKey k) => (int)KeyTable.HashOf(k.Key) ^ k.Db;
    }

    readonly Dictionary<BlockKey, List<Client>> blockedOnKey = new(new BlockKeyComparer());
    readonly List<BlockKey> readyKeys = new();
    readonly HashSet<BlockKey> readySet = new(new BlockKeyComparer());
    public readonly List<Client> BlockedClients = new();

    /// <summary>getTimeoutFromObjectOrReply (seconds or milliseconds): absolute deadline in ms, 0 = forever.</summary>
    public bool TryParseBlockTimeout(Client c, int arg, bool seconds, out long deadlineMs)
    {
        deadlineMs = 0;
        long ms;
        if (seconds)
        {
            // string2ld decides what is a number (a long double: 1e-400 is one, 1e-5000 is not).
            if (!LongDouble.TryParse(c.Arg(arg), out var ld) || !Numbers.TryParseDouble(c.Arg(arg), out double d))
            {
                c.Error("ERR timeout is not a float or out of range");
                return false;
            }
            // Redis 7.0.8+ rounds up to whole milliseconds (0.0001 s waits 1 ms, not forever); a value beyond the
            // range of long long converts to LLONG_MIN on x86 and so reads as negative.
            d = Math.Ceiling(d * 1000.0);
            if (d == 0 && !ld.IsZero && !ld.Negative && ld.IsFinite) d = 1;     // below double's range, not long double's
            ms = d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 ? (long)d : long.MinValue;
        }
        else if (!Numbers.TryParseInt64(c.Arg(arg), out ms))
        {
            c.Error("ERR timeout is not an integer or out of range");
            return false;
        }
        if (ms < 0) { c.Error("ERR timeout is negative"); return false; }
        // Redis 7.0 has no upper bound: a deadline past the end of time never fires, as if the timeout were 0.
        if (ms > 0) ms = ms > long.MaxValue - Clock.NowMs ? 0 : ms + Clock.NowMs;
        deadlineMs = ms;
        return true;
    }

    /// <summary>
    /// Parks the client until one of the keys holds a value of <paramref name="type"/> or the deadline passes.
    /// Called from inside a command handler that had nothing to serve; the handler returns without replying.
    /// </summary>
    /// <remarks>
    /// With <paramref name="wakeWhenGone"/> the command is also run again when a key it waits on is deleted or
    /// overwritten with another type (XREADGROUP answers that with an error). While it runs again,
    /// <see cref="Client.BlockedReadyKey"/> names the key that was signalled.
    /// </remarks>
    public void BlockForKeys(Client c, IEnumerable<byte[]> keys, long deadlineMs, Storage.ValueType type, Action<Client> onTimeout, bool wakeWhenGone = false)
    {
        if (c.Reexecuting)
        {
            c.Reblocked = true;  // still waiting: keep the place it already has in every queue
            return;
        }
        c.BlockedArgs = new byte[c.ArgCount][];
        for (int i = 0; i < c.ArgCount; i++) c.BlockedArgs[i] = c.Arg(i).ToArray();
        c.BlockedKeys = keys.Select(k => k.ToArray()).ToList();
        c.BlockDeadlineMs = deadlineMs;
        c.BlockedType = type;
        c.OnBlockTimeout = onTimeout;
        c.BlockedWakeWhenGone = wakeWhenGone;
        c.Flags |= ClientFlags.Blocked;
        foreach (var key in c.BlockedKeys)
        {
            var bk = new BlockKey(c.Db.Id, key);
            if (!blockedOnKey.TryGetValue(bk, out var list)) blockedOnKey[bk] = list = new List<Client>();
            if (!list.Contains(c)) list.Add(c);
        }
        BlockedClients.Add(c);
    }

    /// <summary>signalKeyAsReady: a write touched a key some client waits on.</summary>
    void SignalKeyReady(Db db, ReadOnlySpan<byte> key)
    {
        var probe = new BlockKey(db.Id, key.ToArray());
        if (!blockedOnKey.ContainsKey(probe) || !readySet.Add(probe)) return;
        readyKeys.Add(probe);
    }

    /// <summary>
    /// FLUSHDB/FLUSHALL/SWAPDB: every key clients wait on in the db may have gone or changed, so all are made
    /// ready; each waiting command runs again and serves, blocks again, or (XREADGROUP on a vanished stream) fails.
    /// </summary>
    public void SignalBlockedKeysInDb(int dbId)
    {
        if (blockedOnKey.Count == 0) return;
        foreach (var bk in blockedOnKey.Keys)
            if (bk.Db == dbId && readySet.Add(bk)) readyKeys.Add(bk);
    }

    /// <summary>handleClientsBlockedOnKeys: serve waiting clients of every key made ready, FIFO per key.</summary>
    public void HandleClientsBlockedOnKeys()
    {
        while (readyKeys.Count > 0)
        {
            var batch = readyKeys.ToArray();
            readyKeys.Clear();
            readySet.Clear();
            foreach (var bk in batch)
            {
                if (!blockedOnKey.TryGetValue(bk, out var waiting)) continue;
                foreach (var c in waiting.ToArray())
                {
                    if ((c.Flags & ClientFlags.Blocked) == 0) continue;
                    var db = Dbs[bk.Db];
                    int i = db.Find(bk.Key);
                    bool servable = i >= 0 && Values.TypeOf(db.Table.At(i).Value) == c.BlockedType;
                    if (!servable && !c.BlockedWakeWhenGone) continue;
                    c.BlockedReadyKey = bk.Key;
                    Reexecute(c);
                }
            }
        }
    }

    void Reexecute(Client c)
    {
        c.Reexecuting = true;
        c.Reblocked = false;
        c.ArgOverride = c.BlockedArgs;
        try
        {
            var cmd = Commands.LookupArgs(c);
            RunBlockedCommand(c, cmd);
        }
        finally
        {
            c.ArgOverride = null;
            c.Reexecuting = false;
            c.BlockedReadyKey = null;
        }
        if (c.Reblocked) return;
        RemoveBlocked(c);
        if (c.Reply.Pending > 0) Loop.MarkPendingWrite(c);
        ProcessInput(c);
    }

    void RunBlockedCommand(Client c, Commands.Command cmd)
    {
        var previous = CurrentClient;
        CurrentClient = c;
        long errorsBefore = Stats.TotalErrorReplies;
        bool propagate = Prop.Enabled;
        if (propagate) Prop.BeginCall();
        try
        {
            cmd.Handler(c);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.Warning($"Internal error in command '{cmd.FullName}': {e}");
            c.Error("ERR internal error while executing '" + cmd.FullName + "'");
        }
        finally
        {
            CurrentClient = previous;
            if (propagate)
            {
                // Each served client is its own unit: BLPOP → LPOP, never joined to the push that woke it.
                Prop.EndCall(c, cmd);
                Prop.PropagatePending();
            }
        }
        // Served (not blocked again): the call counts now; total_commands_processed counted it when it arrived.
        if (!c.Reblocked)
        {
            cmd.Calls++;
            if (Stats.TotalErrorReplies != errorsBefore) cmd.FailedCalls++;
        }
    }

    void RemoveBlocked(Client c)
    {
        if ((c.Flags & ClientFlags.Blocked) == 0) return;
        c.Flags &= ~ClientFlags.Blocked;
        foreach (var key in c.BlockedKeys)
        {
            var bk = new BlockKey(c.Db.Id, key);
            if (blockedOnKey.TryGetValue(bk, out var list))
            {
                list.Remove(c);
                if (list.Count == 0) blockedOnKey.Remove(bk);
            }
        }
        BlockedClients.Remove(c);
        c.BlockedArgs = null;
        c.BlockedKeys = null;
        c.OnBlockTimeout = null;
        c.BlockedWakeWhenGone = false;
        c.BlockedCommand = null;
    }

    /// <summary>Answers a blocked client as if its timeout had passed (timeout, CLIENT UNBLOCK TIMEOUT).</summary>
    public void UnblockWithTimeout(Client c, bool viaClientUnblock = false)
    {
        var reply = c.OnBlockTimeout;
        if (c.BlockedCommand != null)
        {
            c.BlockedCommand.Calls++;
            if (viaClientUnblock) c.BlockedCommand.FailedCalls++;     // Redis 7.0 counts CLIENT UNBLOCK as failed
        }
        RemoveBlocked(c);
        reply?.Invoke(c);
        if (c.Reply.Pending > 0) Loop.MarkPendingWrite(c);
        ProcessInput(c);
    }

    /// <summary>CLIENT UNBLOCK ... ERROR, and cluster redirects of blocked clients.</summary>
    public void UnblockWithError(Client c, string error = "UNBLOCKED client unblocked via CLIENT UNBLOCK")
    {
        if (c.BlockedCommand != null)
        {
            c.BlockedCommand.Calls++;
            c.BlockedCommand.FailedCalls++;
        }
        RemoveBlocked(c);
        c.Error(error);
        Loop.MarkPendingWrite(c);
        ProcessInput(c);
    }

    /// <summary>Times out blocked clients whose deadline passed; returns ms until the next deadline (or -1).</summary>
    public long HandleBlockedTimeouts()
    {
        if (BlockedClients.Count == 0) return -1;
        long next = -1;
        foreach (var c in BlockedClients.ToArray())
        {
            if (c.BlockDeadlineMs == 0) continue;
            if (c.BlockDeadlineMs <= Clock.NowMs) UnblockWithTimeout(c);
            else if (next < 0 || c.BlockDeadlineMs - Clock.NowMs < next) next = c.BlockDeadlineMs - Clock.NowMs;
        }
        return next;
    }

    void ForgetBlockedClient(Client c) => RemoveBlocked(c);
}

using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>MULTI/EXEC and WATCH (multi.c): queued commands run back to back; a watched key's change aborts.</summary>
public sealed partial class CinnabarServer
{
    readonly Dictionary<(int db, byte[] key), List<Client>> watchedKeys = new(new WatchKeyComparer());

    sealed class WatchKeyComparer : IEqualityComparer<(int db, byte[] key)>
    {
        public bool Equals((int db, byte[] key) a, (int db, byte[] key) b) => a.db == b.db && a.key.AsSpan().SequenceEqual(b.key);
        public int GetHashCode((int db, byte[] key) k) => (int)KeyTable.HashOf(k.key) ^ k.db;
    }

    public void Watch(Client c, byte[] key)
    {
        c.Watched ??= new List<(int, byte[])>();
        var wk = (c.Db.Id, key);
        foreach (var w in c.Watched)
            if (w.db == wk.Id && w.key.AsSpan().SequenceEqual(key)) return;
        c.Watched.Add(wk);
        if (!watchedKeys.TryGetValue(wk, out var list)) watchedKeys[wk] = list = new List<Client>();
        list.Add(c);
    }

    public void Unwatch(Client c)
    {
        if (c.Watched == null) return;
        foreach (var wk in c.Watched)
        {
            if (!watchedKeys.TryGetValue(wk, out var list)) continue;
            list.Remove(c);
            if (list.Count == 0) watchedKeys.Remove(wk);
        }
        c.Watched = null;
        c.DirtyCas = false;
    }

    /// <summary>touchWatchedKey: every client watching the key will see EXEC fail.</summary>
    void TouchWatchedKey(Db db, ReadOnlySpan<byte> key)
    {
        if (!watchedKeys.TryGetValue((db.Id, key.ToArray()), out var list)) return;
        foreach (var c in list) c.DirtyCas = true;
    }

    /// <summary>touchAllWatchedKeysInDb: FLUSHDB/FLUSHALL/SWAPDB invalidate watches on keys that existed (or exist now).</summary>
    public void TouchAllWatchedKeysInDb(Db db, Db other = null)
    {
        foreach (var ((id, key), list) in watchedKeys)
        {
            if (id != db.Id) continue;
            if (db.Find(key) >= 0 || (other != null && other.Find(key) >= 0) || other == null)
                foreach (var c in list) c.DirtyCas = true;
        }
    }

    public void DiscardTransaction(Client c)
    {
        c.InMulti = false;
        c.DirtyExec = false;
        c.Queued = null;
        Unwatch(c);
    }

    static bool RunsImmediatelyInMulti(Command cmd) =>
        cmd.FullName is "exec" or "discard" or "multi" or "watch" or "quit" or "reset";

    /// <summary>EXEC: replays the queued commands, each through the normal command path, replies as one array.</summary>
    public void ExecTransaction(Client c)
    {
        if (c.DirtyExec)
        {
            c.Error("EXECABORT Transaction discarded because of previous errors.");
            DiscardTransaction(c);
            return;
        }
        if (c.DirtyCas)
        {
            c.Reply.NullArray();
            DiscardTransaction(c);
            return;
        }
        var queued = c.Queued ?? new List<byte[][]>();
        c.InMulti = false;
        c.Queued = null;
        Unwatch(c);
        c.Reply.ArrayHeader(queued.Count);
        c.CanBlock = false;
        InExec = true;
        try
        {
            foreach (var args in queued)
            {
                c.ArgOverride = args;
                var cmd = Commands.LookupArgs(c);
                c.LastCommand = cmd.FullName;
                c.ClearRedactions();
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
                if (propagate) Prop.EndCall(c, cmd);
                FeedMonitorsAfterCall(c, cmd);
                cmd.Calls++;
                if (Stats.TotalErrorReplies != errorsBefore) cmd.FailedCalls++;
                Stats.CommandsProcessed++;
            }
        }
        finally
        {
            c.ArgOverride = null;
            c.CanBlock = true;
            InExec = false;
        }
        c.LastCommand = "exec";
    }
}

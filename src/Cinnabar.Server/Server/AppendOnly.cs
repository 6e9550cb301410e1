using System.Diagnostics;
using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Persistence;

namespace Cinnabar.Server;

/// <summary>The server's side of persistence: startup loading, the AOF's hooks into the loop, BGREWRITEAOF.</summary>
public sealed partial class CinnabarServer
{
    Aof aof;
    public Aof Aof => aof ??= new Aof(this);

    /// <summary>True while a data file is being loaded: no expiry, no propagation.</summary>
    public bool Loading;

    /// <summary>
    /// main()'s aofLoadManifestFromDisk + loadDataFromDisk + aofOpenIfNeededOnServerStart + aofDelHistoryFiles.
    /// With appendonly yes the AOF directory is the only source (dump.rdb is not read). False means exit(1).
    /// </summary>
    public bool LoadDataFromDisk()
    {
        if (!Aof.LoadManifestFromDisk()) return false;
        if (Settings.AppendOnly)
        {
            Aof.State = AofState.On;
            long start = Stopwatch.GetTimestamp();
            var loader = new AofLoader(this, Aof) { RdbLoader = RdbBaseLoader };
            var ret = RunLoading(loader.LoadAll);
            if (ret is AofLoadResult.Failed or AofLoadResult.OpenErr) return false;
            if (ret != AofLoadResult.NotExist)
                Log.Notice($"DB loaded from append only file: {Stopwatch.GetElapsedTime(start).TotalSeconds:0.000} seconds");
        }
        if (!Aof.OpenOnServerStart()) return false;
        Aof.DeleteHistoryFiles();
        return true;
    }

    /// <summary>The RDB codec's loader for RDB-preamble BASE files (null until the RDB codec is wired in).</summary>
    public IRdbBaseLoader RdbBaseLoader;

    T RunLoading<T>(Func<T> load)
    {
        Loading = true;
        foreach (var db in Dbs) db.ExpiryEnabled = false;
        try { return load(); }
        finally
        {
            foreach (var db in Dbs) db.ExpiryEnabled = true;
            Loading = false;
            Prop.DiscardPending();
        }
    }

    /// <summary>CONFIG SET appendonly (and the directive at startup).</summary>
    public string ApplyAppendOnly(bool on)
    {
        if (Loop == null)
        {
            Settings.AppendOnly = on;
            return null;
        }
        if (on && Aof.State == AofState.Off && !Aof.Start()) return "Unable to turn on AOF. Check server logs.";
        if (!on) Aof.Stop();
        Settings.AppendOnly = on;
        return null;
    }

    public string ApplyAppendFsync(AppendFsync policy)
    {
        if (Loop == null || aof == null) Settings.AppendFsync = policy;
        else Aof.SetFsyncPolicy(policy);
        return null;
    }

    /// <summary>beforeSleep's flushAppendOnlyFile: called before replies are written to clients.</summary>
    public void FlushAofBeforeReplies()
    {
        if (aof != null && aof.State != AofState.Off) aof.Flush(false);
    }

    /// <summary>The MISCONF error for a write (or PING) while the AOF cannot be written, or null.</summary>
    public string DiskErrorFor(Cinnabar.Server.Commands.Command cmd)
    {
        if (aof == null || aof.State == AofState.Off) return null;
        if ((cmd.Flags & Cinnabar.Server.Commands.CommandFlags.Write) == 0 && cmd.FullName != "ping") return null;
        return aof.DiskErrorMessage();
    }

    /// <summary>BGREWRITEAOF.</summary>
    public static void BgRewriteAof(Client c)
    {
        var s = c.Server;
        if (s.Aof.RewriteInProgress)
        {
            c.Error("ERR Background append only file rewriting already in progress");
            return;
        }
        // BGREWRITEAOF resets the automatic rewrite back-off.
        s.Aof.ConsecutiveFailures = 0;
        if (s.Aof.StartRewrite(out _)) c.Reply.Simple("Background append only file rewriting started");
        else c.Error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.");
    }
}

using System.Diagnostics;
using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Persistence;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>The server's side of persistence: startup loading, the AOF's hooks into the loop, BGREWRITEAOF.</summary>
public sealed partial class CinnabarServer
{
    Aof aof;
    public Aof Aof => aof ??= new Aof(this);

    /// <summary>
    /// main()'s aofLoadManifestFromDisk + loadDataFromDisk + aofOpenIfNeededOnServerStart + aofDelHistoryFiles.
    /// With appendonly yes the AOF directory is the only source (dump.rdb is not read). False means exit(1).
    /// </summary>
    public bool LoadPersistedData()
    {
        WireRdbIntoAof();
        if (!Aof.LoadManifestFromDisk()) return false;
        if (!Settings.AppendOnly)
        {
            if (!LoadDataFromDisk()) return false;   // dump.rdb
        }
        else
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
        StartLoading(0);
        foreach (var db in Dbs) db.ExpiryEnabled = false;
        try { return load(); }
        finally
        {
            foreach (var db in Dbs) db.ExpiryEnabled = Repl.MasterHost == null;
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

    /// <summary>Cheap check for the pipeline: the AOF could not be written (or fsynced) lately.</summary>
    public bool AofWriteError => aof != null && aof.State != AofState.Off && !aof.WriteStatusOk;

    /// <summary>writeCommandsDeniedByDiskError's AOF case: the MISCONF reply for writes and PING, or null.</summary>
    public string AofDiskError() => aof?.DiskErrorMessage();

    /// <summary>BGREWRITEAOF.</summary>
    public static void BgRewriteAof(Client c)
    {
        var s = c.Server;
        if (s.Aof.RewriteInProgress)
        {
            c.Error("ERR Background append only file rewriting already in progress");
            return;
        }
        if (s.RdbBgsaveInProgress || s.InExec)
        {
            s.Aof.RewriteScheduled = true;
            c.Reply.Simple("Background append only file rewriting scheduled");
            return;
        }
        // BGREWRITEAOF resets the automatic rewrite back-off.
        s.Aof.ConsecutiveFailures = 0;
        if (s.Aof.StartRewrite(out _)) c.Reply.Simple("Background append only file rewriting started");
        else c.Error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.");
    }
}

/// <summary>
/// The RDB form of an AOF BASE (aof-use-rdb-preamble yes): written with the RDB codec's writer (AUX aof-base 1),
/// read with its loader. Reading stops after the RDB's EOF and checksum, leaving the stream there, so an old
/// single-file AOF with an RDB preamble continues with its command tail.
/// </summary>
public sealed partial class CinnabarServer
{
    sealed class RdbAofBase : IAofBaseWriter, IRdbBaseLoader
    {
        public void Write(Stream output, CinnabarServer s)
        {
            var w = new RdbWriter(s.RdbCompression, s.RdbChecksum);
            s.WriteSnapshot(w, wr => wr.DrainTo(output), aofBase: true);
        }

        public bool Load(Stream input, CinnabarServer s)
        {
            var reader = new RdbReader(input) { TrackCrc = s.RdbChecksum };
            var sink = new ServerRdbSink(s, false);
            try
            {
                RdbFileLoader.Load(reader, sink, s.LoadLimits, s.RdbChecksum);
                s.Log.Notice($"Done loading RDB, keys loaded: {sink.Loaded}, keys expired: {sink.Expired}.");
            }
            catch (RdbException e)
            {
                s.Log.Warning(e.Message);
                return false;
            }
            input.Position = reader.Offset;
            return true;
        }
    }

    /// <summary>Plugs the RDB codec into the AOF: preamble BASE writer and loader.</summary>
    void WireRdbIntoAof()
    {
        var rdb = new RdbAofBase();
        Aof.RdbBaseWriter = rdb;
        RdbBaseLoader = rdb;
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using Cinnabar.Server.Config;
using Cinnabar.Server.Persistence;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>
/// RDB persistence for the server (rdb.c's server side): SAVE to temp-&lt;pid&gt;.rdb then fsync and rename, the
/// load at startup, DEBUG RELOAD, the snapshot walk shared with AOF bases, and DUMP/RESTORE's serializer.
/// </summary>
public sealed partial class CinnabarServer
{
    readonly RdbSerializer dumpSerializer = new();
    readonly ByteBuf dumpBuffer = new(1024);
    public int LastBgsaveStatusOk = 1;

    public string RdbPath => Path.Combine(Settings.Dir, Config.GetValue("dbfilename") ?? "dump.rdb");
    public bool RdbCompression => Config.GetValue("rdbcompression") != "no";
    public bool RdbChecksum => Config.GetValue("rdbchecksum") != "no";
    public bool HasSavePoints => (Config.GetValue("save") ?? "").Trim().Length > 0;

    /// <summary>DUMP's payload for a value.</summary>
    public byte[] CreateDumpPayload(object value)
    {
        dumpSerializer.Compress = RdbCompression;
        return RdbWriter.CreateDumpPayload(value, dumpSerializer, dumpBuffer);
    }

    public LoadLimits LoadLimits => LoadLimits.From(Settings);

    /// <summary>What SAVE, SHUTDOWN and DEBUG RELOAD write: the whole keyspace in one go.</summary>
    public void WriteSnapshot(RdbWriter w, Action<RdbWriter> flush, bool aofBase = false)
    {
        Clock.Update();
        w.WriteHeader(Version, UsedMemory(), aofBase, aofBase ? null : Repl.PopulateSaveInfo());
        if (scripting != null)
            foreach (var lib in scripting.Functions.Libraries) w.WriteFunction(lib.Code);
        bool lru = Settings.MaxMemoryPolicy is EvictionPolicy.AllKeysLru or EvictionPolicy.VolatileLru;
        bool lfu = Settings.MaxMemoryPolicy is EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu;
        foreach (var db in Dbs)
        {
            if (db.Count == 0) continue;
            w.WriteSelectDb(db.Id, db.Count, db.VolatileCount);
            foreach (int i in db.Table.Indexes())
            {
                ref var e = ref db.Table.At(i);
                long idle = lru ? Lfu.LruIdleMs(e.Access) / 1000 : -1;
                int freq = lfu ? Lfu.Counter(e.Access, Settings.LfuDecayTime) : -1;
                w.WriteKey(e.Key, e.Value, e.ExpireAt, idle, freq);
                if (w.Buffer.Length >= 1 << 20) flush(w);
            }
        }
        w.Finish();
        flush(w);
    }

    /// <summary>rdbSave: writes temp-&lt;pid&gt;.rdb in dir, fsyncs it and renames it over dbfilename.</summary>
    public bool SaveRdb()
    {
        string tmp = Path.Combine(Settings.Dir, $"temp-{Environment.ProcessId}.rdb");
        string final = RdbPath;
        FileStream fs;
        try
        {
            fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Failed opening the temp RDB file {Path.GetFileName(tmp)} (in server root dir {Settings.Dir}) for saving: {ErrnoText(e)}");
            return false;
        }
        try
        {
            using (fs)
            {
                var w = new RdbWriter(RdbCompression, RdbChecksum);
                WriteSnapshot(w, wr => wr.DrainTo(fs));
                fs.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Write error saving DB on disk: {ErrnoText(e)}");
            try { File.Delete(tmp); } catch (IOException) { }
            return false;
        }
        try
        {
            File.Move(tmp, final, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Error moving temp DB file {Path.GetFileName(tmp)} on the final destination {Path.GetFileName(final)} (in server root dir {Settings.Dir}): {ErrnoText(e)}");
            try { File.Delete(tmp); } catch (IOException) { }
            return false;
        }
        Log.Notice("DB saved on disk");
        DirtyCounter = 0;
        LastSaveUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        LastBgsaveStatusOk = 1;
        RdbSaves++;
        return true;
    }

    static string ErrnoText(Exception e) => e switch
    {
        UnauthorizedAccessException => "Permission denied",
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        _ when e.HResult == 28 || e.Message.Contains("space", StringComparison.OrdinalIgnoreCase) => "No space left on device",
        _ => e.Message,
    };

    /// <summary>server.loading: commands without the loading flag get LOADING meanwhile.</summary>
    public bool Loading;
    public long LoadingStartUnix, LoadingTotalBytes, LoadingLoadedBytes;
    readonly Stopwatch loadingClock = new();

    void StartLoading(long totalBytes)
    {
        Loading = true;
        LoadingStartUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        LoadingTotalBytes = totalBytes;
        LoadingLoadedBytes = 0;
        loadingClock.Restart();
    }

    /// <summary>INFO persistence's loading_* lines (only while loading).</summary>
    public void AppendLoadingInfo(System.Text.StringBuilder sb)
    {
        double perc = LoadingTotalBytes == 0 ? 100 : LoadingLoadedBytes * 100.0 / LoadingTotalBytes;
        double elapsed = loadingClock.Elapsed.TotalSeconds;
        long eta = LoadingLoadedBytes == 0 ? 1 : (long)((LoadingTotalBytes - LoadingLoadedBytes) / (LoadingLoadedBytes / Math.Max(elapsed, 1e-3)));
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        sb.Append("loading_start_time:").Append(LoadingStartUnix.ToString(inv)).Append("\r\n");
        sb.Append("loading_total_bytes:").Append(LoadingTotalBytes.ToString(inv)).Append("\r\n");
        sb.Append("loading_rdb_used_mem:0\r\n");
        sb.Append("loading_loaded_bytes:").Append(LoadingLoadedBytes.ToString(inv)).Append("\r\n");
        sb.Append("loading_loaded_perc:").Append(perc.ToString("0.00", inv)).Append("\r\n");
        sb.Append("loading_eta_seconds:").Append(eta.ToString(inv)).Append("\r\n");
    }

    /// <summary>Result of loading an RDB file.</summary>
    public enum RdbLoadResult { Ok, NotFound, Failed }

    /// <summary>
    /// rdbLoad: reads dbfilename into the (empty, or merged into with allowDuplicates) keyspace. Corruption is
    /// logged as Redis logs it; the caller decides whether that is fatal.
    /// </summary>
    public RdbLoadResult LoadRdb(string path, bool allowDuplicates, out string error)
    {
        error = null;
        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return RdbLoadResult.NotFound;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = ErrnoText(e);
            return RdbLoadResult.Failed;
        }
        using (fs)
        {
            Clock.Update();
            var sink = new ServerRdbSink(this, allowDuplicates);
            var reader = new RdbReader(fs) { TrackCrc = RdbChecksum };
            foreach (var db in Dbs) db.ExpiryEnabled = false;
            StartLoading(fs.Length);
            bool noGc = StartLoadNoGCRegion(fs.Length);
            reader.Refilled = () =>
            {
                LoadingLoadedBytes = reader.Offset;
                Repl.LoadingProgress();             // a replica loading its master's RDB keeps the link alive
                Loop.ProcessEventsWhileBlocked();   // clients are answered LOADING meanwhile
            };
            try
            {
                RdbFileLoader.Load(reader, sink, LoadLimits, RdbChecksum);
                if (RdbFileLoader.ChecksumSkipped && RdbChecksum)
                    Log.Notice("RDB file was saved with checksum disabled: no check performed.");
            }
            catch (RdbException e)
            {
                error = e.Message;
                if (e.Message.StartsWith("Wrong RDB checksum", StringComparison.Ordinal) || e.Message.StartsWith("Wrong signature", StringComparison.Ordinal)
                    || e.Message.StartsWith("Can't handle", StringComparison.Ordinal) || e.Message.StartsWith("FATAL", StringComparison.Ordinal)
                    || e.Message.StartsWith("The RDB file contains", StringComparison.Ordinal))
                    Log.Warning(e.Message);
                else if (e.Message.StartsWith("Unexpected EOF", StringComparison.Ordinal))
                    Log.Warning("Short read or OOM loading DB. Unrecoverable error, aborting now.");
                else
                    Log.Warning($"Internal error in RDB reading offset {reader.Offset}, function at rdb.c:0 -> {e.Message}");
                return RdbLoadResult.Failed;
            }
            finally
            {
                foreach (var db in Dbs) db.ExpiryEnabled = Repl.MasterHost == null;   // a replica leaves expiry to its master
                Loading = false;
                if (noGc) EndLoadNoGCRegion();
            }
            Log.Notice($"Done loading RDB, keys loaded: {sink.Loaded}, keys expired: {sink.Expired}.");
            return RdbLoadResult.Ok;
        }
    }

    /// <summary>
    /// Holds garbage collections off while a file of <paramref name="fileBytes"/> loads. Everything a load
    /// allocates (keys, values) survives it, so a collection meanwhile only marks and copies the growing keyspace
    /// again: the runtime sizes its budgets from a small heap and ran about five full collections for a 1M-key
    /// file, a quarter of the load's CPU. The region allows 8x the file size (loaded data takes 1.5x to 5x its
    /// encoded size here), at most half the memory the GC may use; memory is only touched as it is allocated.
    /// If the load allocates more, the runtime collects and leaves the region on its own: ordinary GC again.
    /// </summary>
    static bool StartLoadNoGCRegion(long fileBytes)
    {
        if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) return false;
        long size = Math.Min(fileBytes * 8, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2);
        if (size < 16 << 20) return false;     // small files load before budgets matter
        try
        {
            return GC.TryStartNoGCRegion(size, disallowFullBlockingGC: true);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException or OutOfMemoryException)
        {
            return false;
        }
    }

    static void EndLoadNoGCRegion()
    {
        // The runtime ends the region itself when the load outgrew it.
        if (System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.NoGCRegion) return;
        try { GC.EndNoGCRegion(); }
        catch (InvalidOperationException) { }
    }

    /// <summary>loadDataFromDisk (the RDB half): at startup, before any client is served.</summary>
    public bool LoadDataFromDisk()
    {
        long start = Stopwatch.GetTimestamp();
        var result = LoadRdb(RdbPath, false, out string error);
        if (result == RdbLoadResult.Ok)
        {
            double secs = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
            Log.Notice($"DB loaded from disk: {secs.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)} seconds");
            return true;
        }
        if (result == RdbLoadResult.NotFound) return true;
        if (error != null && !error.StartsWith("Wrong", StringComparison.Ordinal)) Log.Warning($"Fatal error loading the DB: {error}. Exiting.");
        else Log.Warning("Terminating server after rdb file reading failure.");
        return false;
    }

    /// <summary>Puts what the loader reads into the databases.</summary>
    sealed class ServerRdbSink(CinnabarServer server, bool allowDuplicates) : IRdbSink
    {
        Db db = server.Dbs[0];
        public long Loaded, Expired;
        readonly bool isMaster = server.Repl.MasterHost == null;   // a replica keeps expired keys for its master to delete

        public void Aux(byte[] key, byte[] value)
        {
            string k = Encoding.UTF8.GetString(key), v = Encoding.UTF8.GetString(value);
            var log = server.Log;
            if (k.StartsWith('%')) log.Notice($"RDB '{k}': {v}");
            else if (k == "redis-ver") log.Notice($"Loading RDB produced by version {v}");
            else if (k == "ctime")
            {
                long.TryParse(v, out long ctime);
                long age = Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ctime);
                log.Notice($"RDB age {age} seconds");
            }
            else if (k == "used-mem")
            {
                long.TryParse(v, out long used);
                log.Notice($"RDB memory usage when created {(used / (1024.0 * 1024)).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)} Mb");
            }
            else if (k == "aof-base") { if (long.TryParse(v, out long b) && b != 0) log.Notice("RDB is base AOF"); }
            else if (k == "repl-stream-db") server.LastRdbReplStreamDb = int.TryParse(v, out int sdb) ? sdb : -1;
            else if (k is "repl-id" or "repl-offset" or "lua" or "aof-preamble" or "redis-bits") { }
            else log.Debug($"Unrecognized RDB AUX field: '{k}'");
        }

        public void Function(byte[] code)
        {
            if (!Cinnabar.Server.Scripting.ScriptingState.Available)
            {
                server.Log.Warning("Skipping a function library in the RDB file: Lua scripting is not available");
                return;
            }
            if (server.Scripting.Functions.Load(code, false, 0, out string error) == null)
                throw new RdbException($"Failed loading library, {error}");
        }

        public bool SelectDb(int id)
        {
            if (id >= server.Dbs.Length) return false;
            db = server.Dbs[id];
            return true;
        }

        /// <summary>
        /// RESIZEDB: sizes the db's table for the keys to come, as Redis expands its dicts. The hint is only
        /// trusted as far as the file could hold that many keys (at least 3 bytes each).
        /// </summary>
        public void ResizeDb(ulong keys, ulong expires)
        {
            ulong cap = (ulong)Math.Max(0, server.LoadingTotalBytes / 3);
            cap = Math.Min(cap, 1UL << 28);
            ulong total = (ulong)db.Count + Math.Min(keys, cap);
            if (total > int.MaxValue / 2) return;
            db.Table.EnsureCapacity((int)total, (int)Math.Min((ulong)db.VolatileCount + Math.Min(expires, cap), int.MaxValue / 2));
        }

        byte[] readKey;
        uint readKeyHash;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void KeyRead(byte[] key)
        {
            readKey = key;
            readKeyHash = KeyTable.HashOf(key);
            db.Table.Prefetch(readKeyHash);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool Key(byte[] key, object value, long expireMs, long idleSeconds, int freq)
        {
            if (isMaster && expireMs != -1 && expireMs < Clock.NowMs)
            {
                Expired++;
                return false;
            }
            uint access = db.LfuMode ? Lfu.NewWord() : Clock.LruClock;
            if (freq >= 0 || idleSeconds >= 0) access = ApplyIdleOrFreq(access, db.LfuMode, freq, idleSeconds);
            uint hash = ReferenceEquals(key, readKey) ? readKeyHash : KeyTable.HashOf(key);
            int i = db.TryAddLoaded(key, value, access, hash);
            if (i < 0)
            {
                if (!allowDuplicates) throw new RdbException($"Duplicate key '{Encoding.UTF8.GetString(key)}' in DB {db.Id}");
                db.RemoveIndex(-1 - i);
                i = db.AddLoaded(key, value, access);
            }
            if (expireMs != -1) db.SetExpire(i, expireMs);
            Loaded++;
            return true;
        }

        public void EmptyKey(byte[] key) =>
            server.Log.Warning($"rdbLoadObject skipping empty key: {Encoding.UTF8.GetString(key)}");
    }

    /// <summary>objectSetLRUOrLFU: RESTORE's IDLETIME/FREQ and the RDB's IDLE/FREQ opcodes.</summary>
    public static uint ApplyIdleOrFreq(uint access, bool lfuMode, long lfuFreq, long lruIdleSeconds)
    {
        if (lfuMode)
        {
            if (lfuFreq >= 0) return (uint)(((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 60000) & 65535) << 8) | (uint)lfuFreq;
            return access;
        }
        if (lruIdleSeconds >= 0)
        {
            const long lruMax = (1 << 24) - 1;
            long clock = Clock.LruClock;
            long abs = clock - lruIdleSeconds;
            if (abs < 0) abs = (clock + lruMax / 2) % lruMax;
            return (uint)abs;
        }
        return access;
    }
}

public sealed partial class CinnabarServer
{
    /// <summary>emptyData(-1) for DEBUG RELOAD: every database and the function libraries.</summary>
    public void EmptyDataForReload()
    {
        foreach (var db in Dbs) db.Clear();
        scripting?.Functions.Flush();
    }
}

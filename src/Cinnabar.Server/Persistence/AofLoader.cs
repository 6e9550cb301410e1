using System.Diagnostics;
using System.Text;
using Cinnabar.Server.Network;

namespace Cinnabar.Server.Persistence;

public enum AofLoadResult { Ok, NotExist, Empty, OpenErr, Failed, Truncated }

/// <summary>Loads an RDB image (a BASE with the RDB preamble); plugged in by the RDB codec.</summary>
public interface IRdbBaseLoader
{
    /// <summary>Loads the RDB at the stream's position into the server; false when the file is corrupt.</summary>
    bool Load(Stream input, CinnabarServer server);
}

/// <summary>
/// loadAppendOnlyFiles / loadSingleAppendOnlyFile: the BASE then every INCR, each command run through a client
/// with no connection whose replies are dropped. A short last file is truncated to its last complete command
/// when aof-load-truncated is yes (an unterminated MULTI is reverted); anything else that is wrong is fatal,
/// with redis-server's log lines.
/// </summary>
public sealed class AofLoader
{
    readonly CinnabarServer server;
    readonly Aof aof;
    Log Log => server.Log;
    public IRdbBaseLoader RdbLoader;
    long loadedBefore;     // bytes of the files already loaded, for INFO's loading_loaded_bytes

    public const int AnnotationLineMax = 1024;

    public AofLoader(CinnabarServer server, Aof aof)
    {
        this.server = server;
        this.aof = aof;
    }

    string PathOf(string name) => Path.Combine(server.Settings.AppendDirname, name);

    public AofLoadResult LoadAll()
    {
        var s = server.Settings;
        var am = aof.Manifest;
        // Upgrade from a single pre-7.0 AOF file in dir: move it into the AOF dir as the BASE.
        if (File.Exists(s.AppendFilename))
        {
            bool upgrade = !Directory.Exists(s.AppendDirname)
                || (am.Base == null && am.Incrs.Count == 0)
                || (am.Base != null && am.Incrs.Count == 0 && am.Base.FileName == s.AppendFilename && !File.Exists(PathOf(s.AppendFilename)));
            if (upgrade && !UpgradePrepare(am)) return AofLoadResult.Failed;
        }
        if (am.Base == null && am.Incrs.Count == 0) return AofLoadResult.NotExist;

        int total = (am.Base != null ? 1 : 0) + am.Incrs.Count;
        long totalSize = 0;
        foreach (var name in Files(am))
        {
            try { totalSize += new FileInfo(PathOf(name)).Length; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            if (!File.Exists(PathOf(name)))
            {
                Log.Warning($"Unable to obtain the AOF file {name} length. stat: No such file or directory");
                return AofLoadResult.Failed;
            }
        }
        if (totalSize == 0) return AofLoadResult.Empty;
        server.LoadingTotalBytes = totalSize;

        int n = 0;
        long baseSize = 0;
        var ret = AofLoadResult.Ok;
        foreach (var name in Files(am))
        {
            bool isBase = am.Base != null && n == 0;
            bool last = ++n == total;
            if (isBase) baseSize = new FileInfo(PathOf(name)).Length;
            long start = Stopwatch.GetTimestamp();
            ret = LoadFile(name);
            try { loadedBefore += new FileInfo(PathOf(name)).Length; } catch (IOException) { }
            if (ret == AofLoadResult.Ok || (ret == AofLoadResult.Truncated && last))
                Log.Notice($"DB loaded from {(isBase ? "base" : "incr")} file {name}: {Stopwatch.GetElapsedTime(start).TotalSeconds:0.000} seconds");
            if (!isBase && ret == AofLoadResult.Empty) ret = AofLoadResult.Ok;
            if (ret == AofLoadResult.Truncated && !last)
            {
                ret = AofLoadResult.Failed;
                Log.Warning("Fatal error: the truncated file is not the last file");
            }
            if (ret is AofLoadResult.OpenErr or AofLoadResult.Failed) return ret;
        }
        aof.CurrentSize = totalSize;
        aof.RewriteBaseSize = baseSize;
        aof.FsyncOffset = totalSize;
        return ret;
    }

    static IEnumerable<string> Files(AofManifest am)
    {
        if (am.Base != null) yield return am.Base.FileName;
        foreach (var i in am.Incrs) yield return i.FileName;
    }

    bool UpgradePrepare(AofManifest am)
    {
        var s = server.Settings;
        try { Directory.CreateDirectory(s.AppendDirname); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open or create append-only dir {s.AppendDirname}: {e.Message}");
            return false;
        }
        am.Base = new AofInfo { FileName = s.AppendFilename, Seq = 1, Type = 'b' };
        am.CurrBaseSeq = 1;
        am.Dirty = true;
        if (!aof.PersistManifest(am)) return false;
        try { File.Move(s.AppendFilename, PathOf(s.AppendFilename)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Error trying to move the old AOF file {s.AppendFilename} into dir {s.AppendDirname}: {e.Message}");
            return false;
        }
        Log.Notice($"Successfully migrated an old-style AOF file ({s.AppendFilename}) into the AOF directory ({s.AppendDirname}).");
        return true;
    }

    /// <summary>loadSingleAppendOnlyFile.</summary>
    public AofLoadResult LoadFile(string filename)
    {
        string path = PathOf(filename);
        FileStream fs;
        try { fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16); }
        catch (FileNotFoundException)
        {
            Log.Warning($"The append log file {filename} doesn't exist: No such file or directory");
            return AofLoadResult.NotExist;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Fatal error: can't open the append log file {filename} for reading: {e.Message}");
            return AofLoadResult.OpenErr;
        }
        using (fs)
        {
            if (fs.Length == 0) return AofLoadResult.Empty;
            var fake = new Client(server, 0, -1, "", "") { Authenticated = true, CanBlock = false, Db = server.Dbs[0] };
            var reader = new Reader(fs);
            // An RDB image (an RDB-preamble BASE, or an old RDB-preamble AOF whose command tail follows).
            Span<byte> sig = stackalloc byte[5];
            if (reader.Peek(sig) == 5 && sig.SequenceEqual("REDIS"u8))
            {
                bool oldStyle = filename == server.Settings.AppendFilename;
                Log.Notice(oldStyle ? "Reading RDB preamble from AOF file..." : "Reading RDB base file on AOF loading...");
                fs.Position = 0;
                if (RdbLoader == null || !RdbLoader.Load(fs, server))
                {
                    Log.Warning(oldStyle
                        ? $"Error reading the RDB preamble of the AOF file {filename}, AOF loading aborted"
                        : $"Error reading the RDB base file {filename}, AOF loading aborted");
                    return AofLoadResult.Failed;
                }
                reader = new Reader(fs);
                if (oldStyle) Log.Notice("Reading the remaining AOF tail...");
            }
            long validUpTo = reader.Position, validBeforeMulti = -1, loops = 0;
            var line = new byte[AnnotationLineMax];
            while (true)
            {
                int len = reader.ReadLine(line);
                if (len == 0) break;                                     // EOF
                if (line[0] == '#') continue;                            // annotation
                if (line[0] != '*') return FormatError(filename);
                if (len == 1) return Truncate(filename, path, validUpTo, fs);
                long argc = Atoi(line.AsSpan(1, len - 1));
                if (argc < 1) return FormatError(filename);
                var argv = new byte[argc][];
                for (long j = 0; j < argc; j++)
                {
                    len = reader.ReadLine(line);
                    if (len == 0) return Truncate(filename, path, validUpTo, fs);
                    if (line[0] != '$') return FormatError(filename);
                    long n = Strtol(line.AsSpan(1, len - 1));
                    if (n < 0 || n > Array.MaxLength) return FormatError(filename);
                    var arg = new byte[n];
                    if (reader.Read(arg) != n) return Truncate(filename, path, validUpTo, fs);
                    if (reader.Skip(2) != 2) return Truncate(filename, path, validUpTo, fs);
                    argv[j] = arg;
                }
                fake.ArgOverride = argv;
                var cmd = server.Commands.LookupArgs(fake);
                if (cmd == null || cmd.Handler == null)
                {
                    Log.Warning($"Unknown command '{Encoding.Latin1.GetString(argv[0])}' reading the append only file {filename}");
                    return AofLoadResult.Failed;
                }
                if (cmd.FullName == "multi") validBeforeMulti = validUpTo;
                if (fake.InMulti && cmd.FullName != "exec")
                {
                    fake.Queued.Add(argv);
                }
                else
                {
                    fake.LastCommand = cmd.FullName;
                    cmd.Handler(fake);
                }
                fake.ArgOverride = null;
                fake.Reply.Length = fake.Reply.Sent = 0;
                validUpTo = reader.Position;
                // Serve clients now and then (they are answered LOADING), as Redis does every 1024 commands.
                if ((++loops & 1023) == 0 && server.Loop != null)
                {
                    server.LoadingLoadedBytes = loadedBefore + validUpTo;
                    server.Loop.ProcessEventsWhileBlocked();
                }
            }
            if (fake.InMulti)
            {
                Log.Warning($"Revert incomplete MULTI/EXEC transaction in AOF file {filename}");
                return Truncate(filename, path, validBeforeMulti, fs);
            }
            return AofLoadResult.Ok;
        }
    }

    AofLoadResult FormatError(string filename)
    {
        Log.Warning($"Bad file format reading the append only file {filename}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>");
        return AofLoadResult.Failed;
    }

    AofLoadResult Truncate(string filename, string path, long validUpTo, FileStream fs)
    {
        if (server.Settings.AofLoadTruncated)
        {
            Log.Warning($"!!! Warning: short read while loading the AOF file {filename}!!!");
            Log.Warning($"!!! Truncating the AOF {filename} at offset {validUpTo} !!!");
            if (validUpTo == -1) Log.Warning("Last valid command offset is invalid");
            else
            {
                try
                {
                    using var w = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                    w.SetLength(validUpTo);
                    Log.Warning($"AOF {filename} loaded anyway because aof-load-truncated is enabled");
                    return AofLoadResult.Truncated;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Log.Warning($"Error truncating the AOF file {filename}: {e.Message}");
                }
            }
        }
        Log.Warning($"Unexpected end of file reading the append only file {filename}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
        return AofLoadResult.Failed;
    }

    static long Atoi(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || s[i] == '\t')) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9' && v < int.MaxValue) v = v * 10 + (s[i++] - '0');
        return neg ? -v : v;
    }

    static long Strtol(ReadOnlySpan<byte> s) => Atoi(s);

    /// <summary>fgets/fread over a buffered file, tracking the offset of the next unread byte (ftello).</summary>
    sealed class Reader
    {
        readonly Stream s;
        readonly byte[] buf = new byte[1 << 16];
        int pos, len;
        long basePos;

        public Reader(Stream s)
        {
            this.s = s;
            basePos = s.Position;
        }

        public long Position => basePos + pos;

        bool Fill()
        {
            basePos += len;
            pos = 0;
            len = s.Read(buf, 0, buf.Length);
            if (len <= 0)
            {
                len = 0;
                return false;
            }
            return true;
        }

        public int Peek(Span<byte> dest)
        {
            if (pos == len && !Fill()) return 0;
            int n = Math.Min(dest.Length, len - pos);
            buf.AsSpan(pos, n).CopyTo(dest);
            return n;
        }

        /// <summary>fgets: up to dest.Length - 1 bytes, through the first '\n'. 0 at EOF.</summary>
        public int ReadLine(byte[] dest)
        {
            int n = 0;
            while (n < dest.Length - 1)
            {
                if (pos == len && !Fill()) break;
                byte b = buf[pos++];
                dest[n++] = b;
                if (b == '\n') break;
            }
            return n;
        }

        public int Read(byte[] dest)
        {
            int n = 0;
            while (n < dest.Length)
            {
                if (pos == len && !Fill()) break;
                int k = Math.Min(dest.Length - n, len - pos);
                Buffer.BlockCopy(buf, pos, dest, n, k);
                pos += k;
                n += k;
            }
            return n;
        }

        public int Skip(int count)
        {
            int n = 0;
            while (n < count)
            {
                if (pos == len && !Fill()) break;
                pos++;
                n++;
            }
            return n;
        }
    }
}

using System.Runtime.InteropServices;
using System.Globalization;
using System.Text;

namespace Cinnabar.Server.Cluster;

/// <summary>nodes.conf (cluster-algorithms.md §10) and the CLUSTER NODES text it is made of (§11).</summary>
public sealed partial class ClusterState
{
    int lockFd = -1;
    string lockedPath;   // the nodes.conf lockFd is open on

    public long NodeTimeoutMs => NodeTimeout;

    string ConfigPath => Path.Combine(server.Settings.Dir, server.Settings.ClusterConfigFile);

    /// <summary>clusterLockConfig: flock(LOCK_EX|LOCK_NB) held for the life of the process.</summary>
    bool LockConfig()
    {
        string file = server.Settings.ClusterConfigFile;
        int fd = BusNative.open(ConfigPath, BusNative.O_WRONLY | BusNative.O_CREAT, Convert.ToInt32("644", 8));
        if (fd == -1)
        {
            Log.Warning($"Can't open {file} in order to acquire a lock: {System.Runtime.InteropServices.Marshal.GetLastPInvokeErrorMessage()}");
            return false;
        }
        if (BusNative.flock(fd, BusNative.LOCK_EX | BusNative.LOCK_NB) == -1)
        {
            int err = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (err == BusNative.EWOULDBLOCK)
                Log.Warning($"Sorry, the cluster configuration file {file} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.");
            else
                Log.Warning($"Impossible to lock {file}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(err)}");
            Network.Native.close(fd);
            return false;
        }
        lockFd = fd;
        lockedPath = ConfigPath;
        return true;
    }

    /// <summary>clusterLoadConfig: 1 loaded, 0 no configuration (missing or empty file), -1 fatal (logged).</summary>
    int LoadConfig()
    {
        string path = ConfigPath;
        string text;
        try
        {
            if (!File.Exists(path)) return 0;
            text = ReadUnlocked(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Loading the cluster node config from {server.Settings.ClusterConfigFile}: {e.Message}");
            return -1;
        }
        if (text.Length == 0) return 0;
        long now = Now();
        foreach (var rawLine in text.Split('\n'))
        {
            if (rawLine.Length == 0 || rawLine[0] == '\0') continue;
            var argv = Config.ConfigTable.SplitArgs(rawLine);
            if (argv == null) return CorruptConfig();
            if (argv.Count == 0) continue;
            if (argv[0].Equals("vars", StringComparison.OrdinalIgnoreCase))
            {
                if (argv.Count % 2 == 0) return CorruptConfig();
                for (int j = 1; j + 1 < argv.Count; j += 2)
                {
                    if (argv[j].Equals("currentEpoch", StringComparison.OrdinalIgnoreCase)) CurrentEpoch = ParseU64(argv[j + 1]);
                    else if (argv[j].Equals("lastVoteEpoch", StringComparison.OrdinalIgnoreCase)) LastVoteEpoch = ParseU64(argv[j + 1]);
                    else Log.Warning($"Skipping unknown cluster config variable '{argv[j]}'");
                }
                continue;
            }
            if (argv.Count < 8) return CorruptConfig();
            if (!BusMessage.IsValidNodeId(argv[0])) return CorruptConfig();
            var n = Lookup(argv[0]);
            if (n == null)
            {
                n = new ClusterNode(argv[0], 0, now);
                AddNode(n);
            }
            // ip:port@cport[,hostname]
            string addr = argv[1];
            int comma = addr.IndexOf(',');
            if (comma >= 0)
            {
                n.Hostname = addr[(comma + 1)..];
                addr = addr[..comma];
            }
            int colon = addr.LastIndexOf(':');
            if (colon < 0) return CorruptConfig();
            n.Ip = addr[..colon];
            string ports = addr[(colon + 1)..];
            int at = ports.IndexOf('@');
            n.Port = Atoi(at < 0 ? ports : ports[..at]);
            n.CPort = at < 0 ? n.Port + 10000 : Atoi(ports[(at + 1)..]);
            foreach (var flag in argv[2].Split(','))
            {
                switch (flag.ToLowerInvariant())
                {
                    case "myself":
                        if (Myself != null && Myself != n) return CorruptConfig();
                        Myself = n;
                        n.Flags |= NodeFlags.Myself;
                        break;
                    case "master": n.Flags |= NodeFlags.Master; break;
                    case "slave": n.Flags |= NodeFlags.Slave; break;
                    case "fail?": n.Flags |= NodeFlags.PFail; break;
                    case "fail": n.Flags |= NodeFlags.Fail; n.FailTime = now; break;
                    case "handshake": n.Flags |= NodeFlags.Handshake; break;
                    case "noaddr": n.Flags |= NodeFlags.NoAddr; break;
                    case "nofailover": n.Flags |= NodeFlags.NoFailover; break;
                    case "noflags": break;
                    default:
                        Log.Warning("Unknown flag in redis cluster config file");
                        return -1;
                }
            }
            if (argv[3] != "-")
            {
                if (!BusMessage.IsValidNodeId(argv[3])) return CorruptConfig();
                var master = Lookup(argv[3]);
                if (master == null)
                {
                    master = new ClusterNode(argv[3], 0, now);
                    AddNode(master);
                }
                n.SlaveOf = master;
                NodeAddSlave(master, n);
            }
            if (Atoi(argv[4]) != 0) n.PingSent = now;
            if (Atoi(argv[5]) != 0) n.PongReceived = now;
            n.ConfigEpoch = ParseU64(argv[6]);
            for (int j = 8; j < argv.Count; j++)
            {
                string s = argv[j];
                if (s.StartsWith('['))
                {
                    int dash = s.IndexOf('-');
                    if (dash < 0 || dash + 3 > s.Length) return CorruptConfig();
                    int slot = Atoi(s[1..dash]);
                    if (slot < 0 || slot >= Slots) return CorruptConfig();
                    char direction = s[dash + 1];
                    string id = s[(dash + 3)..].TrimEnd(']');
                    var cn = Lookup(id);
                    if (cn == null)
                    {
                        cn = new ClusterNode(id, 0, now);
                        AddNode(cn);
                    }
                    if (direction == '>') MigratingTo[slot] = cn;
                    else ImportingFrom[slot] = cn;
                    continue;
                }
                int start, stop;
                int d = s.IndexOf('-');
                if (d >= 0)
                {
                    start = Atoi(s[..d]);
                    stop = Atoi(s[(d + 1)..]);
                }
                else start = stop = Atoi(s);
                if (start < 0 || start >= Slots || stop < 0 || stop >= Slots) return CorruptConfig();
                while (start <= stop) AddSlot(n, start++);
            }
        }
        if (Myself == null) return CorruptConfig();
        // Replica lines carry their master's epoch: a replica's own configEpoch is 0.
        foreach (var node in Nodes.Values) if (node.IsSlave && node.SlaveOf != null) node.ConfigEpoch = 0;
        Log.Notice($"Node configuration loaded, I'm {Myself.Name}");
        if (MaxEpoch() > CurrentEpoch) CurrentEpoch = MaxEpoch();
        return 1;
    }

    /// <summary>
    /// Reads the file through a descriptor .NET did not open: FileStream takes flock() locks of its own on Unix
    /// (FileShare), which would collide with the LOCK_EX we hold on nodes.conf.
    /// </summary>
    static string ReadUnlocked(string path)
    {
        int fd = BusNative.open(path, BusNative.O_RDONLY, 0);
        if (fd < 0) throw new IOException(System.Runtime.InteropServices.Marshal.GetLastPInvokeErrorMessage());
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        using var fs = new FileStream(handle, FileAccess.Read);
        using var reader = new StreamReader(fs, Encoding.Latin1);
        return reader.ReadToEnd();
    }

    int CorruptConfig()
    {
        Log.Warning("Unrecoverable error: corrupted cluster config file.");
        return -1;
    }

    static int Atoi(string s)
    {
        int i = 0, sign = 1;
        long v = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) { if (s[i] == '-') sign = -1; i++; }
        while (i < s.Length && char.IsAsciiDigit(s[i]) && v < int.MaxValue) v = v * 10 + (s[i++] - '0');
        return (int)Math.Clamp(sign * v, int.MinValue, int.MaxValue);
    }

    static ulong ParseU64(string s) => ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : 0;

    /// <summary>
    /// clusterSaveConfig: every node but handshake ones, then the vars line.
    /// A save that must be durable (fsync: epochs, votes, failovers) goes to a temp file, is fsynced and renamed over
    /// nodes.conf, so even a power loss leaves the old file or the new one, never a mix; the lock then moves to the
    /// new inode. Any other save is written in place through the locked descriptor, as Redis 7.0 does: padded with
    /// newlines to the old length, then truncated, so a process killed in between leaves a file that still parses.
    /// Why not always rename: each rename creates an inode, which on ext4 cost about 1 ms per CLUSTER SETSLOT and grew
    /// with every one (the allocator skips recently freed inodes) — a resharding issues tens of thousands of them.
    /// </summary>
    public bool SaveConfig(bool fsync)
    {
        todo &= ~(TodoSaveConfig | TodoFsyncConfig);
        var sb = new StringBuilder();
        foreach (var n in Nodes.Values)
        {
            if (n.InHandshake) continue;
            GenNodeDescription(sb, n, forConfig: true);
            sb.Append('\n');
        }
        sb.Append("vars currentEpoch ").Append(CurrentEpoch).Append(" lastVoteEpoch ").Append(LastVoteEpoch).Append('\n');
        byte[] content = Encoding.Latin1.GetBytes(sb.ToString());
        // In place only into the file the lock holds (CONFIG SET dir moves nodes.conf: the next save renames there).
        if (!fsync && lockFd >= 0 && lockedPath == ConfigPath) return SaveInPlace(content);
        string path = ConfigPath;
        string tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: fsync);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Could not save the cluster config file {server.Settings.ClusterConfigFile}: {e.Message}");
            LastSaveError = e is UnauthorizedAccessException ? "Permission denied" : e.Message;
            try { File.Delete(tmp); } catch (IOException) { }
            return false;
        }
        RelockAfterRename(path);
        savedLength = content.Length;
        return true;
    }

    long savedLength = -1;   // the length of nodes.conf as last written (-1: unknown, read it)

    unsafe bool SaveInPlace(byte[] content)
    {
        long oldLength = savedLength >= 0 ? savedLength : new FileInfo(ConfigPath).Length;
        byte[] data = content;
        if (oldLength > content.Length)
        {
            data = new byte[oldLength];
            content.CopyTo(data, 0);
            data.AsSpan(content.Length).Fill((byte)'\n');
        }
        fixed (byte* p = data)
        {
            long done = 0;
            while (done < data.Length)
            {
                nint n = BusNative.pwrite(lockFd, p + done, (nint)(data.Length - done), done);
                if (n <= 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    LastSaveError = Network.EventLoop.ErrnoText(errno);
                    Log.Warning($"Could not save the cluster config file {server.Settings.ClusterConfigFile}: {LastSaveError}");
                    savedLength = -1;
                    return false;
                }
                done += n;
            }
        }
        // Not critical: a failed truncate leaves trailing newlines, which the loader skips.
        if (data.Length != content.Length) BusNative.ftruncate(lockFd, content.Length);
        savedLength = content.Length;
        return true;
    }

    public string LastSaveError = "";

    void RelockAfterRename(string path)
    {
        int fd = BusNative.open(path, BusNative.O_WRONLY | BusNative.O_CREAT, Convert.ToInt32("644", 8));
        if (fd >= 0 && BusNative.flock(fd, BusNative.LOCK_EX | BusNative.LOCK_NB) == -1)
        {
            Network.Native.close(fd);
            fd = -1;
        }
        // On failure the old descriptor points at the unlinked inode: drop it, so saves go by rename again.
        if (lockFd >= 0) Network.Native.close(lockFd);
        lockFd = fd;
        lockedPath = path;
    }

    /// <summary>representClusterNodeFlags: the fixed order, "noflags" when none applies.</summary>
    static void AppendFlags(StringBuilder sb, int flags)
    {
        int start = sb.Length;
        void Add(int f, string name)
        {
            if ((flags & f) == 0) return;
            if (sb.Length > start) sb.Append(',');
            sb.Append(name);
        }
        Add(NodeFlags.Myself, "myself");
        Add(NodeFlags.Master, "master");
        Add(NodeFlags.Slave, "slave");
        Add(NodeFlags.PFail, "fail?");
        Add(NodeFlags.Fail, "fail");
        Add(NodeFlags.Handshake, "handshake");
        Add(NodeFlags.NoAddr, "noaddr");
        Add(NodeFlags.NoFailover, "nofailover");
        if (sb.Length == start) sb.Append("noflags");
    }

    /// <summary>clusterGenNodeDescription: one CLUSTER NODES line, without its '\n'.</summary>
    public void GenNodeDescription(StringBuilder sb, ClusterNode n, bool forConfig = false)
    {
        sb.Append(n.Name).Append(' ').Append(n.Ip).Append(':').Append(n.Port).Append('@').Append(n.CPort);
        if (n.Hostname.Length > 0) sb.Append(',').Append(n.Hostname);
        sb.Append(' ');
        AppendFlags(sb, n.Flags);
        sb.Append(' ').Append(n.SlaveOf != null ? n.SlaveOf.Name : "-");
        sb.Append(' ').Append(n.PingSent).Append(' ').Append(n.PongReceived);
        ulong epoch = n.IsSlave && n.SlaveOf != null ? n.SlaveOf.ConfigEpoch : n.ConfigEpoch;
        sb.Append(' ').Append(epoch);
        sb.Append(' ').Append(n.Link != null || n.IsMyself ? "connected" : "disconnected");
        if (n.NumSlots > 0) AppendSlotRanges(sb, n.Slots);
        if (n.IsMyself)
        {
            int m = OpenSlots.Next(MigratingTo, 0), i = OpenSlots.Next(ImportingFrom, 0);
            while (m >= 0 || i >= 0)
            {
                int j = m < 0 ? i : i < 0 ? m : Math.Min(m, i);
                if (MigratingTo[j] != null) sb.Append(" [").Append(j).Append("->-").Append(MigratingTo[j].Name).Append(']');
                else if (ImportingFrom[j] != null) sb.Append(" [").Append(j).Append("-<-").Append(ImportingFrom[j].Name).Append(']');
                if (j == m) m = OpenSlots.Next(MigratingTo, j + 1);
                if (j == i) i = OpenSlots.Next(ImportingFrom, j + 1);
            }
        }
    }

    /// <summary>
    /// " start-end" for every run of set bits in a slot bitmap (slot j = bit j%8 of byte j/8), found 64 slots at a
    /// time: nodes.conf is written after every CLUSTER SETSLOT, and a bit-by-bit walk over 16384 slots per node was
    /// most of what SETSLOT cost.
    /// </summary>
    static void AppendSlotRanges(StringBuilder sb, byte[] bitmap)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(bitmap);
        int j = 0;
        while (j < Slots)
        {
            int start = NextSlotBit(words, j, set: true);
            if (start >= Slots) break;
            int end = NextSlotBit(words, start, set: false);
            sb.Append(' ').Append(start);
            if (end - 1 != start) sb.Append('-').Append(end - 1);
            j = end;
        }
    }

    /// <summary>The first slot at or after <paramref name="from"/> whose bit is (or is not) set; Slots when none.</summary>
    static int NextSlotBit(ReadOnlySpan<ulong> words, int from, bool set)
    {
        int w = from >> 6;
        if (w >= words.Length) return Slots;
        ulong current = (set ? words[w] : ~words[w]) & (~0UL << (from & 63));
        while (true)
        {
            if (current != 0) return (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(current);
            if (++w == words.Length) return Slots;
            current = set ? words[w] : ~words[w];
        }
    }

    /// <summary>clusterGenNodesDescription: every node (handshake ones too), each line ending in '\n'.</summary>
    public string GenNodesDescription()
    {
        var sb = new StringBuilder();
        foreach (var n in Nodes.Values)
        {
            GenNodeDescription(sb, n);
            sb.Append('\n');
        }
        return sb.ToString();
    }
}

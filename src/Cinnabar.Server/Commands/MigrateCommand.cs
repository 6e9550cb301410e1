using System.Net;
using System.Net.Sockets;
using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password] [AUTH2 username password]
/// [KEYS key ...] (cluster-algorithms.md §15): each key's DUMP payload goes to the target as RESTORE (RESTORE-ASKING
/// in cluster mode, so an importing node takes it without a prior ASKING), all in one pipelined buffer over a
/// connection cached per host:port; the keys the target took are deleted here unless COPY, and the command is
/// propagated as DEL of those keys.
/// </summary>
/// <remarks>
/// The exchange with the target is synchronous on the event loop, as in Redis: every connect, every 64 KiB write
/// and every reply line waits at most the command's timeout. Doing it asynchronously would let other clients
/// change or read a key between its DUMP and its deletion (a write acknowledged here and then lost, or a key
/// visible on both nodes), which is what resharding tools rely on not happening; the price is that the loop
/// stalls for at most the timeout per I/O step when the target is slow or gone.
/// </remarks>
public static class MigrateCommand
{
    public static void Register(CommandTable t)
    {
        t.Register("migrate", Migrate);
        t.Find("migrate").GetKeys = GetKeys;
    }

    /// <summary>
    /// migrateGetKeys: argument 3, or with the KEYS option the keys after it (none when the key argument is not
    /// ""); AUTH's and AUTH2's values are skipped, so a password spelled "keys" is not taken for the option.
    /// </summary>
    static List<(int position, KeySpec spec)> GetKeys(Command cmd, Func<int, ReadOnlySpan<byte>> arg, int argc)
    {
        var keys = new List<(int, KeySpec)>();
        var specs = cmd.KeySpecs;
        for (int i = 6; i < argc; i++)
        {
            if (Ascii.EqualsIgnoreCase(arg(i), "auth")) i++;
            else if (Ascii.EqualsIgnoreCase(arg(i), "auth2")) i += 2;
            else if (Ascii.EqualsIgnoreCase(arg(i), "keys") && i + 1 < argc)   // a trailing KEYS: the key argument (observed)
            {
                if (arg(3).Length != 0) return keys;
                for (int k = i + 1; k < argc; k++) keys.Add((k, specs[^1]));
                return keys;
            }
        }
        keys.Add((3, specs[0]));
        return keys;
    }

    static readonly byte[] Nokey = "+NOKEY\r\n"u8.ToArray();

    static void Migrate(Client c)
    {
        bool copy = false, replace = false;
        string username = null, password = null;
        int firstKey = 3, numKeys = 1;
        int argc = c.ArgCount;
        for (int j = 6; j < argc; j++)
        {
            int more = argc - 1 - j;
            if (c.ArgIs(j, "copy")) copy = true;
            else if (c.ArgIs(j, "replace")) replace = true;
            else if (c.ArgIs(j, "auth"))
            {
                if (more < 1) { c.Syntax(); return; }
                password = c.ArgString(++j);
                c.Redact(j);
            }
            else if (c.ArgIs(j, "auth2"))
            {
                if (more < 2) { c.Syntax(); return; }
                username = c.ArgString(++j);
                c.Redact(j);
                password = c.ArgString(++j);
                c.Redact(j);
            }
            else if (c.ArgIs(j, "keys"))
            {
                if (c.Arg(3).Length != 0)
                {
                    c.Error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
                    return;
                }
                firstKey = j + 1;
                numKeys = argc - j - 1;
                break;
            }
            else { c.Syntax(); return; }
        }
        if (!c.TryArgLong(5, out long timeout) || !c.TryArgLong(4, out long dbid)) return;
        if (timeout <= 0) timeout = 1000;

        // The keys that exist here (a key past its TTL is deleted by the lookup, as any read does).
        var keys = new List<byte[]>(numKeys);
        var values = new List<object>(numKeys);
        for (int j = 0; j < numKeys; j++)
        {
            var key = c.Arg(firstKey + j);
            var v = Keyspace.LookupRead(c, key);
            if (v == null) continue;
            keys.Add(key.ToArray());
            values.Add(v);
        }
        if (keys.Count == 0)
        {
            c.Reply.Raw(Nokey);
            return;
        }

        var server = c.Server;
        var sockets = server.MigrateSockets;
        string host = c.ArgString(1), port = c.ArgString(2);
        int timeoutMs = (int)Math.Min(timeout, int.MaxValue);

        // The pipelined request, built once: [AUTH] [SELECT] then one RESTORE per key with its remaining TTL.
        var ttls = new long[keys.Count];
        for (int j = 0; j < keys.Count; j++)
        {
            int i = c.Db.Table.Find(keys[j]);
            long at = i >= 0 ? c.Db.Table.At(i).ExpireAt : 0;
            ttls[j] = at == 0 ? 0 : Math.Max(1, at - Clock.NowMs);
        }
        var payloads = new byte[keys.Count][];
        for (int j = 0; j < keys.Count; j++) payloads[j] = server.CreateDumpPayload(values[j]);
        var restore = server.ClusterEnabled ? "RESTORE-ASKING"u8.ToArray() : "RESTORE"u8.ToArray();

        bool mayRetry = true;
        while (true)
        {
            var cs = sockets.Get(host, port, timeoutMs, out string connectError);
            if (cs == null)
            {
                c.Error(connectError);
                return;
            }
            bool select = cs.LastDb != dbid;
            var req = new RespBuffer(1024);
            if (password != null)
            {
                req.ArrayHeader(username != null ? 3 : 2);
                req.Bulk("AUTH"u8);
                if (username != null) req.Bulk(System.Text.Encoding.Latin1.GetBytes(username));
                req.Bulk(System.Text.Encoding.Latin1.GetBytes(password));
            }
            if (select)
            {
                req.ArrayHeader(2);
                req.Bulk("SELECT"u8);
                req.Bulk(dbid);
            }
            for (int j = 0; j < keys.Count; j++)
            {
                req.ArrayHeader(replace ? 5 : 4);
                req.Bulk(restore);
                req.Bulk(keys[j]);
                req.Bulk(ttls[j]);
                req.Bulk(payloads[j]);
                if (replace) req.Bulk("REPLACE"u8);
            }

            // Write in 64 KiB pieces, each bounded by the timeout.
            SocketError ioError = SocketError.Success;
            bool writeError = false;
            for (int off = 0; off < req.Length && ioError == SocketError.Success;)
            {
                int n = Math.Min(64 * 1024, req.Length - off);
                int written = cs.Write(req.Buffer.AsSpan(off, n), timeoutMs, out ioError);
                off += written;
            }
            if (ioError != SocketError.Success) writeError = true;

            string authReply = null, selectReply = null;
            if (ioError == SocketError.Success && password != null) authReply = cs.ReadLine(timeoutMs, out ioError);
            if (ioError == SocketError.Success && select) selectReply = cs.ReadLine(timeoutMs, out ioError);

            bool errorFromTarget = false;
            int processed = 0;
            var deleted = new List<byte[]>();
            if (ioError == SocketError.Success)
            {
                for (; processed < keys.Count; processed++)
                {
                    string line = cs.ReadLine(timeoutMs, out ioError);
                    if (line == null) break;
                    string failed = authReply is ['-', ..] ? authReply
                        : selectReply is ['-', ..] ? selectReply
                        : line is ['-', ..] ? line : null;
                    if (failed != null)
                    {
                        if (!errorFromTarget)
                        {
                            // After an error the target's selected db is not known any more: SELECT next time.
                            cs.LastDb = -1;
                            errorFromTarget = true;
                            c.Error("ERR Target instance replied with error: " + failed[1..]);
                        }
                    }
                    else if (!copy)
                    {
                        DeleteMigrated(c, keys[processed]);
                        deleted.Add(keys[processed]);
                    }
                }
            }

            if (deleted.Count > 0 && server.Prop.Enabled)
            {
                // Replicas and the AOF see the keys leave as one DEL.
                var w = server.Prop.Rewrite(deleted.Count + 1);
                w.Bulk("DEL"u8);
                foreach (var k in deleted) w.Bulk(k);
            }

            if (!errorFromTarget && ioError != SocketError.Success)
            {
                sockets.Close(host, port);
                bool timedOut = ioError is SocketError.TimedOut or SocketError.WouldBlock;
                // One silent retry on a fresh connection when nothing reached the target (a cached connection the
                // target closed meanwhile), never after a timeout.
                if (processed == 0 && deleted.Count == 0 && mayRetry && !timedOut)
                {
                    mayRetry = false;
                    continue;
                }
                c.Error("IOERR error or timeout " + (writeError ? "writing" : "reading") + " to target instance");
                return;
            }
            if (!errorFromTarget)
            {
                cs.LastDb = dbid;
                c.Reply.Ok();
            }
            // A connection that failed after the target's error may still hold unread replies: never reuse it.
            else if (ioError != SocketError.Success) sockets.Close(host, port);
            return;
        }
    }

    static void DeleteMigrated(Client c, byte[] key)
    {
        int i = c.Db.Table.Find(key);
        if (i < 0) return;
        c.Db.RemoveIndex(i);
        Keyspace.Modified(c, key, KeyspaceEvents.Generic, "del");
    }
}

/// <summary>
/// MIGRATE's connections, one per "host:port" as the client wrote them (migrateGetSocket): at most 64, each
/// remembering the db it last selected, closed after 10 s unused (migrateCloseTimedoutSockets, from the cron).
/// </summary>
public sealed class MigrateSockets
{
    public const int MaxSockets = 64;
    public const long IdleCloseMs = 10_000;

    public sealed class Cached
    {
        public Socket Socket;
        public long LastDb = -1;
        public long LastUseMs;
        readonly byte[] buf = new byte[4096];
        int start, end;

        /// <summary>Sends what it can within the timeout; the bytes written (all of them unless an error is reported).</summary>
        public int Write(ReadOnlySpan<byte> data, int timeoutMs, out SocketError error)
        {
            error = SocketError.Success;
            int done = 0;
            Socket.SendTimeout = timeoutMs;
            try
            {
                while (done < data.Length)
                {
                    int n = Socket.Send(data[done..], SocketFlags.None, out error);
                    if (error != SocketError.Success) return done;
                    if (n <= 0) { error = SocketError.ConnectionReset; return done; }
                    done += n;
                }
            }
            catch (ObjectDisposedException) { error = SocketError.NotConnected; }
            return done;
        }

        /// <summary>One reply line without its CRLF (syncReadLine), or null with the error; waits at most the timeout.</summary>
        public string ReadLine(int timeoutMs, out SocketError error)
        {
            error = SocketError.Success;
            long deadline = Environment.TickCount64 + timeoutMs;
            var line = new System.Text.StringBuilder();
            while (true)
            {
                while (start < end)
                {
                    byte b = buf[start++];
                    if (b == '\n')
                    {
                        if (line.Length > 0 && line[^1] == '\r') line.Length--;
                        return line.ToString();
                    }
                    if (line.Length < 1024) line.Append((char)b);
                }
                long left = deadline - Environment.TickCount64;
                if (left <= 0) { error = SocketError.TimedOut; return null; }
                Socket.ReceiveTimeout = (int)Math.Max(1, left);
                int n;
                try { n = Socket.Receive(buf, 0, buf.Length, SocketFlags.None, out error); }
                catch (ObjectDisposedException) { error = SocketError.NotConnected; return null; }
                if (error != SocketError.Success) return null;
                if (n == 0) { error = SocketError.ConnectionReset; return null; }
                start = 0;
                end = n;
            }
        }
    }

    readonly Dictionary<string, Cached> sockets = new(StringComparer.Ordinal);

    public int Count => sockets.Count;

    /// <summary>
    /// The cached connection to host:port, or a new one (connected within the timeout); null with Redis's error text
    /// when the address does not resolve or the connect times out. As in Redis, a refused connection surfaces at the
    /// first write ("writing to target instance").
    /// </summary>
    public Cached Get(string host, string port, int timeoutMs, out string error)
    {
        error = null;
        string name = host + ":" + port;
        if (sockets.TryGetValue(name, out var cs))
        {
            cs.LastUseMs = Clock.NowMs;
            return cs;
        }
        if (sockets.Count == MaxSockets)
        {
            // Too many: drop one at random to make room.
            var victim = sockets.Keys.ElementAt(Random.Shared.Next(sockets.Count));
            CloseByName(victim);
        }
        const string connectError = "IOERR error or timeout connecting to the client";
        long portNumber = AtoiPort(port);
        IPAddress address = null;
        if (portNumber >= 0 && host.Length > 0)
        {
            if (!IPAddress.TryParse(host, out address))
            {
                try
                {
                    address = Dns.GetHostAddresses(host).OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).FirstOrDefault();
                }
                catch (SocketException) { address = null; }
            }
        }
        if (address == null) { error = connectError; return null; }
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var ep = new IPEndPoint(address, (int)(portNumber & 0xFFFF));
        bool connected;
        try { connected = socket.ConnectAsync(ep).Wait(timeoutMs); }
        catch (AggregateException) { connected = true; }   // refused or reset: reported by the first write, as Redis does
        if (!connected)
        {
            socket.Dispose();
            error = connectError;
            return null;
        }
        cs = new Cached { Socket = socket, LastUseMs = Clock.NowMs };
        sockets[name] = cs;
        return cs;
    }

    /// <summary>atoi: the leading decimal digits (with a sign), 0 when there are none.</summary>
    static long AtoiPort(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9' && v < int.MaxValue) v = v * 10 + (s[i++] - '0');
        return neg ? -v : v;
    }

    public void Close(string host, string port) => CloseByName(host + ":" + port);

    void CloseByName(string name)
    {
        if (!sockets.Remove(name, out var cs)) return;
        try { cs.Socket.Dispose(); } catch (SocketException) { }
    }

    /// <summary>migrateCloseTimedoutSockets: connections unused for 10 s are closed.</summary>
    public void CloseIdle(long nowMs)
    {
        if (sockets.Count == 0) return;
        foreach (var (name, cs) in sockets.ToArray())
            if (nowMs - cs.LastUseMs > IdleCloseMs) CloseByName(name);
    }
}

using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// Writes the BASE of a rewrite: a point-in-time image of the dataset that the INCR files continue. Two forms:
/// commands (aof-use-rdb-preamble no, <see cref="CommandFormBaseWriter"/>) and an RDB file with the aof-base aux
/// field (the RDB codec plugs in through this interface). Called on the event-loop thread; the bytes it writes
/// are handed to a background thread for the disk.
/// </summary>
public interface IAofBaseWriter
{
    void Write(Stream output, CinnabarServer server);
}

/// <summary>
/// rewriteAppendOnlyFileRio without the RDB preamble: <c>#TS:</c> when annotations are on, FUNCTION LOAD per
/// library, then per non-empty db SELECT and one or more commands per key (SET, RPUSH, SADD, ZADD, HMSET with at
/// most 64 items each, streams as XADD + XSETID + XGROUP CREATE + XCLAIM/XGROUP CREATECONSUMER) followed by
/// PEXPIREAT for keys with a TTL — the commands and order redis-server 7.0 writes.
/// </summary>
public sealed class CommandFormBaseWriter : IAofBaseWriter
{
    public const int ItemsPerCommand = 64;   // AOF_REWRITE_ITEMS_PER_CMD

    public static readonly CommandFormBaseWriter Instance = new();

    public void Write(Stream output, CinnabarServer server)
    {
        var w = new RespBuffer(64 * 1024);
        void Spill()
        {
            if (w.Length < 1 << 20) return;
            output.Write(w.Span);
            w.Clear();
        }
        if (server.Settings.AofTimestampEnabled)
            w.Raw(System.Text.Encoding.ASCII.GetBytes($"#TS:{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}\r\n"));
        foreach (var lib in server.Scripting.Functions.Libraries)
        {
            w.ArrayHeader(3);
            w.Bulk("FUNCTION"u8);
            w.Bulk("LOAD"u8);
            w.Bulk(lib.Code);
        }
        Span<byte> scratch = stackalloc byte[64];
        foreach (var db in server.Dbs)
        {
            if (db.Count == 0) continue;
            w.ArrayHeader(2);
            w.Bulk("SELECT"u8);
            w.Bulk(db.Id);
            var t = db.Table;
            foreach (int i in t.Indexes())
            {
                ref var e = ref t.At(i);
                WriteKey(w, e.Key, e.Value, scratch);
                if (e.ExpireAt != 0)
                {
                    w.ArrayHeader(3);
                    w.Bulk("PEXPIREAT"u8);
                    w.Bulk(e.Key);
                    w.Bulk(e.ExpireAt);
                }
                Spill();
            }
        }
        output.Write(w.Span);
    }

    internal static void WriteKey(RespBuffer w, byte[] key, object value, Span<byte> scratch)
    {
        switch (value)
        {
            case byte[] or RawString or EmbStr:
                w.ArrayHeader(3);
                w.Bulk("SET"u8);
                w.Bulk(key);
                w.Bulk(Values.StringBytes(value));
                break;
            case ListValue l:
            {
                long left = l.Count, inCmd = 0;
                for (int ci = 0; ci < l.ChunkCount; ci++)
                {
                    var ch = l.ChunkAt(ci);
                    for (int k = 0; k < ch.Count; k++)
                    {
                        if (inCmd == 0) Header(w, "RPUSH"u8, key, (int)Math.Min(left, ItemsPerCommand));
                        w.Bulk(ch.Entry(k));
                        left--;
                        if (++inCmd == ItemsPerCommand) inCmd = 0;
                    }
                }
                break;
            }
            case SetValue s:
            {
                int n = s.Count, left = n, inCmd = 0;
                for (int i = 0; i < n; i++)
                {
                    if (inCmd == 0) Header(w, "SADD"u8, key, Math.Min(left, ItemsPerCommand));
                    w.Bulk(s.MemberAt(i, scratch));
                    left--;
                    if (++inCmd == ItemsPerCommand) inCmd = 0;
                }
                break;
            }
            case ZSetValue z:
            {
                int left = z.Count, inCmd = 0;
                for (var p = z.First(); z.Valid(p); z.Next(ref p))
                {
                    if (inCmd == 0) Header(w, "ZADD"u8, key, Math.Min(left, ItemsPerCommand) * 2);
                    w.Bulk(scratch[..Double17g.Format(z.ScoreAt(p), scratch)]);
                    w.Bulk(z.MemberAt(p));
                    left--;
                    if (++inCmd == ItemsPerCommand) inCmd = 0;
                }
                break;
            }
            case HashValue h:
            {
                int n = h.Count, left = n, inCmd = 0;
                for (int i = 0; i < n; i++)
                {
                    if (inCmd == 0) Header(w, "HMSET"u8, key, Math.Min(left, ItemsPerCommand) * 2);
                    w.Bulk(h.FieldAt(i));
                    w.Bulk(h.ValueAt(i));
                    left--;
                    if (++inCmd == ItemsPerCommand) inCmd = 0;
                }
                break;
            }
            case StreamValue st:
                WriteStream(w, key, st, scratch);
                break;
        }
    }

    static void Header(RespBuffer w, ReadOnlySpan<byte> cmd, byte[] key, int items)
    {
        w.ArrayHeader(2 + items);
        w.Bulk(cmd);
        w.Bulk(key);
    }

    static void Id(RespBuffer w, StreamId id, Span<byte> scratch) => w.Bulk(scratch[..id.Format(scratch)]);

    static void WriteStream(RespBuffer w, byte[] key, StreamValue s, Span<byte> scratch)
    {
        if (s.Length > 0)
        {
            var it = s.Range(StreamId.Zero, StreamId.Max);
            while (it.Next(out var n, out int i))
            {
                var r = new StreamEntryReader(n, i);
                w.ArrayHeader(3 + r.FieldCount * 2);
                w.Bulk("XADD"u8);
                w.Bulk(key);
                Id(w, n.IdAt(i), scratch);
                while (r.Next(out var f, out var v))
                {
                    w.Bulk(f);
                    w.Bulk(v);
                }
            }
        }
        else
        {
            // An empty stream: XADD MAXLEN 0 with a placeholder ID creates it; XSETID then restores the real IDs.
            w.ArrayHeader(7);
            w.Bulk("XADD"u8);
            w.Bulk(key);
            w.Bulk("MAXLEN"u8);
            w.Bulk("0"u8);
            Id(w, new StreamId(0, 1), scratch);
            w.Bulk("x"u8);
            w.Bulk("y"u8);
        }
        w.ArrayHeader(7);
        w.Bulk("XSETID"u8);
        w.Bulk(key);
        Id(w, s.LastId, scratch);
        w.Bulk("ENTRIESADDED"u8);
        w.Bulk(s.EntriesAdded);
        w.Bulk("MAXDELETEDID"u8);
        Id(w, s.MaxDeletedId, scratch);
        if (s.Groups == null) return;
        foreach (var g in s.Groups)
        {
            w.ArrayHeader(7);
            w.Bulk("XGROUP"u8);
            w.Bulk("CREATE"u8);
            w.Bulk(key);
            w.Bulk(g.Name);
            Id(w, g.LastId, scratch);
            w.Bulk("ENTRIESREAD"u8);
            w.Bulk(g.EntriesRead);
            foreach (var consumer in g.Consumers)
            {
                if (consumer.Pel.Count == 0)
                {
                    w.ArrayHeader(5);
                    w.Bulk("XGROUP"u8);
                    w.Bulk("CREATECONSUMER"u8);
                    w.Bulk(key);
                    w.Bulk(g.Name);
                    w.Bulk(consumer.Name);
                    continue;
                }
                foreach (var nack in consumer.Pel)
                {
                    w.ArrayHeader(12);
                    w.Bulk("XCLAIM"u8);
                    w.Bulk(key);
                    w.Bulk(g.Name);
                    w.Bulk(consumer.Name);
                    w.Bulk("0"u8);
                    Id(w, nack.Id, scratch);
                    w.Bulk("TIME"u8);
                    w.Bulk(nack.DeliveryTime);
                    w.Bulk("RETRYCOUNT"u8);
                    w.Bulk(nack.DeliveryCount);
                    w.Bulk("JUSTID"u8);
                    w.Bulk("FORCE"u8);
                }
            }
        }
    }
}

/// <summary>
/// The command-form BASE as a snapshot encoder, so BGREWRITEAOF with aof-use-rdb-preamble no also runs on the
/// keyspace snapshot in slices: SELECT on each db switch, then each key's commands and its PEXPIREAT.
/// </summary>
public sealed class CommandFormSnapshotEncoder : ISnapshotEncoder
{
    readonly RespBuffer w = new(64 * 1024);
    readonly byte[] scratch = new byte[64];

    /// <summary>The prelude (#TS annotation, FUNCTION LOAD per library) is written first.</summary>
    public CommandFormSnapshotEncoder(CinnabarServer server)
    {
        if (server.Settings.AofTimestampEnabled)
            w.Raw(System.Text.Encoding.ASCII.GetBytes($"#TS:{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}\r\n"));
        foreach (var lib in server.Scripting.Functions.Libraries)
        {
            w.ArrayHeader(3);
            w.Bulk("FUNCTION"u8);
            w.Bulk("LOAD"u8);
            w.Bulk(lib.Code);
        }
    }

    public void SelectDb(int dbId, bool first, int keys, int expires)
    {
        w.ArrayHeader(2);
        w.Bulk("SELECT"u8);
        w.Bulk(dbId);
    }

    public void WriteKey(in KeyTable.Entry entry)
    {
        CommandFormBaseWriter.WriteKey(w, entry.Key, entry.Value, scratch);
        if (entry.ExpireAt != 0)
        {
            w.ArrayHeader(3);
            w.Bulk("PEXPIREAT"u8);
            w.Bulk(entry.Key);
            w.Bulk(entry.ExpireAt);
        }
    }

    public void Finish() { }
    public int BufferedBytes => w.Length;

    public void Drain(Action<ReadOnlySpan<byte>> sink)
    {
        if (w.Length == 0) return;
        sink(w.Span);
        w.Clear();
    }
}

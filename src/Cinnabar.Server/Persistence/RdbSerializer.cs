using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// rdbSaveObjectType + rdbSaveObject: writes one value in the type and encoding Redis 7.0 writes for the
/// value's in-memory encoding, byte for byte (so DUMP matches redis-server wherever its memory layout is
/// deterministic).
/// </summary>
public sealed class RdbSerializer
{
    readonly ByteBuf scratch = new(1024);

    public bool Compress = true;

    public static byte TypeOf(object v) => v switch
    {
        byte[] or RawString or EmbStr => Rdb.TypeString,
        ListValue => Rdb.TypeListQuicklist2,
        SetValue s => s.IsIntset ? Rdb.TypeSetIntset : Rdb.TypeSet,
        ZSetValue z => z.IsListpack ? Rdb.TypeZSetListpack : Rdb.TypeZSet2,
        HashValue h => h.IsListpack ? Rdb.TypeHashListpack : Rdb.TypeHash,
        StreamValue => Rdb.TypeStreamListpacks2,
        _ => throw new InvalidOperationException("unknown value type " + v?.GetType().Name),
    };

    /// <summary>The object type byte then the value.</summary>
    public void WriteObject(ByteBuf o, object v)
    {
        o.WriteByte(TypeOf(v));
        WriteValue(o, v);
    }

    public void WriteValue(ByteBuf o, object v)
    {
        switch (v)
        {
            case byte[] or RawString or EmbStr:
                RdbOut.WriteString(o, Values.StringBytes(v), Compress);
                break;
            case ListValue l: WriteList(o, l); break;
            case SetValue s: WriteSet(o, s); break;
            case ZSetValue z: WriteZSet(o, z); break;
            case HashValue h: WriteHash(o, h); break;
            case StreamValue st: WriteStream(o, st); break;
            default: throw new InvalidOperationException("unknown value type " + v?.GetType().Name);
        }
    }

    /// <summary>Writes what scratch holds as one RDB string and empties scratch.</summary>
    void FlushScratch(ByteBuf o)
    {
        RdbOut.WriteString(o, scratch.Span, Compress);
        scratch.Clear();
    }

    void WriteList(ByteBuf o, ListValue l)
    {
        RdbOut.WriteLen(o, (ulong)l.ChunkCount);
        for (int i = 0; i < l.ChunkCount; i++)
        {
            var ch = l.ChunkAt(i);
            if (ch.Plain)
            {
                RdbOut.WriteLen(o, (ulong)Rdb.QuicklistNodePlain);
                RdbOut.WriteString(o, ch.Entry(0), Compress);
                continue;
            }
            RdbOut.WriteLen(o, (ulong)Rdb.QuicklistNodePacked);
            scratch.Clear();
            var w = new Listpack.Writer(scratch);
            for (int k = 0; k < ch.Count; k++) w.AppendString(ch.Entry(k));
            w.End();
            FlushScratch(o);
        }
    }

    void WriteSet(ByteBuf o, SetValue s)
    {
        if (s.IsIntset)
        {
            scratch.Clear();
            Intset.Write(scratch, s.IntsetMembers, s.IntsetWidth);
            FlushScratch(o);
            return;
        }
        RdbOut.WriteLen(o, (ulong)s.Count);
        Span<byte> tmp = stackalloc byte[24];
        for (int i = 0; i < s.Count; i++) RdbOut.WriteString(o, s.MemberAt(i, tmp), Compress);
    }

    void WriteZSet(ByteBuf o, ZSetValue z)
    {
        Span<byte> num = stackalloc byte[64];
        if (z.IsListpack)
        {
            scratch.Clear();
            var w = new Listpack.Writer(scratch);
            for (var p = z.First(); z.Valid(p); z.Next(ref p))
            {
                w.AppendString(z.MemberAt(p));
                int n = RdbOut.FormatScore(z.ScoreAt(p), num);
                w.AppendString(num[..n]);
            }
            w.End();
            FlushScratch(o);
            return;
        }
        RdbOut.WriteLen(o, (ulong)z.Count);
        // From the tail: loading then inserts at the head of the skiplist, the cheap end.
        for (var p = z.Last(); z.Valid(p); z.Prev(ref p))
        {
            RdbOut.WriteString(o, z.MemberAt(p), Compress);
            RdbOut.WriteBinaryDouble(o, z.ScoreAt(p));
        }
    }

    void WriteHash(ByteBuf o, HashValue h)
    {
        if (h.IsListpack)
        {
            scratch.Clear();
            var w = new Listpack.Writer(scratch);
            for (int i = 0; i < h.Count; i++)
            {
                w.AppendString(h.FieldAt(i));
                w.AppendString(h.ValueAt(i));
            }
            w.End();
            FlushScratch(o);
            return;
        }
        RdbOut.WriteLen(o, (ulong)h.Count);
        for (int i = 0; i < h.Count; i++)
        {
            RdbOut.WriteString(o, h.FieldAt(i), Compress);
            RdbOut.WriteString(o, h.ValueAt(i), Compress);
        }
    }

    void WriteStream(ByteBuf o, StreamValue s)
    {
        RdbOut.WriteLen(o, (ulong)s.NodeCount);
        Span<byte> key = stackalloc byte[16];
        for (int k = 0; k < s.NodeCount; k++)
        {
            var n = s.NodeAt(k);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(key, n.Master.Ms);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(key[8..], n.Master.Seq);
            RdbOut.WriteString(o, key, Compress);
            scratch.Clear();
            WriteStreamNodeListpack(scratch, n);
            FlushScratch(o);
        }
        RdbOut.WriteLen(o, (ulong)s.Length);
        RdbOut.WriteLen(o, s.LastId.Ms);
        RdbOut.WriteLen(o, s.LastId.Seq);
        RdbOut.WriteLen(o, s.FirstId.Ms);
        RdbOut.WriteLen(o, s.FirstId.Seq);
        RdbOut.WriteLen(o, s.MaxDeletedId.Ms);
        RdbOut.WriteLen(o, s.MaxDeletedId.Seq);
        RdbOut.WriteLen(o, (ulong)s.EntriesAdded);
        var groups = s.Groups;
        RdbOut.WriteLen(o, (ulong)(groups?.Count ?? 0));
        if (groups == null) return;
        foreach (var g in groups)
        {
            RdbOut.WriteString(o, g.Name, Compress);
            RdbOut.WriteLen(o, g.LastId.Ms);
            RdbOut.WriteLen(o, g.LastId.Seq);
            RdbOut.WriteLen(o, (ulong)g.EntriesRead);
            RdbOut.WriteLen(o, (ulong)g.Pel.Count);
            foreach (var nack in g.Pel)
            {
                RdbOut.WriteStreamId(o, nack.Id);
                RdbOut.WriteMillis(o, nack.DeliveryTime);
                RdbOut.WriteLen(o, (ulong)nack.DeliveryCount);
            }
            RdbOut.WriteLen(o, (ulong)g.Consumers.Count);
            foreach (var c in g.Consumers)
            {
                RdbOut.WriteString(o, c.Name, Compress);
                RdbOut.WriteMillis(o, c.SeenTime);
                RdbOut.WriteLen(o, (ulong)c.Pel.Count);
                foreach (var nack in c.Pel) RdbOut.WriteStreamId(o, nack.Id);
            }
        }
    }

    /// <summary>
    /// A stream node as the listpack Redis keeps: the master entry (count, deleted, field count, the master
    /// fields, 0), then per entry flags, ms and seq deltas from the master ID, [field count, fields,] values,
    /// and the entry's element count.
    /// </summary>
    public static void WriteStreamNodeListpack(ByteBuf buf, StreamNode n)
    {
        var w = new Listpack.Writer(buf);
        w.AppendInt(n.Live);
        w.AppendInt(n.Deleted);
        w.AppendInt(n.MasterFields.Length);
        foreach (var f in n.MasterFields) w.AppendString(f);
        w.AppendInt(0);
        for (int i = 0; i < n.Total; i++)
        {
            var id = n.IdAt(i);
            var reader = new StreamEntryReader(n, i);
            int flags = n.Data[n.Offsets[i]];
            bool same = (flags & StreamNode.FlagSameFields) != 0;
            w.AppendInt(flags);
            w.AppendInt(unchecked((long)(id.Ms - n.Master.Ms)));
            w.AppendInt(unchecked((long)(id.Seq - n.Master.Seq)));
            int fields = reader.FieldCount;
            if (!same) w.AppendInt(fields);
            while (reader.Next(out var f, out var v))
            {
                if (!same) w.AppendString(f);
                w.AppendString(v);
            }
            w.AppendInt(same ? fields + 3 : 2L * fields + 4);
        }
        w.End();
    }
}

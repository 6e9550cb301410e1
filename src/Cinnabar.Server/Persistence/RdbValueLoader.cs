using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Persistence;

/// <summary>The encoding limits a loaded value is fitted to (rdbLoadObject converts encodings as needed).</summary>
public readonly record struct LoadLimits(
    long HashMaxListpackEntries, long HashMaxListpackValue, long SetMaxIntsetEntries,
    long ZsetMaxListpackEntries, long ZsetMaxListpackValue, long ListMaxListpackSize)
{
    public static LoadLimits From(Config.ServerSettings s) => new(s.HashMaxListpackEntries, s.HashMaxListpackValue,
        s.SetMaxIntsetEntries, s.ZsetMaxListpackEntries, s.ZsetMaxListpackValue, s.ListMaxListpackSize);

    public static readonly LoadLimits Default = new(512, 64, 512, 128, 64, -2);
}

/// <summary>A value that loads as empty: skipped with a warning in a file, an error in RESTORE.</summary>
public sealed class RdbEmptyKeyException() : Exception("empty key")
{
}

/// <summary>
/// rdbLoadObject: reads one value of a given RDB type — every type Redis 7.0 writes and the older ones it still
/// loads (ziplists, zipmaps, quicklist v1, streams v1, zsets with text scores) — into Cinnabar's value types,
/// validating as sanitize-dump-payload does in deep mode (structure, counts, duplicates), so bad bytes give an
/// <see cref="RdbException"/> and never a crash or a broken value.
/// </summary>
public static class RdbValueLoader
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static object Read(RdbReader r, int type, in LoadLimits lim)
    {
        switch (type)
        {
            case Rdb.TypeString: return r.ReadString();
            case Rdb.TypeList: return ReadPlainList(r, lim);
            case Rdb.TypeListQuicklist:
            case Rdb.TypeListQuicklist2: return ReadQuicklist(r, type == Rdb.TypeListQuicklist2, lim);
            case Rdb.TypeListZiplist:
            {
                var items = Ziplist.Decode(r.ReadStringSpan()) ?? throw Corrupt("Ziplist integrity check failed.");
                if (items.Count == 0) throw new RdbEmptyKeyException();
                var l = new ListValue(lim.ListMaxListpackSize);
                l.AppendNode(items, plain: false);
                return l;
            }
            case Rdb.TypeSet: return ReadPlainSet(r, lim);
            case Rdb.TypeSetIntset:
            {
                var blob = r.ReadStringSpan();
                if (blob.Length >= 8 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(blob[4..]) == 0 && blob.Length == 8)
                    throw new RdbEmptyKeyException();
                if (!Intset.TryDecode(blob, out var members, out int width)) throw Corrupt("Intset integrity check failed.");
                var s = SetValue.FromIntset(members, width);
                s.ConvertIfOver(lim.SetMaxIntsetEntries);
                return s;
            }
            case Rdb.TypeZSet:
            case Rdb.TypeZSet2: return ReadPlainZSet(r, type == Rdb.TypeZSet2, lim);
            case Rdb.TypeZSetZiplist:
            {
                var items = Ziplist.Decode(r.ReadStringSpan()) ?? throw Corrupt("Zset ziplist integrity check failed.");
                return ZSetFromPairs(CollectionsMarshal.AsSpan(items), lim);
            }
            case Rdb.TypeZSetListpack: return ReadZSetListpack(r, lim);
            case Rdb.TypeHash: return ReadPlainHash(r, lim);
            case Rdb.TypeHashListpack:
            {
                var sc = r.DecodeScratch;
                if (!DecodeListpack(r.ReadStringSpan(), ref sc.Items, out int n)) throw Corrupt("Hash listpack integrity check failed.");
                return HashFromPairs(sc.Items.AsSpan(0, n), lim);
            }
            case Rdb.TypeHashZipmap:
            case Rdb.TypeHashZiplist:
            {
                var blob = r.ReadStringSpan();
                var items = (type == Rdb.TypeHashZiplist ? Ziplist.Decode(blob) : Zipmap.Decode(blob))
                    ?? throw Corrupt("Hash listpack integrity check failed.");
                return HashFromPairs(CollectionsMarshal.AsSpan(items), lim);
            }
            case Rdb.TypeStreamListpacks:
            case Rdb.TypeStreamListpacks2: return ReadStream(r, type == Rdb.TypeStreamListpacks2);
            case Rdb.TypeModule:
            case Rdb.TypeModule2:
            {
                ulong id = r.ReadLen();
                throw new RdbException($"The RDB file contains module data I can't load: no matching module '{ModuleName(id)}'");
            }
            default: throw new RdbException($"Unknown RDB encoding type {type}");
        }
    }

    static RdbException Corrupt(string what) => new(what);

    /// <summary>moduleTypeNameByID: the 9-character type name of a module id.</summary>
    public static string ModuleName(ulong id)
    {
        const string charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var name = new char[9];
        ulong v = id >> 10;
        for (int j = 8; j >= 0; j--)
        {
            name[j] = charset[(int)(v & 63)];
            v >>= 6;
        }
        return new string(name);
    }

    // ---- lists ----

    static ListValue ReadPlainList(RdbReader r, in LoadLimits lim)
    {
        int n = r.ReadCount();
        if (n == 0) throw new RdbEmptyKeyException();
        var l = new ListValue(lim.ListMaxListpackSize);
        for (int i = 0; i < n; i++) l.PushBack(r.ReadString());
        return l;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static ListValue ReadQuicklist(RdbReader r, bool v2, in LoadLimits lim)
    {
        int nodes = r.ReadCount();
        var l = new ListValue(lim.ListMaxListpackSize);
        for (int i = 0; i < nodes; i++)
        {
            int container = Rdb.QuicklistNodePacked;
            if (v2)
            {
                ulong c = r.ReadLen();
                if (c != Rdb.QuicklistNodePacked && c != Rdb.QuicklistNodePlain) throw Corrupt($"Quicklist integrity check failed.");
                container = (int)c;
            }
            if (container == Rdb.QuicklistNodePlain)
            {
                l.AppendNode(new List<byte[]> { r.ReadString() }, plain: true);
                continue;
            }
            var blob = r.ReadStringSpan();
            if (v2)
            {
                var sc = r.DecodeScratch;
                if (!DecodeListpackFlat(blob, sc.Flat, ref sc.Ends, out int n, out long lpBytes)) throw Corrupt("Listpack integrity check failed.");
                l.AppendPackedNode(sc.Flat.Span, sc.Ends.AsSpan(0, n), lpBytes);     // empty nodes are skipped
                continue;
            }
            var items = Ziplist.Decode(blob) ?? throw Corrupt("Ziplist integrity check failed.");
            if (items.Count == 0) continue;     // empty nodes are skipped
            l.AppendNode(items, plain: false);
        }
        if (l.Count == 0) throw new RdbEmptyKeyException();
        return l;
    }

    // ---- sets ----

    static SetValue ReadPlainSet(RdbReader r, in LoadLimits lim)
    {
        int n = r.ReadCount();
        if (n == 0) throw new RdbEmptyKeyException();
        var s = n > lim.SetMaxIntsetEntries ? SetValue.NewTable(n) : SetValue.NewIntset();
        for (int i = 0; i < n; i++)
        {
            var m = r.ReadString();
            if (!s.AddOwned(m, lim.SetMaxIntsetEntries)) throw Corrupt("Duplicate set members detected");
        }
        return s;
    }

    // ---- sorted sets ----

    static ZSetValue ReadPlainZSet(RdbReader r, bool binary, in LoadLimits lim)
    {
        int n = r.ReadCount();
        if (n == 0) throw new RdbEmptyKeyException();
        var members = new byte[n][];
        var scores = new double[n];
        var seen = new HashSet<byte[]>(ByteArrayComparer.Instance);
        long maxLen = 0;
        for (int i = 0; i < n; i++)
        {
            var m = r.ReadString();
            double sc = binary ? r.ReadBinaryDouble() : r.ReadStringDouble();
            if (double.IsNaN(sc)) throw Corrupt("Zset with NAN score detected");
            if (!seen.Add(m)) throw Corrupt("Duplicate zset fields detected");
            members[i] = m;
            scores[i] = sc;
            maxLen = Math.Max(maxLen, m.Length);
        }
        SortByScore(members, scores, n);
        bool listpack = n <= lim.ZsetMaxListpackEntries && maxLen <= lim.ZsetMaxListpackValue;
        return ZSetValue.FromSorted(members, scores, n, listpack);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SortByScore(byte[][] members, double[] scores, int n)
    {
        bool sorted = true;
        for (int i = 1; i < n && sorted; i++)
            if (ZSetValue.Compare(scores[i - 1], members[i - 1], scores[i], members[i]) >= 0) sorted = false;
        if (sorted) return;
        var idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        Array.Sort(idx, (a, b) => ZSetValue.Compare(scores[a], members[a], scores[b], members[b]));
        var m2 = new byte[n][];
        var s2 = new double[n];
        for (int i = 0; i < n; i++) { m2[i] = members[idx[i]]; s2[i] = scores[idx[i]]; }
        Array.Copy(m2, members, n);
        Array.Copy(s2, scores, n);
    }

    /// <summary>A listpack zset (member, score, ...) decoded straight into members and scores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static ZSetValue ReadZSetListpack(RdbReader r, in LoadLimits lim)
    {
        const string corrupt = "Zset listpack integrity check failed.";
        var sc = r.DecodeScratch;
        if (!Listpack.Reader.TryOpen(r.ReadStringSpan(), out var rd)) throw Corrupt(corrupt);
        Span<byte> num = stackalloc byte[24];
        int items = 0;
        bool badScore = false;
        while (rd.Next(out bool isInt, out long v, out var str))
        {
            int k = items >> 1;
            if ((items & 1) == 0)
            {
                if (k == sc.Items.Length) Array.Resize(ref sc.Items, k * 2);
                sc.Items[k] = Listpack.Reader.AsBytes(isInt, v, str, num).ToArray();
            }
            else
            {
                if (k == sc.Scores.Length) Array.Resize(ref sc.Scores, k * 2);
                double score = v;
                if (!isInt && !Numbers.TryParseDouble(str, out score)) badScore = true;
                sc.Scores[k] = score;
            }
            items++;
        }
        if (!rd.Finish()) throw Corrupt(corrupt);
        if (items == 0) throw new RdbEmptyKeyException();
        if (items % 2 != 0 || badScore) throw Corrupt(corrupt);
        int n = items / 2;
        CheckDistinct(sc.Items.AsSpan(0, n), 1, corrupt);
        // sorted in the scratch arrays; the value copies the first n of them
        SortByScore(sc.Items, sc.Scores, n);
        var z = ZSetValue.FromSorted(sc.Items, sc.Scores, n, n <= lim.ZsetMaxListpackEntries);
        sc.Items.AsSpan(0, n).Clear();
        return z;
    }

    static ZSetValue ZSetFromPairs(ReadOnlySpan<byte[]> items, in LoadLimits lim)
    {
        if (items.Length == 0) throw new RdbEmptyKeyException();
        if (items.Length % 2 != 0) throw Corrupt("Zset listpack integrity check failed.");
        int n = items.Length / 2;
        var members = new byte[n][];
        var scores = new double[n];
        CheckDistinct(items, 2, "Zset listpack integrity check failed.");
        for (int i = 0; i < n; i++)
        {
            members[i] = items[2 * i];
            if (!Numbers.TryParseDouble(items[2 * i + 1], out double sc) || double.IsNaN(sc)) throw Corrupt("Zset listpack integrity check failed.");
            scores[i] = sc;
        }
        SortByScore(members, scores, n);
        bool listpack = n <= lim.ZsetMaxListpackEntries;
        return ZSetValue.FromSorted(members, scores, n, listpack);
    }

    // ---- hashes ----

    static HashValue ReadPlainHash(RdbReader r, in LoadLimits lim)
    {
        int n = r.ReadCount();
        if (n == 0) throw new RdbEmptyKeyException();
        var items = new List<byte[]>(Math.Min(n, 1 << 16) * 2);
        long maxLen = 0;
        for (int i = 0; i < n; i++)
        {
            var f = r.ReadString();
            var v = r.ReadString();
            items.Add(f);
            items.Add(v);
            maxLen = Math.Max(maxLen, Math.Max(f.Length, v.Length));
        }
        CheckDistinct(CollectionsMarshal.AsSpan(items), 2, "Duplicate hash fields detected");
        return HashValue.FromPairs(items, n <= lim.HashMaxListpackEntries && maxLen <= lim.HashMaxListpackValue);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static HashValue HashFromPairs(ReadOnlySpan<byte[]> items, in LoadLimits lim)
    {
        if (items.Length == 0) throw new RdbEmptyKeyException();
        if (items.Length % 2 != 0) throw Corrupt("Hash listpack integrity check failed.");
        CheckDistinct(items, 2, "Hash listpack integrity check failed.");
        long maxLen = 0;
        foreach (var it in items) maxLen = Math.Max(maxLen, it.Length);
        int n = items.Length / 2;
        return HashValue.FromPairs(items, n <= lim.HashMaxListpackEntries && maxLen <= lim.HashMaxListpackValue);
    }

    /// <summary>Every stride-th item (fields, members) must be distinct.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void CheckDistinct(ReadOnlySpan<byte[]> items, int stride, string error)
    {
        int n = items.Length / stride;
        if (n <= 8)
        {
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                    if (items[i * stride].AsSpan().SequenceEqual(items[j * stride])) throw Corrupt(error);
            return;
        }
        var seen = new HashSet<byte[]>(n, ByteArrayComparer.Instance);
        for (int i = 0; i < n; i++)
            if (!seen.Add(items[i * stride])) throw Corrupt(error);
    }

    // ---- listpacks into reusable buffers ----

    /// <summary>Buffers the decoders reuse from one key to the next (see <see cref="RdbReader.DecodeScratch"/>).</summary>
    internal sealed class Scratch
    {
        public byte[][] Items = new byte[16][];
        public double[] Scores = new double[8];
        public int[] Ends = new int[16];
        public readonly ByteBuf Flat = new(256);
    }

    /// <summary>
    /// Listpack.Decode into items[0..count) (grown as needed; each element a new array, adopted by the value):
    /// false when the blob is not a valid listpack.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool DecodeListpack(ReadOnlySpan<byte> lp, ref byte[][] items, out int count)
    {
        count = 0;
        if (!Listpack.Reader.TryOpen(lp, out var r)) return false;
        Span<byte> num = stackalloc byte[24];
        while (r.Next(out bool isInt, out long v, out var s))
        {
            if (count == items.Length) Array.Resize(ref items, count * 2);
            items[count++] = Listpack.Reader.AsBytes(isInt, v, s, num).ToArray();
        }
        if (r.Finish()) return true;
        items.AsSpan(0, count).Clear();
        return false;
    }

    /// <summary>
    /// A listpack's elements one after another in <paramref name="flat"/>, element k ending at ends[k], and the
    /// size the listpack Cinnabar would build for them has (what <see cref="ListValue"/> counts per node).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool DecodeListpackFlat(ReadOnlySpan<byte> lp, ByteBuf flat, ref int[] ends, out int count, out long lpBytes)
    {
        count = 0;
        lpBytes = Listpack.HeaderSize + 1;
        flat.Clear();
        if (!Listpack.Reader.TryOpen(lp, out var r)) return false;
        Span<byte> num = stackalloc byte[24];
        while (r.Next(out bool isInt, out long v, out var s))
        {
            if (isInt)
            {
                int n = Numbers.Format(v, num);
                flat.Write(num[..n]);
                lpBytes += Listpack.IntEntrySize(v);
            }
            else
            {
                flat.Write(s);
                lpBytes += Listpack.EntrySize(s);
            }
            if (count == ends.Length) Array.Resize(ref ends, count * 2);
            ends[count++] = flat.Length;
        }
        return r.Finish();
    }

    // ---- streams ----

    static StreamValue ReadStream(RdbReader r, bool v2)
    {
        var s = new StreamValue();
        int nodes = r.ReadCount();
        StreamId lastEntry = StreamId.Zero;
        bool any = false;
        long live = 0;
        for (int k = 0; k < nodes; k++)
        {
            var key = r.ReadString();
            if (key.Length != 16) throw Corrupt("Stream node key entry is not the size of a stream ID");
            var master = new StreamId(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(key),
                System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(key.AsSpan(8)));
            var lp = r.ReadString();
            if (any && master <= lastEntry) throw Corrupt("Stream listpack integrity check failed.");
            var node = StreamNodeFromListpack(master, lp, ref lastEntry, ref any)
                ?? throw Corrupt("Stream listpack integrity check failed.");
            if (node.Total == 0) throw Corrupt("Empty listpack inside stream");
            live += node.Live;
            s.LoadNode(node);
        }
        s.Length = (long)r.ReadLen();
        s.LastId = new StreamId(r.ReadLen(), r.ReadLen());
        if (v2)
        {
            s.FirstId = new StreamId(r.ReadLen(), r.ReadLen());
            s.MaxDeletedId = new StreamId(r.ReadLen(), r.ReadLen());
            s.EntriesAdded = (long)r.ReadLen();
        }
        else
        {
            s.EntriesAdded = s.Length;
            s.RefreshFirstId();
        }
        if (s.Length != live) throw Corrupt("Stream length inconsistent with its entries");
        if (any && lastEntry > s.LastId) throw Corrupt("Stream last ID is smaller than one of its entries");
        if (!v2) s.RefreshFirstId();

        int groups = r.ReadCount();
        for (int g = 0; g < groups; g++)
        {
            var name = r.ReadString();
            var lastId = new StreamId(r.ReadLen(), r.ReadLen());
            long entriesRead = v2 ? (long)r.ReadLen() : s.EstimateDistanceFromFirstEverEntry(lastId);
            var cg = s.CreateGroup(name, lastId, entriesRead) ?? throw Corrupt("Duplicated consumer group name");
            int pel = r.ReadCount();
            for (int i = 0; i < pel; i++)
            {
                var id = r.ReadStreamId();
                var nack = new StreamNack(id) { DeliveryTime = r.ReadMillis(), DeliveryCount = (long)r.ReadLen() };
                if (cg.FindNack(id) != null) throw Corrupt("Duplicated global PEL entry loading stream consumer group");
                cg.AddNack(nack);
            }
            int consumers = r.ReadCount();
            for (int c = 0; c < consumers; c++)
            {
                var cname = r.ReadString();
                long seen = r.ReadMillis();
                var consumer = cg.CreateConsumer(cname, seen) ?? throw Corrupt("Duplicate stream consumer detected.");
                int cpel = r.ReadCount();
                for (int i = 0; i < cpel; i++)
                {
                    var id = r.ReadStreamId();
                    var nack = cg.FindNack(id) ?? throw Corrupt("Consumer entry not found in group global PEL");
                    if (nack.Consumer != null) throw Corrupt("Duplicated consumer PEL entry  loading a stream consumer group");
                    StreamGroup.Reassign(nack, consumer);
                }
            }
            foreach (var nack in cg.Pel)
                if (nack.Consumer == null) throw Corrupt("Stream CG PEL entry without consumer");
        }
        return s;
    }

    /// <summary>
    /// Turns one stream listpack into a node, validating it as streamValidateListpackIntegrity does (deep):
    /// the master entry, every entry's shape and element count, IDs ascending, the live and deleted counters.
    /// </summary>
    static StreamNode StreamNodeFromListpack(StreamId master, byte[] lp, ref StreamId lastEntry, ref bool any)
    {
        if (!Listpack.Reader.TryOpen(lp, out var r)) return null;
        var scratch = new byte[24];
        bool NextInt(ref Listpack.Reader rd, out long v)
        {
            v = 0;
            if (!rd.Next(out bool isInt, out long iv, out var str)) return false;
            if (isInt) { v = iv; return true; }
            return Numbers.TryParseInt64(str, out v);
        }
        bool NextBytes(ref Listpack.Reader rd, byte[] scr, out byte[] b)
        {
            b = null;
            if (!rd.Next(out bool isInt, out long iv, out var str)) return false;
            b = Listpack.Reader.AsBytes(isInt, iv, str, scr).ToArray();
            return true;
        }

        if (!NextInt(ref r, out long count) || !NextInt(ref r, out long deleted) || !NextInt(ref r, out long masterFields)) return null;
        if (count < 0 || deleted < 0 || masterFields < 0 || masterFields > lp.Length) return null;
        var fields = new byte[masterFields][];
        for (int i = 0; i < masterFields; i++)
            if (!NextBytes(ref r, scratch, out fields[i])) return null;
        if (!NextInt(ref r, out long zero) || zero != 0) return null;

        var node = new StreamNode
        {
            Master = master,
            MasterFields = fields,
            Offsets = new int[Math.Max(4, (int)Math.Min(count + deleted, 1 << 16))],
            Data = new byte[Math.Max(64, lp.Length)],
            LpBytes = lp.Length,
        };
        long masterCost = 24 + 8L * masterFields;
        foreach (var f in fields) masterCost += 24 + ((f.Length + 7) & ~7);
        node.MasterCost = masterCost;
        var data = new ByteBuf(Math.Max(64, lp.Length));
        int total = 0, liveCount = 0;
        var valueScratch = new byte[24];
        while (!r.AtEnd)
        {
            if (!NextInt(ref r, out long flags) || flags < 0 || flags > 3) return null;
            if (!NextInt(ref r, out long msDiff) || !NextInt(ref r, out long seqDiff)) return null;
            var id = new StreamId(unchecked(master.Ms + (ulong)msDiff), unchecked(master.Seq + (ulong)seqDiff));
            if (total == 0 ? id != master : id <= lastEntry) return null;
            bool same = (flags & StreamNode.FlagSameFields) != 0;
            long nf = masterFields;
            if (!same)
            {
                if (!NextInt(ref r, out nf) || nf < 0 || nf > lp.Length) return null;
            }
            if (total == node.Offsets.Length) Array.Resize(ref node.Offsets, node.Offsets.Length * 2);
            node.Offsets[total] = data.Length;
            data.WriteByte((byte)flags);
            WriteVarint(data, id.Ms - master.Ms);
            WriteVarint(data, id.Seq);
            if (!same) WriteVarint(data, (ulong)nf);
            for (long i = 0; i < nf; i++)
            {
                if (!same)
                {
                    if (!r.Next(out bool fi, out long fv, out var fs)) return null;
                    var fb = Listpack.Reader.AsBytes(fi, fv, fs, scratch);
                    WriteVarint(data, (ulong)fb.Length);
                    data.Write(fb);
                }
                if (!r.Next(out bool vi, out long vv, out var vs)) return null;
                var vb = Listpack.Reader.AsBytes(vi, vv, vs, valueScratch);
                WriteVarint(data, (ulong)vb.Length);
                data.Write(vb);
            }
            if (!NextInt(ref r, out long lpCount)) return null;
            if (lpCount != (same ? nf + 3 : 2 * nf + 4)) return null;
            total++;
            if ((flags & StreamNode.FlagDeleted) == 0) liveCount++;
            lastEntry = id;
            any = true;
        }
        if (!r.Finish() && !(r.AtEnd && r.HeaderCount == Listpack.NumElementsUnknown)) return null;
        if (!r.AtEnd) return null;
        if (liveCount != count || total - liveCount != deleted) return null;
        node.Data = data.Data;
        node.DataLen = data.Length;
        node.Total = total;
        node.Live = liveCount;
        node.ShrinkToFit();
        return node;
    }

    static void WriteVarint(ByteBuf o, ulong v)
    {
        while (v >= 0x80)
        {
            o.WriteByte((byte)(v | 0x80));
            v >>= 7;
        }
        o.WriteByte((byte)v);
    }
}

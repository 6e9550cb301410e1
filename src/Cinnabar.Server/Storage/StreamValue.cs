using System.Buffers.Text;
using System.Runtime.CompilerServices;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server.Storage;

/// <summary>
/// One node of a stream: a run of entries stored compactly in one byte buffer, as Redis keeps a listpack per
/// radix-tree node. The first entry's ID keys the node and its field names are the "master" fields: entries
/// with exactly those fields store only their values. Deleted entries stay as tombstones (flag bit) until the
/// whole node goes. <see cref="LpBytes"/> is the size Redis's listpack would have, so nodes split exactly
/// where Redis's do (stream-node-max-bytes / -entries) and approximate trimming removes the same entries.
/// </summary>
public sealed class StreamNode
{
    public const byte FlagDeleted = 1, FlagSameFields = 2;

    public StreamId Master;
    public byte[][] MasterFields;
    public int[] Offsets;       // where each entry starts in Data: flags, ID (ms delta, seq), fields
    public byte[] Data;
    public int DataLen;
    public int Total;           // entries stored, tombstones included
    public int Live;            // entries not deleted
    public long LpBytes;
    internal long MasterCost;

    public int Deleted => Total - Live;
    public long Cost => 96 + MasterCost + (long)Offsets.Length * 4 + Data.Length;
    public bool IsDeleted(int i) => (Data[Offsets[i]] & FlagDeleted) != 0;
    public StreamId LastStoredId => IdAt(Total - 1);

    /// <summary>The ID of entry i, stored as the millisecond delta from the master ID and the sequence.</summary>
    public StreamId IdAt(int i)
    {
        int pos = Offsets[i] + 1;
        ulong ms = StreamValue.ReadVarint64(Data, ref pos);
        ulong seq = StreamValue.ReadVarint64(Data, ref pos);
        return new StreamId(Master.Ms + ms, seq);
    }

    /// <summary>Index of the first entry with ID &gt;= id (tombstones included), or Total.</summary>
    public int LowerBound(StreamId id)
    {
        int lo = 0, hi = Total;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (IdAt(mid) < id) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    public StreamNode Clone()
    {
        var n = (StreamNode)MemberwiseClone();
        n.MasterFields = new byte[MasterFields.Length][];
        for (int i = 0; i < MasterFields.Length; i++) n.MasterFields[i] = MasterFields[i].ToArray();
        n.Offsets = Offsets.ToArray();
        n.Data = Data.ToArray();
        return n;
    }

    /// <summary>Gives back spare capacity once the node is closed (lpShrinkToFit).</summary>
    public void ShrinkToFit()
    {
        if (Offsets.Length != Total) Array.Resize(ref Offsets, Total);
        if (Data.Length != DataLen) Array.Resize(ref Data, DataLen);
    }
}

/// <summary>Reads one entry's field/value pairs out of a node's buffer.</summary>
public ref struct StreamEntryReader
{
    readonly StreamNode node;
    readonly ReadOnlySpan<byte> data;
    int pos, field;
    public readonly int FieldCount;
    readonly bool same;

    public StreamEntryReader(StreamNode n, int index)
    {
        node = n;
        data = n.Data;
        pos = n.Offsets[index];
        same = (data[pos] & StreamNode.FlagSameFields) != 0;
        pos++;
        StreamValue.ReadVarint64(data, ref pos);
        StreamValue.ReadVarint64(data, ref pos);
        FieldCount = same ? n.MasterFields.Length : (int)StreamValue.ReadVarint(data, ref pos);
        field = 0;
    }

    public bool Next(out ReadOnlySpan<byte> f, out ReadOnlySpan<byte> v)
    {
        if (field >= FieldCount) { f = v = default; return false; }
        if (same) f = node.MasterFields[field];
        else
        {
            int fl = (int)StreamValue.ReadVarint(data, ref pos);
            f = data.Slice(pos, fl);
            pos += fl;
        }
        int vl = (int)StreamValue.ReadVarint(data, ref pos);
        v = data.Slice(pos, vl);
        pos += vl;
        field++;
        return true;
    }
}

/// <summary>A stream value (t_stream.c): entries in ID order in a sequence of nodes, plus the consumer groups.</summary>
public sealed class StreamValue : IRedisObject
{
    StreamNode[] nodes = new StreamNode[2];
    int head, nodeCount;
    long nodesCost, groupsCost;
    long radixNodes = -1;     // cached rax node count; -1 once the set of nodes changes

    public long Length;
    public StreamId LastId, FirstId, MaxDeletedId;
    public long EntriesAdded;
    /// <summary>Consumer groups in name order (Redis keeps them in a radix tree); null until the first one.</summary>
    public List<StreamGroup> Groups;

    public ValueType Type => ValueType.Stream;
    public string EncodingName => "stream";
    public long Cost => 128 + nodesCost + groupsCost;
    public int NodeCount => nodeCount;
    public StreamNode NodeAt(int k) => nodes[head + k];

    internal void AccountGroups(long delta) => groupsCost += delta;

    // ---- listpack size model (listpack.c encodings) ----

    static int LpIntEncLen(long v) =>
        v >= 0 && v <= 127 ? 1 :
        v >= -4096 && v <= 4095 ? 2 :
        v >= -32768 && v <= 32767 ? 3 :
        v >= -8388608 && v <= 8388607 ? 4 :
        v >= int.MinValue && v <= int.MaxValue ? 5 : 9;

    static int BacklenSize(long l) => l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;

    /// <summary>Bytes an integer element takes in a listpack (encoding plus back-length).</summary>
    public static int LpInt(long v)
    {
        int e = LpIntEncLen(v);
        return e + 1;   // encodings of at most 9 bytes have a one-byte back-length
    }

    /// <summary>Bytes a string element takes: strings that read as int64 are stored as integers.</summary>
    public static long LpStr(ReadOnlySpan<byte> s)
    {
        if (s.Length <= 20 && Numbers.TryParseInt64(s, out long v)) return LpInt(v);
        long len = s.Length;
        long e = len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + len;
        return e + BacklenSize(e);
    }

    // ---- varints for the node buffers ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int WriteVarint(Span<byte> d, int pos, uint v)
    {
        while (v >= 0x80)
        {
            d[pos++] = (byte)(v | 0x80);
            v >>= 7;
        }
        d[pos++] = (byte)v;
        return pos;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReadVarint(ReadOnlySpan<byte> d, ref int pos)
    {
        uint v = d[pos++];
        if (v < 0x80) return v;
        v &= 0x7F;
        int shift = 7;
        while (true)
        {
            uint b = d[pos++];
            v |= (b & 0x7F) << shift;
            if (b < 0x80) return v;
            shift += 7;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int WriteVarint64(Span<byte> d, int pos, ulong v)
    {
        while (v >= 0x80)
        {
            d[pos++] = (byte)(v | 0x80);
            v >>= 7;
        }
        d[pos++] = (byte)v;
        return pos;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadVarint64(ReadOnlySpan<byte> d, ref int pos)
    {
        ulong v = d[pos++];
        if (v < 0x80) return v;
        v &= 0x7F;
        int shift = 7;
        while (true)
        {
            ulong b = d[pos++];
            v |= (b & 0x7F) << shift;
            if (b < 0x80) return v;
            shift += 7;
        }
    }

    static int Varint64Size(ulong v)
    {
        int n = 1;
        while (v >= 0x80) { v >>= 7; n++; }
        return n;
    }

    static int VarintSize(int v) => v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;

    // ---- appending ----

    /// <summary>
    /// streamAppendItem's storage half: appends the pairs in c's arguments [first, first + 2*pairs) under
    /// <paramref name="id"/> (already validated as greater than LastId), opening a new node when the tail node
    /// is full by Redis's rules.
    /// </summary>
    public void Append(StreamId id, Network.Client c, int first, int pairs, long nodeMaxBytes, long nodeMaxEntries)
    {
        long totelelen = 0;
        int fieldBytes = 0, valueBytes = 0;
        for (int i = 0; i < pairs; i++)
        {
            int fl = c.Arg(first + 2 * i).Length, vl = c.Arg(first + 2 * i + 1).Length;
            totelelen += fl + vl;
            fieldBytes += VarintSize(fl) + fl;
            valueBytes += VarintSize(vl) + vl;
        }

        StreamNode tail = nodeCount > 0 ? NodeAt(nodeCount - 1) : null;
        if (tail != null)
        {
            long maxBytes = nodeMaxBytes == 0 || nodeMaxBytes > MaxListpackSize ? MaxListpackSize : nodeMaxBytes;
            bool full = tail.LpBytes + totelelen >= maxBytes
                || (nodeMaxEntries != 0 && tail.Total >= nodeMaxEntries);
            if (full)
            {
                long before = tail.Cost;
                tail.ShrinkToFit();
                nodesCost += tail.Cost - before;
                tail = null;
            }
        }

        bool same;
        StreamNode n;
        long nodeBefore;
        if (tail == null)
        {
            n = new StreamNode
            {
                Master = id,
                MasterFields = new byte[pairs][],
                Offsets = new int[4],
                Data = new byte[valueBytes > 2048 ? valueBytes + 64 : Math.Max(64, (1 + valueBytes) * 4)],
            };
            long lp = 7 + LpInt(1) + LpInt(0) + LpInt(pairs) + LpInt(0);
            long masterCost = 24 + 8L * pairs;
            for (int i = 0; i < pairs; i++)
            {
                var f = c.Arg(first + 2 * i);
                n.MasterFields[i] = f.ToArray();
                lp += LpStr(f);
                masterCost += 24 + ((f.Length + 7) & ~7);
            }
            n.LpBytes = lp;
            n.MasterCost = masterCost;
            AddNode(n);
            nodeBefore = 0;
            same = true;
        }
        else
        {
            n = tail;
            nodeBefore = n.Cost;
            n.LpBytes += LpInt(n.Live + 1) - LpInt(n.Live);
            same = pairs == n.MasterFields.Length;
            for (int i = 0; same && i < pairs; i++)
                if (!c.Arg(first + 2 * i).SequenceEqual(n.MasterFields[i])) same = false;
        }

        // The entry as Redis lays it out: flags, ms-diff, seq-diff, [num-fields, fields], values, lp-count.
        long entryLp = LpInt(same ? StreamNode.FlagSameFields : 0)
            + LpInt(unchecked((long)(id.Ms - n.Master.Ms)))
            + LpInt(unchecked((long)(id.Seq - n.Master.Seq)));
        long lpCount = pairs + 3;
        if (!same)
        {
            entryLp += LpInt(pairs);
            lpCount += pairs + 1;
        }

        if (n.Total == n.Offsets.Length) Array.Resize(ref n.Offsets, n.Offsets.Length * 2);
        int payload = 1 + Varint64Size(id.Ms - n.Master.Ms) + Varint64Size(id.Seq) + valueBytes + (same ? 0 : VarintSize(pairs) + fieldBytes);
        if (n.DataLen + payload > n.Data.Length)
        {
            long cap = Math.Max((long)n.Data.Length * 2, (long)n.DataLen + payload);
            Array.Resize(ref n.Data, (int)Math.Min(cap, Array.MaxLength));
        }

        var d = n.Data.AsSpan();
        int pos = n.DataLen;
        n.Offsets[n.Total] = pos;
        d[pos++] = same ? StreamNode.FlagSameFields : (byte)0;
        pos = WriteVarint64(d, pos, id.Ms - n.Master.Ms);
        pos = WriteVarint64(d, pos, id.Seq);
        if (!same) pos = WriteVarint(d, pos, (uint)pairs);
        for (int i = 0; i < pairs; i++)
        {
            if (!same)
            {
                var f = c.Arg(first + 2 * i);
                pos = WriteVarint(d, pos, (uint)f.Length);
                f.CopyTo(d[pos..]);
                pos += f.Length;
                entryLp += LpStr(f);
            }
            var v = c.Arg(first + 2 * i + 1);
            pos = WriteVarint(d, pos, (uint)v.Length);
            v.CopyTo(d[pos..]);
            pos += v.Length;
            entryLp += LpStr(v);
        }
        entryLp += LpInt(lpCount);
        n.DataLen = pos;
        n.Total++;
        n.Live++;
        n.LpBytes += entryLp;
        nodesCost += n.Cost - nodeBefore;

        Length++;
        EntriesAdded++;
        LastId = id;
        if (Length == 1) FirstId = id;
    }

    public const long MaxListpackSize = 1L << 30;

    /// <summary>Adds a node as loaded from an RDB file or a DUMP payload (after the last one).</summary>
    internal void LoadNode(StreamNode n) => AddNode(n);

    void AddNode(StreamNode n)
    {
        if (head + nodeCount == nodes.Length)
        {
            if (head > 0 && head >= nodes.Length / 2)
            {
                Array.Copy(nodes, head, nodes, 0, nodeCount);
                Array.Clear(nodes, nodeCount, head);
                head = 0;
            }
            else Array.Resize(ref nodes, nodes.Length * 2);
        }
        nodes[head + nodeCount++] = n;
        nodesCost += n.Cost;
        radixNodes = -1;
    }

    void RemoveNode(int k)
    {
        nodesCost -= NodeAt(k).Cost;
        radixNodes = -1;
        if (k == 0)
        {
            nodes[head] = null;
            head++;
        }
        else
        {
            Array.Copy(nodes, head + k + 1, nodes, head + k, nodeCount - k - 1);
            nodes[head + nodeCount - 1] = null;
        }
        nodeCount--;
        if (nodeCount == 0) head = 0;
    }

    /// <summary>The last node whose key (master ID) is &lt;= id, or -1.</summary>
    public int FindNode(StreamId id)
    {
        int lo = 0, hi = nodeCount - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (NodeAt(mid).Master <= id) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found;
    }

    /// <summary>Locates a live entry by ID.</summary>
    public bool TryFind(StreamId id, out StreamNode node, out int index)
    {
        node = null;
        index = -1;
        int k = FindNode(id);
        if (k < 0) return false;
        var n = NodeAt(k);
        int i = n.LowerBound(id);
        if (i >= n.Total || n.IdAt(i) != id || n.IsDeleted(i)) return false;
        node = n;
        index = i;
        return true;
    }

    public bool Exists(StreamId id) => TryFind(id, out _, out _);

    // ---- deleting ----

    /// <summary>streamDeleteItem: tombstones one entry; a node left with no live entry is dropped.</summary>
    public bool Delete(StreamId id)
    {
        int k = FindNode(id);
        if (k < 0) return false;
        var n = NodeAt(k);
        int i = n.LowerBound(id);
        if (i >= n.Total || n.IdAt(i) != id || n.IsDeleted(i)) return false;
        if (n.Live == 1) RemoveNode(k);
        else MarkDeleted(n, i, 1);
        Length--;
        return true;
    }

    static void MarkDeleted(StreamNode n, int i, int count)
    {
        // Flags keep their one-byte encoding; the master entry's live/deleted counters are re-encoded.
        if (i >= 0) n.Data[n.Offsets[i]] |= StreamNode.FlagDeleted;
        int live = n.Live, deleted = n.Deleted;
        n.LpBytes += LpInt(live - count) - LpInt(live) + LpInt(deleted + count) - LpInt(deleted);
        n.Live -= count;
    }

    public enum TrimStrategy { None, MaxLen, MinId }

    /// <summary>streamTrim: whole nodes first; with approx stop at the first node that cannot go whole.</summary>
    public long Trim(TrimStrategy strategy, long maxLen, StreamId minId, bool approx, long limit)
    {
        if (strategy == TrimStrategy.None) return 0;
        long deleted = 0;
        while (nodeCount > 0)
        {
            if (strategy == TrimStrategy.MaxLen && Length <= maxLen) break;
            var n = NodeAt(0);
            long entries = n.Live;
            if (limit != 0 && deleted + entries > limit) break;
            bool removeNode = strategy == TrimStrategy.MaxLen
                ? Length - entries >= maxLen
                : n.LastStoredId < minId;
            if (removeNode)
            {
                RemoveNode(0);
                Length -= entries;
                deleted += entries;
                continue;
            }
            if (approx) break;

            int fromNode = 0;
            for (int i = 0; i < n.Total; i++)
            {
                bool stop = strategy == TrimStrategy.MaxLen ? Length <= maxLen : n.IdAt(i) >= minId;
                if (stop) break;
                if (!n.IsDeleted(i))
                {
                    n.Data[n.Offsets[i]] |= StreamNode.FlagDeleted;
                    fromNode++;
                    Length--;
                }
            }
            if (fromNode > 0) MarkDeleted(n, -1, fromNode);
            deleted += fromNode;
            break;
        }
        FirstId = Length == 0 ? StreamId.Zero : FirstLiveId();
        return deleted;
    }

    StreamId FirstLiveId()
    {
        for (int k = 0; k < nodeCount; k++)
        {
            var n = NodeAt(k);
            if (n.Live == 0) continue;
            for (int i = 0; i < n.Total; i++)
                if (!n.IsDeleted(i)) return n.IdAt(i);
        }
        return StreamId.Zero;
    }

    /// <summary>streamGetEdgeID(first=1): the first live entry's ID, for after an XDEL of the first entry.</summary>
    public void RefreshFirstId() => FirstId = Length == 0 ? StreamId.Zero : FirstLiveId();

    /// <summary>streamLastValidID: the last live entry's ID (0-0 when empty).</summary>
    public StreamId LastValidId()
    {
        for (int k = nodeCount - 1; k >= 0; k--)
        {
            var n = NodeAt(k);
            if (n.Live == 0) continue;
            for (int i = n.Total - 1; i >= 0; i--)
                if (!n.IsDeleted(i)) return n.IdAt(i);
        }
        return StreamId.Zero;
    }

    // ---- iterating ----

    /// <summary>An iterator over live entries in [start, end], forward or backward (streamIterator).</summary>
    public struct Iterator
    {
        readonly StreamValue s;
        readonly StreamId start, end;
        readonly bool rev;
        int node, idx;

        public Iterator(StreamValue s, StreamId start, StreamId end, bool rev)
        {
            this.s = s;
            this.start = start;
            this.end = end;
            this.rev = rev;
            if (!rev)
            {
                node = Math.Max(0, s.FindNode(start));
                idx = node < s.nodeCount ? s.NodeAt(node).LowerBound(start) : 0;
            }
            else
            {
                node = s.FindNode(end);
                if (node >= 0)
                {
                    var n = s.NodeAt(node);
                    idx = n.LowerBound(end);
                    if (idx < n.Total && n.IdAt(idx) == end) idx++;
                    idx--;
                }
            }
        }

        public bool Next(out StreamNode n, out int i)
        {
            if (!rev)
            {
                while (node < s.nodeCount)
                {
                    var nd = s.NodeAt(node);
                    if (idx >= nd.Total) { node++; idx = 0; continue; }
                    int j = idx++;
                    if (nd.IdAt(j) > end) { node = s.nodeCount; break; }
                    if (nd.IsDeleted(j)) continue;
                    n = nd;
                    i = j;
                    return true;
                }
            }
            else
            {
                while (node >= 0)
                {
                    var nd = s.NodeAt(node);
                    if (idx < 0)
                    {
                        node--;
                        if (node >= 0) idx = s.NodeAt(node).Total - 1;
                        continue;
                    }
                    int j = idx--;
                    if (nd.IdAt(j) < start) { node = -1; break; }
                    if (nd.IsDeleted(j)) continue;
                    n = nd;
                    i = j;
                    return true;
                }
            }
            n = null;
            i = -1;
            return false;
        }
    }

    public Iterator Range(StreamId start, StreamId end, bool rev = false) => new(this, start, end, rev);

    /// <summary>Writes one entry as [id, [field, value, ...]].</summary>
    public static void WriteEntry(ReplyWriter r, StreamNode n, int i)
    {
        r.ArrayHeader(2);
        WriteId(r, n.IdAt(i));
        var reader = new StreamEntryReader(n, i);
        r.ArrayHeader(reader.FieldCount * 2);
        while (reader.Next(out var f, out var v))
        {
            r.Bulk(f);
            r.Bulk(v);
        }
    }

    public static void WriteId(ReplyWriter r, StreamId id)
    {
        Span<byte> tmp = stackalloc byte[48];
        r.Bulk(tmp[..id.Format(tmp)]);
    }

    // ---- XINFO figures ----

    /// <summary>raxSize: how many nodes (listpacks) the stream has.</summary>
    public long RadixTreeKeys => nodeCount;

    /// <summary>
    /// rax->numnodes for the node keys: the radix tree Redis builds over the 128-bit big-endian master IDs has
    /// a node for the root, for each compressed run, each branching point and each leaf.
    /// </summary>
    public long RadixTreeNodes()
    {
        if (radixNodes >= 0) return radixNodes;
        if (nodeCount == 0) return radixNodes = 1;
        var keys = new StreamId[nodeCount];
        for (int k = 0; k < nodeCount; k++) keys[k] = NodeAt(k).Master;
        return radixNodes = RaxNodes(keys, 0, keys.Length, 0);
    }

    static long RaxNodes(StreamId[] keys, int lo, int hi, int depth)
    {
        if (hi - lo == 1) return depth == 16 ? 1 : 2;
        int common = depth;
        while (common < 16 && keys[lo].KeyByte(common) == keys[hi - 1].KeyByte(common)) common++;
        long total = (common > depth ? 1 : 0) + 1;
        int i = lo;
        while (i < hi)
        {
            byte b = keys[i].KeyByte(common);
            int j = i + 1;
            while (j < hi && keys[j].KeyByte(common) == b) j++;
            total += RaxNodes(keys, i, j, common + 1);
            i = j;
        }
        return total;
    }

    // ---- consumer groups ----

    public static int CompareNames(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    public StreamGroup FindGroup(ReadOnlySpan<byte> name)
    {
        if (Groups == null) return null;
        int i = GroupIndex(name);
        return i >= 0 ? Groups[i] : null;
    }

    int GroupIndex(ReadOnlySpan<byte> name)
    {
        int lo = 0, hi = Groups.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int cmp = CompareNames(Groups[mid].Name, name);
            if (cmp == 0) return mid;
            if (cmp < 0) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    /// <summary>streamCreateCG: null when a group of that name exists.</summary>
    public StreamGroup CreateGroup(ReadOnlySpan<byte> name, StreamId lastId, long entriesRead)
    {
        Groups ??= new List<StreamGroup>();
        int i = GroupIndex(name);
        if (i >= 0) return null;
        var g = new StreamGroup(this, name.ToArray(), lastId, entriesRead);
        Groups.Insert(~i, g);
        return g;
    }

    public bool DestroyGroup(ReadOnlySpan<byte> name)
    {
        if (Groups == null) return false;
        int i = GroupIndex(name);
        if (i < 0) return false;
        Groups[i].Release();
        Groups.RemoveAt(i);
        return true;
    }

    /// <summary>streamRangeHasTombstones: whether a deleted entry may lie in [start, end].</summary>
    public bool RangeHasTombstones(StreamId start, StreamId end)
    {
        if (Length == 0 || MaxDeletedId.IsZero) return false;
        if (FirstId > MaxDeletedId) return false;
        return start <= MaxDeletedId && MaxDeletedId <= end;
    }

    public const long InvalidEntriesRead = -1;

    /// <summary>streamEstimateDistanceFromFirstEverEntry (Redis 7.0): the logical read counter of an ID, or -1.</summary>
    public long EstimateDistanceFromFirstEverEntry(StreamId id)
    {
        if (EntriesAdded == 0) return 0;
        if (Length == 0 && id <= LastId) return EntriesAdded;
        int cmpLast = id.CompareTo(LastId);
        if (cmpLast == 0) return EntriesAdded;
        if (cmpLast > 0) return InvalidEntriesRead;
        int cmpIdFirst = id.CompareTo(FirstId);
        if (MaxDeletedId.IsZero || MaxDeletedId < FirstId)
        {
            if (cmpIdFirst < 0) return EntriesAdded - Length;
            if (cmpIdFirst == 0) return EntriesAdded - Length + 1;
        }
        return InvalidEntriesRead;
    }

    /// <summary>streamReplyWithCGLag's figure: the group's lag, or null (false) when it cannot be known.</summary>
    public bool TryGroupLag(StreamGroup g, out long lag)
    {
        lag = 0;
        if (EntriesAdded == 0) return true;
        if (g.EntriesRead != InvalidEntriesRead && !RangeHasTombstones(g.LastId, StreamId.Max))
        {
            lag = EntriesAdded - g.EntriesRead;
            return true;
        }
        long read = EstimateDistanceFromFirstEverEntry(g.LastId);
        if (read == InvalidEntriesRead) return false;
        lag = EntriesAdded - read;
        return true;
    }

    // ---- IRedisObject ----

    public IRedisObject Clone()
    {
        var copy = new StreamValue
        {
            nodes = new StreamNode[Math.Max(2, nodeCount)],
            nodeCount = nodeCount,
            nodesCost = nodesCost,
            Length = Length,
            LastId = LastId,
            FirstId = FirstId,
            MaxDeletedId = MaxDeletedId,
            EntriesAdded = EntriesAdded,
        };
        for (int k = 0; k < nodeCount; k++) copy.nodes[k] = NodeAt(k).Clone();
        if (Groups != null)
        {
            copy.Groups = new List<StreamGroup>(Groups.Count);
            foreach (var g in Groups) copy.Groups.Add(g.CloneInto(copy));
        }
        return copy;
    }

    public void Digest(byte[] digest)
    {
        Span<byte> idText = stackalloc byte[48];
        var it = Range(StreamId.Zero, StreamId.Max);
        while (it.Next(out var n, out int i))
        {
            var id = n.IdAt(i);
            Utf8Formatter.TryFormat(id.Ms, idText, out int a);
            idText[a] = (byte)'.';
            Utf8Formatter.TryFormat(id.Seq, idText[(a + 1)..], out int b);
            Storage.Digest.Mix(digest, idText[..(a + 1 + b)]);
            var reader = new StreamEntryReader(n, i);
            while (reader.Next(out var f, out var v))
            {
                Storage.Digest.Mix(digest, f);
                Storage.Digest.Mix(digest, v);
            }
        }
    }
}

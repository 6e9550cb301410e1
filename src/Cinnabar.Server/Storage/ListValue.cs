using System.Numerics;
using System.Runtime.CompilerServices;

namespace Cinnabar.Server.Storage;

/// <summary>
/// A list value: a deque of chunks, each chunk a packed byte buffer of consecutive elements with an array of
/// boundaries. The chunks are exactly Redis 7.0's quicklist nodes: which node an element joins, when a node
/// is split or merged (LINSERT), and when one goes (pops, LTRIM, LREM) follow quicklist.c's rules for
/// list-max-listpack-size (the fill), measured on the size each node's listpack would have. So DUMP, the
/// RDB writer and DEBUG LISTPACK see Redis's node boundaries, while pushing or popping at either end stays
/// O(1) amortised and allocates nothing per element. Redis 7.0 reports every list as "quicklist".
/// </summary>
public sealed class ListValue : IRedisObject
{
    /// <summary>quicklist's SIZE_SAFETY_LIMIT: no multi-element node grows past it under a count fill.</summary>
    public const int SizeSafetyLimit = 8192;
    /// <summary>SIZE_ESTIMATE_OVERHEAD: the per-entry overhead _quicklistNodeAllowInsert assumes.</summary>
    const int SizeEstimateOverhead = 8;
    /// <summary>packed_threshold: elements this large get a PLAIN node of their own.</summary>
    public const long PackedThreshold = 1L << 30;
    static readonly int[] OptimizationLevel = { 4096, 8192, 16384, 32768, 65536 };
    const int EmptyListpack = 7;    // header (6) and terminator (1)
    const int ChunkOverhead = 96;       // the chunk object and the two array headers
    const int BaseCost = 64;

    /// <summary>
    /// Elements First..First+Count-1 of the chunk live in Buf[Off[OLo+k] .. Off[OLo+k+1]); free space may be on
    /// either side of the used region (of both arrays) so that pushes at either end of the list are cheap.
    /// <see cref="LpBytes"/> is the size of the node's listpack in Redis (quicklistNode.sz).
    /// </summary>
    public sealed class Chunk
    {
        public byte[] Buf;
        public int[] Off;
        public int OLo, OHi;
        public long LpBytes = EmptyListpack;
        public bool Plain;              // a PLAIN node: one element of at least PackedThreshold bytes
        public int Count => OHi - OLo;
        public int Lo => Off[OLo];
        public int Hi => Off[OHi];
        public int Used => Off[OHi] - Off[OLo];
        public long Cost => ChunkOverhead + Buf.Length + 4L * Off.Length;

        public Chunk(int bufLen, int offLen)
        {
            Buf = new byte[bufLen];
            Off = new int[offLen];
        }

        public ReadOnlySpan<byte> Entry(int k)
        {
            int s = Off[OLo + k];
            return new ReadOnlySpan<byte>(Buf, s, Off[OLo + k + 1] - s);
        }
    }

    Chunk[] ring = new Chunk[2];
    int head, nchunks;
    long count;
    long cost = BaseCost + 2 * 8;
    int fill = -2;

    public ListValue() { }

    /// <summary>A list with the given list-max-listpack-size (clamped as quicklistSetFill does).</summary>
    public ListValue(long fill) => Fill = fill;

    public long Fill
    {
        get => fill;
        set => fill = (int)Math.Clamp(value, -5, (1 << 15) - 1);
    }

    public ValueType Type => ValueType.List;
    public string EncodingName => "quicklist";
    public long Cost => cost;
    public long Count => count;
    public int ChunkCount => nchunks;

    public Chunk ChunkAt(int i) => ring[(head + i) & (ring.Length - 1)];

    /// <summary>Bytes an element adds to a listpack (lpAppend's encoding and back-length).</summary>
    public static int EntrySize(ReadOnlySpan<byte> value) => Persistence.Listpack.EntrySize(value);

    // ---- quicklist's node rules ----

    static bool SizeMeetsOptimization(long sz, int fill)
    {
        if (fill >= 0) return false;
        int offset = -fill - 1;
        return offset < OptimizationLevel.Length && sz <= OptimizationLevel[offset];
    }

    /// <summary>_quicklistNodeAllowInsert: may an element of <paramref name="len"/> bytes join this node?</summary>
    bool AllowInsert(Chunk ch, long len)
    {
        if (ch == null || ch.Plain || len >= PackedThreshold) return false;
        long newSz = ch.LpBytes + len + SizeEstimateOverhead;
        if (SizeMeetsOptimization(newSz, fill)) return true;
        if (newSz > SizeSafetyLimit) return false;
        return ch.Count < fill;
    }

    /// <summary>_quicklistNodeAllowMerge.</summary>
    bool AllowMerge(Chunk a, Chunk b)
    {
        if (a == null || b == null || a.Plain || b.Plain) return false;
        long mergeSz = (uint)(a.LpBytes + b.LpBytes - 11);
        if (SizeMeetsOptimization(mergeSz, fill)) return true;
        if (mergeSz > SizeSafetyLimit) return false;
        return a.Count + b.Count <= fill;
    }

    // ---- chunk ring ----

    void GrowRing()
    {
        var bigger = new Chunk[ring.Length * 2];
        for (int i = 0; i < nchunks; i++) bigger[i] = ChunkAt(i);
        cost += 8L * ring.Length;
        ring = bigger;
        head = 0;
    }

    void AddChunkBack(Chunk ch)
    {
        if (nchunks == ring.Length) GrowRing();
        ring[(head + nchunks) & (ring.Length - 1)] = ch;
        nchunks++;
        cost += ch.Cost;
    }

    void AddChunkFront(Chunk ch)
    {
        if (nchunks == ring.Length) GrowRing();
        head = (head - 1) & (ring.Length - 1);
        ring[head] = ch;
        nchunks++;
        cost += ch.Cost;
    }

    /// <summary>Removes chunk i (any position) from the ring.</summary>
    void RemoveChunk(int i)
    {
        int mask = ring.Length - 1;
        cost -= ring[(head + i) & mask].Cost;
        if (i < nchunks / 2)
        {
            for (int j = i; j > 0; j--) ring[(head + j) & mask] = ring[(head + j - 1) & mask];
            ring[head] = null;
            head = (head + 1) & mask;
        }
        else
        {
            for (int j = i; j < nchunks - 1; j++) ring[(head + j) & mask] = ring[(head + j + 1) & mask];
            ring[(head + nchunks - 1) & mask] = null;
        }
        nchunks--;
    }

    static int Pow2AtLeast(int n, int min) => n <= min ? min : (int)Math.Min(BitOperations.RoundUpToPowerOf2((uint)n), (uint)Array.MaxLength);

    /// <summary>A new chunk for a push at one end, with the free space on the side pushes will come from.</summary>
    Chunk NewEndChunk(int len, bool front)
    {
        int bufLen, offLen;
        if (len >= 4096) { bufLen = len; offLen = 4; }
        else if (nchunks == 0) { bufLen = Pow2AtLeast(len, 16); offLen = 4; }
        else { bufLen = Math.Max(1024, Pow2AtLeast(len, 1024)); offLen = 128; }
        var ch = new Chunk(bufLen, offLen);
        int lo, olo;
        if (nchunks == 0 && len < 4096) { lo = (bufLen - len) / 2; olo = (offLen - 2) / 2; }
        else if (front) { lo = bufLen - len; olo = offLen - 2; }
        else { lo = 0; olo = 0; }
        // an empty chunk positioned so the caller's write lands at lo
        if (front) { ch.OLo = ch.OHi = olo + 1; ch.Off[olo + 1] = lo + len; }
        else { ch.OLo = ch.OHi = olo; ch.Off[olo] = lo; }
        ch.Plain = len >= PackedThreshold;
        return ch;
    }

    /// <summary>
    /// Makes room for one element of <paramref name="len"/> bytes at one end of chunk <paramref name="ch"/>, by
    /// re-centering or growing it (doubling). The node rules decided the element belongs here; this is storage only.
    /// </summary>
    void MakeRoom(Chunk ch, bool front, int len, bool single)
    {
        int lo = ch.Lo, hi = ch.Hi;
        bool bytesOk = front ? lo >= len : ch.Buf.Length - hi >= len;
        bool slotOk = front ? ch.OLo > 0 : ch.OHi + 1 < ch.Off.Length;
        if (bytesOk && slotOk) return;
        int used = hi - lo, n = ch.Count;
        long needBytes = (long)used + len, needSlots = n + 2;
        long bufLen = ch.Buf.Length, offLen = ch.Off.Length;
        // Keep at least an eighth free after the move so that re-layouts stay amortised O(1).
        if (needBytes > bufLen - bufLen / 8) bufLen = Math.Max(bufLen * 2, needBytes + needBytes / 4);
        if (needSlots > offLen - offLen / 8) offLen = Math.Max(offLen * 2, needSlots + needSlots / 4);
        bufLen = Math.Min(bufLen, Array.MaxLength);
        offLen = Math.Min(offLen, Array.MaxLength);
        int freeBytes = (int)(bufLen - needBytes), freeSlots = (int)(offLen - needSlots);
        int newLo, newOLo;
        if (single)
        {
            // centre, but give the pushing side what it needs plus half of the rest
            newLo = front ? len + freeBytes / 2 : freeBytes - freeBytes / 2;
            newOLo = front ? 1 + freeSlots / 2 : freeSlots - freeSlots / 2;
        }
        else if (front) { newLo = (int)bufLen - used; newOLo = (int)offLen - 1 - n; }
        else { newLo = 0; newOLo = 0; }
        Relayout(ch, (int)bufLen, (int)offLen, newLo, newOLo);
    }

    void Relayout(Chunk ch, int bufLen, int offLen, int newLo, int newOLo)
    {
        int lo = ch.Lo, used = ch.Used, n = ch.Count;
        byte[] buf = bufLen == ch.Buf.Length ? ch.Buf : new byte[bufLen];
        int[] off = offLen == ch.Off.Length ? ch.Off : new int[offLen];
        Buffer.BlockCopy(ch.Buf, lo, buf, newLo, used);
        Array.Copy(ch.Off, ch.OLo, off, newOLo, n + 1);
        int delta = newLo - lo;
        if (delta != 0)
            for (int k = newOLo; k <= newOLo + n; k++) off[k] += delta;
        cost += (bufLen - ch.Buf.Length) + 4L * (offLen - ch.Off.Length);
        ch.Buf = buf;
        ch.Off = off;
        ch.OLo = newOLo;
        ch.OHi = newOLo + n;
    }

    // ---- ends ----

    /// <summary>quicklistPushTail.</summary>
    public void PushBack(ReadOnlySpan<byte> value)
    {
        int len = value.Length;
        Chunk t = nchunks > 0 ? ChunkAt(nchunks - 1) : null;
        if (AllowInsert(t, len)) MakeRoom(t, false, len, nchunks == 1);
        else
        {
            t = NewEndChunk(len, false);
            AddChunkBack(t);
        }
        int hi = t.Hi;
        value.CopyTo(t.Buf.AsSpan(hi));
        t.Off[++t.OHi] = hi + len;
        t.LpBytes += t.Plain ? len - EmptyListpack : EntrySize(value);
        count++;
    }

    /// <summary>quicklistPushHead.</summary>
    public void PushFront(ReadOnlySpan<byte> value)
    {
        int len = value.Length;
        Chunk h = nchunks > 0 ? ChunkAt(0) : null;
        if (AllowInsert(h, len)) MakeRoom(h, true, len, nchunks == 1);
        else
        {
            h = NewEndChunk(len, true);
            AddChunkFront(h);
        }
        int lo = h.Lo - len;
        value.CopyTo(h.Buf.AsSpan(lo));
        h.Off[--h.OLo] = lo;
        h.LpBytes += h.Plain ? len - EmptyListpack : EntrySize(value);
        count++;
    }

    /// <summary>The first element; valid until the list is next modified (the bytes stay alive while referenced).</summary>
    public ReadOnlySpan<byte> Front => ChunkAt(0).Entry(0);
    public ReadOnlySpan<byte> Back { get { var t = ChunkAt(nchunks - 1); return t.Entry(t.Count - 1); } }

    public void RemoveFront()
    {
        var h = ChunkAt(0);
        if (h.Count == 1) { count--; RemoveChunk(0); return; }
        h.LpBytes -= EntrySize(h.Entry(0));
        h.OLo++;
        count--;
    }

    public void RemoveBack()
    {
        var t = ChunkAt(nchunks - 1);
        if (t.Count == 1) { count--; RemoveChunk(nchunks - 1); return; }
        t.LpBytes -= EntrySize(t.Entry(t.Count - 1));
        t.OHi--;
        count--;
    }

    /// <summary>quicklistDelRange from the head: whole nodes go, the last one is trimmed.</summary>
    public void RemoveFront(long n)
    {
        while (n > 0 && nchunks > 0)
        {
            var h = ChunkAt(0);
            if (h.Count <= n) { n -= h.Count; count -= h.Count; RemoveChunk(0); continue; }
            for (int k = 0; k < n; k++) h.LpBytes -= EntrySize(h.Entry(k));
            h.OLo += (int)n;
            count -= n;
            n = 0;
        }
    }

    public void RemoveBack(long n)
    {
        while (n > 0 && nchunks > 0)
        {
            var t = ChunkAt(nchunks - 1);
            if (t.Count <= n) { n -= t.Count; count -= t.Count; RemoveChunk(nchunks - 1); continue; }
            for (int k = t.Count - (int)n; k < t.Count; k++) t.LpBytes -= EntrySize(t.Entry(k));
            t.OHi -= (int)n;
            count -= n;
            n = 0;
        }
    }

    // ---- positions ----

    /// <summary>Finds the chunk and the entry within it of element <paramref name="index"/> (0 &lt;= index &lt; Count).</summary>
    public void Locate(long index, out int chunk, out int entry)
    {
        if (index < count / 2)
        {
            int i = 0;
            while (true)
            {
                int n = ChunkAt(i).Count;
                if (index < n) { chunk = i; entry = (int)index; return; }
                index -= n;
                i++;
            }
        }
        long fromEnd = count - 1 - index;
        for (int i = nchunks - 1; ; i--)
        {
            int n = ChunkAt(i).Count;
            if (fromEnd < n) { chunk = i; entry = n - 1 - (int)fromEnd; return; }
            fromEnd -= n;
        }
    }

    public ReadOnlySpan<byte> Get(long index)
    {
        Locate(index, out int ci, out int e);
        return ChunkAt(ci).Entry(e);
    }

    /// <summary>
    /// Replaces element <paramref name="index"/> (0 &lt;= index &lt; Count): quicklistReplaceEntry, which rewrites
    /// the element inside its node whatever the node's size becomes (only PLAIN elements move).
    /// </summary>
    public void Set(long index, ReadOnlySpan<byte> value)
    {
        Locate(index, out int ci, out int e);
        var ch = ChunkAt(ci);
        if (ch.Plain || value.Length >= PackedThreshold)
        {
            // A PLAIN node swaps for a packed element (or the reverse): insert after, then drop the old one.
            var copy = value.ToArray();
            Insert(ci, e, true, copy);
            Locate(index, out ci, out e);
            RemoveAt(ci, e);
            return;
        }
        int s = ch.Off[ch.OLo + e], len = ch.Off[ch.OLo + e + 1] - s;
        ch.LpBytes += EntrySize(value) - EntrySize(ch.Entry(e));
        if (len == value.Length)
        {
            value.CopyTo(ch.Buf.AsSpan(s));
            return;
        }
        var items = ChunkItems(ch);
        items[e] = value.ToArray();
        Refill(ch, items);
    }

    /// <summary>Deletes one element (quicklistDelIndex): its node goes when it was the node's last element.</summary>
    void RemoveAt(int ci, int e)
    {
        var ch = ChunkAt(ci);
        count--;
        if (ch.Count == 1) { RemoveChunk(ci); return; }
        ch.LpBytes -= EntrySize(ch.Entry(e));
        var items = ChunkItems(ch);
        items.RemoveAt(e);
        Refill(ch, items);
    }

    static List<byte[]> ChunkItems(Chunk ch)
    {
        var items = new List<byte[]>(ch.Count + 1);
        for (int k = 0; k < ch.Count; k++) items.Add(ch.Entry(k).ToArray());
        return items;
    }

    /// <summary>Rewrites a chunk's storage to hold exactly <paramref name="items"/> (LpBytes is the caller's).</summary>
    void Refill(Chunk ch, List<byte[]> items)
    {
        long bytes = 0;
        foreach (var it in items) bytes += it.Length;
        int bufLen = (int)Math.Min(Array.MaxLength, Math.Max(16, bytes + bytes / 4));
        int offLen = Math.Max(4, items.Count + 1 + items.Count / 4 + 1);
        cost += (bufLen - ch.Buf.Length) + 4L * (offLen - ch.Off.Length);
        ch.Buf = new byte[bufLen];
        ch.Off = new int[offLen];
        int lo = (int)((bufLen - bytes) / 2), olo = (offLen - items.Count - 1) / 2;
        ch.OLo = ch.OHi = olo;
        ch.Off[olo] = lo;
        int p = lo;
        foreach (var it in items)
        {
            it.CopyTo(ch.Buf, p);
            p += it.Length;
            ch.Off[++ch.OHi] = p;
        }
    }

    Chunk NewChunk(List<byte[]> items, bool plain)
    {
        var ch = new Chunk(16, 4) { Plain = plain };
        long lp = EmptyListpack;
        foreach (var it in items) lp += plain ? it.Length - EmptyListpack : EntrySize(it);
        ch.LpBytes = lp;
        long saved = cost;
        Refill(ch, items);
        cost = saved;   // not linked yet: linking it counts its whole cost
        return ch;
    }

    void InsertChunkAt(int i, Chunk ch)
    {
        if (nchunks == ring.Length) GrowRing();
        int mask = ring.Length - 1;
        if (i == 0) { AddChunkFront(ch); return; }
        for (int j = nchunks; j > i; j--) ring[(head + j) & mask] = ring[(head + j - 1) & mask];
        ring[(head + i) & mask] = ch;
        nchunks++;
        cost += ch.Cost;
    }

    /// <summary>
    /// Inserts before (or after) the element at chunk/entry: _quicklistInsert, with its choice between the
    /// node itself, the neighbour node, a new node, or splitting the node (then merging around it).
    /// </summary>
    public void Insert(int ci, int e, bool after, ReadOnlySpan<byte> value)
    {
        var node = ChunkAt(ci);
        int len = value.Length;
        bool full = !AllowInsert(node, len);
        bool atTail = after && e == node.Count - 1;
        bool atHead = !after && e == 0;
        bool availNext = atTail && AllowInsert(ci + 1 < nchunks ? ChunkAt(ci + 1) : null, len);
        bool availPrev = atHead && AllowInsert(ci > 0 ? ChunkAt(ci - 1) : null, len);
        count++;

        if (len >= PackedThreshold)
        {
            var single = NewChunk(new List<byte[]> { value.ToArray() }, plain: true);
            if (node.Plain || atTail || atHead)
            {
                InsertChunkAt(after ? ci + 1 : ci, single);
                return;
            }
            var split = SplitChunk(node, e, after);
            InsertChunkAt(after ? ci + 1 : ci, single);
            InsertChunkAt(after ? ci + 2 : ci, split);
            return;
        }

        if (!full)
        {
            var items = ChunkItems(node);
            items.Insert(after ? e + 1 : e, value.ToArray());
            node.LpBytes += EntrySize(value);
            Refill(node, items);
        }
        else if (atTail && availNext)
        {
            var next = ChunkAt(ci + 1);
            MakeRoom(next, true, len, false);
            int lo = next.Lo - len;
            value.CopyTo(next.Buf.AsSpan(lo));
            next.Off[--next.OLo] = lo;
            next.LpBytes += EntrySize(value);
        }
        else if (atHead && availPrev)
        {
            var prev = ChunkAt(ci - 1);
            MakeRoom(prev, false, len, false);
            int hi = prev.Hi;
            value.CopyTo(prev.Buf.AsSpan(hi));
            prev.Off[++prev.OHi] = hi + len;
            prev.LpBytes += EntrySize(value);
        }
        else if (atTail || atHead)
        {
            InsertChunkAt(after ? ci + 1 : ci, NewChunk(new List<byte[]> { value.ToArray() }, plain: false));
        }
        else
        {
            var split = SplitChunk(node, e, after);
            var items = ChunkItems(split);
            if (after) items.Insert(0, value.ToArray()); else items.Add(value.ToArray());
            split.LpBytes += EntrySize(value);
            Refill(split, items);
            int centre = after ? ci : ci + 1;
            InsertChunkAt(after ? ci + 1 : ci, split);
            MergeAround(centre);
        }
    }

    /// <summary>
    /// _quicklistSplitNode: with after, the node keeps [0, offset] and the returned chunk gets the rest;
    /// without, the returned chunk gets [0, offset) and the node keeps the rest. The caller links it in.
    /// </summary>
    Chunk SplitChunk(Chunk node, int offset, bool after)
    {
        var items = ChunkItems(node);
        int cut = after ? offset + 1 : offset;
        var left = items.GetRange(0, cut);
        var right = items.GetRange(cut, items.Count - cut);
        var keep = after ? left : right;
        var moved = after ? right : left;
        long lp = EmptyListpack;
        foreach (var it in keep) lp += EntrySize(it);
        node.LpBytes = lp;
        Refill(node, keep);
        return NewChunk(moved, plain: false);
    }

    /// <summary>_quicklistMergeNodes around chunk <paramref name="center"/>.</summary>
    void MergeAround(int center)
    {
        Chunk C(int i) => i >= 0 && i < nchunks ? ChunkAt(i) : null;
        // prev_prev + prev
        if (AllowMerge(C(center - 1), C(center - 2)))
        {
            MergeChunks(center - 2);
            center--;
        }
        // next + next_next
        if (AllowMerge(C(center + 1), C(center + 2))) MergeChunks(center + 1);
        // center + prev, then the result + next
        int target = center;
        if (AllowMerge(C(center), C(center - 1)))
        {
            MergeChunks(center - 1);
            target = center - 1;
        }
        if (AllowMerge(C(target), C(target + 1))) MergeChunks(target);
    }

    /// <summary>lpMerge of chunk i and chunk i+1 into one chunk at i.</summary>
    void MergeChunks(int i)
    {
        var a = ChunkAt(i);
        var b = ChunkAt(i + 1);
        var items = ChunkItems(a);
        items.AddRange(ChunkItems(b));
        a.LpBytes = a.LpBytes + b.LpBytes - EmptyListpack;
        Refill(a, items);
        RemoveChunk(i + 1);
    }

    /// <summary>
    /// LREM: removes up to <paramref name="limit"/> elements equal to <paramref name="value"/> (all when limit is
    /// 0), scanning from the head, or from the tail when <paramref name="fromTail"/>. Returns how many went.
    /// Nodes left empty go; nothing is merged (quicklistDelEntry).
    /// </summary>
    public long RemoveEqual(ReadOnlySpan<byte> value, long limit, bool fromTail)
    {
        if (limit <= 0) limit = long.MaxValue;
        long removed = 0;
        long entrySize = EntrySize(value);
        if (!fromTail)
        {
            for (int i = 0; i < nchunks && removed < limit;)
            {
                var ch = ChunkAt(i);
                int r = CompactForward(ch, value, limit - removed);
                removed += r;
                if (ch.Count == 0) RemoveChunk(i);
                else { ch.LpBytes -= r * entrySize; ShrinkIfSparse(ch); i++; }
            }
        }
        else
        {
            for (int i = nchunks - 1; i >= 0 && removed < limit; i--)
            {
                var ch = ChunkAt(i);
                int r = CompactBackward(ch, value, limit - removed);
                removed += r;
                if (ch.Count == 0) RemoveChunk(i);
                else { ch.LpBytes -= r * entrySize; ShrinkIfSparse(ch); }
            }
        }
        count -= removed;
        return removed;
    }

    /// <summary>Gives memory back after removals left a chunk mostly empty (as a listpack shrinks on delete).</summary>
    void ShrinkIfSparse(Chunk ch)
    {
        int used = ch.Used, n = ch.Count;
        if (ch.Buf.Length >= 256 && used * 4 < ch.Buf.Length || ch.Off.Length >= 64 && (n + 1) * 4 < ch.Off.Length)
        {
            int bufLen = Pow2AtLeast(used * 2, 16), offLen = Pow2AtLeast((n + 1) * 2, 4);
            if (bufLen >= ch.Buf.Length) bufLen = ch.Buf.Length;
            if (offLen >= ch.Off.Length) offLen = ch.Off.Length;
            Relayout(ch, bufLen, offLen, (bufLen - used) / 2, (offLen - n - 1) / 2);
        }
    }

    static int CompactForward(Chunk ch, ReadOnlySpan<byte> value, long limit)
    {
        int removed = 0;
        int w = ch.OLo, wpos = ch.Lo, start = wpos, end = ch.OHi;
        var buf = ch.Buf;
        var off = ch.Off;
        for (int r = ch.OLo; r < end; r++)
        {
            int s = start, e = off[r + 1];
            start = e;
            if (removed < limit && e - s == value.Length && buf.AsSpan(s, e - s).SequenceEqual(value)) { removed++; continue; }
            if (wpos != s) Buffer.BlockCopy(buf, s, buf, wpos, e - s);
            wpos += e - s;
            off[++w] = wpos;
        }
        ch.OHi = w;
        return removed;
    }

    static int CompactBackward(Chunk ch, ReadOnlySpan<byte> value, long limit)
    {
        int removed = 0;
        int w = ch.OHi, wpos = ch.Hi, end = wpos, stop = ch.OLo;
        var buf = ch.Buf;
        var off = ch.Off;
        for (int r = ch.OHi - 1; r >= stop; r--)
        {
            int e = end, s = off[r];
            end = s;
            if (removed < limit && e - s == value.Length && buf.AsSpan(s, e - s).SequenceEqual(value)) { removed++; continue; }
            wpos -= e - s;
            if (wpos != s) Buffer.BlockCopy(buf, s, buf, wpos, e - s);
            off[--w] = wpos;
        }
        ch.OLo = w;
        return removed;
    }

    // ---- loading (RDB, RESTORE) ----

    /// <summary>quicklistAppendListpack / quicklistAppendPlainNode: adds a whole node at the tail, as loaded.</summary>
    public void AppendNode(List<byte[]> items, bool plain)
    {
        if (items.Count == 0) return;
        var ch = NewChunk(items, plain);
        AddChunkBack(ch);
        count += items.Count;
    }

    /// <summary>
    /// <see cref="AppendNode"/> for a packed node decoded into one buffer: element k is
    /// flat[ends[k-1]..ends[k]) (from 0 for the first); <paramref name="lpBytes"/> is the size of its listpack
    /// (<see cref="EntrySize"/> of each element plus the header and terminator). No array per element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AppendPackedNode(ReadOnlySpan<byte> flat, ReadOnlySpan<int> ends, long lpBytes)
    {
        int n = ends.Length;
        if (n == 0) return;
        long bytes = flat.Length;
        // the layout Refill gives a node built from an element list
        int bufLen = (int)Math.Min(Array.MaxLength, Math.Max(16, bytes + bytes / 4));
        int offLen = Math.Max(4, n + 1 + n / 4 + 1);
        var ch = new Chunk(bufLen, offLen) { LpBytes = lpBytes };
        int lo = (int)((bufLen - bytes) / 2), olo = (offLen - n - 1) / 2;
        ch.OLo = olo;
        ch.OHi = olo + n;
        flat.CopyTo(ch.Buf.AsSpan(lo));
        ch.Off[olo] = lo;
        for (int k = 0; k < n; k++) ch.Off[olo + 1 + k] = lo + ends[k];
        AddChunkBack(ch);
        count += n;
    }

    // ---- whole value ----

    public IRedisObject Clone()
    {
        var copy = new ListValue { fill = fill };
        for (int i = 0; i < nchunks; i++)
        {
            var ch = ChunkAt(i);
            var nc = new Chunk(ch.Buf.Length, ch.Off.Length) { OLo = ch.OLo, OHi = ch.OHi, LpBytes = ch.LpBytes, Plain = ch.Plain };
            Buffer.BlockCopy(ch.Buf, 0, nc.Buf, 0, ch.Buf.Length);
            Array.Copy(ch.Off, nc.Off, ch.Off.Length);
            copy.AddChunkBack(nc);
        }
        copy.count = count;
        return copy;
    }

    public void Digest(byte[] digest)
    {
        for (int i = 0; i < nchunks; i++)
        {
            var ch = ChunkAt(i);
            for (int k = 0; k < ch.Count; k++) Storage.Digest.Mix(digest, ch.Entry(k));
        }
    }

    /// <summary>Walks elements from a position towards the tail (or the head).</summary>
    public struct Cursor
    {
        readonly ListValue list;
        int chunk, entry;

        public Cursor(ListValue list, long index)
        {
            this.list = list;
            list.Locate(index, out chunk, out entry);
        }

        public ReadOnlySpan<byte> Current => list.ChunkAt(chunk).Entry(entry);
        public int Chunk => chunk;
        public int Entry => entry;

        public void MoveNext()
        {
            if (++entry >= list.ChunkAt(chunk).Count) { chunk++; entry = 0; }
        }

        public void MovePrevious()
        {
            if (--entry < 0) { chunk--; if (chunk >= 0) entry = list.ChunkAt(chunk).Count - 1; }
        }
    }
}

using System.Numerics;

namespace Cinnabar.Server.Storage;

/// <summary>
/// A list value: a deque of chunks, each chunk a packed byte buffer of consecutive elements with an array of
/// boundaries (the idea of Redis's quicklist of listpacks). Pushing or popping at either end is O(1)
/// amortised and allocates nothing per element; an element costs its bytes plus a 4-byte boundary. Redis 7.0
/// reports every list as "quicklist".
/// </summary>
public sealed class ListValue : IRedisObject
{
    /// <summary>Soft limits of a chunk, like list-max-listpack-size -2 (8 KiB); a larger element gets a chunk of its own.</summary>
    public const int MaxChunkBytes = 8192;
    public const int MaxChunkEntries = 1024;
    const int ChunkOverhead = 96;       // the chunk object and the two array headers
    const int BaseCost = 64;

    /// <summary>
    /// Elements First..First+Count-1 of the chunk live in Buf[Off[OLo+k] .. Off[OLo+k+1]); free space may be on
    /// either side of the used region (of both arrays) so that pushes at either end of the list are cheap.
    /// </summary>
    public sealed class Chunk
    {
        public byte[] Buf;
        public int[] Off;
        public int OLo, OHi;
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

    public ValueType Type => ValueType.List;
    public string EncodingName => "quicklist";
    public long Cost => cost;
    public long Count => count;
    public int ChunkCount => nchunks;

    public Chunk ChunkAt(int i) => ring[(head + i) & (ring.Length - 1)];

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

    /// <summary>Replaces chunk i by the given chunks (in order).</summary>
    void ReplaceChunk(int i, List<Chunk> with)
    {
        int mask = ring.Length - 1;
        cost -= ring[(head + i) & mask].Cost;
        ring[(head + i) & mask] = with[0];
        cost += with[0].Cost;
        for (int w = 1; w < with.Count; w++)
        {
            if (nchunks == ring.Length) { GrowRing(); mask = ring.Length - 1; }
            // shift chunks after i+w-1 one place to the back
            for (int j = nchunks; j > i + w; j--) ring[(head + j) & mask] = ring[(head + j - 1) & mask];
            ring[(head + i + w) & mask] = with[w];
            nchunks++;
            cost += with[w].Cost;
        }
    }

    static int Pow2AtLeast(int n, int min) => n <= min ? min : (int)BitOperations.RoundUpToPowerOf2((uint)n);

    /// <summary>A new chunk for a push at one end, with the free space on the side pushes will come from.</summary>
    Chunk NewEndChunk(int len, bool front)
    {
        int bufLen, offLen;
        if (len > MaxChunkBytes) { bufLen = len; offLen = 2; }
        else if (nchunks == 0) { bufLen = Pow2AtLeast(len, 16); offLen = 4; }
        else { bufLen = Math.Min(MaxChunkBytes, Pow2AtLeast(len, 1024)); offLen = 128; }
        var ch = new Chunk(bufLen, offLen);
        int lo, olo;
        if (nchunks == 0 && len <= MaxChunkBytes) { lo = (bufLen - len) / 2; olo = (offLen - 2) / 2; }
        else if (front) { lo = bufLen - len; olo = offLen - 2; }
        else { lo = 0; olo = 0; }
        // an empty chunk positioned so the caller's write lands at lo
        if (front) { ch.OLo = ch.OHi = olo + 1; ch.Off[olo + 1] = lo + len; }
        else { ch.OLo = ch.OHi = olo; ch.Off[olo] = lo; }
        return ch;
    }

    /// <summary>
    /// Makes room for one element of <paramref name="len"/> bytes at one end of chunk <paramref name="ch"/>, growing
    /// (by doubling) or re-centering it. False when the chunk is full: the caller starts a new chunk.
    /// </summary>
    bool MakeRoom(Chunk ch, bool front, int len, bool single)
    {
        int lo = ch.Lo, hi = ch.Hi;
        bool bytesOk = front ? lo >= len : ch.Buf.Length - hi >= len;
        bool slotOk = front ? ch.OLo > 0 : ch.OHi + 1 < ch.Off.Length;
        if (bytesOk && slotOk) return true;
        int used = hi - lo, n = ch.Count;
        if (used + len > MaxChunkBytes || n + 1 > MaxChunkEntries) return false;
        int bufLen = ch.Buf.Length;
        while (bufLen < MaxChunkBytes && bufLen < 2 * (used + len)) bufLen = Math.Min(bufLen * 2, MaxChunkBytes);
        if (bufLen < used + len) bufLen = used + len;
        int offLen = ch.Off.Length;
        while (offLen < MaxChunkEntries + 1 && offLen < 2 * (n + 2)) offLen = Math.Min(offLen * 2, MaxChunkEntries + 1);
        if (offLen < n + 2) offLen = n + 2;
        int freeBytes = bufLen - used - len, freeSlots = offLen - n - 2;
        // Too little space would be left to be worth moving everything: start a new chunk instead.
        if (freeBytes < bufLen / 8 || freeSlots < offLen / 8) return false;
        int newLo, newOLo;
        if (single)
        {
            // centre, but give the pushing side what it needs plus half of the rest
            newLo = front ? len + freeBytes / 2 : freeBytes - freeBytes / 2;
            newOLo = front ? 1 + freeSlots / 2 : freeSlots - freeSlots / 2;
        }
        else if (front) { newLo = bufLen - used; newOLo = offLen - 1 - n; }
        else { newLo = 0; newOLo = 0; }
        Relayout(ch, bufLen, offLen, newLo, newOLo);
        return true;
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

    public void PushBack(ReadOnlySpan<byte> value)
    {
        int len = value.Length;
        Chunk t = nchunks > 0 ? ChunkAt(nchunks - 1) : null;
        if (t == null || !MakeRoom(t, false, len, nchunks == 1))
        {
            t = NewEndChunk(len, false);
            AddChunkBack(t);
        }
        int hi = t.Hi;
        value.CopyTo(t.Buf.AsSpan(hi));
        t.Off[++t.OHi] = hi + len;
        count++;
    }

    public void PushFront(ReadOnlySpan<byte> value)
    {
        int len = value.Length;
        Chunk h = nchunks > 0 ? ChunkAt(0) : null;
        if (h == null || !MakeRoom(h, true, len, nchunks == 1))
        {
            h = NewEndChunk(len, true);
            AddChunkFront(h);
        }
        int lo = h.Lo - len;
        value.CopyTo(h.Buf.AsSpan(lo));
        h.Off[--h.OLo] = lo;
        count++;
    }

    /// <summary>The first element; valid until the list is next modified (the bytes stay alive while referenced).</summary>
    public ReadOnlySpan<byte> Front => ChunkAt(0).Entry(0);
    public ReadOnlySpan<byte> Back { get { var t = ChunkAt(nchunks - 1); return t.Entry(t.Count - 1); } }

    public void RemoveFront()
    {
        var h = ChunkAt(0);
        h.OLo++;
        count--;
        if (h.Count == 0) RemoveChunk(0);
    }

    public void RemoveBack()
    {
        var t = ChunkAt(nchunks - 1);
        t.OHi--;
        count--;
        if (t.Count == 0) RemoveChunk(nchunks - 1);
    }

    public void RemoveFront(long n)
    {
        while (n > 0 && nchunks > 0)
        {
            var h = ChunkAt(0);
            if (h.Count <= n) { n -= h.Count; count -= h.Count; RemoveChunk(0); continue; }
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

    /// <summary>Replaces element <paramref name="index"/> (0 &lt;= index &lt; Count).</summary>
    public void Set(long index, ReadOnlySpan<byte> value)
    {
        Locate(index, out int ci, out int e);
        var ch = ChunkAt(ci);
        int s = ch.Off[ch.OLo + e], len = ch.Off[ch.OLo + e + 1] - s;
        if (len == value.Length)
        {
            value.CopyTo(ch.Buf.AsSpan(s));
            return;
        }
        int bytes = SmallBytes(ch) - (len > MaxChunkBytes ? 0 : len) + (value.Length > MaxChunkBytes ? 0 : value.Length);
        var b = new ChunkBuilder(ch.Count, bytes);
        for (int k = 0; k < ch.Count; k++) b.Append(k == e ? value : ch.Entry(k));
        ReplaceChunk(ci, b.Finish());
    }

    /// <summary>Inserts before (or after) the element at chunk/entry.</summary>
    public void Insert(int ci, int e, bool after, ReadOnlySpan<byte> value)
    {
        var ch = ChunkAt(ci);
        int at = after ? e + 1 : e;     // the new element's position inside the chunk
        if (at == 0 && ci == 0) { PushFront(value); return; }
        if (at == ch.Count && ci == nchunks - 1) { PushBack(value); return; }
        var b = new ChunkBuilder(ch.Count + 1, SmallBytes(ch) + (value.Length > MaxChunkBytes ? 0 : value.Length));
        for (int k = 0; k <= ch.Count; k++)
        {
            if (k == at) b.Append(value);
            if (k < ch.Count) b.Append(ch.Entry(k));
        }
        count++;
        ReplaceChunk(ci, b.Finish());
    }

    /// <summary>Bytes of a chunk's elements that share chunks (an element over the chunk limit has a chunk of its own).</summary>
    static int SmallBytes(Chunk ch) => ch.Count == 1 && ch.Used > MaxChunkBytes ? 0 : ch.Used;

    /// <summary>
    /// LREM: removes up to <paramref name="limit"/> elements equal to <paramref name="value"/> (all when limit is
    /// 0), scanning from the head, or from the tail when <paramref name="fromTail"/>. Returns how many went.
    /// </summary>
    public long RemoveEqual(ReadOnlySpan<byte> value, long limit, bool fromTail)
    {
        if (limit <= 0) limit = long.MaxValue;
        long removed = 0;
        if (!fromTail)
        {
            for (int i = 0; i < nchunks && removed < limit;)
            {
                var ch = ChunkAt(i);
                removed += CompactForward(ch, value, limit - removed);
                if (ch.Count == 0) RemoveChunk(i);
                else { ShrinkIfSparse(ch); i++; }
            }
        }
        else
        {
            for (int i = nchunks - 1; i >= 0 && removed < limit; i--)
            {
                var ch = ChunkAt(i);
                removed += CompactBackward(ch, value, limit - removed);
                if (ch.Count == 0) RemoveChunk(i);
                else ShrinkIfSparse(ch);
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

    // ---- whole value ----

    public IRedisObject Clone()
    {
        var copy = new ListValue();
        for (int i = 0; i < nchunks; i++)
        {
            var ch = ChunkAt(i);
            var nc = new Chunk(ch.Buf.Length, ch.Off.Length) { OLo = ch.OLo, OHi = ch.OHi };
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

    /// <summary>Packs a run of elements into fresh chunks, splitting evenly when they exceed one chunk's limits.</summary>
    struct ChunkBuilder
    {
        readonly List<Chunk> output;
        readonly int maxEntries, maxBytes;
        Chunk cur;

        public ChunkBuilder(int entries, int bytes)
        {
            output = new List<Chunk>(2);
            int parts = Math.Max(1, Math.Max((entries + MaxChunkEntries - 1) / MaxChunkEntries, (bytes + MaxChunkBytes - 1) / MaxChunkBytes));
            maxEntries = (entries + parts - 1) / parts;
            maxBytes = (bytes + parts - 1) / parts;
            if (parts == 1) { maxEntries = MaxChunkEntries; maxBytes = Math.Max(MaxChunkBytes, bytes); }
            cur = new Chunk(Math.Max(16, Math.Min(bytes, maxBytes)), Math.Max(4, Math.Min(entries, maxEntries) + 1));
        }

        public void Append(ReadOnlySpan<byte> v)
        {
            if (v.Length > MaxChunkBytes)
            {
                if (cur.Count > 0)
                {
                    output.Add(cur);
                    cur = new Chunk(Math.Max(16, maxBytes), maxEntries + 1);
                }
                var big = new Chunk(v.Length, 2) { OHi = 1 };
                v.CopyTo(big.Buf);
                big.Off[1] = v.Length;
                output.Add(big);
                return;
            }
            if (cur.Count > 0 && (cur.Count + 1 > maxEntries || cur.Used + v.Length > maxBytes))
            {
                output.Add(cur);
                cur = new Chunk(Math.Max(16, maxBytes), maxEntries + 1);
            }
            int hi = cur.Hi;
            if (cur.Buf.Length - hi < v.Length)
            {
                var bigger = new byte[Math.Max(cur.Buf.Length * 2, hi + v.Length)];
                Buffer.BlockCopy(cur.Buf, 0, bigger, 0, hi);
                cur.Buf = bigger;
            }
            if (cur.OHi + 1 >= cur.Off.Length) Array.Resize(ref cur.Off, cur.Off.Length * 2);
            v.CopyTo(cur.Buf.AsSpan(hi));
            cur.Off[++cur.OHi] = hi + v.Length;
        }

        public List<Chunk> Finish()
        {
            if (cur.Count > 0 || output.Count == 0) output.Add(cur);
            return output;
        }
    }
}

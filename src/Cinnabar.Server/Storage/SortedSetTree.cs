using System.Numerics;
using System.Runtime.CompilerServices;

namespace Cinnabar.Server.Storage;

/// <summary>A leaf of <see cref="ZTree"/>: up to <see cref="ZTree.Cap"/> elements sorted by (score, member).</summary>
public sealed class ZLeaf
{
    internal readonly double[] S = new double[ZTree.Cap + 1];
    internal readonly byte[][] M = new byte[ZTree.Cap + 1][];
    internal int N;
    internal ZLeaf Next, Prev;
}

/// <summary>An inner node: children with their element counts and largest (score, member).</summary>
sealed class ZInner
{
    internal readonly object[] C = new object[ZTree.Cap + 1];
    internal readonly int[] Cnt = new int[ZTree.Cap + 1];
    internal readonly double[] MaxS = new double[ZTree.Cap + 1];
    internal readonly byte[][] MaxM = new byte[ZTree.Cap + 1][];
    internal int N;
}

/// <summary>A monotone test over the (score, member) order: false for a prefix of the elements, true after.</summary>
interface IZPredicate
{
    bool Test(double score, byte[] member);
}

/// <summary>
/// The ordered half of a large sorted set: a B+tree keyed by (score, member) whose inner nodes count the
/// elements below each child (ranks in O(log n)) and whose leaves are linked (ranges walk them in order).
/// Wide nodes keep a search to a few cache lines per level, where a skiplist takes a miss per step.
/// </summary>
public sealed class ZTree
{
    public const int Cap = 64;
    const int MergeBelow = Cap / 4;

    object root = new ZLeaf();
    public ZLeaf Head, Tail;
    public int Count;
    public int LeafCount = 1, InnerCount;

    // The path of the last descent (single-threaded event loop: one operation at a time).
    static readonly ZInner[] pathNode = new ZInner[48];
    static readonly int[] pathIdx = new int[48];

    public ZTree()
    {
        Head = Tail = (ZLeaf)root;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Cmp(double s1, byte[] m1, double s2, byte[] m2)
    {
        if (s1 < s2) return -1;
        if (s1 > s2) return 1;
        return m1.AsSpan().SequenceCompareTo(m2);
    }

    /// <summary>First child whose largest element is at or after (s, m); N when none is.</summary>
    static int ChildFor(ZInner n, double s, byte[] m)
    {
        int lo = 0, hi = n.N;
        var ms = n.MaxS;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            double x = ms[mid];
            if (x < s || (x == s && n.MaxM[mid].AsSpan().SequenceCompareTo(m) < 0)) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>First index in the leaf at or after (s, m).</summary>
    static int LowerBound(ZLeaf l, double s, byte[] m)
    {
        int lo = 0, hi = l.N;
        var ss = l.S;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            double x = ss[mid];
            if (x < s || (x == s && l.M[mid].AsSpan().SequenceCompareTo(m) < 0)) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Walks down to the leaf where (s, m) is or belongs, recording the path.</summary>
    ZLeaf Descend(double s, byte[] m, out int depth)
    {
        depth = 0;
        var node = root;
        while (node is ZInner inner)
        {
            int i = ChildFor(inner, s, m);
            if (i == inner.N) i = inner.N - 1;
            pathNode[depth] = inner;
            pathIdx[depth] = i;
            depth++;
            node = inner.C[i];
        }
        return (ZLeaf)node;
    }

    public void Insert(byte[] m, double s)
    {
        var leaf = Descend(s, m, out int depth);
        int pos = LowerBound(leaf, s, m);
        int n = leaf.N;
        if (pos < n)
        {
            Array.Copy(leaf.S, pos, leaf.S, pos + 1, n - pos);
            Array.Copy(leaf.M, pos, leaf.M, pos + 1, n - pos);
        }
        leaf.S[pos] = s;
        leaf.M[pos] = m;
        leaf.N = n + 1;
        Count++;
        for (int d = 0; d < depth; d++) pathNode[d].Cnt[pathIdx[d]]++;
        if (pos == n) RaiseMax(depth, s, m);
        if (leaf.N > Cap) SplitLeaf(leaf, depth);
    }

    /// <summary>The leaf at the end of the path has a new largest element: fix the separators above it.</summary>
    static void RaiseMax(int depth, double s, byte[] m)
    {
        for (int d = depth - 1; d >= 0; d--)
        {
            var p = pathNode[d];
            int i = pathIdx[d];
            p.MaxS[i] = s;
            p.MaxM[i] = m;
            if (i != p.N - 1) break;
        }
    }

    void SplitLeaf(ZLeaf leaf, int depth)
    {
        var right = new ZLeaf();
        LeafCount++;
        int half = leaf.N / 2, moved = leaf.N - half;
        Array.Copy(leaf.S, half, right.S, 0, moved);
        Array.Copy(leaf.M, half, right.M, 0, moved);
        Array.Clear(leaf.M, half, moved);
        right.N = moved;
        leaf.N = half;
        right.Next = leaf.Next;
        right.Prev = leaf;
        if (leaf.Next != null) leaf.Next.Prev = right; else Tail = right;
        leaf.Next = right;
        AddSibling(depth, leaf, half, leaf.S[half - 1], leaf.M[half - 1], right, moved, right.S[moved - 1], right.M[moved - 1]);
    }

    /// <summary>After splitting the node at the end of the path into left and right, hooks right in after left.</summary>
    void AddSibling(int depth, object left, int leftCount, double leftMaxS, byte[] leftMaxM,
                    object right, int rightCount, double rightMaxS, byte[] rightMaxM)
    {
        if (depth == 0)
        {
            var r = new ZInner();
            InnerCount++;
            r.C[0] = left; r.Cnt[0] = leftCount; r.MaxS[0] = leftMaxS; r.MaxM[0] = leftMaxM;
            r.C[1] = right; r.Cnt[1] = rightCount; r.MaxS[1] = rightMaxS; r.MaxM[1] = rightMaxM;
            r.N = 2;
            root = r;
            return;
        }
        var p = pathNode[depth - 1];
        int i = pathIdx[depth - 1];
        int n = p.N;
        if (i + 1 < n)
        {
            Array.Copy(p.C, i + 1, p.C, i + 2, n - i - 1);
            Array.Copy(p.Cnt, i + 1, p.Cnt, i + 2, n - i - 1);
            Array.Copy(p.MaxS, i + 1, p.MaxS, i + 2, n - i - 1);
            Array.Copy(p.MaxM, i + 1, p.MaxM, i + 2, n - i - 1);
        }
        p.Cnt[i] = leftCount; p.MaxS[i] = leftMaxS; p.MaxM[i] = leftMaxM;
        p.C[i + 1] = right; p.Cnt[i + 1] = rightCount; p.MaxS[i + 1] = rightMaxS; p.MaxM[i + 1] = rightMaxM;
        p.N = n + 1;
        if (p.N > Cap) SplitInner(p, depth - 1);
    }

    void SplitInner(ZInner node, int depth)
    {
        var right = new ZInner();
        InnerCount++;
        int half = node.N / 2, moved = node.N - half;
        Array.Copy(node.C, half, right.C, 0, moved);
        Array.Copy(node.Cnt, half, right.Cnt, 0, moved);
        Array.Copy(node.MaxS, half, right.MaxS, 0, moved);
        Array.Copy(node.MaxM, half, right.MaxM, 0, moved);
        Array.Clear(node.C, half, moved);
        Array.Clear(node.MaxM, half, moved);
        right.N = moved;
        node.N = half;
        int lc = 0, rc = 0;
        for (int k = 0; k < half; k++) lc += node.Cnt[k];
        for (int k = 0; k < moved; k++) rc += right.Cnt[k];
        AddSibling(depth, node, lc, node.MaxS[half - 1], node.MaxM[half - 1], right, rc, right.MaxS[moved - 1], right.MaxM[moved - 1]);
    }

    /// <summary>Removes an element known to be present.</summary>
    public void Delete(byte[] m, double s)
    {
        var leaf = Descend(s, m, out int depth);
        int pos = LowerBound(leaf, s, m);
        RemoveAt(leaf, pos, depth);
    }

    void RemoveAt(ZLeaf leaf, int pos, int depth)
    {
        int n = leaf.N - 1;
        if (pos < n)
        {
            Array.Copy(leaf.S, pos + 1, leaf.S, pos, n - pos);
            Array.Copy(leaf.M, pos + 1, leaf.M, pos, n - pos);
        }
        leaf.M[n] = null;
        leaf.N = n;
        Count--;
        for (int d = 0; d < depth; d++) pathNode[d].Cnt[pathIdx[d]]--;
        if (depth == 0) return;     // the root leaf
        if (n == 0)
        {
            UnlinkLeaf(leaf);
            RemoveChild(depth - 1);
            CollapseRoot();
            return;
        }
        if (pos == n) RaiseMax(depth, leaf.S[n - 1], leaf.M[n - 1]);
        if (n < MergeBelow) MergeLeaf(leaf, depth);
        CollapseRoot();
    }

    void UnlinkLeaf(ZLeaf leaf)
    {
        if (leaf.Prev != null) leaf.Prev.Next = leaf.Next; else Head = leaf.Next;
        if (leaf.Next != null) leaf.Next.Prev = leaf.Prev; else Tail = leaf.Prev;
        leaf.Next = leaf.Prev = null;
        LeafCount--;
    }

    /// <summary>Removes child pathIdx[d] from pathNode[d], and the node itself from its parent if it empties.</summary>
    void RemoveChild(int d)
    {
        while (true)
        {
            var p = pathNode[d];
            int i = pathIdx[d];
            int n = p.N - 1;
            if (i < n)
            {
                Array.Copy(p.C, i + 1, p.C, i, n - i);
                Array.Copy(p.Cnt, i + 1, p.Cnt, i, n - i);
                Array.Copy(p.MaxS, i + 1, p.MaxS, i, n - i);
                Array.Copy(p.MaxM, i + 1, p.MaxM, i, n - i);
            }
            p.C[n] = null;
            p.MaxM[n] = null;
            p.N = n;
            if (n > 0)
            {
                // The last child went: this node's largest element is now its new last child's.
                if (i == n && d > 0) RaiseMax(d, p.MaxS[n - 1], p.MaxM[n - 1]);
                return;
            }
            InnerCount--;
            if (d == 0)
            {
                root = Head = Tail = new ZLeaf();
                LeafCount = 1;
                InnerCount = 0;
                return;
            }
            d--;
        }
    }

    /// <summary>A small leaf joins a neighbour under the same parent when both fit in one leaf.</summary>
    void MergeLeaf(ZLeaf leaf, int depth)
    {
        var p = pathNode[depth - 1];
        int i = pathIdx[depth - 1];
        if (i + 1 < p.N)
        {
            var right = (ZLeaf)p.C[i + 1];
            if (leaf.N + right.N <= Cap)
            {
                Array.Copy(right.S, 0, leaf.S, leaf.N, right.N);
                Array.Copy(right.M, 0, leaf.M, leaf.N, right.N);
                leaf.N += right.N;
                p.Cnt[i] += right.N;
                p.MaxS[i] = p.MaxS[i + 1];
                p.MaxM[i] = p.MaxM[i + 1];
                pathIdx[depth - 1] = i + 1;
                UnlinkLeaf(right);
                RemoveChild(depth - 1);
                return;
            }
        }
        if (i > 0)
        {
            var left = (ZLeaf)p.C[i - 1];
            if (left.N + leaf.N <= Cap)
            {
                Array.Copy(leaf.S, 0, left.S, left.N, leaf.N);
                Array.Copy(leaf.M, 0, left.M, left.N, leaf.N);
                left.N += leaf.N;
                p.Cnt[i - 1] += leaf.N;
                p.MaxS[i - 1] = p.MaxS[i];
                p.MaxM[i - 1] = p.MaxM[i];
                UnlinkLeaf(leaf);
                RemoveChild(depth - 1);
            }
        }
    }

    void CollapseRoot()
    {
        while (root is ZInner r && r.N == 1)
        {
            root = r.C[0];
            InnerCount--;
        }
    }

    /// <summary>0-based rank of an element known to be present.</summary>
    public long Rank(double s, byte[] m)
    {
        long rank = 0;
        var node = root;
        while (node is ZInner inner)
        {
            int i = ChildFor(inner, s, m);
            if (i == inner.N) i = inner.N - 1;
            for (int k = 0; k < i; k++) rank += inner.Cnt[k];
            node = inner.C[i];
        }
        return rank + LowerBound((ZLeaf)node, s, m);
    }

    /// <summary>The leaf and index of a 0-based rank within bounds.</summary>
    public ZLeaf ByRank(long rank, out int index)
    {
        var node = root;
        while (node is ZInner inner)
        {
            int i = 0;
            while (i < inner.N - 1 && rank >= inner.Cnt[i])
            {
                rank -= inner.Cnt[i];
                i++;
            }
            node = inner.C[i];
        }
        index = (int)rank;
        return (ZLeaf)node;
    }

    /// <summary>The first element the predicate accepts (predicates are false then true along the order).</summary>
    internal ZLeaf FirstWhere<T>(in T pred, out int index) where T : struct, IZPredicate
    {
        index = -1;
        var node = root;
        while (node is ZInner inner)
        {
            int lo = 0, hi = inner.N;
            while (lo < hi)
            {
                int mid = (lo + hi) >> 1;
                if (pred.Test(inner.MaxS[mid], inner.MaxM[mid])) hi = mid; else lo = mid + 1;
            }
            if (lo == inner.N) return null;
            node = inner.C[lo];
        }
        var leaf = (ZLeaf)node;
        int a = 0, b = leaf.N;
        while (a < b)
        {
            int mid = (a + b) >> 1;
            if (pred.Test(leaf.S[mid], leaf.M[mid])) b = mid; else a = mid + 1;
        }
        if (a == leaf.N) return null;
        index = a;
        return leaf;
    }

    /// <summary>Leaf of the element just before (s, m) or the last element if none comes after.</summary>
    internal ZLeaf LastBefore<T>(in T notPred, out int index) where T : struct, IZPredicate
    {
        var leaf = FirstWhere(notPred, out index);
        if (leaf == null)
        {
            if (Count == 0) return null;
            index = Tail.N - 1;
            return Tail;
        }
        if (index > 0) { index--; return leaf; }
        leaf = leaf.Prev;
        index = leaf == null ? -1 : leaf.N - 1;
        return leaf;
    }
}

/// <summary>
/// Member → score for large sorted sets: chained hashing over a power-of-two bucket array (entries in one
/// struct array), growing and shrinking as Redis's dict does, with the reverse-binary SCAN cursor.
/// </summary>
public sealed class ZDict
{
    struct Entry
    {
        public byte[] Member;
        public double Score;
        public uint Hash;
        public int Next;    // index + 1 of the next entry in the chain; free entries: next free
    }

    int[] buckets = new int[16];
    Entry[] entries = new Entry[16];
    int used, freeList = -1, freeCount;

    public int Count => used - freeCount;
    public int BucketCount => buckets.Length;
    public int Capacity => entries.Length;

    public int Find(ReadOnlySpan<byte> member)
    {
        uint h = KeyTable.HashOf(member);
        var e = entries;
        for (int i = buckets[h & (uint)(buckets.Length - 1)] - 1; i >= 0; i = e[i].Next - 1)
        {
            ref var x = ref e[i];
            if (x.Hash == h && member.SequenceEqual(x.Member)) return i;
        }
        return -1;
    }

    public byte[] MemberAt(int i) => entries[i].Member;
    public ref double ScoreAt(int i) => ref entries[i].Score;

    public void Add(byte[] member, double score)
    {
        if (Count >= buckets.Length) Resize(buckets.Length * 2);
        int i;
        if (freeList >= 0)
        {
            i = freeList;
            freeList = entries[i].Next - 1;
            freeCount--;
        }
        else
        {
            if (used == entries.Length) Array.Resize(ref entries, entries.Length * 2);
            i = used++;
        }
        uint h = KeyTable.HashOf(member);
        ref int b = ref buckets[h & (uint)(buckets.Length - 1)];
        entries[i] = new Entry { Member = member, Score = score, Hash = h, Next = b };
        b = i + 1;
    }

    public void RemoveAt(int i)
    {
        ref int link = ref buckets[entries[i].Hash & (uint)(buckets.Length - 1)];
        while (link - 1 != i) link = ref entries[link - 1].Next;
        link = entries[i].Next;
        entries[i] = new Entry { Next = freeList + 1 };
        freeList = i;
        freeCount++;
        if (buckets.Length > 16 && (long)Count * 10 < buckets.Length)
        {
            int size = 16;
            while (size < Count) size <<= 1;
            Resize(size);
        }
    }

    void Resize(int size)
    {
        var nb = new int[size];
        uint mask = (uint)(size - 1);
        for (int i = 0; i < used; i++)
        {
            ref var e = ref entries[i];
            if (e.Member == null) continue;
            ref int b = ref nb[e.Hash & mask];
            e.Next = b;
            b = i + 1;
        }
        buckets = nb;
        if (entries.Length > 64 && used - freeCount < entries.Length / 8) Compact();
    }

    /// <summary>Packs live entries to the front after mass deletions (bucket chains are rebuilt).</summary>
    void Compact()
    {
        int live = Count;
        var ne = new Entry[Math.Max(16, (int)BitOperations.RoundUpToPowerOf2((uint)live))];
        int k = 0;
        for (int i = 0; i < used; i++)
            if (entries[i].Member != null) ne[k++] = entries[i];
        entries = ne;
        used = k;
        freeList = -1;
        freeCount = 0;
        Array.Clear(buckets);
        uint mask = (uint)(buckets.Length - 1);
        for (int i = 0; i < used; i++)
        {
            ref int b = ref buckets[entries[i].Hash & mask];
            entries[i].Next = b;
            b = i + 1;
        }
    }

    /// <summary>One SCAN step: the entries of the bucket the cursor names, then Redis's reverse-binary increment.</summary>
    public ulong ScanStep(ulong cursor, List<byte[]> members, List<double> scores)
    {
        ulong mask = (ulong)(buckets.Length - 1);
        for (int i = buckets[(int)(cursor & mask)] - 1; i >= 0; i = entries[i].Next - 1)
        {
            members.Add(entries[i].Member);
            scores.Add(entries[i].Score);
        }
        return ScanCursor.Next(cursor, mask);
    }

}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cinnabar.Server.Storage;

/// <summary>A score interval as ZRANGEBYSCORE takes it: each end inclusive unless marked exclusive with "(".</summary>
public struct ScoreRange
{
    public double Min, Max;
    public bool MinEx, MaxEx;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool GteMin(double v) => MinEx ? v > Min : v >= Min;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool LteMax(double v) => MaxEx ? v < Max : v <= Max;

    /// <summary>Ranges that can hold nothing whatever the set holds.</summary>
    public readonly bool AlwaysEmpty => Min > Max || (Min == Max && (MinEx || MaxEx));
}

/// <summary>
/// A member interval as ZRANGEBYLEX takes it: "[x" inclusive, "(x" exclusive, "-" below every string and
/// "+" above every string (both count as exclusive, as in Redis).
/// </summary>
public struct LexRange
{
    public byte[] Min, Max;
    public sbyte MinInf, MaxInf;    // -1: the "-" bound, +1: the "+" bound, 0: Min/Max hold the bytes
    public bool MinEx, MaxEx;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Compare(ReadOnlySpan<byte> value, byte[] bound, sbyte inf)
    {
        if (inf < 0) return 1;
        if (inf > 0) return -1;
        return value.SequenceCompareTo(bound);
    }

    public readonly bool GteMin(ReadOnlySpan<byte> v)
    {
        int c = Compare(v, Min, MinInf);
        return MinEx ? c > 0 : c >= 0;
    }

    public readonly bool LteMax(ReadOnlySpan<byte> v)
    {
        int c = Compare(v, Max, MaxInf);
        return MaxEx ? c < 0 : c <= 0;
    }

    /// <summary>Redis's sdscmplex between the two bounds, for ranges that are empty whatever the set holds.</summary>
    public readonly bool AlwaysEmpty
    {
        get
        {
            int c;
            if (MinInf != 0 && MinInf == MaxInf) c = 0;
            else if (MinInf < 0 || MaxInf > 0) c = -1;
            else if (MinInf > 0 || MaxInf < 0) c = 1;
            else c = Min.AsSpan().SequenceCompareTo(Max);
            return c > 0 || (c == 0 && (MinEx || MaxEx));
        }
    }
}

/// <summary>A position in a sorted set: an index (into a listpack, or into a tree leaf).</summary>
public struct ZPos
{
    public int Index;
    internal ZLeaf Leaf;
}

/// <summary>
/// A sorted set. Small sets are "listpack": two parallel arrays kept sorted by (score, member) — the order
/// Redis's listpack holds — with member lookups by linear scan as Redis does. Once a set grows past
/// zset-max-listpack-entries/value it reports "skiplist" and holds a member → score hash (O(1) ZSCORE, SCAN
/// cursors) beside an order-statistic B+tree (O(log n) ranks and updates; Redis's skiplist plays this part).
/// Conversion is one way, except that the STORE commands build their result and shrink it back when it fits,
/// as Redis does.
/// </summary>
public sealed class ZSetValue : IMemberCollection
{
    // listpack form
    byte[][] lpMembers;
    double[] lpScores;
    int lpCount;

    // "skiplist" form
    ZTree tree;
    ZDict dict;

    long cost;

    public ZSetValue(int capacity = 4)
    {
        lpMembers = new byte[capacity][];
        lpScores = new double[capacity];
        cost = 64 + capacity * 16L;
    }

    /// <summary>An empty set in skiplist form (the STORE commands build their result this way).</summary>
    public static ZSetValue NewSkiplist()
    {
        var z = new ZSetValue(0);
        z.InitSkiplist();
        return z;
    }

    /// <summary>A set built from distinct members already sorted by (score, member).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ZSetValue FromSorted(byte[][] members, double[] scores, int n, bool listpack)
    {
        if (!listpack)
        {
            var s = NewSkiplist();
            for (int i = 0; i < n; i++) s.TreeInsertNew(members[i], scores[i]);
            return s;
        }
        var z = new ZSetValue(Math.Max(n, 4));
        for (int i = 0; i < n; i++)
        {
            z.lpMembers[i] = members[i];
            z.lpScores[i] = ListpackScore(scores[i]);
            z.cost += MemberCost(members[i]);
        }
        z.lpCount = n;
        return z;
    }

    void InitSkiplist()
    {
        lpMembers = null;
        lpScores = null;
        lpCount = 0;
        tree = new ZTree();
        dict = new ZDict();
        cost = 0;
        RecountStructure();
    }

    // The tree's and the hash's own arrays, re-counted when their shape changes (cheap: counters).
    long structureCost;
    int lastLeaves, lastInners, lastBuckets, lastEntries;

    void RecountStructure()
    {
        if (tree.LeafCount == lastLeaves && tree.InnerCount == lastInners && dict.BucketCount == lastBuckets && dict.Capacity == lastEntries) return;
        lastLeaves = tree.LeafCount;
        lastInners = tree.InnerCount;
        lastBuckets = dict.BucketCount;
        lastEntries = dict.Capacity;
        long now = 96 + lastLeaves * (ZTree.Cap + 1) * 16L + lastLeaves * 96L + lastInners * (ZTree.Cap + 1) * 28L + lastInners * 128L
                   + lastBuckets * 4L + lastEntries * 24L;
        cost += now - structureCost;
        structureCost = now;
    }

    public ValueType Type => ValueType.ZSet;
    public bool IsListpack => tree == null;
    public string EncodingName => IsListpack ? "listpack" : "skiplist";
    public long Cost => cost;
    public int Count => IsListpack ? lpCount : tree.Count;

    static long MemberCost(byte[] m) => 24 + ((m.Length + 7) & ~7);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Compare(double s1, ReadOnlySpan<byte> m1, double s2, ReadOnlySpan<byte> m2)
    {
        if (s1 < s2) return -1;
        if (s1 > s2) return 1;
        return m1.SequenceCompareTo(m2);
    }

    /// <summary>What a listpack stores for a score: integral values as integers, so -0 reads back as 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static double ListpackScore(double s) => s == 0 ? 0.0 : s;

    // ------------------------------------------------------------------ lookups

    public bool TryGetScore(ReadOnlySpan<byte> member, out double score)
    {
        if (IsListpack)
        {
            int i = LpFind(member);
            score = i >= 0 ? lpScores[i] : 0;
            return i >= 0;
        }
        int e = dict.Find(member);
        score = e >= 0 ? dict.ScoreAt(e) : 0;
        return e >= 0;
    }

    int LpFind(ReadOnlySpan<byte> member)
    {
        var ms = lpMembers;
        for (int i = 0; i < lpCount; i++)
        {
            var m = ms[i];
            if (m.Length == member.Length && member.SequenceEqual(m)) return i;
        }
        return -1;
    }

    /// <summary>0-based rank of a member in ascending order, or -1.</summary>
    public long Rank(ReadOnlySpan<byte> member)
    {
        if (IsListpack) return LpFind(member);
        int e = dict.Find(member);
        if (e < 0) return -1;
        return tree.Rank(dict.ScoreAt(e), dict.MemberAt(e));
    }

    // ------------------------------------------------------------------ positions

    public ZPos First() => IsListpack
        ? new ZPos { Index = lpCount > 0 ? 0 : -1 }
        : tree.Count > 0 ? new ZPos { Leaf = tree.Head, Index = 0 } : new ZPos { Index = -1 };

    public ZPos Last() => IsListpack
        ? new ZPos { Index = lpCount - 1 }
        : tree.Count > 0 ? new ZPos { Leaf = tree.Tail, Index = tree.Tail.N - 1 } : new ZPos { Index = -1 };

    /// <summary>Position of a 0-based rank known to be in range.</summary>
    public ZPos AtRank(long rank)
    {
        if (IsListpack) return new ZPos { Index = (int)rank };
        var leaf = tree.ByRank(rank, out int i);
        return new ZPos { Leaf = leaf, Index = i };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Valid(in ZPos p) => tree == null ? p.Index >= 0 && p.Index < lpCount : p.Leaf != null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Next(ref ZPos p)
    {
        p.Index++;
        if (p.Leaf != null && p.Index >= p.Leaf.N)
        {
            p.Leaf = p.Leaf.Next;
            p.Index = 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prev(ref ZPos p)
    {
        p.Index--;
        if (p.Leaf != null && p.Index < 0)
        {
            p.Leaf = p.Leaf.Prev;
            p.Index = p.Leaf == null ? -1 : p.Leaf.N - 1;
        }
    }

    public byte[] MemberAt(in ZPos p) => tree == null ? lpMembers[p.Index] : p.Leaf.M[p.Index];
    public double ScoreAt(in ZPos p) => tree == null ? lpScores[p.Index] : p.Leaf.S[p.Index];

    /// <summary>0-based rank of a valid position.</summary>
    public long RankOf(in ZPos p) => tree == null ? p.Index : tree.Rank(p.Leaf.S[p.Index], p.Leaf.M[p.Index]);

    static ZPos Pos(ZLeaf leaf, int index) => leaf == null ? new ZPos { Index = -1 } : new ZPos { Leaf = leaf, Index = index };

    struct GteMin : IZPredicate
    {
        public ScoreRange R;
        public readonly bool Test(double s, byte[] m) => R.GteMin(s);
    }

    struct AboveMax : IZPredicate
    {
        public ScoreRange R;
        public readonly bool Test(double s, byte[] m) => !R.LteMax(s);
    }

    struct LexGteMin : IZPredicate
    {
        public LexRange R;
        public readonly bool Test(double s, byte[] m) => R.GteMin(m);
    }

    struct LexAboveMax : IZPredicate
    {
        public LexRange R;
        public readonly bool Test(double s, byte[] m) => !R.LteMax(m);
    }

    bool TreeInRange(in ScoreRange r) =>
        !r.AlwaysEmpty && tree.Count > 0 && r.GteMin(tree.Tail.S[tree.Tail.N - 1]) && r.LteMax(tree.Head.S[0]);

    bool TreeInLex(in LexRange r) =>
        !r.AlwaysEmpty && tree.Count > 0 && r.GteMin(tree.Tail.M[tree.Tail.N - 1]) && r.LteMax(tree.Head.M[0]);

    public ZPos FirstInRange(in ScoreRange r)
    {
        if (tree != null)
        {
            if (!TreeInRange(r)) return new ZPos { Index = -1 };
            var leaf = tree.FirstWhere(new GteMin { R = r }, out int i);
            return leaf != null && r.LteMax(leaf.S[i]) ? Pos(leaf, i) : new ZPos { Index = -1 };
        }
        if (r.AlwaysEmpty || lpCount == 0) return new ZPos { Index = -1 };
        int lo = 0, hi = lpCount;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (r.GteMin(lpScores[mid])) hi = mid; else lo = mid + 1;
        }
        return new ZPos { Index = lo < lpCount && r.LteMax(lpScores[lo]) ? lo : -1 };
    }

    public ZPos LastInRange(in ScoreRange r)
    {
        if (tree != null)
        {
            if (!TreeInRange(r)) return new ZPos { Index = -1 };
            var leaf = tree.LastBefore(new AboveMax { R = r }, out int i);
            return leaf != null && r.GteMin(leaf.S[i]) ? Pos(leaf, i) : new ZPos { Index = -1 };
        }
        if (r.AlwaysEmpty || lpCount == 0) return new ZPos { Index = -1 };
        int lo = 0, hi = lpCount;   // first index that is past max
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (r.LteMax(lpScores[mid])) lo = mid + 1; else hi = mid;
        }
        int k = lo - 1;
        return new ZPos { Index = k >= 0 && r.GteMin(lpScores[k]) ? k : -1 };
    }

    // Lex ranges on a listpack are found by scanning from the ends, exactly as Redis does, so that sets
    // whose scores differ (where lex order is undefined) still answer as Redis answers.
    bool LpInLexRange(in LexRange r) =>
        !r.AlwaysEmpty && lpCount > 0 && r.GteMin(lpMembers[lpCount - 1]) && r.LteMax(lpMembers[0]);

    public ZPos FirstInLex(in LexRange r)
    {
        if (tree != null)
        {
            if (!TreeInLex(r)) return new ZPos { Index = -1 };
            var leaf = tree.FirstWhere(new LexGteMin { R = r }, out int i);
            return leaf != null && r.LteMax(leaf.M[i]) ? Pos(leaf, i) : new ZPos { Index = -1 };
        }
        if (!LpInLexRange(r)) return new ZPos { Index = -1 };
        for (int i = 0; i < lpCount; i++)
            if (r.GteMin(lpMembers[i])) return new ZPos { Index = r.LteMax(lpMembers[i]) ? i : -1 };
        return new ZPos { Index = -1 };
    }

    public ZPos LastInLex(in LexRange r)
    {
        if (tree != null)
        {
            if (!TreeInLex(r)) return new ZPos { Index = -1 };
            var leaf = tree.LastBefore(new LexAboveMax { R = r }, out int i);
            return leaf != null && r.GteMin(leaf.M[i]) ? Pos(leaf, i) : new ZPos { Index = -1 };
        }
        if (!LpInLexRange(r)) return new ZPos { Index = -1 };
        for (int i = lpCount - 1; i >= 0; i--)
            if (r.LteMax(lpMembers[i])) return new ZPos { Index = r.GteMin(lpMembers[i]) ? i : -1 };
        return new ZPos { Index = -1 };
    }

    // ------------------------------------------------------------------ updates

    [Flags]
    public enum AddIn { None = 0, Incr = 1, Nx = 2, Xx = 4, Gt = 8, Lt = 16 }

    [Flags]
    public enum AddOut { None = 0, Added = 1, Updated = 2, Nop = 4, Nan = 8 }

    /// <summary>
    /// zsetAdd: adds or updates one member under the NX/XX/GT/LT/INCR rules, converting a listpack that would
    /// outgrow the limits. Returns false (out NaN) when the resulting score is not a number.
    /// </summary>
    public bool Add(ReadOnlySpan<byte> member, double score, AddIn flags, long maxEntries, long maxValue, out AddOut result, out double newScore)
    {
        result = AddOut.None;
        newScore = score;
        if (double.IsNaN(score)) { result = AddOut.Nan; return false; }
        int at = tree == null ? LpFind(member) : dict.Find(member);
        if (at >= 0)
        {
            double cur = tree == null ? lpScores[at] : dict.ScoreAt(at);
            if ((flags & AddIn.Nx) != 0) { result = AddOut.Nop; return true; }
            if ((flags & AddIn.Incr) != 0)
            {
                score += cur;
                if (double.IsNaN(score)) { result = AddOut.Nan; return false; }
            }
            if (((flags & AddIn.Lt) != 0 && score >= cur) || ((flags & AddIn.Gt) != 0 && score <= cur))
            {
                result = AddOut.Nop;
                return true;
            }
            newScore = score;
            if (score != cur)
            {
                if (tree == null) LpUpdate(at, score);
                else TreeUpdate(at, score);
                result = AddOut.Updated;
            }
            return true;
        }
        if ((flags & AddIn.Xx) != 0) { result = AddOut.Nop; return true; }
        if (tree == null && (lpCount + 1 > maxEntries || member.Length > maxValue)) ConvertToSkiplist();
        var copy = member.ToArray();
        if (tree == null) LpInsert(copy, score);
        else TreeInsertNew(copy, score);
        newScore = score;
        result = AddOut.Added;
        return true;
    }

    /// <summary>Adds a member known to be absent, with no conversion (building a set in a known form).</summary>
    public void InsertNew(byte[] member, double score)
    {
        if (tree == null) LpInsert(member, score);
        else TreeInsertNew(member, score);
    }

    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (tree == null)
        {
            int i = LpFind(member);
            if (i < 0) return false;
            LpRemoveAt(i, 1);
            return true;
        }
        int e = dict.Find(member);
        if (e < 0) return false;
        TreeDelete(e);
        return true;
    }

    /// <summary>Deletes ranks [start, end] (0-based, inclusive, within bounds); returns how many.</summary>
    public long DeleteRangeByRank(long start, long end)
    {
        long n = end - start + 1;
        if (tree == null)
        {
            LpRemoveAt((int)start, (int)n);
            return n;
        }
        var doomed = new List<byte[]>((int)Math.Min(n, 1 << 20));
        var p = AtRank(start);
        for (long k = 0; k < n; k++, Next(ref p)) doomed.Add(MemberAt(p));
        foreach (var m in doomed) TreeDelete(dict.Find(m));
        return n;
    }

    public long DeleteRangeByScore(in ScoreRange r)
    {
        var first = FirstInRange(r);
        if (!Valid(first)) return 0;
        if (tree != null)
        {
            var doomed = new List<byte[]>();
            for (var p = first; Valid(p) && r.LteMax(ScoreAt(p)); Next(ref p)) doomed.Add(MemberAt(p));
            foreach (var m in doomed) TreeDelete(dict.Find(m));
            return doomed.Count;
        }
        int i = first.Index, j = i;
        while (j < lpCount && r.LteMax(lpScores[j])) j++;
        LpRemoveAt(i, j - i);
        return j - i;
    }

    public long DeleteRangeByLex(in LexRange r)
    {
        var first = FirstInLex(r);
        if (!Valid(first)) return 0;
        if (tree != null)
        {
            var doomed = new List<byte[]>();
            for (var p = first; Valid(p) && r.LteMax(MemberAt(p)); Next(ref p)) doomed.Add(MemberAt(p));
            foreach (var m in doomed) TreeDelete(dict.Find(m));
            return doomed.Count;
        }
        int i = first.Index, j = i;
        while (j < lpCount && r.LteMax(lpMembers[j])) j++;
        LpRemoveAt(i, j - i);
        return j - i;
    }

    /// <summary>Removes and returns the lowest (or highest) member; the set must not be empty.</summary>
    public void Pop(bool max, out byte[] member, out double score)
    {
        if (tree == null)
        {
            int i = max ? lpCount - 1 : 0;
            member = lpMembers[i];
            score = lpScores[i];
            LpRemoveAt(i, 1);
            return;
        }
        var p = max ? Last() : First();
        member = MemberAt(p);
        score = ScoreAt(p);
        TreeDelete(dict.Find(member));
    }

    // ------------------------------------------------------------------ conversions

    public void ConvertToSkiplist()
    {
        if (tree != null) return;
        var ms = lpMembers;
        var ss = lpScores;
        int n = lpCount;
        InitSkiplist();
        for (int i = 0; i < n; i++) TreeInsertNew(ms[i], ss[i]);
    }

    /// <summary>zsetConvertToListpackIfNeeded: a skiplist result that fits the listpack limits goes back to a listpack.</summary>
    public void ConvertToListpackIfNeeded(long maxEntries, long maxValue, long maxMemberLength)
    {
        if (tree == null) return;
        if (tree.Count > maxEntries || maxMemberLength > maxValue) return;
        int n = tree.Count;
        var ms = new byte[Math.Max(n, 1)][];
        var ss = new double[Math.Max(n, 1)];
        int i = 0;
        for (var p = First(); Valid(p); Next(ref p), i++)
        {
            ms[i] = MemberAt(p);
            ss[i] = ListpackScore(ScoreAt(p));
        }
        tree = null;
        dict = null;
        structureCost = 0;
        lastLeaves = lastInners = lastBuckets = lastEntries = 0;
        lpMembers = ms;
        lpScores = ss;
        lpCount = n;
        cost = 64 + ms.Length * 16L;
        for (int j = 0; j < n; j++) cost += MemberCost(ms[j]);
    }

    // ------------------------------------------------------------------ listpack internals

    void LpInsert(byte[] member, double score)
    {
        score = ListpackScore(score);
        if (lpCount == lpMembers.Length)
        {
            int cap = Math.Max(4, lpCount * 2);
            Array.Resize(ref lpMembers, cap);
            Array.Resize(ref lpScores, cap);
            cost += (cap - lpCount) * 16L;
        }
        int pos = LpInsertPosition(member, score);
        if (pos < lpCount)
        {
            Array.Copy(lpMembers, pos, lpMembers, pos + 1, lpCount - pos);
            Array.Copy(lpScores, pos, lpScores, pos + 1, lpCount - pos);
        }
        lpMembers[pos] = member;
        lpScores[pos] = score;
        lpCount++;
        cost += MemberCost(member);
    }

    int LpInsertPosition(ReadOnlySpan<byte> member, double score)
    {
        int lo = 0, hi = lpCount;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (Compare(lpScores[mid], lpMembers[mid], score, member) < 0) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    void LpUpdate(int index, double score)
    {
        var m = lpMembers[index];
        LpRemoveAt(index, 1);
        LpInsert(m, score);
    }

    void LpRemoveAt(int index, int n)
    {
        for (int i = index; i < index + n; i++) cost -= MemberCost(lpMembers[i]);
        int tailCount = lpCount - index - n;
        if (tailCount > 0)
        {
            Array.Copy(lpMembers, index + n, lpMembers, index, tailCount);
            Array.Copy(lpScores, index + n, lpScores, index, tailCount);
        }
        lpCount -= n;
        Array.Clear(lpMembers, lpCount, n);
    }

    // ------------------------------------------------------------------ tree internals

    void TreeInsertNew(byte[] member, double score)
    {
        tree.Insert(member, score);
        dict.Add(member, score);
        cost += MemberCost(member);
        RecountStructure();
    }

    void TreeDelete(int entry)
    {
        var m = dict.MemberAt(entry);
        tree.Delete(m, dict.ScoreAt(entry));
        dict.RemoveAt(entry);
        cost -= MemberCost(m);
        RecountStructure();
    }

    void TreeUpdate(int entry, double score)
    {
        var m = dict.MemberAt(entry);
        ref double s = ref dict.ScoreAt(entry);
        tree.Delete(m, s);
        tree.Insert(m, score);
        s = score;
        RecountStructure();
    }

    /// <summary>One ZSCAN step over the member hash.</summary>
    public ulong ScanStep(ulong cursor, List<byte[]> members, List<double> scores) => dict.ScanStep(cursor, members, scores);

    // ------------------------------------------------------------------ IRedisObject

    public IRedisObject Clone()
    {
        if (tree == null)
        {
            var z = new ZSetValue(Math.Max(lpCount, 4));
            for (int i = 0; i < lpCount; i++)
            {
                z.lpMembers[i] = lpMembers[i].ToArray();
                z.lpScores[i] = lpScores[i];
                z.cost += MemberCost(z.lpMembers[i]);
            }
            z.lpCount = lpCount;
            return z;
        }
        var s = NewSkiplist();
        for (var p = First(); Valid(p); Next(ref p)) s.TreeInsertNew(MemberAt(p).ToArray(), ScoreAt(p));
        return s;
    }

    /// <summary>debug.c: per element, mix(member) then mix("%.17g" of the score) into a fresh digest, then xorDigest (SHA1 of it) in.</summary>
    public void Digest(byte[] digest)
    {
        var ele = new byte[20];
        Span<byte> text = stackalloc byte[Protocol.Double17g.MaxLength];
        for (var p = First(); Valid(p); Next(ref p))
        {
            Array.Clear(ele);
            Storage.Digest.Mix(ele, MemberAt(p));
            Storage.Digest.Mix(ele, text[..Protocol.Double17g.Format(ScoreAt(p), text)]);
            Storage.Digest.Xor(digest, ele);
        }
    }

    /// <summary>The score as a listpack stores it (ZSCAN on a listpack returns these bytes): integers within ±2^62 as integers.</summary>
    public static string ListpackScoreText(double s)
    {
        if (s >= -4611686018427387904.0 && s <= 4611686018427387904.0 && s == Math.Floor(s))
            return ((long)s).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Protocol.Numbers.FormatDouble17g(s);
    }
}

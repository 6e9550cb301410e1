using System.Runtime.CompilerServices;

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

/// <summary>
/// One level of a skiplist node: the next node at this level, the span to it, and a copy of that node's
/// score, member and upper-level array, so a search compares and steps without touching the node it does
/// not enter (one cache miss per step, as Redis's nodes with inline levels).
/// </summary>
public struct ZLevel
{
    public ZNode Forward;
    public ZLevel[] FwdUp;
    public byte[] FwdMember;
    public double FwdScore;
    public int Span;
}

/// <summary>A skiplist node, also chained in the member hash of its set. Level 0 lives in the node itself
/// (three nodes in four have no other level), higher levels in a small array.</summary>
public sealed class ZNode
{
    public byte[] Member;
    public double Score;
    public ZNode Back;
    internal ZLevel L0;
    internal readonly ZLevel[] Up;
    public readonly int Height;
    internal ZNode HashNext;
    internal uint Hash;

    public ZNode(int levels, byte[] member, double score)
    {
        Height = levels;
        if (levels > 1) Up = new ZLevel[levels - 1];
        Member = member;
        Score = score;
    }

    public ZNode Next => L0.Forward;
}

/// <summary>A position in a sorted set: an index in listpack form, a node in skiplist form.</summary>
public struct ZPos
{
    public int Index;
    public ZNode Node;
}

/// <summary>
/// A sorted set. Small sets are "listpack": two parallel arrays kept sorted by (score, member) — the order
/// Redis's listpack holds — with member lookups by linear scan as Redis does. Once a set grows past
/// zset-max-listpack-entries/value it becomes "skiplist": an indexable skiplist (spans give O(log n) ranks)
/// whose nodes are also chained in a member hash table (O(1) ZSCORE, SCAN cursors). Conversion is one way,
/// except that the STORE commands build their result and shrink it back when it fits, as Redis does.
/// </summary>
public sealed class ZSetValue : IRedisObject
{
    const int MaxLevel = 32;

    // listpack form
    byte[][] lpMembers;
    double[] lpScores;
    int lpCount;

    // skiplist form
    ZNode header, tail;
    int level, length;
    ZNode[] buckets;

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
    public static ZSetValue FromSorted(byte[][] members, double[] scores, int n, bool listpack)
    {
        if (!listpack)
        {
            var s = NewSkiplist();
            for (int i = 0; i < n; i++) s.SlInsertNew(members[i], scores[i]);
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
        header = new ZNode(MaxLevel, null, 0);
        tail = null;
        level = 1;
        length = 0;
        buckets = new ZNode[16];
        cost = 64 + 32 * 16 + 16 * 8;
    }

    public ValueType Type => ValueType.ZSet;
    public bool IsListpack => header == null;
    public string EncodingName => IsListpack ? "listpack" : "skiplist";
    public long Cost => cost;
    public int Count => IsListpack ? lpCount : length;

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
        var n = HashFind(member);
        score = n?.Score ?? 0;
        return n != null;
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
        var n = HashFind(member);
        if (n == null) return -1;
        return SlRank(n) - 1;
    }

    // ------------------------------------------------------------------ positions

    public ZPos First() => IsListpack ? new ZPos { Index = lpCount > 0 ? 0 : -1 } : new ZPos { Index = -1, Node = header.L0.Forward };
    public ZPos Last() => IsListpack ? new ZPos { Index = lpCount - 1 } : new ZPos { Index = -1, Node = tail };

    /// <summary>Position of a 0-based rank known to be in range.</summary>
    public ZPos AtRank(long rank) => IsListpack ? new ZPos { Index = (int)rank } : new ZPos { Index = -1, Node = SlByRank(rank + 1) };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Valid(in ZPos p) => header == null ? p.Index >= 0 && p.Index < lpCount : p.Node != null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Next(ref ZPos p)
    {
        if (header == null) p.Index++;
        else p.Node = p.Node.L0.Forward;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prev(ref ZPos p)
    {
        if (header == null) p.Index--;
        else p.Node = p.Node.Back;
    }

    public byte[] MemberAt(in ZPos p) => header == null ? lpMembers[p.Index] : p.Node.Member;
    public double ScoreAt(in ZPos p) => header == null ? lpScores[p.Index] : p.Node.Score;

    /// <summary>0-based rank of a valid position.</summary>
    public long RankOf(in ZPos p) => header == null ? p.Index : SlRank(p.Node) - 1;

    public ZPos FirstInRange(in ScoreRange r)
    {
        if (header != null) return new ZPos { Index = -1, Node = SlFirstInRange(r) };
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
        if (header != null) return new ZPos { Index = -1, Node = SlLastInRange(r) };
        if (r.AlwaysEmpty || lpCount == 0) return new ZPos { Index = -1 };
        int lo = 0, hi = lpCount;   // first index that is past max
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (r.LteMax(lpScores[mid])) lo = mid + 1; else hi = mid;
        }
        int i = lo - 1;
        return new ZPos { Index = i >= 0 && r.GteMin(lpScores[i]) ? i : -1 };
    }

    // Lex ranges on a listpack are found by scanning from the ends, exactly as Redis does, so that sets
    // whose scores differ (where lex order is undefined) still answer as Redis answers.
    bool LpInLexRange(in LexRange r) =>
        !r.AlwaysEmpty && lpCount > 0 && r.GteMin(lpMembers[lpCount - 1]) && r.LteMax(lpMembers[0]);

    public ZPos FirstInLex(in LexRange r)
    {
        if (header != null) return new ZPos { Index = -1, Node = SlFirstInLex(r) };
        if (!LpInLexRange(r)) return new ZPos { Index = -1 };
        for (int i = 0; i < lpCount; i++)
            if (r.GteMin(lpMembers[i])) return new ZPos { Index = r.LteMax(lpMembers[i]) ? i : -1 };
        return new ZPos { Index = -1 };
    }

    public ZPos LastInLex(in LexRange r)
    {
        if (header != null) return new ZPos { Index = -1, Node = SlLastInLex(r) };
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
        bool exists;
        double cur;
        int lpIndex = -1;
        ZNode node = null;
        if (header == null)
        {
            lpIndex = LpFind(member);
            exists = lpIndex >= 0;
            cur = exists ? lpScores[lpIndex] : 0;
        }
        else
        {
            node = HashFind(member);
            exists = node != null;
            cur = exists ? node.Score : 0;
        }
        if (exists)
        {
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
                if (header == null) LpUpdate(lpIndex, score);
                else SlUpdateScore(node, score);
                result = AddOut.Updated;
            }
            return true;
        }
        if ((flags & AddIn.Xx) != 0) { result = AddOut.Nop; return true; }
        if (header == null && (lpCount + 1 > maxEntries || member.Length > maxValue)) ConvertToSkiplist();
        var copy = member.ToArray();
        if (header == null) LpInsert(copy, score);
        else SlInsertNew(copy, score);
        newScore = score;
        result = AddOut.Added;
        return true;
    }

    /// <summary>Adds a member known to be absent, with no conversion (building a set in a known form).</summary>
    public void InsertNew(byte[] member, double score)
    {
        if (header == null) LpInsert(member, score);
        else SlInsertNew(member, score);
    }

    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (header == null)
        {
            int i = LpFind(member);
            if (i < 0) return false;
            LpRemoveAt(i, 1);
            return true;
        }
        var n = HashFind(member);
        if (n == null) return false;
        SlDelete(n);
        return true;
    }

    /// <summary>Deletes ranks [start, end] (0-based, inclusive, within bounds); returns how many.</summary>
    public long DeleteRangeByRank(long start, long end)
    {
        if (header == null)
        {
            LpRemoveAt((int)start, (int)(end - start + 1));
            return end - start + 1;
        }
        return SlDeleteRangeByRank(start, end);
    }

    public long DeleteRangeByScore(in ScoreRange r)
    {
        var first = FirstInRange(r);
        if (!Valid(first)) return 0;
        if (header != null) return SlDeleteRangeByScore(r);
        int i = first.Index, j = i;
        while (j < lpCount && r.LteMax(lpScores[j])) j++;
        LpRemoveAt(i, j - i);
        return j - i;
    }

    public long DeleteRangeByLex(in LexRange r)
    {
        if (header != null) return SlIsInLex(r) ? SlDeleteRangeByLex(r) : 0;
        var first = FirstInLex(r);
        if (first.Index < 0) return 0;
        int i = first.Index, j = i;
        while (j < lpCount && r.LteMax(lpMembers[j])) j++;
        LpRemoveAt(i, j - i);
        return j - i;
    }

    /// <summary>Removes and returns the lowest (or highest) member; the set must not be empty.</summary>
    public void Pop(bool max, out byte[] member, out double score)
    {
        if (header == null)
        {
            int i = max ? lpCount - 1 : 0;
            member = lpMembers[i];
            score = lpScores[i];
            LpRemoveAt(i, 1);
            return;
        }
        var n = max ? tail : header.L0.Forward;
        member = n.Member;
        score = n.Score;
        SlDelete(n);
    }

    // ------------------------------------------------------------------ conversions

    public void ConvertToSkiplist()
    {
        if (header != null) return;
        var ms = lpMembers;
        var ss = lpScores;
        int n = lpCount;
        InitSkiplist();
        for (int i = 0; i < n; i++) SlInsertNew(ms[i], ss[i]);
    }

    /// <summary>zsetConvertToListpackIfNeeded: a skiplist result that fits the listpack limits goes back to a listpack.</summary>
    public void ConvertToListpackIfNeeded(long maxEntries, long maxValue, long maxMemberLength)
    {
        if (header == null) return;
        if (length > maxEntries || maxMemberLength > maxValue) return;
        int n = length;
        var ms = new byte[Math.Max(n, 1)][];
        var ss = new double[Math.Max(n, 1)];
        int i = 0;
        for (var x = header.L0.Forward; x != null; x = x.L0.Forward, i++)
        {
            ms[i] = x.Member;
            ss[i] = ListpackScore(x.Score);
        }
        header = null;
        tail = null;
        buckets = null;
        length = 0;
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

    // ------------------------------------------------------------------ skiplist internals

    static ulong rng = (ulong)Environment.TickCount64 * 0x9E3779B97F4A7C15UL | 1;

    static int RandomLevel()
    {
        int lvl = 1;
        while (true)
        {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            // P = 1/4 per extra level, as Redis's ZSKIPLIST_P.
            if ((rng & 3) != 0 || lvl >= MaxLevel) return lvl;
            lvl++;
        }
    }

    static long NodeCost(ZNode n) => 112 + (n.Height > 1 ? 40L * (n.Height - 1) + 24 : 0) + MemberCost(n.Member);

    /// <summary>Level i of node x, whose upper-level array is xu (level 0 is in the node itself).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ref ZLevel Lv(ZNode x, ZLevel[] xu, int i) => ref i == 0 ? ref x.L0 : ref xu[i - 1];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ref ZLevel Lv(ZNode x, int i) => ref i == 0 ? ref x.L0 : ref x.Up[i - 1];

    /// <summary>Does the node this level points to come before (score, member)? (with orEqual: or is it that element)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool Before(in ZLevel l, double score, byte[] member, bool orEqual)
    {
        if (l.Forward == null) return false;
        if (l.FwdScore < score) return true;
        if (l.FwdScore > score) return false;
        int c = l.FwdMember.AsSpan().SequenceCompareTo(member);
        return orEqual ? c <= 0 : c < 0;
    }

    // Scratch vectors for one skiplist operation at a time (the event loop is single-threaded).
    static readonly ZNode[] updateScratch = new ZNode[MaxLevel];
    static readonly int[] rankScratch = new int[MaxLevel];

    void SlInsertNew(byte[] member, double score)
    {
        var node = new ZNode(RandomLevel(), member, score);
        SlLink(node);
        HashAdd(node);
        cost += NodeCost(node);
    }

    /// <summary>Links a node (its height chosen, its levels clear) at its (score, member) place.</summary>
    void SlLink(ZNode node)
    {
        var rank = rankScratch;
        var update = updateScratch;
        var x = header;
        var xu = header.Up;
        double score = node.Score;
        var member = node.Member;
        for (int i = level - 1; i >= 0; i--)
        {
            rank[i] = i == level - 1 ? 0 : rank[i + 1];
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (!Before(l, score, member, false)) break;
                rank[i] += l.Span;
                x = l.Forward;
                xu = l.FwdUp;
            }
            update[i] = x;
        }
        int lvl = node.Height;
        if (lvl > level)
        {
            for (int i = level; i < lvl; i++)
            {
                rank[i] = 0;
                update[i] = header;
                Lv(header, i).Span = length;
            }
            level = lvl;
        }
        for (int i = 0; i < lvl; i++)
        {
            ref var u = ref Lv(update[i], i);
            ref var n = ref Lv(node, i);
            n.Forward = u.Forward;
            n.FwdUp = u.FwdUp;
            n.FwdMember = u.FwdMember;
            n.FwdScore = u.FwdScore;
            n.Span = u.Span - (rank[0] - rank[i]);
            u.Forward = node;
            u.FwdUp = node.Up;
            u.FwdMember = member;
            u.FwdScore = score;
            u.Span = rank[0] - rank[i] + 1;
        }
        for (int i = lvl; i < level; i++) Lv(update[i], i).Span++;
        node.Back = update[0] == header ? null : update[0];
        if (node.L0.Forward != null) node.L0.Forward.Back = node;
        else tail = node;
        length++;
    }

    void SlUnlink(ZNode x, ZNode[] update)
    {
        for (int i = 0; i < level; i++)
        {
            ref var u = ref Lv(update[i], i);
            if (u.Forward == x)
            {
                ref var xl = ref Lv(x, i);
                u.Span += xl.Span - 1;
                u.Forward = xl.Forward;
                u.FwdUp = xl.FwdUp;
                u.FwdMember = xl.FwdMember;
                u.FwdScore = xl.FwdScore;
            }
            else u.Span -= 1;
        }
        if (x.L0.Forward != null) x.L0.Forward.Back = x.Back;
        else tail = x.Back;
        while (level > 1 && Lv(header, level - 1).Forward == null) level--;
        length--;
    }

    /// <summary>The last node before (score, member) at every level.</summary>
    ZNode[] FindUpdate(double score, byte[] member)
    {
        var update = updateScratch;
        var x = header;
        var xu = header.Up;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (!Before(l, score, member, false)) break;
                x = l.Forward;
                xu = l.FwdUp;
            }
            update[i] = x;
        }
        return update;
    }

    void SlDelete(ZNode n)
    {
        SlUnlink(n, FindUpdate(n.Score, n.Member));
        HashRemove(n);
        cost -= NodeCost(n);
    }

    void SlUpdateScore(ZNode n, double score)
    {
        // The node keeps its place when its neighbours still bracket the new score (zslUpdateScore's fast
        // path); the predecessors' cached copies of its score are refreshed on the way.
        var prev = n.Back;
        var next = n.L0.Forward;
        if ((prev == null || Compare(prev.Score, prev.Member, score, n.Member) < 0) &&
            (next == null || Compare(next.Score, next.Member, score, n.Member) > 0))
        {
            var pred = FindUpdate(n.Score, n.Member);
            for (int i = 0; i < n.Height; i++) Lv(pred[i], i).FwdScore = score;
            n.Score = score;
            return;
        }
        SlUnlink(n, FindUpdate(n.Score, n.Member));
        n.Score = score;
        n.Back = null;
        for (int i = 0; i < n.Height; i++) Lv(n, i) = default;
        SlLink(n);
    }

    /// <summary>1-based rank of a node of this list.</summary>
    long SlRank(ZNode n)
    {
        long rank = 0;
        var x = header;
        var xu = header.Up;
        double score = n.Score;
        var member = n.Member;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (!Before(l, score, member, true)) break;
                rank += l.Span;
                x = l.Forward;
                xu = l.FwdUp;
            }
            if (x == n) return rank;
        }
        return 0;
    }

    /// <summary>The node at a 1-based rank, or null.</summary>
    ZNode SlByRank(long rank)
    {
        long traversed = 0;
        var x = header;
        var xu = header.Up;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (l.Forward == null || traversed + l.Span > rank) break;
                traversed += l.Span;
                x = l.Forward;
                xu = l.FwdUp;
            }
            if (traversed == rank) return x == header ? null : x;
        }
        return null;
    }

    bool SlIsInRange(in ScoreRange r)
    {
        if (r.AlwaysEmpty) return false;
        if (tail == null || !r.GteMin(tail.Score)) return false;
        var first = header.L0.Forward;
        return first != null && r.LteMax(first.Score);
    }

    /// <summary>The last node whose score is below the range (the header if none), at every level into update.</summary>
    ZNode SlBeforeRange(in ScoreRange r, ZNode[] update)
    {
        var x = header;
        var xu = header.Up;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (l.Forward == null || r.GteMin(l.FwdScore)) break;
                x = l.Forward;
                xu = l.FwdUp;
            }
            if (update != null) update[i] = x;
        }
        return x;
    }

    ZNode SlFirstInRange(in ScoreRange r)
    {
        if (!SlIsInRange(r)) return null;
        var x = SlBeforeRange(r, null).L0.Forward;
        return x != null && r.LteMax(x.Score) ? x : null;
    }

    ZNode SlLastInRange(in ScoreRange r)
    {
        if (!SlIsInRange(r)) return null;
        var x = header;
        var xu = header.Up;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (l.Forward == null || !r.LteMax(l.FwdScore)) break;
                x = l.Forward;
                xu = l.FwdUp;
            }
        }
        return x != header && r.GteMin(x.Score) ? x : null;
    }

    bool SlIsInLex(in LexRange r)
    {
        if (r.AlwaysEmpty) return false;
        if (tail == null || !r.GteMin(tail.Member)) return false;
        var first = header.L0.Forward;
        return first != null && r.LteMax(first.Member);
    }

    ZNode SlBeforeLex(in LexRange r, ZNode[] update)
    {
        var x = header;
        var xu = header.Up;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (l.Forward == null || r.GteMin(l.FwdMember)) break;
                x = l.Forward;
                xu = l.FwdUp;
            }
            if (update != null) update[i] = x;
        }
        return x;
    }

    ZNode SlFirstInLex(in LexRange r)
    {
        if (!SlIsInLex(r)) return null;
        var x = SlBeforeLex(r, null).L0.Forward;
        return x != null && r.LteMax(x.Member) ? x : null;
    }

    ZNode SlLastInLex(in LexRange r)
    {
        if (!SlIsInLex(r)) return null;
        var x = header;
        var xu = header.Up;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (l.Forward == null || !r.LteMax(l.FwdMember)) break;
                x = l.Forward;
                xu = l.FwdUp;
            }
        }
        return x != header && r.GteMin(x.Member) ? x : null;
    }

    /// <summary>Unlinks nodes from x on while keep says so; update holds the predecessors at every level.</summary>
    long SlDeleteFrom(ZNode x, ZNode[] update, Func<ZNode, bool> inRange, long max = long.MaxValue)
    {
        long removed = 0;
        while (x != null && removed < max && inRange(x))
        {
            var next = x.L0.Forward;
            SlUnlink(x, update);
            HashRemove(x);
            cost -= NodeCost(x);
            removed++;
            x = next;
        }
        return removed;
    }

    long SlDeleteRangeByRank(long start, long end)
    {
        var update = updateScratch;
        long traversed = 0;
        var x = header;
        var xu = header.Up;
        for (int i = level - 1; i >= 0; i--)
        {
            while (true)
            {
                ref var l = ref Lv(x, xu, i);
                if (l.Forward == null || traversed + l.Span >= start + 1) break;
                traversed += l.Span;
                x = l.Forward;
                xu = l.FwdUp;
            }
            update[i] = x;
        }
        return SlDeleteFrom(x.L0.Forward, update, _ => true, end - start + 1);
    }

    long SlDeleteRangeByScore(ScoreRange r)
    {
        var x = SlBeforeRange(r, updateScratch);
        return SlDeleteFrom(x.L0.Forward, updateScratch, n => r.LteMax(n.Score));
    }

    long SlDeleteRangeByLex(LexRange r)
    {
        var x = SlBeforeLex(r, updateScratch);
        return SlDeleteFrom(x.L0.Forward, updateScratch, n => r.LteMax(n.Member));
    }

    // ------------------------------------------------------------------ member hash (skiplist form)

    ZNode HashFind(ReadOnlySpan<byte> member)
    {
        uint h = KeyTable.HashOf(member);
        for (var n = buckets[h & (uint)(buckets.Length - 1)]; n != null; n = n.HashNext)
            if (n.Hash == h && member.SequenceEqual(n.Member)) return n;
        return null;
    }

    void HashAdd(ZNode n)
    {
        if (length > buckets.Length) HashResize(buckets.Length * 2);
        n.Hash = KeyTable.HashOf(n.Member);
        ref var b = ref buckets[n.Hash & (uint)(buckets.Length - 1)];
        n.HashNext = b;
        b = n;
    }

    void HashRemove(ZNode n)
    {
        ref var link = ref buckets[n.Hash & (uint)(buckets.Length - 1)];
        while (link != n) link = ref link.HashNext;
        link = n.HashNext;
        n.HashNext = null;
        // Shrink below 10% fill, as Redis's htNeedsResize.
        if (buckets.Length > 16 && (long)length * 10 < buckets.Length)
        {
            int size = 16;
            while (size < length) size <<= 1;
            HashResize(size);
        }
    }

    void HashResize(int size)
    {
        cost += (size - (long)buckets.Length) * 8;
        var nb = new ZNode[size];
        uint mask = (uint)(size - 1);
        foreach (var head in buckets)
        {
            for (var n = head; n != null;)
            {
                var next = n.HashNext;
                ref var b = ref nb[n.Hash & mask];
                n.HashNext = b;
                b = n;
                n = next;
            }
        }
        buckets = nb;
    }

    /// <summary>One ZSCAN step over the member hash: the bucket the cursor names, then Redis's reverse-binary increment.</summary>
    public ulong ScanStep(ulong cursor, List<ZNode> found)
    {
        ulong mask = (ulong)(buckets.Length - 1);
        for (var n = buckets[(int)(cursor & mask)]; n != null; n = n.HashNext) found.Add(n);
        return ScanCursor.Next(cursor, mask);
    }

    // ------------------------------------------------------------------ IRedisObject

    public IRedisObject Clone()
    {
        if (header == null)
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
        for (var x = header.L0.Forward; x != null; x = x.L0.Forward) s.SlInsertNew(x.Member.ToArray(), x.Score);
        return s;
    }

    /// <summary>debug.c: per element, mix(member) then mix("%.17g" of the score) into a fresh digest, then xorDigest (SHA1 of it) in.</summary>
    public void Digest(byte[] digest)
    {
        var ele = new byte[20];
        for (var p = First(); Valid(p); Next(ref p))
        {
            Array.Clear(ele);
            Storage.Digest.Mix(ele, MemberAt(p));
            Storage.Digest.Mix(ele, System.Text.Encoding.ASCII.GetBytes(Protocol.Numbers.FormatDouble17g(ScoreAt(p))));
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

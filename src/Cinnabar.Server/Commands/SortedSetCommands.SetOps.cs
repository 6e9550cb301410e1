using System.Runtime.InteropServices;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>ZUNION/ZINTER/ZDIFF (and STORE), ZINTERCARD, ZRANDMEMBER and ZSCAN.</summary>
public static partial class SortedSetCommands
{
    enum SetOpKind { Union, Inter, Diff }
    enum AggregateKind { Sum, Min, Max }

    /// <summary>One input of a set operation: a sorted set, a plain set (every member scores 1), or nothing.</summary>
    struct Source
    {
        public ZSetValue Z;
        public SetValue S;
        public double Weight;
        public int Count;
    }

    // Plain sets as inputs: the only places this family reads another type's internals.
    static int SetCount(SetValue s) => s.Count;
    static bool SetContains(SetValue s, byte[] member) => s.Contains(member);

    static bool Find(in Source s, byte[] member, out double score)
    {
        score = 1.0;
        if (s.Z != null) return s.Z.TryGetScore(member, out score);
        return s.S != null && SetContains(s.S, member);
    }

    static void Aggregate(ref double target, double value, AggregateKind agg)
    {
        switch (agg)
        {
            case AggregateKind.Sum:
                target += value;
                if (double.IsNaN(target)) target = 0.0;   // inf + -inf
                break;
            case AggregateKind.Min:
                target = value < target ? value : target;
                break;
            default:
                target = value > target ? value : target;
                break;
        }
    }

    /// <summary>zunionInterDiffGenericCommand.</summary>
    static void SetOp(Client c, byte[] dstKey, int numKeysIdx, SetOpKind kind, bool cardinalityOnly, string name)
    {
        if (!c.TryArgLong(numKeysIdx, out long setnum)) return;
        if (setnum < 1)
        {
            c.Error($"ERR at least 1 input key is needed for '{name}' command");
            return;
        }
        if (setnum > c.ArgCount - (numKeysIdx + 1)) { c.Syntax(); return; }
        int n = (int)setnum;
        var src = new Source[n];
        int j = numKeysIdx + 1;
        for (int i = 0; i < n; i++, j++)
        {
            var v = Keyspace.LookupRead(c, c.Arg(j));
            src[i].Weight = 1.0;
            if (v == null) continue;
            if (v is ZSetValue z) { src[i].Z = z; src[i].Count = z.Count; }
            else if (v is SetValue s) { src[i].S = s; src[i].Count = SetCount(s); }
            else { c.WrongType(); return; }
        }
        var agg = AggregateKind.Sum;
        bool withScores = false;
        long limit = 0;
        while (j < c.ArgCount)
        {
            int remaining = c.ArgCount - j;
            if (kind != SetOpKind.Diff && !cardinalityOnly && remaining >= n + 1 && c.ArgIs(j, "weights"))
            {
                j++;
                for (int i = 0; i < n; i++, j++)
                {
                    if (!TryParseScore(c.Arg(j), out src[i].Weight))
                    {
                        c.Error("ERR weight value is not a float");
                        return;
                    }
                }
            }
            else if (kind != SetOpKind.Diff && !cardinalityOnly && remaining >= 2 && c.ArgIs(j, "aggregate"))
            {
                j++;
                if (c.ArgIs(j, "sum")) agg = AggregateKind.Sum;
                else if (c.ArgIs(j, "min")) agg = AggregateKind.Min;
                else if (c.ArgIs(j, "max")) agg = AggregateKind.Max;
                else { c.Syntax(); return; }
                j++;
            }
            else if (dstKey == null && !cardinalityOnly && c.ArgIs(j, "withscores"))
            {
                j++;
                withScores = true;
            }
            else if (cardinalityOnly && remaining >= 2 && c.ArgIs(j, "limit"))
            {
                j++;
                if (!Numbers.TryParseInt64(c.Arg(j), out limit) || limit < 0)
                {
                    c.Error("ERR LIMIT can't be negative");
                    return;
                }
                j++;
            }
            else { c.Syntax(); return; }
        }

        // Smallest inputs first (stable, as glibc's merge-sort qsort): it fixes the order SUM adds in.
        if (kind != SetOpKind.Diff)
        {
            for (int a = 1; a < n; a++)
            {
                var item = src[a];
                int b = a - 1;
                while (b >= 0 && src[b].Count > item.Count) { src[b + 1] = src[b]; b--; }
                src[b + 1] = item;
            }
        }

        var members = new List<byte[]>();
        var scores = new List<double>();
        long cardinality = 0;
        if (kind == SetOpKind.Union) Union(src, agg, members, scores);
        else if (kind == SetOpKind.Inter)
        {
            if (src[0].Count > 0)
            {
                ForEach(src[0], (member, s0) =>
                {
                    double score = src[0].Weight * s0;
                    if (double.IsNaN(score)) score = 0;
                    int k;
                    for (k = 1; k < src.Length; k++)
                    {
                        if (!Find(src[k], member, out double value)) break;
                        Aggregate(ref score, value * src[k].Weight, agg);
                    }
                    if (k < src.Length) return true;
                    if (cardinalityOnly)
                    {
                        cardinality++;
                        return !(limit != 0 && cardinality >= limit);
                    }
                    members.Add(member);
                    scores.Add(score);
                    return true;
                });
            }
        }
        else if (src[0].Count > 0)
        {
            ForEach(src[0], (member, s0) =>
            {
                for (int k = 1; k < src.Length; k++)
                    if (src[k].Count > 0 && Find(src[k], member, out _)) return true;
                members.Add(member);
                scores.Add(s0);
                return true;
            });
        }

        if (cardinalityOnly) { c.Reply.Integer(cardinality); return; }
        int count = members.Count;
        var ms = members.ToArray();
        var ss = scores.ToArray();
        SortByScoreThenMember(ms, ss);
        if (dstKey != null)
        {
            ZSetValue result = null;
            if (count > 0)
            {
                long maxLen = 0;
                foreach (var m in ms) if (m.Length > maxLen) maxLen = m.Length;
                var st = c.Server.Settings;
                result = ZSetValue.FromSorted(ms, ss, count, count <= st.ZsetMaxListpackEntries && maxLen <= st.ZsetMaxListpackValue);
            }
            FinishStore(c, dstKey, result, kind switch
            {
                SetOpKind.Union => "zunionstore",
                SetOpKind.Inter => "zinterstore",
                _ => "zdiffstore",
            });
            return;
        }
        c.Reply.ArrayHeader(withScores && !c.Reply.Resp3 ? count * 2L : count);
        for (int i = 0; i < count; i++) EmitElement(c, ms[i], ss[i], withScores);
    }

    static void Union(Source[] src, AggregateKind agg, List<byte[]> members, List<double> scores)
    {
        var acc = new Dictionary<byte[], double>(src[^1].Count, ByteArrayComparer.Instance);
        foreach (var s in src)
        {
            if (s.Count == 0) continue;
            double w = s.Weight;
            ForEach(s, (member, value) =>
            {
                double score = w * value;
                if (double.IsNaN(score)) score = 0;
                ref double slot = ref CollectionsMarshal.GetValueRefOrAddDefault(acc, member, out bool exists);
                if (exists) Aggregate(ref slot, score, agg);
                else slot = score;
                return true;
            });
        }
        foreach (var (m, s) in acc)
        {
            members.Add(m);
            scores.Add(s);
        }
    }

    /// <summary>Visits every (member, score) of an input until the visitor returns false.</summary>
    static void ForEach(in Source s, Func<byte[], double, bool> visit)
    {
        if (s.Z != null)
        {
            var z = s.Z;
            for (var p = z.First(); z.Valid(p); z.Next(ref p))
                if (!visit(z.MemberAt(p), z.ScoreAt(p))) return;
        }
        else if (s.S != null)
        {
            for (int i = 0; i < s.S.Count; i++)
                if (!visit(s.S.MemberBytes(i), 1.0)) return;
        }
    }

    static void SortByScoreThenMember(byte[][] ms, double[] ss)
    {
        if (ms.Length < 2) return;
        var idx = new int[ms.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(idx, (a, b) => ZSetValue.Compare(ss[a], ms[a], ss[b], ms[b]));
        var m2 = new byte[ms.Length][];
        var s2 = new double[ss.Length];
        for (int i = 0; i < idx.Length; i++)
        {
            m2[i] = ms[idx[i]];
            s2[i] = ss[idx[i]];
        }
        m2.CopyTo(ms, 0);
        s2.CopyTo(ss, 0);
    }

    // ------------------------------------------------------------------ ZRANDMEMBER

    static void ZRandMember(Client c)
    {
        if (c.ArgCount >= 3)
        {
            if (!c.TryArgLong(2, out long l)) return;
            if (l == long.MinValue)
            {
                c.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
                return;
            }
            bool withScores = false;
            if (c.ArgCount > 4 || (c.ArgCount == 4 && !c.ArgIs(3, "withscores"))) { c.Syntax(); return; }
            if (c.ArgCount == 4)
            {
                withScores = true;
                if (l < -long.MaxValue / 2 || l > long.MaxValue / 2) { c.Error("ERR value is out of range"); return; }
            }
            RandMemberWithCount(c, l, withScores);
            return;
        }
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z == null) { c.Reply.Null(); return; }
        var p = z.AtRank(Random.Shared.NextInt64(z.Count));
        c.Reply.Bulk(z.MemberAt(p));
    }

    static void RandMemberWithCount(Client c, long l, bool withScores)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.EmptyArray(); return; }
        if (v is not ZSetValue z) { c.WrongType(); return; }
        long size = z.Count;
        bool unique = l >= 0;
        ulong count = unique ? (ulong)l : (ulong)(-l);
        if (count == 0) { c.Reply.EmptyArray(); return; }
        bool flatPairs = withScores && !c.Reply.Resp3;

        // Repetitions allowed (negative count), or a single element: independent draws.
        if (!unique || count == 1)
        {
            c.Reply.ArrayHeader(flatPairs ? (long)count * 2 : (long)count);
            for (ulong i = 0; i < count; i++)
            {
                var p = z.AtRank(Random.Shared.NextInt64(size));
                EmitElement(c, z.MemberAt(p), z.ScoreAt(p), withScores);
            }
            return;
        }

        // The whole set: Redis answers it from the highest rank down.
        if (count >= (ulong)size)
        {
            c.Reply.ArrayHeader(flatPairs ? size * 2 : size);
            for (var p = z.Last(); z.Valid(p); z.Prev(ref p)) EmitElement(c, z.MemberAt(p), z.ScoreAt(p), withScores);
            return;
        }

        // A random subset of distinct ranks (Floyd's algorithm); a listpack answers in its own order.
        int k = (int)count;
        var picked = new HashSet<long>(k);
        for (long r = size - k; r < size; r++)
        {
            long t = Random.Shared.NextInt64(r + 1);
            if (!picked.Add(t)) picked.Add(r);
        }
        var ranks = new long[k];
        picked.CopyTo(ranks);
        if (z.IsListpack) Array.Sort(ranks);
        else Random.Shared.Shuffle(ranks);
        c.Reply.ArrayHeader(flatPairs ? k * 2L : k);
        foreach (long r in ranks)
        {
            var p = z.AtRank(r);
            EmitElement(c, z.MemberAt(p), z.ScoreAt(p), withScores);
        }
    }

    // ------------------------------------------------------------------ ZSCAN

    static void ZScan(Client c)
    {
        if (!KeyCommands.TryParseCursor(c, c.Arg(2), out ulong cursor)) return;
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null)
        {
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk("0"u8);
            c.Reply.EmptyArray();
            return;
        }
        if (v is not ZSetValue z) { c.WrongType(); return; }
        long count = 10;
        byte[] pattern = null;
        for (int i = 3; i < c.ArgCount;)
        {
            int left = c.ArgCount - i;
            if (c.ArgIs(i, "count") && left >= 2)
            {
                if (!c.TryArgLong(i + 1, out count)) return;
                if (count < 1) { c.Syntax(); return; }
                i += 2;
            }
            else if (c.ArgIs(i, "match") && left >= 2)
            {
                var p = c.Arg(i + 1);
                pattern = p.Length == 1 && p[0] == '*' ? null : p.ToArray();
                i += 2;
            }
            else { c.Syntax(); return; }
        }
        var members = new List<byte[]>();
        var scoreTexts = new List<string>();
        if (z.IsListpack)
        {
            for (var p = z.First(); z.Valid(p); z.Next(ref p))
            {
                var m = z.MemberAt(p);
                if (pattern != null && !Glob.Match(pattern, m)) continue;
                members.Add(m);
                scoreTexts.Add(ZSetValue.ListpackScoreText(z.ScoreAt(p)));
            }
            cursor = 0;
        }
        else
        {
            var foundMembers = new List<byte[]>();
            var foundScores = new List<double>();
            long maxIterations = count * 10;
            do
            {
                cursor = z.ScanStep(cursor, foundMembers, foundScores);
            } while (cursor != 0 && maxIterations-- > 0 && foundMembers.Count < count);
            for (int k = 0; k < foundMembers.Count; k++)
            {
                if (pattern != null && !Glob.Match(pattern, foundMembers[k])) continue;
                members.Add(foundMembers[k]);
                scoreTexts.Add(Numbers.FormatDouble17g(foundScores[k]));
            }
        }
        c.Reply.ArrayHeader(2);
        c.Reply.Bulk(cursor.ToString(System.Globalization.CultureInfo.InvariantCulture));
        c.Reply.ArrayHeader(members.Count * 2L);
        for (int i = 0; i < members.Count; i++)
        {
            c.Reply.Bulk(members[i]);
            c.Reply.Bulk(scoreTexts[i]);
        }
    }
}

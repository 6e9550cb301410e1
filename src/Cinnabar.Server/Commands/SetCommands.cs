using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>t_set.c: sets, their intset/hashtable encodings, random picks and the set algebra.</summary>
public static class SetCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("sadd", SAdd);
        t.Register("srem", SRem);
        t.Register("scard", SCard);
        t.Register("sismember", SIsMember);
        t.Register("smismember", SMIsMember);
        t.Register("smembers", SMembers);
        t.Register("spop", SPop);
        t.Register("srandmember", SRandMember);
        t.Register("smove", SMove);
        t.Register("sinter", c => SInterGeneric(c, 1, c.ArgCount - 1, -1, false, 0));
        t.Register("sinterstore", c => SInterGeneric(c, 2, c.ArgCount - 2, 1, false, 0));
        t.Register("sintercard", SInterCard);
        t.Register("sunion", c => SUnionDiffGeneric(c, 1, -1, false));
        t.Register("sunionstore", c => SUnionDiffGeneric(c, 2, 1, false));
        t.Register("sdiff", c => SUnionDiffGeneric(c, 1, -1, true));
        t.Register("sdiffstore", c => SUnionDiffGeneric(c, 2, 1, true));
        t.Register("sscan", SScan);
    }

    /// <summary>lookupKeyRead + checkType: false (WRONGTYPE sent) when the key holds another type.</summary>
    static bool TryRead(Client c, ReadOnlySpan<byte> key, out SetValue set) => Keyspace.TryRead(c, key, out set);

    static bool TryWrite(Client c, ReadOnlySpan<byte> key, out SetValue set) => Keyspace.TryWrite(c, key, out set);

    static void Notify(Client c, string ev, ReadOnlySpan<byte> key) => c.Server.Notify(KeyspaceEvents.Set, ev, key, c.Db.Id);
    static void NotifyDel(Client c, ReadOnlySpan<byte> key) => c.Server.Notify(KeyspaceEvents.Generic, "del", key, c.Db.Id);

    /// <summary>Replies with one member (integers straight from the intset).</summary>
    static void ReplyMember(Client c, SetValue set, int index)
    {
        if (set.IsIntset) c.Reply.BulkInteger(set.IntAt(index));
        else c.Reply.Bulk(set.Table.At(index).Key);
    }

    static void ReplyMembers(Client c, SetValue set)
    {
        int n = set.Count;
        for (int i = 0; i < n; i++) ReplyMember(c, set, i);
    }

    static void SAdd(Client c)
    {
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var set)) return;
        long before;
        if (set == null)
        {
            set = SetValue.CreateFor(c.Arg(2));
            c.Db.Add(c.ArgBytes(1), set);
        }
        before = set.Cost;
        long max = c.Server.Settings.SetMaxIntsetEntries;
        long added = 0;
        for (int i = 2; i < c.ArgCount; i++)
            if (set.Add(c.Arg(i), max)) added++;
        c.Db.Resized(before, set);
        if (added > 0)
        {
            c.Server.KeyModified(c.Db, key);
            Notify(c, "sadd", key);
            c.Server.Dirty(added);
        }
        c.Reply.Integer(added);
    }

    static void SRem(Client c) => Keyspace.RemoveMembers<SetValue>(c, 2, KeyspaceEvents.Set, "srem");

    static void SCard(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var set)) return;
        c.Reply.Integer(set?.Count ?? 0);
    }

    static void SIsMember(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var set)) return;
        c.Reply.Integer(set != null && set.Contains(c.Arg(2)) ? 1 : 0);
    }

    static void SMIsMember(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var set)) return;
        c.Reply.ArrayHeader(c.ArgCount - 2);
        for (int i = 2; i < c.ArgCount; i++) c.Reply.Integer(set != null && set.Contains(c.Arg(i)) ? 1 : 0);
    }

    static void SMembers(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var set)) return;
        if (set == null) { c.Reply.SetHeader(0); return; }
        c.Reply.SetHeader(set.Count);
        ReplyMembers(c, set);
    }

    /// <summary>Deletes a set key that has become empty, with its "del" event.</summary>
    static void DeleteEmptied(Client c, ReadOnlySpan<byte> key)
    {
        c.Db.Delete(key);
        NotifyDel(c, key);
    }

    static void SPop(Client c)
    {
        if (c.ArgCount == 3) { SPopWithCount(c); return; }
        if (c.ArgCount > 3) { c.Syntax(); return; }
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var set)) return;
        if (set == null) { c.Reply.Null(); return; }
        long before = set.Cost;
        int i = set.RandomIndex();
        ReplyMember(c, set, i);
        if (c.Server.Prop.Enabled) RewriteSrem(c, key, set, i);   // SPOP key → SREM key <member>
        set.RemoveAt(i);
        c.Db.Resized(before, set);
        Notify(c, "spop", key);
        if (set.Count == 0) DeleteEmptied(c, key);
        Keyspace.Modified(c, key);
    }

    const int SpopMoveStrategyMul = 5;

    static void SPopWithCount(Client c)
    {
        if (!Protocol.Numbers.TryParseInt64(c.Arg(2), out long count) || count < 0)
        {
            c.Error("ERR value is out of range, must be positive");
            return;
        }
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var set)) return;
        if (set == null || count == 0) { c.Reply.SetHeader(0); return; }
        int size = set.Count;
        Notify(c, "spop", key);
        if (count >= size)
        {
            // The whole set, answered as SUNION of the one key would answer it, then the key goes.
            ReplyAsFreshSet(c, set, c.Server.Settings.SetMaxIntsetEntries);
            if (c.Server.Prop.Enabled) c.Server.Prop.RewriteDelete(key, c.Server.Settings.LazyfreeLazyServerDel);
            DeleteEmptied(c, key);
            Keyspace.Modified(c, key);
            c.Server.Dirty(size);
            return;
        }
        long before = set.Cost;
        int remaining = size - (int)count;
        c.Reply.SetHeader(count);
        // Propagated as one SREM per popped member (wrapped in MULTI/EXEC with the others), not as SPOP.
        bool propagate = c.Server.Prop.Enabled;
        if (propagate) c.Server.Prop.Prevent();
        if ((long)remaining * SpopMoveStrategyMul > count)
        {
            // Few to pop: pick and remove one at a time.
            for (long n = 0; n < count; n++)
            {
                int i = set.RandomIndex();
                ReplyMember(c, set, i);
                if (propagate) AlsoSrem(c, key, set, i);
                set.RemoveAt(i);
            }
            c.Db.Resized(before, set);
        }
        else
        {
            // Most go: choose the members that stay, answer with the rest in set order, keep a new set
            // built from the survivors (which may be an intset again).
            var keep = new bool[size];
            var idx = new int[size];
            for (int i = 0; i < size; i++) idx[i] = i;
            for (int k = 0; k < remaining; k++)
            {
                int j = k + Random.Shared.Next(size - k);
                (idx[k], idx[j]) = (idx[j], idx[k]);
                keep[idx[k]] = true;
            }
            long max = c.Server.Settings.SetMaxIntsetEntries;
            SetValue fresh = null;
            for (int k = 0; k < remaining; k++)
            {
                var m = set.MemberBytes(idx[k]);
                fresh ??= SetValue.CreateFor(m);
                fresh.AddOwned(m, max);
            }
            for (int i = 0; i < size; i++)
                if (!keep[i])
                {
                    ReplyMember(c, set, i);
                    if (propagate) AlsoSrem(c, key, set, i);
                }
            c.Db.Replace(c.Db.Find(key), fresh);
        }
        Keyspace.Modified(c, key);
        c.Server.Dirty(count);
    }

    static void RewriteSrem(Client c, ReadOnlySpan<byte> key, SetValue set, int i)
    {
        Span<byte> scratch = stackalloc byte[24];
        var w = c.Server.Prop.Rewrite(3);
        w.Bulk("SREM"u8);
        w.Bulk(key);
        w.Bulk(set.MemberAt(i, scratch));
    }

    static void AlsoSrem(Client c, ReadOnlySpan<byte> key, SetValue set, int i)
    {
        Span<byte> scratch = stackalloc byte[24];
        var w = c.Server.Prop.Also(c.Db.Id, 3);
        w.Bulk("SREM"u8);
        w.Bulk(key);
        w.Bulk(set.MemberAt(i, scratch));
    }

    /// <summary>Answers with the members as sunionDiffGenericCommand would: a new set built from them, in its order.</summary>
    static void ReplyAsFreshSet(Client c, SetValue set, long maxIntset)
    {
        if (set.IsIntset)
        {
            c.Reply.SetHeader(set.Count);
            ReplyMembers(c, set);
            return;
        }
        var fresh = SetValue.NewIntset();
        for (int i = 0; i < set.Count; i++) fresh.AddOwned(set.Table.At(i).Key, maxIntset);
        c.Reply.SetHeader(fresh.Count);
        ReplyMembers(c, fresh);
    }

    const int SrandmemberSubStrategyMul = 3;

    static void SRandMember(Client c)
    {
        if (c.ArgCount == 3) { SRandMemberWithCount(c); return; }
        if (c.ArgCount > 3) { c.Syntax(); return; }
        if (!TryRead(c, c.Arg(1), out var set)) return;
        if (set == null) { c.Reply.Null(); return; }
        ReplyMember(c, set, set.RandomIndex());
    }

    /// <summary>getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) for SRANDMEMBER/HRANDFIELD counts.</summary>
    internal static bool TryRandomCount(Client c, int arg, out long count)
    {
        if (!c.TryArgLong(arg, out count)) return false;
        if (count == long.MinValue)
        {
            c.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
            return false;
        }
        return true;
    }

    static void SRandMemberWithCount(Client c)
    {
        if (!TryRandomCount(c, 2, out long l)) return;
        if (!TryRead(c, c.Arg(1), out var set)) return;
        if (set == null || l == 0) { c.Reply.EmptyArray(); return; }
        int size = set.Count;
        if (l < 0 || l == 1)
        {
            // Repeats allowed: each pick samples the whole set.
            long count = l < 0 ? -l : l;
            c.Reply.ArrayHeader(count);
            for (long n = 0; n < count; n++) ReplyMember(c, set, set.RandomIndex());
            return;
        }
        if (l >= size)
        {
            c.Reply.ArrayHeader(size);
            ReplyMembers(c, set);
            return;
        }
        c.Reply.ArrayHeader(l);
        foreach (int i in DistinctIndexes(size, (int)l, SrandmemberSubStrategyMul)) ReplyMember(c, set, i);
    }

    /// <summary>
    /// <paramref name="count"/> distinct random indexes below <paramref name="size"/> (count &lt; size): when
    /// count is close to size, drop random ones from the full range; otherwise draw until enough are distinct.
    /// </summary>
    internal static int[] DistinctIndexes(int size, int count, int subStrategyMul)
    {
        var result = new int[count];
        if ((long)count * subStrategyMul > size)
        {
            var idx = new int[size];
            for (int i = 0; i < size; i++) idx[i] = i;
            for (int k = 0; k < count; k++)
            {
                int j = k + Random.Shared.Next(size - k);
                (idx[k], idx[j]) = (idx[j], idx[k]);
            }
            Array.Copy(idx, result, count);
            return result;
        }
        var seen = new HashSet<int>(count);
        int added = 0;
        while (added < count)
        {
            int i = Random.Shared.Next(size);
            if (seen.Add(i)) result[added++] = i;
        }
        return result;
    }

    static void SMove(Client c)
    {
        var src = c.Arg(1);
        var dst = c.Arg(2);
        var member = c.Arg(3);
        var sv = Keyspace.LookupWrite(c, src);
        var dv = Keyspace.LookupWrite(c, dst);
        if (sv == null) { c.Reply.Integer(0); return; }
        if (sv is not SetValue srcSet || (dv != null && dv is not SetValue)) { c.WrongType(); return; }
        var dstSet = (SetValue)dv;
        if (ReferenceEquals(srcSet, dstSet))
        {
            c.Reply.Integer(srcSet.Contains(member) ? 1 : 0);
            return;
        }
        long before = srcSet.Cost;
        if (!srcSet.Remove(member)) { c.Reply.Integer(0); return; }
        c.Db.Resized(before, srcSet);
        Notify(c, "srem", src);
        if (srcSet.Count == 0) DeleteEmptied(c, src);
        if (dstSet == null)
        {
            dstSet = SetValue.CreateFor(member);
            c.Db.Add(c.ArgBytes(2), dstSet);
        }
        c.Server.KeyModified(c.Db, src);
        c.Server.KeyModified(c.Db, dst);
        c.Server.Dirty();
        before = dstSet.Cost;
        if (dstSet.Add(member, c.Server.Settings.SetMaxIntsetEntries))
        {
            c.Db.Resized(before, dstSet);
            c.Server.Dirty();
            Notify(c, "sadd", dst);
        }
        c.Reply.Integer(1);
    }

    static void SInterCard(Client c)
    {
        const string numkeysError = "ERR numkeys should be greater than 0";
        if (!Protocol.Numbers.TryParseInt64(c.Arg(1), out long numkeys) || numkeys < 1) { c.Error(numkeysError); return; }
        if (numkeys > c.ArgCount - 2) { c.Error("ERR Number of keys can't be greater than number of args"); return; }
        long limit = 0;
        for (int j = 2 + (int)numkeys; j < c.ArgCount; j++)
        {
            if (c.ArgIs(j, "limit") && j < c.ArgCount - 1)
            {
                j++;
                if (!Protocol.Numbers.TryParseInt64(c.Arg(j), out limit) || limit < 0) { c.Error("ERR LIMIT can't be negative"); return; }
            }
            else { c.Syntax(); return; }
        }
        SInterGeneric(c, 2, (int)numkeys, -1, true, limit);
    }

    /// <summary>
    /// sinterGenericCommand: a missing key makes the result empty (types are still checked); otherwise the
    /// smallest set is walked in its own order and each member tested against the others. SINTERSTORE
    /// builds a new set; SINTERCARD only counts, stopping at LIMIT.
    /// </summary>
    static void SInterGeneric(Client c, int first, int num, int dstArg, bool cardOnly, long limit)
    {
        var sets = new SetValue[num];
        bool empty = false;
        for (int j = 0; j < num; j++)
        {
            var key = c.Arg(first + j);
            var v = dstArg >= 0 ? Keyspace.LookupWrite(c, key) : Keyspace.LookupRead(c, key);
            if (v == null) { empty = true; continue; }
            if (v is not SetValue s) { c.WrongType(); return; }
            sets[j] = s;
        }
        if (empty)
        {
            if (dstArg >= 0) StoreResult(c, dstArg, null, "sinterstore");
            else if (cardOnly) c.Reply.Integer(0);
            else c.Reply.SetHeader(0);
            return;
        }
        // Smallest first; a stable insertion sort keeps key order among equal sizes.
        for (int i = 1; i < num; i++)
        {
            var s = sets[i];
            int j = i - 1;
            while (j >= 0 && sets[j].Count > s.Count) { sets[j + 1] = sets[j]; j--; }
            sets[j + 1] = s;
        }
        var first0 = sets[0];
        SetValue dst = dstArg >= 0 ? SetValue.NewIntset() : null;
        long max = c.Server.Settings.SetMaxIntsetEntries;
        int deferred = dstArg < 0 && !cardOnly ? c.Reply.BeginDeferred() : 0;
        long card = 0;
        int n = first0.Count;
        for (int i = 0; i < n; i++)
        {
            bool all = true;
            if (first0.IsIntset)
            {
                long v = first0.IntAt(i);
                for (int j = 1; j < num && all; j++)
                    if (!ReferenceEquals(sets[j], first0) && !sets[j].ContainsInt(v)) all = false;
                if (!all) continue;
                if (cardOnly) { if (++card == limit) break; }
                else if (dst != null) dst.AddInt(v, max);
                else { c.Reply.BulkInteger(v); card++; }
            }
            else
            {
                var m = first0.Table.At(i).Key;
                for (int j = 1; j < num && all; j++)
                    if (!ReferenceEquals(sets[j], first0) && !sets[j].Contains(m)) all = false;
                if (!all) continue;
                if (cardOnly) { if (++card == limit) break; }
                else if (dst != null) dst.Add(m, max);
                else { c.Reply.Bulk(m); card++; }
            }
        }
        if (cardOnly) c.Reply.Integer(card);
        else if (dst != null) StoreResult(c, dstArg, dst, "sinterstore");
        else c.Reply.EndDeferred(deferred, card, (byte)'~');
    }

    /// <summary>The STORE forms: a non-empty result replaces the destination (dropping its TTL), an empty one deletes it.</summary>
    static void StoreResult(Client c, int dstArg, SetValue result, string ev)
    {
        var dstKey = c.Arg(dstArg);
        if (result != null && result.Count > 0)
        {
            c.Db.Set(dstKey, result);
            c.Reply.Integer(result.Count);
            c.Server.KeyModified(c.Db, dstKey);
            Notify(c, ev, dstKey);
            c.Server.Dirty();
            return;
        }
        c.Reply.Integer(0);
        if (c.Db.Delete(dstKey))
        {
            c.Server.KeyModified(c.Db, dstKey);
            NotifyDel(c, dstKey);
            c.Server.Dirty();
        }
    }

    /// <summary>
    /// sunionDiffGenericCommand: missing keys are empty sets; the result is always a new set (an intset
    /// while it can be), answered in its own order or stored.
    /// </summary>
    static void SUnionDiffGeneric(Client c, int first, int dstArg, bool diff)
    {
        int num = c.ArgCount - first;
        var sets = new SetValue[num];
        bool sameAsFirst = false;
        for (int j = 0; j < num; j++)
        {
            var key = c.Arg(first + j);
            var v = dstArg >= 0 ? Keyspace.LookupWrite(c, key) : Keyspace.LookupRead(c, key);
            if (v == null) continue;
            if (v is not SetValue s) { c.WrongType(); return; }
            sets[j] = s;
            if (j > 0 && ReferenceEquals(s, sets[0])) sameAsFirst = true;
        }
        long max = c.Server.Settings.SetMaxIntsetEntries;
        var result = SetValue.NewIntset();
        if (!diff)
        {
            foreach (var s in sets)
                if (s != null) AddAll(result, s, max);
        }
        else if (sets[0] != null && !sameAsFirst)
        {
            var s0 = sets[0];
            long work1 = 0, work2 = 0;
            foreach (var s in sets)
            {
                if (s == null) continue;
                work1 += s0.Count;
                work2 += s.Count;
            }
            if (work1 / 2 <= work2)
            {
                // Walk the first set, keep members no other set has (largest sets tested first).
                var others = new List<SetValue>(num);
                for (int j = 1; j < num; j++) if (sets[j] != null) others.Add(sets[j]);
                others.Sort((a, b) => b.Count.CompareTo(a.Count));
                for (int i = 0; i < s0.Count; i++)
                {
                    bool found = false;
                    if (s0.IsIntset)
                    {
                        long v = s0.IntAt(i);
                        foreach (var o in others) if (o.ContainsInt(v)) { found = true; break; }
                        if (!found) result.AddInt(v, max);
                    }
                    else
                    {
                        var m = s0.Table.At(i).Key;
                        foreach (var o in others) if (o.Contains(m)) { found = true; break; }
                        if (!found) result.Add(m, max);
                    }
                }
            }
            else
            {
                // Copy the first set, then take every other set's members out.
                AddAll(result, s0, max);
                Span<byte> tmp = stackalloc byte[20];
                for (int j = 1; j < num && result.Count > 0; j++)
                {
                    var s = sets[j];
                    if (s == null) continue;
                    for (int i = 0; i < s.Count && result.Count > 0; i++) result.Remove(s.MemberAt(i, tmp));
                }
            }
        }
        if (dstArg >= 0)
        {
            StoreResult(c, dstArg, result, diff ? "sdiffstore" : "sunionstore");
            return;
        }
        c.Reply.SetHeader(result.Count);
        ReplyMembers(c, result);
    }

    static void AddAll(SetValue dst, SetValue src, long max)
    {
        int n = src.Count;
        if (src.IsIntset)
            for (int i = 0; i < n; i++) dst.AddInt(src.IntAt(i), max);
        else
            for (int i = 0; i < n; i++) dst.Add(src.Table.At(i).Key, max);
    }

    static void SScan(Client c)
    {
        if (!KeyCommands.TryParseCursor(c, c.Arg(2), out ulong cursor)) return;
        if (!TryRead(c, c.Arg(1), out var set)) return;
        if (set == null) { ScanReply.Empty(c); return; }
        if (!ScanReply.ParseOptions(c, 3, out long count, out int patternArg)) return;
        var pattern = patternArg > 0 ? c.Arg(patternArg) : default;
        bool usePattern = patternArg > 0;
        Span<byte> tmp = stackalloc byte[20];
        if (set.IsIntset)
        {
            int deferredAll = ScanReply.Begin(c, 0);
            long n = 0;
            for (int i = 0; i < set.Count; i++)
            {
                var m = set.MemberAt(i, tmp);
                if (usePattern && !Glob.Match(pattern, m)) continue;
                c.Reply.Bulk(m);
                n++;
            }
            c.Reply.EndDeferred(deferredAll, n);
            return;
        }
        var found = new List<int>();
        var table = set.Table;
        long maxIterations = count * 10;
        do
        {
            cursor = table.ScanStep(cursor, found);
        } while (cursor != 0 && maxIterations-- > 0 && found.Count < count);
        int deferred = ScanReply.Begin(c, cursor);
        long emitted = 0;
        foreach (int i in found)
        {
            var m = table.At(i).Key;
            if (usePattern && !Glob.Match(pattern, m)) continue;
            c.Reply.Bulk(m);
            emitted++;
        }
        c.Reply.EndDeferred(deferred, emitted);
    }
}

/// <summary>scanGenericCommand's option grammar and reply frame, shared by SSCAN and HSCAN.</summary>
static class ScanReply
{
    /// <summary>COUNT n (n &gt;= 1) and MATCH pattern; TYPE is SCAN-only and a syntax error here.</summary>
    public static bool ParseOptions(Client c, int start, out long count, out int patternArg)
    {
        count = 10;
        patternArg = -1;
        int i = start;
        while (i < c.ArgCount)
        {
            int left = c.ArgCount - i;
            if (c.ArgIs(i, "count") && left >= 2)
            {
                if (!c.TryArgLong(i + 1, out count)) return false;
                if (count < 1) { c.Syntax(); return false; }
                i += 2;
            }
            else if (c.ArgIs(i, "match") && left >= 2)
            {
                var p = c.Arg(i + 1);
                patternArg = p.Length == 1 && p[0] == '*' ? -1 : i + 1;
                i += 2;
            }
            else { c.Syntax(); return false; }
        }
        return true;
    }

    /// <summary>Writes the cursor and starts the element array (length filled in by EndDeferred).</summary>
    public static int Begin(Client c, ulong cursor)
    {
        c.Reply.ArrayHeader(2);
        Span<byte> tmp = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(cursor, tmp, out int w);
        c.Reply.Bulk(tmp[..w]);
        return c.Reply.BeginDeferred();
    }

    public static void Empty(Client c)
    {
        c.Reply.ArrayHeader(2);
        c.Reply.Bulk("0"u8);
        c.Reply.EmptyArray();
    }
}

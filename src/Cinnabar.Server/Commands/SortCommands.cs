using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// sort.c: SORT and SORT_RO over lists, sets and sorted sets, with BY (weights from other keys or hash fields, or
/// no sorting at all), LIMIT, GET, ASC/DESC, ALPHA and STORE.
/// <para>
/// Ordering follows Redis exactly, ties included: numeric ties fall back to comparing the elements bytewise, ALPHA
/// compares with strcoll unless STORE is given (then bytewise). redis-server calls setlocale(LC_COLLATE, "") and
/// runs here under C / C.UTF-8, where glibc's strcoll is strcmp: unsigned bytes up to the first NUL. That is what
/// Cinnabar does (a NUL ends the compared text, as in C). ALPHA with BY leaves equal weights as they compare
/// (0), so their order is whatever glibc's qsort (stable merge sort) or Redis's pqsort (BY with a LIMIT that cuts)
/// leaves; CSort runs those same algorithms.
/// </para>
/// </summary>
public static class SortCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("sort", c => SortGeneric(c, false));
        t.Register("sort_ro", c => SortGeneric(c, true));
        // Redis's sortGetKeys: the STORE key spec is "unknown", so COMMAND GETKEYS falls back to it.
        t.Find("sort").GetKeys = SortGetKeys;
    }

    /// <summary>redisSortObject: the element, and its numeric weight or (ALPHA BY) the weight's bytes.</summary>
    struct Item
    {
        public byte[] Obj;
        public double Score;
        public byte[] CmpObj;
    }

    /// <summary>SORT's pattern bytes are read as C strings where Redis uses strchr/strstr on them.</summary>
    static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        return nul < 0 ? s : s[..nul];
    }

    /// <summary>Scripts run on the Lua engine's client, the one without a socket (Redis's CLIENT_SCRIPT).</summary>
    static bool FromScript(Client c) => c.IsScriptClient;

    static void SortGeneric(Client c, bool readOnly)
    {
        bool desc = false, alpha = false, dontsort = false;
        long limitStart = 0, limitCount = -1;
        int sortBy = -1, storeKey = -1;     // argument positions
        var gets = new List<int>();         // GET pattern positions
        int argc = c.ArgCount;

        for (int j = 2; j < argc; j++)
        {
            int leftargs = argc - j - 1;
            if (c.ArgIs(j, "asc")) desc = false;
            else if (c.ArgIs(j, "desc")) desc = true;
            else if (c.ArgIs(j, "alpha")) alpha = true;
            else if (c.ArgIs(j, "limit") && leftargs >= 2)
            {
                if (!c.TryArgLong(j + 1, out limitStart) || !c.TryArgLong(j + 2, out limitCount)) return;
                j += 2;
            }
            else if (!readOnly && c.ArgIs(j, "store") && leftargs >= 1)
            {
                storeKey = j + 1;
                j++;
            }
            else if (c.ArgIs(j, "by") && leftargs >= 1)
            {
                sortBy = j + 1;
                // A BY pattern without '*' names one constant key: nothing to sort by, so no sorting at all.
                if (CString(c.Arg(j + 1)).IndexOf((byte)'*') < 0) dontsort = true;
                // Cluster mode (not yet): a real pattern is refused there with
                // "ERR BY option of SORT denied in Cluster mode." and ACL users without full key access get
                // "ERR BY option of SORT denied due to insufficient ACL permissions."
                j++;
            }
            else if (c.ArgIs(j, "get") && leftargs >= 1)
            {
                // Cluster mode (not yet): "ERR GET option of SORT denied in Cluster mode." for a pattern other
                // than "#"; the same ACL refusal as BY.
                gets.Add(j + 1);
                j++;
            }
            else
            {
                c.Syntax();
                return;
            }
        }

        var sortVal = Keyspace.LookupRead(c, c.Arg(1));
        if (sortVal != null && sortVal is not ListValue && sortVal is not SetValue && sortVal is not ZSetValue)
        {
            c.WrongType();
            return;
        }

        // A set has no order of its own: without sorting, SORT ... STORE and scripts would see (and replicate)
        // hash-table order, so Redis sorts them ALPHA instead.
        if (dontsort && sortVal is SetValue && (storeKey >= 0 || FromScript(c)))
        {
            dontsort = false;
            alpha = true;
            sortBy = -1;
        }

        // Redis converts a listpack sorted set to a skiplist for SORT, and leaves it so.
        if (sortVal is ZSetValue zconv && zconv.IsListpack)
        {
            long before = zconv.Cost;
            zconv.ConvertToSkiplist();
            c.Db.Resized(before, zconv);
        }

        long vectorLen = sortVal switch
        {
            ListValue l => l.Count,
            SetValue s => s.Count,
            ZSetValue z => z.Count,
            _ => 0,     // a missing key sorts as an empty list
        };

        // LIMIT, clamped to the collection so nothing overflows.
        long start = Math.Min(Math.Max(limitStart, 0), vectorLen);
        limitCount = Math.Min(Math.Max(limitCount, -1), vectorLen);
        long end = limitCount < 0 ? vectorLen - 1 : start + limitCount - 1;
        if (start >= vectorLen)
        {
            start = vectorLen - 1;
            end = vectorLen - 2;
        }
        if (end >= vectorLen) end = vectorLen - 1;

        // Lists and sorted sets already have an order: without sorting, load just the LIMIT range, in that order
        // (from the tail for DESC).
        if ((sortVal is ZSetValue || sortVal is ListValue) && dontsort && (start != 0 || end != vectorLen - 1))
            vectorLen = end - start + 1;

        var vector = new Item[vectorLen];
        int n = 0;
        switch (sortVal)
        {
            case ListValue list when dontsort:
                if (end >= start)
                {
                    var cur = new ListValue.Cursor(list, desc ? list.Count - start - 1 : start);
                    for (; n < vectorLen; n++)
                    {
                        vector[n].Obj = cur.Current.ToArray();
                        if (n + 1 < vectorLen)
                        {
                            if (desc) cur.MovePrevious();
                            else cur.MoveNext();
                        }
                    }
                    end -= start;
                    start = 0;
                }
                break;
            case ListValue list:
            {
                if (list.Count == 0) break;
                var cur = new ListValue.Cursor(list, 0);
                for (; n < vectorLen; n++)
                {
                    vector[n].Obj = cur.Current.ToArray();
                    if (n + 1 < vectorLen) cur.MoveNext();
                }
                break;
            }
            case SetValue set:
                for (; n < vectorLen; n++) vector[n].Obj = set.MemberBytes(n);
                break;
            case ZSetValue z when dontsort:
                if (vectorLen > 0)
                {
                    var p = z.AtRank(desc ? z.Count - 1 - start : start);
                    for (; n < vectorLen; n++)
                    {
                        vector[n].Obj = z.MemberAt(p);
                        if (desc) z.Prev(ref p);
                        else z.Next(ref p);
                    }
                }
                end -= start;
                start = 0;
                break;
            case ZSetValue z:
                for (var p = z.First(); z.Valid(p); z.Next(ref p)) vector[n++].Obj = z.MemberAt(p);
                break;
        }

        bool conversionError = false;
        if (!dontsort)
        {
            var byPattern = sortBy >= 0 ? c.ArgBytes(sortBy) : null;
            for (int j = 0; j < vectorLen; j++)
            {
                byte[] byVal;
                if (byPattern != null)
                {
                    byVal = LookupKeyByPattern(c, byPattern, vector[j].Obj);
                    if (byVal == null) continue;
                }
                else byVal = vector[j].Obj;

                if (alpha)
                {
                    if (byPattern != null) vector[j].CmpObj = byVal;
                }
                else
                {
                    // strtod on the NUL-terminated value: all of it must convert (up to a NUL), no ERANGE, no NaN.
                    // (Redis tests errno without clearing it first, so an ERANGE left over from an earlier command
                    // fails a later SORT too, until something else sets errno; Cinnabar does not model errno.)
                    double score = Numbers.Strtod(byVal, out int used, out bool erange);
                    vector[j].Score = score;
                    if ((used < byVal.Length && byVal[used] != 0) || erange || double.IsNaN(score))
                        conversionError = true;
                }
            }

            if (!conversionError)
            {
                var cmp = Comparer(desc, alpha, byPattern != null, storeKey >= 0);
                if (byPattern != null && (start != 0 || end != vectorLen - 1))
                    CSort.Pqsort(vector, vector.Length, cmp, start, end);
                else
                    CSort.Qsort(vector, vector.Length, cmp);
            }
        }

        long outputLen = gets.Count > 0 ? gets.Count * (end - start + 1) : end - start + 1;
        if (conversionError)
        {
            c.Error("ERR One or more scores can't be converted into double");
            return;
        }

        var getPatterns = gets.Select(c.ArgBytes).ToArray();
        if (storeKey < 0)
        {
            c.Reply.ArrayHeader(outputLen);
            for (long j = start; j <= end; j++)
            {
                var obj = vector[j].Obj;
                if (getPatterns.Length == 0) c.Reply.Bulk(obj);
                foreach (var pattern in getPatterns)
                {
                    var val = LookupKeyByPattern(c, pattern, obj);
                    if (val == null) c.Reply.Null();
                    else c.Reply.Bulk(val);
                }
            }
            return;
        }

        var stored = new ListValue();
        for (long j = start; j <= end; j++)
        {
            var obj = vector[j].Obj;
            if (getPatterns.Length == 0) stored.PushBack(obj);
            foreach (var pattern in getPatterns)
                stored.PushBack(LookupKeyByPattern(c, pattern, obj) ?? []);
        }
        var dst = c.Arg(storeKey);
        if (outputLen > 0)
        {
            Keyspace.SetKey(c, dst, stored);
            c.Server.Notify(KeyspaceEvents.List, "sortstore", dst, c.Db.Id);
            c.Server.Dirty(outputLen);
        }
        else if (c.Db.Delete(dst))
        {
            Keyspace.Modified(c, dst, KeyspaceEvents.Generic, "del");
        }
        c.Reply.Integer(outputLen);
    }

    /// <summary>
    /// lookupKeyByPattern: "#" is the element itself; otherwise the first '*' is replaced by the element and the
    /// string value of that key is the result, or with "->field" after the '*', that field of the hash at that
    /// key. Null when the pattern has no '*', the key is missing or holds another type, or the field is missing.
    /// </summary>
    static byte[] LookupKeyByPattern(Client c, byte[] pattern, byte[] subst)
    {
        if (pattern.Length > 0 && pattern[0] == '#' && (pattern.Length == 1 || pattern[1] == 0)) return subst;
        var cpat = CString(pattern);
        int star = cpat.IndexOf((byte)'*');
        if (star < 0) return null;

        // A hash field: "->" after the '*' with something after it (the field runs to the pattern's real end).
        int fieldLen = 0;
        int arrow = cpat[(star + 1)..].IndexOf("->"u8);
        if (arrow >= 0)
        {
            arrow += star + 1;
            if (arrow + 2 < cpat.Length) fieldLen = pattern.Length - arrow - 2;
        }

        int postfixLen = pattern.Length - (star + 1) - (fieldLen > 0 ? fieldLen + 2 : 0);
        var key = new byte[star + subst.Length + postfixLen];
        pattern.AsSpan(0, star).CopyTo(key);
        subst.CopyTo(key.AsSpan(star));
        pattern.AsSpan(star + 1, postfixLen).CopyTo(key.AsSpan(star + subst.Length));

        var v = Keyspace.LookupRead(c, key);
        if (v == null) return null;
        if (fieldLen > 0)
        {
            if (v is not HashValue h) return null;
            return h.TryGetValue(pattern.AsSpan(pattern.Length - fieldLen), out var value) ? value : null;
        }
        return Values.IsString(v) ? Values.StringBytes(v).ToArray() : null;
    }

    /// <summary>sortCompare, with Redis's global sort_desc/sort_alpha/sort_bypattern/sort_store as arguments.</summary>
    static Comparison<Item> Comparer(bool desc, bool alpha, bool byPattern, bool store)
    {
        Comparison<Item> cmp;
        if (!alpha)
        {
            // Equal scores fall back to the elements themselves, so the result is deterministic.
            cmp = (a, b) => a.Score > b.Score ? 1 : a.Score < b.Score ? -1 : Binary(a.Obj, b.Obj);
        }
        else if (byPattern)
        {
            // A missing weight sorts first; two missing weights are equal.
            cmp = (a, b) =>
            {
                if (a.CmpObj == null || b.CmpObj == null)
                    return a.CmpObj == b.CmpObj ? 0 : a.CmpObj == null ? -1 : 1;
                return store ? Binary(a.CmpObj, b.CmpObj) : Collate(a.CmpObj, b.CmpObj);
            };
        }
        else if (store) cmp = (a, b) => Binary(a.Obj, b.Obj);
        else cmp = (a, b) => Collate(a.Obj, b.Obj);
        return desc ? (a, b) => -cmp(a, b) : cmp;
    }

    /// <summary>compareStringObjects: memcmp, then the shorter first.</summary>
    static int Binary(byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b);

    /// <summary>strcoll under the C locale: strcmp, which stops at the first NUL.</summary>
    static int Collate(byte[] a, byte[] b) => CString(a).SequenceCompareTo(CString(b));

    /// <summary>
    /// sortGetKeys: the sorted key, then the key after the last STORE (skipping LIMIT's two arguments and BY's and
    /// GET's one, so a STORE there is not an option).
    /// </summary>
    static List<(int position, KeySpec spec)> SortGetKeys(Command cmd, Func<int, ReadOnlySpan<byte>> arg, int argc)
    {
        var keys = new List<(int, KeySpec)> { (1, cmd.KeySpecs[0]) };
        int store = -1;
        for (int i = 2; i < argc; i++)
        {
            var a = arg(i);
            if (Ascii.EqualsIgnoreCase(a, "limit")) i += 2;
            else if (Ascii.EqualsIgnoreCase(a, "get") || Ascii.EqualsIgnoreCase(a, "by")) i += 1;
            else if (Ascii.EqualsIgnoreCase(a, "store") && i + 1 < argc) store = i + 1;
        }
        // The STORE key spec carries Redis's flags for it (OW, update).
        if (store >= 0) keys.Add((store, cmd.KeySpecs.First(s => s.Flags.Contains("OW"))));
        return keys;
    }
}

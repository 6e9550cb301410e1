using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;
using AddIn = Cinnabar.Server.Storage.ZSetValue.AddIn;
using AddOut = Cinnabar.Server.Storage.ZSetValue.AddOut;

namespace Cinnabar.Server.Commands;

/// <summary>t_zset.c: sorted sets — ZADD and friends, the ZRANGE family, pops (blocking too), set algebra, ZSCAN.</summary>
public static partial class SortedSetCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("zadd", c => ZAddGeneric(c, AddIn.None));
        t.Register("zincrby", c => ZAddGeneric(c, AddIn.Incr));
        t.Register("zrem", ZRem);
        t.Register("zcard", ZCard);
        t.Register("zscore", ZScore);
        t.Register("zmscore", ZMScore);
        t.Register("zrank", c => ZRank(c, false));
        t.Register("zrevrank", c => ZRank(c, true));
        t.Register("zcount", ZCount);
        t.Register("zlexcount", ZLexCount);
        t.Register("zrange", c => ZRangeGeneric(c, 1, false, RangeType.Auto, Direction.Auto));
        t.Register("zrangestore", c => ZRangeGeneric(c, 2, true, RangeType.Auto, Direction.Auto));
        t.Register("zrevrange", c => ZRangeGeneric(c, 1, false, RangeType.Rank, Direction.Reverse));
        t.Register("zrangebyscore", c => ZRangeGeneric(c, 1, false, RangeType.Score, Direction.Forward));
        t.Register("zrevrangebyscore", c => ZRangeGeneric(c, 1, false, RangeType.Score, Direction.Reverse));
        t.Register("zrangebylex", c => ZRangeGeneric(c, 1, false, RangeType.Lex, Direction.Forward));
        t.Register("zrevrangebylex", c => ZRangeGeneric(c, 1, false, RangeType.Lex, Direction.Reverse));
        t.Register("zremrangebyrank", c => ZRemRange(c, RangeType.Rank));
        t.Register("zremrangebyscore", c => ZRemRange(c, RangeType.Score));
        t.Register("zremrangebylex", c => ZRemRange(c, RangeType.Lex));
        t.Register("zpopmin", c => ZPopMinMax(c, false));
        t.Register("zpopmax", c => ZPopMinMax(c, true));
        t.Register("bzpopmin", c => BZPop(c, false));
        t.Register("bzpopmax", c => BZPop(c, true));
        t.Register("zmpop", c => ZMPop(c, 1, false));
        t.Register("bzmpop", c => ZMPop(c, 2, true));
        t.Register("zunion", c => SetOp(c, null, 1, SetOpKind.Union, false, "zunion"));
        t.Register("zinter", c => SetOp(c, null, 1, SetOpKind.Inter, false, "zinter"));
        t.Register("zdiff", c => SetOp(c, null, 1, SetOpKind.Diff, false, "zdiff"));
        t.Register("zunionstore", c => SetOp(c, c.ArgBytes(1), 2, SetOpKind.Union, false, "zunionstore"));
        t.Register("zinterstore", c => SetOp(c, c.ArgBytes(1), 2, SetOpKind.Inter, false, "zinterstore"));
        t.Register("zdiffstore", c => SetOp(c, c.ArgBytes(1), 2, SetOpKind.Diff, false, "zdiffstore"));
        t.Register("zintercard", c => SetOp(c, null, 1, SetOpKind.Inter, true, "zintercard"));
        t.Register("zrandmember", ZRandMember);
        t.Register("zscan", ZScan);
    }

    // ------------------------------------------------------------------ argument parsing

    /// <summary>getDoubleFromObject: strtod over the whole string, no leading space, no NaN, no overflow or underflow to zero.</summary>
    public static bool TryParseScore(ReadOnlySpan<byte> s, out double v)
    {
        if (!Numbers.TryParseDouble(s, out v)) return false;
        if (double.IsInfinity(v))
        {
            // Only a spelled-out infinity is accepted; a finite literal that overflows is ERANGE.
            return s.IndexOfAny((byte)'i', (byte)'I') >= 0;
        }
        if (v == 0)
        {
            // Underflow to zero (ERANGE) is rejected: a zero result from a mantissa with a non-zero digit.
            var t = s;
            if (t.Length > 0 && (t[0] == '+' || t[0] == '-')) t = t[1..];
            bool hex = t.Length > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
            if (hex) t = t[2..];
            foreach (byte b in t)
            {
                if (hex ? b == 'p' || b == 'P' : b == 'e' || b == 'E') break;
                if (b >= '1' && b <= '9') return false;
                if (hex && ((b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'))) return false;
            }
        }
        return true;
    }

    static bool IsSpace(byte b) => b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f';

    /// <summary>One end of zslParseRange: optional "(", then strtod up to a NUL (leading space allowed, "" is 0).</summary>
    static bool TryParseScoreBound(ReadOnlySpan<byte> s, out double v, out bool exclusive)
    {
        v = 0;
        exclusive = false;
        int nul = s.IndexOf((byte)0);
        if (nul >= 0) s = s[..nul];
        if (s.Length > 0 && s[0] == '(') { exclusive = true; s = s[1..]; }
        int i = 0;
        while (i < s.Length && IsSpace(s[i])) i++;
        if (i == s.Length) return s.Length == 0;
        return Numbers.TryParseDouble(s[i..], out v);
    }

    public static bool TryParseScoreRange(ReadOnlySpan<byte> min, ReadOnlySpan<byte> max, out ScoreRange r)
    {
        r = default;
        return TryParseScoreBound(min, out r.Min, out r.MinEx) && TryParseScoreBound(max, out r.Max, out r.MaxEx);
    }

    static bool TryParseLexBound(ReadOnlySpan<byte> s, out byte[] bytes, out sbyte inf, out bool exclusive)
    {
        bytes = null;
        inf = 0;
        exclusive = false;
        if (s.Length == 0) return false;
        switch (s[0])
        {
            case (byte)'+':
            case (byte)'-':
                if (s.Length > 1 && s[1] != 0) return false;
                inf = s[0] == '+' ? (sbyte)1 : (sbyte)-1;
                exclusive = true;
                return true;
            case (byte)'(':
                exclusive = true;
                bytes = s[1..].ToArray();
                return true;
            case (byte)'[':
                bytes = s[1..].ToArray();
                return true;
            default:
                return false;
        }
    }

    static bool TryParseLexRange(ReadOnlySpan<byte> min, ReadOnlySpan<byte> max, out LexRange r)
    {
        r = default;
        return TryParseLexBound(min, out r.Min, out r.MinInf, out r.MinEx) && TryParseLexBound(max, out r.Max, out r.MaxInf, out r.MaxEx);
    }

    const string ScoreRangeError = "ERR min or max is not a float";
    const string LexRangeError = "ERR min or max not valid string range item";

    /// <summary>Looks a key up for reading: false (WRONGTYPE sent) if it holds another type; z is null when missing.</summary>
    internal static bool TryRead(Client c, ReadOnlySpan<byte> key, out ZSetValue z) => Keyspace.TryRead(c, key, out z);

    static bool TryWrite(Client c, ReadOnlySpan<byte> key, out ZSetValue z) => Keyspace.TryWrite(c, key, out z);

    internal static void Notify(Client c, string ev, ReadOnlySpan<byte> key) => c.Server.Notify(KeyspaceEvents.ZSet, ev, key, c.Db.Id);
    internal static void NotifyDel(Client c, ReadOnlySpan<byte> key) => c.Server.Notify(KeyspaceEvents.Generic, "del", key, c.Db.Id);

    static void EmitElement(Client c, byte[] member, double score, bool withScores)
    {
        if (withScores && c.Reply.Resp3) c.Reply.ArrayHeader(2);
        c.Reply.Bulk(member);
        if (withScores) c.Reply.Double(score);
    }

    // ------------------------------------------------------------------ ZADD, ZINCRBY, ZREM

    static void ZAddGeneric(Client c, AddIn flags)
    {
        int scoreIdx = 2;
        bool ch = false;
        while (scoreIdx < c.ArgCount)
        {
            var opt = c.Arg(scoreIdx);
            if (opt.Length > 4) break;
            if (Ascii.EqualsIgnoreCase(opt, "nx"u8)) flags |= AddIn.Nx;
            else if (Ascii.EqualsIgnoreCase(opt, "xx"u8)) flags |= AddIn.Xx;
            else if (Ascii.EqualsIgnoreCase(opt, "ch"u8)) ch = true;
            else if (Ascii.EqualsIgnoreCase(opt, "incr"u8)) flags |= AddIn.Incr;
            else if (Ascii.EqualsIgnoreCase(opt, "gt"u8)) flags |= AddIn.Gt;
            else if (Ascii.EqualsIgnoreCase(opt, "lt"u8)) flags |= AddIn.Lt;
            else break;
            scoreIdx++;
        }
        bool incr = (flags & AddIn.Incr) != 0, nx = (flags & AddIn.Nx) != 0, xx = (flags & AddIn.Xx) != 0;
        bool gt = (flags & AddIn.Gt) != 0, lt = (flags & AddIn.Lt) != 0;
        int elements = c.ArgCount - scoreIdx;
        if (elements % 2 != 0 || elements == 0) { c.Syntax(); return; }
        elements /= 2;
        if (xx && nx) { c.Error("ERR XX and NX options at the same time are not compatible"); return; }
        if ((gt && nx) || (lt && nx) || (gt && lt))
        {
            c.Error("ERR GT, LT, and/or NX options at the same time are not compatible");
            return;
        }
        if (incr && elements > 1) { c.Error("ERR INCR option supports a single increment-element pair"); return; }

        Span<double> scores = elements <= 64 ? stackalloc double[elements] : new double[elements];
        for (int j = 0; j < elements; j++)
            if (!TryParseScore(c.Arg(scoreIdx + j * 2), out scores[j])) { c.NotFloat(); return; }

        ZAddApply(c, flags, ch, scores, scoreIdx + 1, 2);
    }

    /// <summary>
    /// The writing half of ZADD (GEOADD uses it too): scores[j] goes to the member at argument
    /// firstMember + j * stride, under the NX/XX/GT/LT/INCR flags; replies as ZADD/ZINCRBY do.
    /// </summary>
    internal static void ZAddApply(Client c, AddIn flags, bool ch, ReadOnlySpan<double> scores, int firstMember, int stride)
    {
        bool incr = (flags & AddIn.Incr) != 0;
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var z)) return;
        long added = 0, updated = 0, processed = 0;
        double score = 0;
        if (z == null)
        {
            if ((flags & AddIn.Xx) != 0)
            {
                if (incr) c.Reply.Null(); else c.Reply.Integer(0);
                return;
            }
            z = new ZSetValue();
            c.Db.Add(c.ArgBytes(1), z);
        }
        long before = z.Cost;
        var settings = c.Server.Settings;
        bool nan = false;
        for (int j = 0; j < scores.Length; j++)
        {
            if (!z.Add(c.Arg(firstMember + j * stride), scores[j], flags, settings.ZsetMaxListpackEntries, settings.ZsetMaxListpackValue,
                    out var result, out double newScore))
            {
                nan = true;
                break;
            }
            if ((result & AddOut.Added) != 0) added++;
            if ((result & AddOut.Updated) != 0) updated++;
            if ((result & AddOut.Nop) == 0) processed++;
            score = newScore;
        }
        c.Db.Resized(before, z);
        if (nan) c.Error("ERR resulting score is not a number (NaN)");
        else if (incr)
        {
            if (processed > 0) c.Reply.Double(score); else c.Reply.Null();
        }
        else c.Reply.Integer(ch ? added + updated : added);
        if (added + updated > 0)
        {
            Keyspace.Modified(c, key);
            Notify(c, incr ? "zincr" : "zadd", key);
        }
    }

    static void ZRem(Client c) => Keyspace.RemoveMembers<ZSetValue>(c, 2, KeyspaceEvents.ZSet, "zrem");

    // ------------------------------------------------------------------ point reads

    static void ZCard(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.Integer(z?.Count ?? 0);
    }

    static void ZScore(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z != null && z.TryGetScore(c.Arg(2), out double s)) c.Reply.Double(s);
        else c.Reply.Null();
    }

    static void ZMScore(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.ArrayHeader(c.ArgCount - 2);
        for (int j = 2; j < c.ArgCount; j++)
        {
            if (z != null && z.TryGetScore(c.Arg(j), out double s)) c.Reply.Double(s);
            else c.Reply.Null();
        }
    }

    static void ZRank(Client c, bool reverse)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z == null) { c.Reply.Null(); return; }
        long rank = z.Rank(c.Arg(2));
        if (rank < 0) { c.Reply.Null(); return; }
        c.Reply.Integer(reverse ? z.Count - 1 - rank : rank);
    }

    static void ZCount(Client c)
    {
        if (!TryParseScoreRange(c.Arg(2), c.Arg(3), out var range)) { c.Error(ScoreRangeError); return; }
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z == null) { c.Reply.Integer(0); return; }
        var first = z.FirstInRange(range);
        if (!z.Valid(first)) { c.Reply.Integer(0); return; }
        if (z.IsListpack)
        {
            long n = 0;
            for (var p = first; z.Valid(p) && range.LteMax(z.ScoreAt(p)); z.Next(ref p)) n++;
            c.Reply.Integer(n);
            return;
        }
        var last = z.LastInRange(range);
        c.Reply.Integer(z.RankOf(last) - z.RankOf(first) + 1);
    }

    static void ZLexCount(Client c)
    {
        if (!TryParseLexRange(c.Arg(2), c.Arg(3), out var range)) { c.Error(LexRangeError); return; }
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z == null) { c.Reply.Integer(0); return; }
        var first = z.FirstInLex(range);
        if (!z.Valid(first)) { c.Reply.Integer(0); return; }
        if (z.IsListpack)
        {
            long n = 0;
            for (var p = first; z.Valid(p) && range.LteMax(z.MemberAt(p)); z.Next(ref p)) n++;
            c.Reply.Integer(n);
            return;
        }
        var last = z.LastInLex(range);
        c.Reply.Integer(z.RankOf(last) - z.RankOf(first) + 1);
    }

    // ------------------------------------------------------------------ the ZRANGE family

    enum RangeType { Auto, Rank, Score, Lex }
    enum Direction { Auto, Forward, Reverse }

    /// <summary>Where range results go: the client (array reply) or a new sorted set for ZRANGESTORE.</summary>
    struct RangeSink
    {
        public Client C;
        public bool Store, WithScores;
        public ZSetValue Dst;
        public int Deferred;
        public long Count;

        public void Begin(long knownLength = -1)
        {
            if (Store) { Dst = new ZSetValue(); return; }
            if (knownLength >= 0) C.Reply.ArrayHeader(WithScores && !C.Reply.Resp3 ? knownLength * 2 : knownLength);
            else Deferred = C.Reply.BeginDeferred();
        }

        public void Emit(byte[] member, double score)
        {
            Count++;
            if (Store)
            {
                var s = C.Server.Settings;
                Dst.Add(member, score, AddIn.None, s.ZsetMaxListpackEntries, s.ZsetMaxListpackValue, out _, out _);
                return;
            }
            EmitElement(C, member, score, WithScores);
        }

        public void End(bool deferred, ReadOnlySpan<byte> dstKey)
        {
            if (!Store)
            {
                if (deferred) C.Reply.EndDeferred(Deferred, WithScores && !C.Reply.Resp3 ? Count * 2 : Count);
                return;
            }
            FinishStore(C, dstKey, Count > 0 ? Dst : null, "zrangestore");
        }
    }

    /// <summary>Stores a computed result (or deletes the destination when empty) and replies with its size.</summary>
    internal static void FinishStore(Client c, ReadOnlySpan<byte> dstKey, ZSetValue result, string ev)
    {
        if (result != null && result.Count > 0)
        {
            Keyspace.SetKey(c, dstKey, result);
            c.Server.Dirty();
            c.Reply.Integer(result.Count);
            Notify(c, ev, dstKey);
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

    static void ZRangeGeneric(Client c, int argStart, bool store, RangeType rangeType, Direction direction)
    {
        int minIdx = argStart + 1, maxIdx = argStart + 2;
        bool withScores = false;
        long offset = 0, limit = -1;
        for (int j = argStart + 3; j < c.ArgCount; j++)
        {
            int left = c.ArgCount - j - 1;
            if (!store && c.ArgIs(j, "withscores")) withScores = true;
            else if (c.ArgIs(j, "limit") && left >= 2)
            {
                if (!c.TryArgLong(j + 1, out offset) || !c.TryArgLong(j + 2, out limit)) return;
                j += 2;
            }
            else if (direction == Direction.Auto && c.ArgIs(j, "rev")) direction = Direction.Reverse;
            else if (rangeType == RangeType.Auto && c.ArgIs(j, "bylex")) rangeType = RangeType.Lex;
            else if (rangeType == RangeType.Auto && c.ArgIs(j, "byscore")) rangeType = RangeType.Score;
            else { c.Syntax(); return; }
        }
        if (direction == Direction.Auto) direction = Direction.Forward;
        if (rangeType == RangeType.Auto) rangeType = RangeType.Rank;
        if (limit != -1 && rangeType == RangeType.Rank)
        {
            c.Error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
            return;
        }
        if (withScores && rangeType == RangeType.Lex)
        {
            c.Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
            return;
        }
        bool reverse = direction == Direction.Reverse;
        if (reverse && rangeType != RangeType.Rank) (minIdx, maxIdx) = (maxIdx, minIdx);

        long start = 0, end = 0;
        ScoreRange score = default;
        LexRange lex = default;
        switch (rangeType)
        {
            case RangeType.Rank:
                if (!c.TryArgLong(minIdx, out start) || !c.TryArgLong(maxIdx, out end)) return;
                break;
            case RangeType.Score:
                if (!TryParseScoreRange(c.Arg(minIdx), c.Arg(maxIdx), out score)) { c.Error(ScoreRangeError); return; }
                break;
            default:
                if (!TryParseLexRange(c.Arg(minIdx), c.Arg(maxIdx), out lex)) { c.Error(LexRangeError); return; }
                break;
        }

        var sink = new RangeSink { C = c, Store = store, WithScores = withScores };
        var key = c.Arg(argStart);
        var v = Keyspace.LookupRead(c, key);
        if (v == null)
        {
            if (store) { sink.Begin(); sink.End(false, c.Arg(1)); }
            else c.Reply.EmptyArray();
            return;
        }
        if (v is not ZSetValue z) { c.WrongType(); return; }
        bool deferred;
        switch (rangeType)
        {
            case RangeType.Rank: deferred = RangeByRank(ref sink, z, start, end, reverse); break;
            case RangeType.Score: RangeByScore(ref sink, z, score, offset, limit, reverse); deferred = true; break;
            default: RangeByLex(ref sink, z, lex, offset, limit, reverse); deferred = true; break;
        }
        sink.End(deferred, store ? c.Arg(1) : default);
    }

    static bool RangeByRank(ref RangeSink sink, ZSetValue z, long start, long end, bool reverse)
    {
        long llen = z.Count;
        if (start < 0) start = llen + start;
        if (end < 0) end = llen + end;
        if (start < 0) start = 0;
        if (start > end || start >= llen)
        {
            sink.Begin(0);
            return false;
        }
        if (end >= llen) end = llen - 1;
        long n = end - start + 1;
        sink.Begin(n);
        var p = z.AtRank(reverse ? llen - 1 - start : start);
        while (n-- > 0)
        {
            sink.Emit(z.MemberAt(p), z.ScoreAt(p));
            if (reverse) z.Prev(ref p); else z.Next(ref p);
        }
        return false;
    }

    static void RangeByScore(ref RangeSink sink, ZSetValue z, in ScoreRange range, long offset, long limit, bool reverse)
    {
        sink.Begin();
        if (offset > 0 && offset >= z.Count) return;
        var p = reverse ? z.LastInRange(range) : z.FirstInRange(range);
        while (z.Valid(p) && offset-- != 0)
        {
            if (reverse) z.Prev(ref p); else z.Next(ref p);
        }
        while (z.Valid(p) && limit-- != 0)
        {
            double s = z.ScoreAt(p);
            if (reverse ? !range.GteMin(s) : !range.LteMax(s)) break;
            sink.Emit(z.MemberAt(p), s);
            if (reverse) z.Prev(ref p); else z.Next(ref p);
        }
    }

    static void RangeByLex(ref RangeSink sink, ZSetValue z, in LexRange range, long offset, long limit, bool reverse)
    {
        sink.Begin();
        if (offset > 0 && offset >= z.Count) return;
        var p = reverse ? z.LastInLex(range) : z.FirstInLex(range);
        while (z.Valid(p) && offset-- != 0)
        {
            if (reverse) z.Prev(ref p); else z.Next(ref p);
        }
        while (z.Valid(p) && limit-- != 0)
        {
            var m = z.MemberAt(p);
            if (reverse ? !range.GteMin(m) : !range.LteMax(m)) break;
            sink.Emit(m, z.ScoreAt(p));
            if (reverse) z.Prev(ref p); else z.Next(ref p);
        }
    }

    static void ZRemRange(Client c, RangeType type)
    {
        long start = 0, end = 0;
        ScoreRange score = default;
        LexRange lex = default;
        string ev;
        if (type == RangeType.Rank)
        {
            ev = "zremrangebyrank";
            if (!c.TryArgLong(2, out start) || !c.TryArgLong(3, out end)) return;
        }
        else if (type == RangeType.Score)
        {
            ev = "zremrangebyscore";
            if (!TryParseScoreRange(c.Arg(2), c.Arg(3), out score)) { c.Error(ScoreRangeError); return; }
        }
        else
        {
            ev = "zremrangebylex";
            if (!TryParseLexRange(c.Arg(2), c.Arg(3), out lex)) { c.Error(LexRangeError); return; }
        }
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var z)) return;
        if (z == null) { c.Reply.Integer(0); return; }
        if (type == RangeType.Rank)
        {
            long llen = z.Count;
            if (start < 0) start = llen + start;
            if (end < 0) end = llen + end;
            if (start < 0) start = 0;
            if (start > end || start >= llen) { c.Reply.Integer(0); return; }
            if (end >= llen) end = llen - 1;
        }
        long before = z.Cost;
        long deleted = type switch
        {
            RangeType.Rank => z.DeleteRangeByRank(start, end),
            RangeType.Score => z.DeleteRangeByScore(score),
            _ => z.DeleteRangeByLex(lex),
        };
        c.Db.Resized(before, z);
        bool keyRemoved = false;
        if (z.Count == 0)
        {
            c.Db.Delete(key);
            keyRemoved = true;
        }
        if (deleted > 0)
        {
            Keyspace.Modified(c, key);
            Notify(c, ev, key);
            if (keyRemoved) NotifyDel(c, key);
        }
        c.Reply.Integer(deleted);
    }

    // ------------------------------------------------------------------ pops

    /// <summary>
    /// genericZpopCommand: pops up to count (-1: a single element, flat reply) from the first key among
    /// keys[first..first+n) that exists. emitKey/nested pick the reply shape of ZPOP*, BZPOP* and Z(B)MPOP.
    /// </summary>
    static void GenericPop(Client c, int firstKey, int keyCount, bool max, bool emitKey, long count, bool nested, bool nilWhenEmpty)
    {
        ZSetValue z = null;
        int keyArg = -1;
        for (int i = 0; i < keyCount; i++)
        {
            var v = Keyspace.LookupWrite(c, c.Arg(firstKey + i));
            if (v == null) continue;
            z = v as ZSetValue;
            if (z == null) { c.WrongType(); return; }
            keyArg = firstKey + i;
            break;
        }
        if (z == null)
        {
            if (nilWhenEmpty) c.Reply.NullArray(); else c.Reply.EmptyArray();
            return;
        }
        if (count == 0) { c.Reply.EmptyArray(); return; }
        var key = c.Arg(keyArg);
        var prop = c.Server.Prop;
        if (emitKey && prop.Enabled)
        {
            // BZPOPMIN/MAX → ZPOPMIN/MAX key; ZMPOP/BZMPOP → ZPOPMIN/MAX key <elements popped>.
            var w = prop.Rewrite(count == -1 ? 2 : 3);
            w.Bulk(max ? "ZPOPMAX"u8 : "ZPOPMIN"u8);
            w.Bulk(key);
            if (count != -1) w.Bulk(Math.Min(count, z.Count));
        }
        if (count == -1) count = 1;
        long n = Math.Min(count, z.Count);
        if (!nested && !emitKey) c.Reply.ArrayHeader(n * 2);
        else if (nested && !emitKey) c.Reply.ArrayHeader(n);
        else if (!nested)
        {
            c.Reply.ArrayHeader(n * 2 + 1);
            c.Reply.Bulk(key);
        }
        else
        {
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk(key);
            c.Reply.ArrayHeader(n);
        }
        long before = z.Cost;
        for (long i = 0; i < n; i++)
        {
            z.Pop(max, out var member, out double score);
            if (nested) c.Reply.ArrayHeader(2);
            c.Reply.Bulk(member);
            c.Reply.Double(score);
        }
        c.Db.Resized(before, z);
        Notify(c, max ? "zpopmax" : "zpopmin", key);
        Keyspace.Modified(c, key);
        if (z.Count == 0)
        {
            c.Db.Delete(key);
            NotifyDel(c, key);
        }
    }

    static void ZPopMinMax(Client c, bool max)
    {
        if (c.ArgCount > 3) { c.Syntax(); return; }
        long count = -1;
        if (c.ArgCount == 3 && (!Numbers.TryParseInt64(c.Arg(2), out count) || count < 0))
        {
            c.Error("ERR value is out of range, must be positive");
            return;
        }
        bool nested = c.Reply.Resp3 && count != -1;
        GenericPop(c, 1, 1, max, false, count, nested, false);
    }

    /// <summary>BZPOPMIN/BZPOPMAX key [key ...] timeout.</summary>
    static void BZPop(Client c, bool max)
    {
        if (!c.Server.TryParseBlockTimeout(c, c.ArgCount - 1, true, out long deadline)) return;
        BlockingPop(c, 1, c.ArgCount - 2, max, -1, false, deadline);
    }

    static void BlockingPop(Client c, int firstKey, int keyCount, bool max, long count, bool nested, long deadline)
    {
        for (int i = 0; i < keyCount; i++)
        {
            var v = Keyspace.LookupWrite(c, c.Arg(firstKey + i));
            if (v == null) continue;
            if (v is not ZSetValue z) { c.WrongType(); return; }
            if (z.Count == 0) continue;
            GenericPop(c, firstKey + i, 1, max, true, count, nested, nested);
            return;
        }
        if (!c.CanBlock) { c.Reply.NullArray(); return; }
        var keys = new List<byte[]>(keyCount);
        for (int i = 0; i < keyCount; i++) keys.Add(c.ArgBytes(firstKey + i));
        c.Server.BlockForKeys(c, keys, deadline, Storage.ValueType.ZSet, cl => cl.Reply.NullArray());
    }

    /// <summary>ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]; BZMPOP timeout numkeys ...</summary>
    static void ZMPop(Client c, int numKeysIdx, bool blocking)
    {
        if (!Numbers.TryParseInt64(c.Arg(numKeysIdx), out long numKeys) || numKeys < 1)
        {
            c.Error("ERR numkeys should be greater than 0");
            return;
        }
        if (numKeys >= c.ArgCount) { c.Syntax(); return; }
        long whereIdx = numKeysIdx + numKeys + 1;
        if (whereIdx >= c.ArgCount) { c.Syntax(); return; }
        bool max;
        if (c.ArgIs((int)whereIdx, "min")) max = false;
        else if (c.ArgIs((int)whereIdx, "max")) max = true;
        else { c.Syntax(); return; }
        long count = -1;
        for (int j = (int)whereIdx + 1; j < c.ArgCount; j++)
        {
            int more = c.ArgCount - 1 - j;
            if (count == -1 && c.ArgIs(j, "count") && more > 0)
            {
                j++;
                if (!Numbers.TryParseInt64(c.Arg(j), out count) || count < 1)
                {
                    c.Error("ERR count should be greater than 0");
                    return;
                }
            }
            else { c.Syntax(); return; }
        }
        if (count == -1) count = 1;
        if (blocking)
        {
            if (!c.Server.TryParseBlockTimeout(c, 1, true, out long deadline)) return;
            BlockingPop(c, numKeysIdx + 1, (int)numKeys, max, count, true, deadline);
        }
        else GenericPop(c, numKeysIdx + 1, (int)numKeys, max, true, count, true, true);
    }
}

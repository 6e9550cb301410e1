using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>t_string.c: SET and friends, counters, ranges, APPEND and LCS.</summary>
public static class StringCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("get", Get);
        t.Register("set", Set);
        t.Register("setnx", SetNx);
        t.Register("setex", c => SetWithExpire(c, ExpireUnit.Seconds));
        t.Register("psetex", c => SetWithExpire(c, ExpireUnit.Milliseconds));
        t.Register("getex", GetEx);
        t.Register("getdel", GetDel);
        t.Register("getset", GetSet);
        t.Register("mget", MGet);
        t.Register("mset", MSet);
        t.Register("msetnx", MSetNx);
        t.Register("incr", c => IncrDecr(c, 1));
        t.Register("decr", c => IncrDecr(c, -1));
        t.Register("incrby", IncrBy);
        t.Register("decrby", DecrBy);
        t.Register("incrbyfloat", IncrByFloat);
        t.Register("append", Append);
        t.Register("strlen", StrLen);
        t.Register("getrange", GetRange);
        t.Register("substr", GetRange);
        t.Register("setrange", SetRange);
        t.Register("lcs", Lcs);
    }

    enum ExpireUnit { Seconds, Milliseconds }

    [Flags]
    enum SetFlags { None = 0, Nx = 1, Xx = 2, Get = 4, KeepTtl = 8, Persist = 16, Ex = 32, Px = 64, ExAt = 128, PxAt = 256 }
    const SetFlags AnyExpire = SetFlags.Ex | SetFlags.Px | SetFlags.ExAt | SetFlags.PxAt;

    static void Get(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.Null(); return; }
        if (v is byte[] b) { c.Reply.Bulk(b); return; }
        if (Values.IsString(v)) { c.Reply.Bulk(Values.StringBytes(v)); return; }
        c.WrongType();
    }

    /// <summary>parseExtendedStringArgumentsOrReply: the SET/GETEX option grammar, with Redis's exact exclusions.</summary>
    static bool ParseOptions(Client c, int start, bool forSet, out SetFlags flags, out int expireArg)
    {
        flags = SetFlags.None;
        expireArg = -1;
        for (int j = start; j < c.ArgCount; j++)
        {
            var opt = c.Arg(j);
            bool hasNext = j < c.ArgCount - 1;
            if (forSet && Ascii.EqualsIgnoreCase(opt, "nx") && (flags & SetFlags.Xx) == 0) flags |= SetFlags.Nx;
            else if (forSet && Ascii.EqualsIgnoreCase(opt, "xx") && (flags & SetFlags.Nx) == 0) flags |= SetFlags.Xx;
            else if (forSet && Ascii.EqualsIgnoreCase(opt, "get")) flags |= SetFlags.Get;
            else if (forSet && Ascii.EqualsIgnoreCase(opt, "keepttl") && (flags & (SetFlags.Persist | AnyExpire)) == 0) flags |= SetFlags.KeepTtl;
            else if (!forSet && Ascii.EqualsIgnoreCase(opt, "persist") && (flags & (AnyExpire | SetFlags.KeepTtl)) == 0) flags |= SetFlags.Persist;
            else if (hasNext && TryExpireOption(opt, flags, out var unitFlag))
            {
                flags |= unitFlag;
                expireArg = ++j;
            }
            else
            {
                c.Syntax();
                return false;
            }
        }
        return true;
    }

    static bool TryExpireOption(ReadOnlySpan<byte> opt, SetFlags flags, out SetFlags which)
    {
        which = SetFlags.None;
        if (Ascii.EqualsIgnoreCase(opt, "ex")) which = SetFlags.Ex;
        else if (Ascii.EqualsIgnoreCase(opt, "px")) which = SetFlags.Px;
        else if (Ascii.EqualsIgnoreCase(opt, "exat")) which = SetFlags.ExAt;
        else if (Ascii.EqualsIgnoreCase(opt, "pxat")) which = SetFlags.PxAt;
        else return false;
        var others = (AnyExpire & ~which) | SetFlags.KeepTtl | SetFlags.Persist;
        return (flags & others) == 0;
    }

    /// <summary>getExpireMillisecondsOrReply: absolute unix ms for an EX/PX/EXAT/PXAT argument.</summary>
    static bool TryExpireMs(Client c, int arg, bool seconds, bool relative, out long ms)
    {
        if (!c.TryArgLong(arg, out ms)) return false;
        if (ms <= 0 || (seconds && ms > long.MaxValue / 1000))
        {
            InvalidExpire(c);
            return false;
        }
        if (seconds) ms *= 1000;
        if (relative)
        {
            if (ms > long.MaxValue - Clock.NowMs) { InvalidExpire(c); return false; }
            ms += Clock.NowMs;
        }
        return true;
    }

    public static void InvalidExpire(Client c) => c.Error($"ERR invalid expire time in '{c.LastCommand}' command");

    static void Set(Client c)
    {
        if (!ParseOptions(c, 3, true, out var flags, out int expireArg)) return;
        SetGeneric(c, flags, expireArg);
    }

    static void SetGeneric(Client c, SetFlags flags, int expireArg, bool replyInteger = false)
    {
        long when = 0;
        if (expireArg > 0)
        {
            bool seconds = (flags & (SetFlags.Ex | SetFlags.ExAt)) != 0;
            bool relative = (flags & (SetFlags.Ex | SetFlags.Px)) != 0;
            if (!TryExpireMs(c, expireArg, seconds, relative, out when)) return;
        }
        var key = c.Arg(1);
        var db = c.Db;
        int index = db.Find(key);
        if ((flags & SetFlags.Get) != 0)
        {
            if (index >= 0)
            {
                var old = db.Table.At(index).Value;
                if (!Values.IsString(old)) { c.WrongType(); return; }
                c.Reply.Bulk(Values.StringBytes(old));
                c.Server.Stats.KeyspaceHits++;
            }
            else
            {
                c.Reply.Null();
                c.Server.Stats.KeyspaceMisses++;
            }
        }
        bool found = index >= 0;
        if (((flags & SetFlags.Nx) != 0 && found) || ((flags & SetFlags.Xx) != 0 && !found))
        {
            if ((flags & SetFlags.Get) == 0)
            {
                if (replyInteger) c.Reply.Integer(0);
                else c.Reply.Null();
            }
            return;
        }
        var value = c.Arg(2);
        if (found)
        {
            ref var e = ref db.Table.At(index);
            if (e.Value is byte[] existing && existing.Length == value.Length)
                value.CopyTo(existing);     // same-size overwrite reuses the array: no allocation for fixed-size values
            else
                db.Replace(index, value.ToArray());
            db.Touch(ref e);
            if ((flags & SetFlags.KeepTtl) == 0 && e.ExpireAt != 0) db.SetExpire(index, 0);
        }
        else
        {
            index = db.Add(c.ArgBytes(1), value.ToArray());
        }
        if (when != 0) db.SetExpire(index, when);
        var prop = c.Server.Prop;
        if (prop.Enabled)
        {
            // Any expiry goes out as SET key value PXAT <absolute ms>; without one, GET is left out.
            if (when != 0) prop.RewriteSetPxat(key, value, when);
            else if ((flags & SetFlags.Get) != 0) RewriteWithoutGet(c, prop);
        }
        Keyspace.Modified(c, key, KeyspaceEvents.String, "set");
        if (when != 0) Keyspace.Notify(c, key, KeyspaceEvents.Generic, "expire");
        if ((flags & SetFlags.Get) == 0)
        {
            if (replyInteger) c.Reply.Integer(1);
            else c.Reply.Ok();
        }
    }

    static void RewriteWithoutGet(Client c, Propagator prop)
    {
        int argc = 0;
        for (int j = 0; j < c.ArgCount; j++) if (j < 3 || !c.ArgIs(j, "get")) argc++;
        var w = prop.Rewrite(argc);
        for (int j = 0; j < c.ArgCount; j++) if (j < 3 || !c.ArgIs(j, "get")) w.Bulk(c.Arg(j));
    }

    static void SetNx(Client c) => SetGeneric(c, SetFlags.Nx, -1, replyInteger: true);

    static void SetWithExpire(Client c, ExpireUnit unit)
    {
        // SETEX key seconds value: the value is argument 3, so reorder through a small shim.
        long when;
        if (!TryExpireMs(c, 2, unit == ExpireUnit.Seconds, true, out when)) return;
        var key = c.Arg(1);
        var db = c.Db;
        int index = db.Set(key, c.ArgBytes(3));
        db.SetExpire(index, when);
        if (c.Server.Prop.Enabled) c.Server.Prop.RewriteSetPxat(key, c.Arg(3), when);
        Keyspace.Modified(c, key, KeyspaceEvents.String, "set");
        Keyspace.Notify(c, key, KeyspaceEvents.Generic, "expire");
        c.Reply.Ok();
    }

    static void GetEx(Client c)
    {
        if (!ParseOptions(c, 2, false, out var flags, out int expireArg)) return;
        var key = c.Arg(1);
        var v = Keyspace.LookupRead(c, key);
        if (v == null) { c.Reply.Null(); return; }
        if (!Values.IsString(v)) { c.WrongType(); return; }
        long when = 0;
        if (expireArg > 0)
        {
            bool seconds = (flags & (SetFlags.Ex | SetFlags.ExAt)) != 0;
            bool relative = (flags & (SetFlags.Ex | SetFlags.Px)) != 0;
            if (!TryExpireMs(c, expireArg, seconds, relative, out when)) return;
        }
        c.Reply.Bulk(Values.StringBytes(v));
        var db = c.Db;
        var prop = c.Server.Prop;
        if ((flags & (SetFlags.ExAt | SetFlags.PxAt)) != 0 && when <= Clock.NowMs && db.ExpiryEnabled)
        {
            db.Delete(key);
            if (prop.Enabled) prop.RewriteDelete(key, c.Server.Settings.LazyfreeLazyExpire);
            Keyspace.Modified(c, key, KeyspaceEvents.Generic, "del");
        }
        else if (expireArg > 0)
        {
            db.SetExpire(db.Find(key), when);
            if (prop.Enabled) prop.RewriteKeyCommand("PEXPIREAT"u8, key, when);
            Keyspace.Modified(c, key, KeyspaceEvents.Generic, "expire");
        }
        else if ((flags & SetFlags.Persist) != 0)
        {
            int i = db.Find(key);
            if (db.GetExpire(i) != 0)
            {
                db.SetExpire(i, 0);
                if (prop.Enabled) prop.RewriteKeyCommand("PERSIST"u8, key);
                Keyspace.Modified(c, key, KeyspaceEvents.Generic, "persist");
            }
        }
    }

    static void GetDel(Client c)
    {
        var key = c.Arg(1);
        var v = Keyspace.LookupRead(c, key);
        if (v == null) { c.Reply.Null(); return; }
        if (!Values.IsString(v)) { c.WrongType(); return; }
        c.Reply.Bulk(Values.StringBytes(v));
        c.Db.Delete(key);
        if (c.Server.Prop.Enabled) c.Server.Prop.RewriteKeyCommand("DEL"u8, key);
        Keyspace.Modified(c, key, KeyspaceEvents.Generic, "del");
    }

    static void GetSet(Client c)
    {
        var key = c.Arg(1);
        if (!Keyspace.TryReadString(c, key, out var old)) return;
        if (old == null) c.Reply.Null();
        else c.Reply.Bulk(Values.StringBytes(old));
        Keyspace.SetKey(c, key, c.ArgBytes(2));
        c.Server.Dirty();
        if (c.Server.Prop.Enabled)
        {
            var w = c.Server.Prop.Rewrite(3);   // propagated as SET key value
            w.Bulk("SET"u8);
            w.Bulk(key);
            w.Bulk(c.Arg(2));
        }
        Keyspace.Notify(c, key, KeyspaceEvents.String, "set");
    }

    static void MGet(Client c)
    {
        c.Reply.ArrayHeader(c.ArgCount - 1);
        for (int i = 1; i < c.ArgCount; i++)
        {
            var v = Keyspace.LookupRead(c, c.Arg(i));
            if (v != null && Values.IsString(v)) c.Reply.Bulk(Values.StringBytes(v));
            else c.Reply.Null();
        }
    }

    static void MSet(Client c)
    {
        if (c.ArgCount % 2 == 0) { c.Error($"ERR wrong number of arguments for '{c.LastCommand}' command"); return; }
        for (int i = 1; i < c.ArgCount; i += 2) SetPlain(c, i);
        c.Reply.Ok();
    }

    static void SetPlain(Client c, int keyArg)
    {
        var db = c.Db;
        var key = c.Arg(keyArg);
        var value = c.Arg(keyArg + 1);
        int index = db.Find(key);
        if (index >= 0)
        {
            ref var e = ref db.Table.At(index);
            if (e.Value is byte[] existing && existing.Length == value.Length) value.CopyTo(existing);
            else db.Replace(index, value.ToArray());
            db.Touch(ref e);
            if (e.ExpireAt != 0) db.SetExpire(index, 0);
        }
        else db.Add(c.ArgBytes(keyArg), value.ToArray());
        Keyspace.Modified(c, key, KeyspaceEvents.String, "set");
    }

    static void MSetNx(Client c)
    {
        if (c.ArgCount % 2 == 0) { c.Error($"ERR wrong number of arguments for '{c.LastCommand}' command"); return; }
        for (int i = 1; i < c.ArgCount; i += 2)
        {
            if (Keyspace.LookupWrite(c, c.Arg(i)) != null) { c.Reply.Integer(0); return; }
        }
        for (int i = 1; i < c.ArgCount; i += 2) SetPlain(c, i);
        c.Reply.Integer(1);
    }

    static void IncrBy(Client c)
    {
        if (!c.TryArgLong(2, out long by)) return;
        IncrDecr(c, by);
    }

    static void DecrBy(Client c)
    {
        if (!c.TryArgLong(2, out long by)) return;
        if (by == long.MinValue) { c.Error("ERR decrement would overflow"); return; }
        IncrDecr(c, -by);
    }

    static void IncrDecr(Client c, long by)
    {
        var key = c.Arg(1);
        var db = c.Db;
        int index = db.Find(key);
        long value = 0;
        byte[] existing = null;
        if (index >= 0)
        {
            var v = db.Table.At(index).Value;
            if (!Values.IsString(v)) { c.WrongType(); return; }
            if (!Numbers.TryParseInt64(Values.StringBytes(v), out value)) { c.NotInteger(); return; }
            existing = v as byte[];
        }
        if ((by < 0 && value < 0 && by < long.MinValue - value) || (by > 0 && value > 0 && by > long.MaxValue - value))
        {
            c.Error("ERR increment or decrement would overflow");
            return;
        }
        long result = value + by;
        Span<byte> digits = stackalloc byte[20];
        int n = Numbers.Format(result, digits);
        if (existing != null && existing.Length == n)
        {
            digits[..n].CopyTo(existing);
            db.Touch(ref db.Table.At(index));
        }
        else if (index >= 0) db.Replace(index, digits[..n].ToArray());
        else db.Add(c.ArgBytes(1), digits[..n].ToArray());
        Keyspace.Modified(c, key, KeyspaceEvents.String, "incrby");
        c.Reply.Integer(result);
    }

    /// <summary>
    /// incrbyfloatCommand: both operands parsed by string2ld, added in 80-bit long double, stored as
    /// "%.17Lf" trimmed. The result is a fresh string object, so "embstr" even when it reads as an integer.
    /// </summary>
    static void IncrByFloat(Client c)
    {
        var key = c.Arg(1);
        if (!Keyspace.TryWriteString(c, key, out var v)) return;
        LongDouble a = default;
        if ((v != null && !LongDouble.TryParse(Values.StringBytes(v), out a)) || !LongDouble.TryParse(c.Arg(2), out var b))
        {
            c.NotFloat();
            return;
        }
        var sum = LongDouble.Add(a, b);
        if (!sum.IsFinite)
        {
            c.Error("ERR increment would produce NaN or Infinity");
            return;
        }
        var bytes = sum.ToHumanBytes();
        object value = bytes.Length <= 20 && Numbers.TryParseInt64(bytes, out _) ? new EmbStr(bytes) : bytes;
        Keyspace.SetKey(c, key, value, keepTtl: true);
        c.Server.Dirty();
        // Propagated as the value it produced, so float formatting can never make a replica or reload differ.
        if (c.Server.Prop.Enabled)
        {
            var w = c.Server.Prop.Rewrite(4);
            w.Bulk("SET"u8);
            w.Bulk(key);
            w.Bulk(bytes);
            w.Bulk("KEEPTTL"u8);
        }
        Keyspace.Notify(c, key, KeyspaceEvents.String, "incrbyfloat");
        c.Reply.Bulk(bytes);
    }

    /// <summary>checkStringLength: a string may not grow past proto-max-bulk-len.</summary>
    static bool CheckLength(Client c, long size, long append)
    {
        long total = unchecked(size + append);
        if (total > c.Server.Settings.ProtoMaxBulkLen || total < size || total < append)
        {
            c.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            return false;
        }
        return true;
    }

    /// <summary>Turns the value at an entry into a mutable raw string (dbUnshareStringValue).</summary>
    public static RawString Unshare(Db db, int index, int extraCapacity)
    {
        ref var e = ref db.Table.At(index);
        if (e.Value is RawString r) return r;
        var bytes = Values.StringBytes(e.Value);
        var raw = new RawString(bytes, bytes.Length + extraCapacity);
        db.Replace(index, raw);
        return raw;
    }

    static void Append(Client c)
    {
        var key = c.Arg(1);
        var db = c.Db;
        if (!Keyspace.TryWriteString(c, key, out var v)) return;
        var add = c.Arg(2);
        long total;
        if (v == null)
        {
            db.Add(c.ArgBytes(1), add.ToArray());
            total = add.Length;
        }
        else
        {
            int len = Values.StringBytes(v).Length;
            if (!CheckLength(c, len, add.Length)) return;
            int index = db.Find(key);
            var raw = Unshare(db, index, add.Length);
            long before = Values.Cost(raw);
            raw.EnsureLength(len + add.Length);
            add.CopyTo(raw.Buffer.AsSpan(len));
            db.Resized(before, raw);
            total = raw.Length;
        }
        Keyspace.Modified(c, key, KeyspaceEvents.String, "append");
        c.Reply.Integer(total);
    }

    static void StrLen(Client c)
    {
        if (!Keyspace.TryReadString(c, c.Arg(1), out var v)) return;
        c.Reply.Integer(v == null ? 0 : Values.StringBytes(v).Length);
    }

    static void GetRange(Client c)
    {
        if (!c.TryArgLong(2, out long start) || !c.TryArgLong(3, out long end)) return;
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.Bulk(ReadOnlySpan<byte>.Empty); return; }
        if (!Values.IsString(v)) { c.WrongType(); return; }
        var s = Values.StringBytes(v);
        long len = s.Length;
        if (start < 0 && end < 0 && start > end) { c.Reply.Bulk(ReadOnlySpan<byte>.Empty); return; }
        if (start < 0) start = len + start;
        if (end < 0) end = len + end;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if ((ulong)end >= (ulong)len) end = len - 1;
        if (start > end || len == 0) { c.Reply.Bulk(ReadOnlySpan<byte>.Empty); return; }
        c.Reply.Bulk(s.Slice((int)start, (int)(end - start + 1)));
    }

    static void SetRange(Client c)
    {
        if (!c.TryArgLong(2, out long offset)) return;
        if (offset < 0) { c.Error("ERR offset is out of range"); return; }
        var key = c.Arg(1);
        var value = c.Arg(3);
        var db = c.Db;
        if (!Keyspace.TryWriteString(c, key, out var v)) return;
        if (v == null)
        {
            if (value.Length == 0) { c.Reply.Integer(0); return; }
            if (!CheckLength(c, offset, value.Length)) return;
            var raw = new RawString(ReadOnlySpan<byte>.Empty, (int)offset + value.Length);
            raw.EnsureLength((int)offset + value.Length);
            value.CopyTo(raw.Buffer.AsSpan((int)offset));
            db.Add(c.ArgBytes(1), raw);
            Keyspace.Modified(c, key, KeyspaceEvents.String, "setrange");
            c.Reply.Integer(raw.Length);
            return;
        }
        int olen = Values.StringBytes(v).Length;
        if (value.Length == 0) { c.Reply.Integer(olen); return; }
        if (!CheckLength(c, offset, value.Length)) return;
        int index = db.Find(key);
        var r = Unshare(db, index, 0);
        long before = Values.Cost(r);
        r.EnsureLength((int)Math.Max(r.Length, offset + value.Length));
        value.CopyTo(r.Buffer.AsSpan((int)offset));
        db.Resized(before, r);
        Keyspace.Modified(c, key, KeyspaceEvents.String, "setrange");
        c.Reply.Integer(r.Length);
    }

    static void Lcs(Client c)
    {
        var oa = Keyspace.LookupRead(c, c.Arg(1));
        var ob = Keyspace.LookupRead(c, c.Arg(2));
        if ((oa != null && !Values.IsString(oa)) || (ob != null && !Values.IsString(ob)))
        {
            c.Error("ERR The specified keys must contain string values");
            return;
        }
        bool getIdx = false, getLen = false, withMatchLen = false;
        long minMatchLen = 0;
        for (int j = 3; j < c.ArgCount; j++)
        {
            int more = c.ArgCount - 1 - j;
            if (c.ArgIs(j, "idx")) getIdx = true;
            else if (c.ArgIs(j, "len")) getLen = true;
            else if (c.ArgIs(j, "withmatchlen")) withMatchLen = true;
            else if (c.ArgIs(j, "minmatchlen") && more > 0)
            {
                if (!c.TryArgLong(j + 1, out minMatchLen)) return;
                if (minMatchLen < 0) minMatchLen = 0;
                j++;
            }
            else { c.Syntax(); return; }
        }
        if (getIdx && getLen)
        {
            c.Error("ERR If you want both the length and indexes, please just use IDX.");
            return;
        }
        byte[] a = oa == null ? Array.Empty<byte>() : Values.StringBytes(oa).ToArray();
        byte[] b = ob == null ? Array.Empty<byte>() : Values.StringBytes(ob).ToArray();
        int alen = a.Length, blen = b.Length;
        if ((long)(alen + 1) * (blen + 1) * 4 > c.Server.Settings.ProtoMaxBulkLen || (long)(alen + 1) * (blen + 1) > int.MaxValue)
        {
            c.Error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
            return;
        }
        var dp = new uint[(alen + 1) * (blen + 1)];
        int W = blen + 1;
        for (int i = 1; i <= alen; i++)
            for (int j = 1; j <= blen; j++)
                dp[i * W + j] = a[i - 1] == b[j - 1] ? dp[(i - 1) * W + j - 1] + 1 : Math.Max(dp[(i - 1) * W + j], dp[i * W + j - 1]);
        uint lcsLen = dp[alen * W + blen];
        if (getLen && !getIdx) { c.Reply.Integer(lcsLen); return; }
        var result = new byte[lcsLen];
        int idx = (int)lcsLen;
        int deferred = 0, count = 0;
        if (getIdx)
        {
            c.Reply.MapHeader(2);
            c.Reply.Bulk("matches"u8);
            deferred = c.Reply.BeginDeferred();
        }
        int ai = alen, bi = blen;
        int aStart = alen, aEnd = 0, bStart = 0, bEnd = 0;
        while (ai > 0 && bi > 0)
        {
            bool emit = false;
            if (a[ai - 1] == b[bi - 1])
            {
                result[idx - 1] = a[ai - 1];
                if (aStart == alen) { aStart = ai - 1; aEnd = ai - 1; bStart = bi - 1; bEnd = bi - 1; }
                else if (aStart == ai && bStart == bi) { aStart--; bStart--; }
                else emit = true;
                if (aStart == 0 || bStart == 0) emit = true;
                idx--; ai--; bi--;
            }
            else
            {
                uint l1 = dp[(ai - 1) * W + bi], l2 = dp[ai * W + bi - 1];
                if (l1 > l2) ai--; else bi--;
                if (aStart != alen) emit = true;
            }
            int matchLen = aEnd - aStart + 1;
            if (emit)
            {
                if (getIdx && (minMatchLen == 0 || matchLen >= minMatchLen))
                {
                    c.Reply.ArrayHeader(2 + (withMatchLen ? 1 : 0));
                    c.Reply.ArrayHeader(2); c.Reply.Integer(aStart); c.Reply.Integer(aEnd);
                    c.Reply.ArrayHeader(2); c.Reply.Integer(bStart); c.Reply.Integer(bEnd);
                    if (withMatchLen) c.Reply.Integer(matchLen);
                    count++;
                }
                aStart = alen;
            }
        }
        if (getIdx)
        {
            c.Reply.EndDeferred(deferred, count);
            c.Reply.Bulk("len"u8);
            c.Reply.Integer(lcsLen);
        }
        else c.Reply.Bulk(result);
    }
}

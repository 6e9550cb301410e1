using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>t_hash.c: hashes, their listpack/hashtable encodings, counters, random fields and HSCAN.</summary>
public static class HashCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("hset", c => HSet(c, false));
        t.Register("hmset", c => HSet(c, true));
        t.Register("hsetnx", HSetNx);
        t.Register("hget", HGet);
        t.Register("hmget", HMGet);
        t.Register("hdel", HDel);
        t.Register("hlen", HLen);
        t.Register("hstrlen", HStrLen);
        t.Register("hexists", HExists);
        t.Register("hkeys", c => HGetAllGeneric(c, true, false));
        t.Register("hvals", c => HGetAllGeneric(c, false, true));
        t.Register("hgetall", c => HGetAllGeneric(c, true, true));
        t.Register("hincrby", HIncrBy);
        t.Register("hincrbyfloat", HIncrByFloat);
        t.Register("hrandfield", HRandField);
        t.Register("hscan", HScan);
    }

    static bool TryRead(Client c, ReadOnlySpan<byte> key, out HashValue hash) => Keyspace.TryRead(c, key, out hash);

    static bool TryWrite(Client c, ReadOnlySpan<byte> key, out HashValue hash) => Keyspace.TryWrite(c, key, out hash);

    /// <summary>hashTypeLookupWriteOrCreate: the hash at argument 1, created empty when missing; null after WRONGTYPE.</summary>
    static HashValue LookupWriteOrCreate(Client c)
    {
        if (!TryWrite(c, c.Arg(1), out var hash)) return null;
        if (hash == null)
        {
            hash = new HashValue();
            c.Db.Add(c.ArgBytes(1), hash);
        }
        return hash;
    }

    static void Notify(Client c, string ev, ReadOnlySpan<byte> key) => c.Server.Notify(KeyspaceEvents.Hash, ev, key, c.Db.Id);

    static void HSet(Client c, bool hmset)
    {
        if (c.ArgCount % 2 == 1) { c.Error($"ERR wrong number of arguments for '{c.LastCommand}' command"); return; }
        var hash = LookupWriteOrCreate(c);
        if (hash == null) return;
        long before = hash.Cost;
        var s = c.Server.Settings;
        long created = 0;
        for (int i = 2; i < c.ArgCount; i += 2)
            if (hash.Set(c.Arg(i), c.Arg(i + 1), s.HashMaxListpackEntries, s.HashMaxListpackValue)) created++;
        c.Db.Resized(before, hash);
        var key = c.Arg(1);
        c.Server.KeyModified(c.Db, key);
        Notify(c, "hset", key);
        c.Server.Dirty((c.ArgCount - 2) / 2);
        if (hmset) c.Reply.Ok();
        else c.Reply.Integer(created);
    }

    static void HSetNx(Client c)
    {
        var hash = LookupWriteOrCreate(c);
        if (hash == null) return;
        if (hash.IndexOf(c.Arg(2)) >= 0) { c.Reply.Integer(0); return; }
        long before = hash.Cost;
        var s = c.Server.Settings;
        hash.Set(c.Arg(2), c.Arg(3), s.HashMaxListpackEntries, s.HashMaxListpackValue);
        c.Db.Resized(before, hash);
        var key = c.Arg(1);
        Keyspace.Modified(c, key);
        Notify(c, "hset", key);
        c.Reply.Integer(1);
    }

    static void HGet(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash != null && hash.TryGetValue(c.Arg(2), out var value)) c.Reply.Bulk(value);
        else c.Reply.Null();
    }

    static void HMGet(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.ArrayHeader(c.ArgCount - 2);
        for (int i = 2; i < c.ArgCount; i++)
        {
            if (hash != null && hash.TryGetValue(c.Arg(i), out var value)) c.Reply.Bulk(value);
            else c.Reply.Null();
        }
    }

    static void HDel(Client c) => Keyspace.RemoveMembers<HashValue>(c, 2, KeyspaceEvents.Hash, "hdel");

    static void HLen(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.Integer(hash?.Count ?? 0);
    }

    static void HStrLen(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.Integer(hash != null && hash.TryGetValue(c.Arg(2), out var value) ? value.Length : 0);
    }

    static void HExists(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.Integer(hash != null && hash.IndexOf(c.Arg(2)) >= 0 ? 1 : 0);
    }

    /// <summary>genericHgetallCommand: HKEYS and HVALS answer arrays, HGETALL a map.</summary>
    static void HGetAllGeneric(Client c, bool fields, bool values)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        int n = hash?.Count ?? 0;
        if (fields && values) c.Reply.MapHeader(n);
        else c.Reply.ArrayHeader(n);
        for (int i = 0; i < n; i++)
        {
            if (fields) c.Reply.Bulk(hash.FieldAt(i));
            if (values) c.Reply.Bulk(hash.ValueAt(i));
        }
    }

    static void HIncrBy(Client c)
    {
        if (!c.TryArgLong(3, out long incr)) return;
        var hash = LookupWriteOrCreate(c);
        if (hash == null) return;
        long value = 0;
        if (hash.TryGetValue(c.Arg(2), out var current) && !Numbers.TryParseInt64(current, out value))
        {
            c.Error("ERR hash value is not an integer");
            return;
        }
        if ((incr < 0 && value < 0 && incr < long.MinValue - value) || (incr > 0 && value > 0 && incr > long.MaxValue - value))
        {
            c.Error("ERR increment or decrement would overflow");
            return;
        }
        value += incr;
        Span<byte> digits = stackalloc byte[20];
        int len = Numbers.Format(value, digits);
        long before = hash.Cost;
        var s = c.Server.Settings;
        hash.Set(c.Arg(2), digits[..len], s.HashMaxListpackEntries, s.HashMaxListpackValue);
        c.Db.Resized(before, hash);
        var key = c.Arg(1);
        Keyspace.Modified(c, key);
        Notify(c, "hincrby", key);
        c.Reply.Integer(value);
    }

    static void HIncrByFloat(Client c)
    {
        if (!LongDouble.TryParse(c.Arg(3), out var incr)) { c.NotFloat(); return; }
        if (!incr.IsFinite) { c.Error("ERR value is NaN or Infinity"); return; }
        var hash = LookupWriteOrCreate(c);
        if (hash == null) return;
        LongDouble value = default;
        if (hash.TryGetValue(c.Arg(2), out var current) && !LongDouble.TryParse(current, out value))
        {
            c.Error("ERR hash value is not a float");
            return;
        }
        var sum = current == null ? LongDouble.Add(LongDouble.FromInt64(0), incr) : LongDouble.Add(value, incr);
        if (!sum.IsFinite)
        {
            c.Error("ERR increment would produce NaN or Infinity");
            return;
        }
        var bytes = sum.ToHumanBytes();
        long before = hash.Cost;
        var s = c.Server.Settings;
        hash.Set(c.Arg(2), bytes, s.HashMaxListpackEntries, s.HashMaxListpackValue);
        c.Db.Resized(before, hash);
        var key = c.Arg(1);
        if (c.Server.Prop.Enabled)
        {
            var w = c.Server.Prop.Rewrite(4);   // HSET key field <the value it produced>
            w.Bulk("HSET"u8);
            w.Bulk(key);
            w.Bulk(c.Arg(2));
            w.Bulk(bytes);
        }
        Keyspace.Modified(c, key);
        Notify(c, "hincrbyfloat", key);
        c.Reply.Bulk(bytes);
    }

    static void HRandField(Client c)
    {
        if (c.ArgCount >= 3)
        {
            if (!SetCommands.TryRandomCount(c, 2, out long l)) return;
            if (c.ArgCount > 4 || (c.ArgCount == 4 && !c.ArgIs(3, "withvalues"))) { c.Syntax(); return; }
            bool withValues = c.ArgCount == 4;
            if (withValues && (l < -long.MaxValue / 2 || l > long.MaxValue / 2))
            {
                c.Error("ERR value is out of range");
                return;
            }
            HRandFieldWithCount(c, l, withValues);
            return;
        }
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash == null) { c.Reply.Null(); return; }
        c.Reply.Bulk(hash.FieldAt(hash.RandomIndex()));
    }

    static void ReplyPair(Client c, HashValue hash, int i, bool withValues)
    {
        if (withValues && c.Reply.Resp3) c.Reply.ArrayHeader(2);
        c.Reply.Bulk(hash.FieldAt(i));
        if (withValues) c.Reply.Bulk(hash.ValueAt(i));
    }

    const int HrandfieldSubStrategyMul = 3;

    static void HRandFieldWithCount(Client c, long l, bool withValues)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash == null || l == 0) { c.Reply.EmptyArray(); return; }
        int size = hash.Count;
        bool flat = withValues && !c.Reply.Resp3;
        if (l < 0 || l == 1)
        {
            // Repeats allowed: every pick samples the whole hash.
            long count = l < 0 ? -l : l;
            c.Reply.ArrayHeader(flat ? count * 2 : count);
            for (long n = 0; n < count; n++) ReplyPair(c, hash, hash.RandomIndex(), withValues);
            return;
        }
        long replySize = Math.Min(l, size);
        c.Reply.ArrayHeader(flat ? replySize * 2 : replySize);
        if (l >= size)
        {
            for (int i = 0; i < size; i++) ReplyPair(c, hash, i, withValues);
            return;
        }
        int count2 = (int)l;
        if (hash.IsListpack)
        {
            // Distinct fields in listpack order (selection sampling).
            int need = count2;
            for (int i = 0; i < size && need > 0; i++)
            {
                if (Random.Shared.Next(size - i) < need)
                {
                    ReplyPair(c, hash, i, withValues);
                    need--;
                }
            }
            return;
        }
        foreach (int i in SetCommands.DistinctIndexes(size, count2, HrandfieldSubStrategyMul)) ReplyPair(c, hash, i, withValues);
    }

    static void HScan(Client c)
    {
        if (!KeyCommands.TryParseCursor(c, c.Arg(2), out ulong cursor)) return;
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash == null) { ScanReply.Empty(c); return; }
        if (!ScanReply.ParseOptions(c, 3, out long count, out int patternArg)) return;
        var pattern = patternArg > 0 ? c.Arg(patternArg) : default;
        bool usePattern = patternArg > 0;
        if (hash.IsListpack)
        {
            int deferredAll = ScanReply.Begin(c, 0);
            long n = 0;
            for (int i = 0; i < hash.Count; i++)
            {
                var f = hash.FieldAt(i);
                if (usePattern && !Glob.Match(pattern, f)) continue;
                c.Reply.Bulk(f);
                c.Reply.Bulk(hash.ValueAt(i));
                n += 2;
            }
            c.Reply.EndDeferred(deferredAll, n);
            return;
        }
        var found = new List<int>();
        var table = hash.Table;
        long maxIterations = count * 10;
        do
        {
            cursor = table.ScanStep(cursor, found);
        } while (cursor != 0 && maxIterations-- > 0 && found.Count < count);
        int deferred = ScanReply.Begin(c, cursor);
        long emitted = 0;
        foreach (int i in found)
        {
            ref var e = ref table.At(i);
            if (usePattern && !Glob.Match(pattern, e.Key)) continue;
            c.Reply.Bulk(e.Key);
            c.Reply.Bulk(e.Value);
            emitted += 2;
        }
        c.Reply.EndDeferred(deferred, emitted);
    }
}

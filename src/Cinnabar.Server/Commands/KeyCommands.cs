using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>db.c and expire.c: generic key commands, databases and TTLs.</summary>
public static class KeyCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("del", Del);
        t.Register("unlink", Del);
        t.Register("exists", Exists);
        t.Register("type", Type);
        t.Register("rename", c => Rename(c, false));
        t.Register("renamenx", c => Rename(c, true));
        t.Register("copy", Copy);
        t.Register("move", Move);
        t.Register("touch", Touch);
        t.Register("keys", Keys);
        t.Register("scan", Scan);
        t.Register("randomkey", RandomKey);
        t.Register("dbsize", c => c.Reply.Integer(c.Db.Count));
        t.Register("flushdb", FlushDb);
        t.Register("flushall", FlushAll);
        t.Register("select", Select);
        t.Register("swapdb", SwapDb);
        t.Register("object|encoding", ObjectEncoding);
        t.Register("object|freq", ObjectFreq);
        t.Register("object|idletime", ObjectIdleTime);
        t.Register("object|refcount", ObjectRefCount);
        t.Register("object|help", ObjectHelp);
        t.Register("expire", c => ExpireGeneric(c, Clock.NowMs, true));
        t.Register("pexpire", c => ExpireGeneric(c, Clock.NowMs, false));
        t.Register("expireat", c => ExpireGeneric(c, 0, true));
        t.Register("pexpireat", c => ExpireGeneric(c, 0, false));
        t.Register("ttl", c => Ttl(c, false, false));
        t.Register("pttl", c => Ttl(c, true, false));
        t.Register("expiretime", c => Ttl(c, false, true));
        t.Register("pexpiretime", c => Ttl(c, true, true));
        t.Register("persist", Persist);
    }

    static void Del(Client c)
    {
        long deleted = 0;
        for (int i = 1; i < c.ArgCount; i++)
        {
            var key = c.Arg(i);
            int index = c.Db.Find(key);   // expireIfNeeded first: an expired key counts as missing
            if (index >= 0)
            {
                c.Db.RemoveIndex(index);
                Keyspace.Modified(c, key, KeyspaceEvents.Generic, "del");
                deleted++;
            }
        }
        c.Reply.Integer(deleted);
    }

    static void Exists(Client c)
    {
        long n = 0;
        for (int i = 1; i < c.ArgCount; i++)
            if (Keyspace.LookupRead(c, c.Arg(i)) != null) n++;
        c.Reply.Integer(n);
    }

    static void Type(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        c.Reply.Simple(v == null ? "none" : Values.TypeName(v));
    }

    static void Rename(Client c, bool nx)
    {
        var src = c.Arg(1);
        var dst = c.Arg(2);
        var db = c.Db;
        int si = db.Find(src);
        if (si < 0) { c.Error("ERR no such key"); return; }
        if (src.SequenceEqual(dst))
        {
            if (nx) c.Reply.Integer(0); else c.Reply.Ok();
            return;
        }
        object value = db.Table.At(si).Value;
        long expire = db.GetExpire(si);
        if (db.Find(dst) >= 0)
        {
            if (nx) { c.Reply.Integer(0); return; }
            db.Delete(dst);
        }
        db.Delete(src);
        int di = db.Add(c.ArgBytes(2), value);
        if (expire != 0) db.SetExpire(di, expire);
        Keyspace.Modified(c, src, KeyspaceEvents.Generic, "rename_from");
        Keyspace.Modified(c, dst, KeyspaceEvents.Generic, "rename_to");
        if (nx) c.Reply.Integer(1); else c.Reply.Ok();
    }

    /// <summary>getIntFromObjectOrReply with an optional custom message.</summary>
    static bool TryArgInt(Client c, int i, out int v, string message = null)
    {
        v = 0;
        if (!Numbers.TryParseInt64(c.Arg(i), out long l) || l < int.MinValue || l > int.MaxValue)
        {
            if (message != null) c.Error("ERR " + message); else c.NotInteger();
            return false;
        }
        v = (int)l;
        return true;
    }

    static bool TrySelectDb(Client c, int id, out Db db)
    {
        db = null;
        if (id < 0 || id >= c.Server.Dbs.Length) return false;
        db = c.Server.Dbs[id];
        return true;
    }

    static void Copy(Client c)
    {
        bool replace = false;
        var dstDb = c.Db;
        for (int j = 3; j < c.ArgCount; j++)
        {
            int additional = c.ArgCount - j - 1;
            if (c.ArgIs(j, "replace")) replace = true;
            else if (c.ArgIs(j, "db") && additional > 0)
            {
                if (!TryArgInt(c, j + 1, out int id)) return;
                if (!TrySelectDb(c, id, out dstDb)) { c.Error("ERR DB index is out of range"); return; }
                j++;
            }
            else { c.Syntax(); return; }
        }
        if (c.Server.ClusterEnabled && (c.Db.Id != 0 || dstDb.Id != 0))
        {
            c.Error("ERR Copying to another database is not allowed in cluster mode");
            return;
        }
        var key = c.Arg(1);
        var newKey = c.Arg(2);
        if (dstDb == c.Db && key.SequenceEqual(newKey))
        {
            c.Error("ERR source and destination objects are the same");
            return;
        }
        var src = c.Db;
        var v = Keyspace.LookupRead(c, key);
        if (v == null) { c.Reply.Integer(0); return; }
        long expire = src.GetExpire(src.Find(key));
        if (dstDb.Find(newKey) >= 0)
        {
            if (!replace) { c.Reply.Integer(0); return; }
            dstDb.Delete(newKey);
        }
        int di = dstDb.Add(c.ArgBytes(2), Values.Clone(v));
        if (expire != 0) dstDb.SetExpire(di, expire);
        c.Server.KeyModified(dstDb, newKey);
        c.Server.Dirty();
        c.Server.Notify(KeyspaceEvents.Generic, "copy_to", newKey, dstDb.Id);
        c.Reply.Integer(1);
    }

    static void Move(Client c)
    {
        if (c.Server.ClusterEnabled) { c.Error("ERR MOVE is not allowed in cluster mode"); return; }
        if (!TryArgInt(c, 2, out int id)) return;
        if (!TrySelectDb(c, id, out var dst)) { c.Error("ERR DB index is out of range"); return; }
        var src = c.Db;
        if (src == dst) { c.Error("ERR source and destination objects are the same"); return; }
        var key = c.Arg(1);
        int si = src.Find(key);
        if (si < 0) { c.Reply.Integer(0); return; }
        if (dst.Find(key) >= 0) { c.Reply.Integer(0); return; }
        var value = src.Table.At(si).Value;
        long expire = src.GetExpire(si);
        var keyBytes = src.Table.At(si).Key;
        src.RemoveIndex(si);
        int di = dst.Add(keyBytes, value);
        if (expire != 0) dst.SetExpire(di, expire);
        c.Server.KeyModified(src, key);
        c.Server.KeyModified(dst, key);
        c.Server.Dirty();
        c.Server.Notify(KeyspaceEvents.Generic, "move_from", key, src.Id);
        c.Server.Notify(KeyspaceEvents.Generic, "move_to", key, dst.Id);
        c.Reply.Integer(1);
    }

    static void Touch(Client c)
    {
        long n = 0;
        for (int i = 1; i < c.ArgCount; i++)
            if (Keyspace.LookupRead(c, c.Arg(i)) != null) n++;
        c.Reply.Integer(n);
    }

    static void Keys(Client c)
    {
        var pattern = c.Arg(1);
        bool all = pattern.Length == 1 && pattern[0] == '*';
        var db = c.Db;
        int deferred = c.Reply.BeginDeferred();
        long n = 0;
        foreach (int i in db.Table.Indexes().ToArray())
        {
            ref var e = ref db.Table.At(i);
            if (e.Key == null) continue;
            if (!all && !Glob.Match(pattern, e.Key)) continue;
            if (e.ExpireAt != 0 && Clock.NowMs > e.ExpireAt) continue;
            c.Reply.Bulk(e.Key);
            n++;
        }
        c.Reply.EndDeferred(deferred, n);
    }

    /// <summary>parseScanCursorOrReply: strtoul semantics (leading '+', '-' wraps), no leading space.</summary>
    public static bool TryParseCursor(Client c, ReadOnlySpan<byte> s, out ulong cursor)
    {
        cursor = 0;
        if (s.Length > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\v' || s[0] == '\f'))
        {
            c.Error("ERR invalid cursor");
            return false;
        }
        var t = s;
        bool neg = false;
        if (t.Length > 0 && (t[0] == '+' || t[0] == '-'))
        {
            neg = t[0] == '-';
            t = t[1..];
            if (t.Length == 0) { c.Error("ERR invalid cursor"); return false; }   // strtoul converted nothing
        }
        ulong v = 0;
        foreach (byte b in t)
        {
            if (b < '0' || b > '9') { c.Error("ERR invalid cursor"); return false; }
            if (v > (ulong.MaxValue - (ulong)(b - '0')) / 10) { c.Error("ERR invalid cursor"); return false; }
            v = v * 10 + (ulong)(b - '0');
        }
        cursor = neg ? 0 - v : v;
        return true;
    }

    static void Scan(Client c)
    {
        if (!TryParseCursor(c, c.Arg(1), out ulong cursor)) return;
        long count = 10;
        byte[] pattern = null;
        string typeName = null;
        int i = 2;
        while (i < c.ArgCount)
        {
            int j = c.ArgCount - i;
            if (c.ArgIs(i, "count") && j >= 2)
            {
                if (!c.TryArgLong(i + 1, out count)) return;
                if (count < 1) { c.Syntax(); return; }
                i += 2;
            }
            else if (c.ArgIs(i, "match") && j >= 2)
            {
                var p = c.Arg(i + 1);
                pattern = p.Length == 1 && p[0] == '*' ? null : p.ToArray();
                i += 2;
            }
            else if (c.ArgIs(i, "type") && j >= 2)
            {
                typeName = c.ArgString(i + 1);
                i += 2;
            }
            else { c.Syntax(); return; }
        }
        var db = c.Db;
        var found = new List<int>();
        long maxIterations = count * 10;
        if (db.Count > 0)
        {
            do
            {
                cursor = db.Table.ScanStep(cursor, found.Add);
            } while (cursor != 0 && maxIterations-- > 0 && found.Count < count);
        }
        else cursor = 0;
        var keys = new List<byte[]>();
        foreach (int idx in found)
        {
            ref var e = ref db.Table.At(idx);
            if (e.Key == null) continue;
            if (pattern != null && !Glob.Match(pattern, e.Key)) continue;
            if (typeName != null && !string.Equals(Values.TypeName(e.Value), typeName, StringComparison.OrdinalIgnoreCase)) continue;
            keys.Add(e.Key);
        }
        var live = new List<byte[]>();
        foreach (var k in keys)
            if (db.Find(k) >= 0) live.Add(k);
        c.Reply.ArrayHeader(2);
        c.Reply.Bulk(cursor.ToString());
        c.Reply.ArrayHeader(live.Count);
        foreach (var k in live) c.Reply.Bulk(k);
    }

    static void RandomKey(Client c)
    {
        var db = c.Db;
        for (int tries = 0; tries < 100; tries++)
        {
            int i = db.Table.RandomEntry();
            if (i < 0) break;
            ref var e = ref db.Table.At(i);
            if (e.ExpireAt != 0 && Clock.NowMs > e.ExpireAt && db.ExpiryEnabled)
            {
                db.ExpireAt(i);
                continue;
            }
            if (e.ExpireAt != 0 && Clock.NowMs > e.ExpireAt && db.HideExpired && tries < 99) continue;   // a replica: logically expired
            c.Reply.Bulk(e.Key);
            return;
        }
        c.Reply.Null();
    }

    /// <summary>getFlushCommandFlags: optional SYNC or ASYNC.</summary>
    static bool ParseFlushFlags(Client c)
    {
        if (c.ArgCount > 2) { c.Syntax(); return false; }
        if (c.ArgCount == 2 && !c.ArgIs(1, "sync") && !c.ArgIs(1, "async")) { c.Syntax(); return false; }
        return true;
    }

    static void FlushDb(Client c)
    {
        if (!ParseFlushFlags(c)) return;
        long n = c.Db.Count;
        c.Server.TouchAllWatchedKeysInDb(c.Db);
        c.Db.Clear();
        c.Server.SignalBlockedKeysInDb(c.Db.Id);
        c.Server.Dirty(n + 1);
        c.Reply.Ok();
    }

    static void FlushAll(Client c)
    {
        if (!ParseFlushFlags(c)) return;
        long n = 0;
        foreach (var db in c.Server.Dbs)
        {
            n += db.Count;
            c.Server.TouchAllWatchedKeysInDb(db);
            db.Clear();
            c.Server.SignalBlockedKeysInDb(db.Id);
        }
        c.Server.Dirty(n + 1);
        c.Server.FlushedAll();
        c.Reply.Ok();
    }

    static void Select(Client c)
    {
        if (!TryArgInt(c, 1, out int id)) return;
        if (c.Server.ClusterEnabled && id != 0) { c.Error("ERR SELECT is not allowed in cluster mode"); return; }
        if (!TrySelectDb(c, id, out var db)) { c.Error("ERR DB index is out of range"); return; }
        c.Db = db;
        c.Reply.Ok();
    }

    static void SwapDb(Client c)
    {
        if (c.Server.ClusterEnabled) { c.Error("ERR SWAPDB is not allowed in cluster mode"); return; }
        if (!TryArgInt(c, 1, out int a, "invalid first DB index")) return;
        if (!TryArgInt(c, 2, out int b, "invalid second DB index")) return;
        var dbs = c.Server.Dbs;
        if (a < 0 || a >= dbs.Length || b < 0 || b >= dbs.Length) { c.Error("ERR DB index is out of range"); return; }
        if (a != b)
        {
            c.Server.TouchAllWatchedKeysInDb(dbs[a], dbs[b]);
            c.Server.TouchAllWatchedKeysInDb(dbs[b], dbs[a]);
            dbs[a].SwapWith(dbs[b]);
            c.Server.SignalBlockedKeysInDb(a);
            c.Server.SignalBlockedKeysInDb(b);
        }
        c.Server.Dirty();
        c.Reply.Ok();
    }

    static object ObjectLookup(Client c)
    {
        int i = c.Db.Find(c.Arg(2));
        if (i < 0) { c.Reply.Null(); return null; }
        return c.Db.Table.At(i).Value;
    }

    static void ObjectEncoding(Client c)
    {
        var v = ObjectLookup(c);
        if (v != null) c.Reply.Bulk(Values.EncodingOf(v));
    }

    static bool LfuPolicy(CinnabarServer s) => s.Settings.MaxMemoryPolicy is EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu;

    static void ObjectFreq(Client c)
    {
        int i = c.Db.Find(c.Arg(2));
        if (i < 0) { c.Reply.Null(); return; }
        if (!LfuPolicy(c.Server))
        {
            c.Error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            return;
        }
        c.Reply.Integer(Lfu.Counter(c.Db.Table.At(i).Access, c.Server.Settings.LfuDecayTime));
    }

    static void ObjectIdleTime(Client c)
    {
        int i = c.Db.Find(c.Arg(2));
        if (i < 0) { c.Reply.Null(); return; }
        if (LfuPolicy(c.Server))
        {
            c.Error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            return;
        }
        c.Reply.Integer(Lfu.LruIdleMs(c.Db.Table.At(i).Access) / 1000);
    }

    static void ObjectRefCount(Client c)
    {
        var v = ObjectLookup(c);
        if (v == null) return;
        bool shared = v is byte[] b && b.Length <= 5 && Numbers.TryParseInt64(b, out long n) && n >= 0 && n < 10000
            && (c.Server.Settings.MaxMemory == 0 || c.Server.Settings.MaxMemoryPolicy is EvictionPolicy.NoEviction
                or EvictionPolicy.AllKeysRandom or EvictionPolicy.VolatileRandom or EvictionPolicy.VolatileTtl);
        c.Reply.Integer(shared ? int.MaxValue : 1);
    }

    static void ObjectHelp(Client c) => HelpReply.Write(c, "OBJECT", new[]
    {
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
    });

    static void ExpireGeneric(Client c, long basetime, bool seconds)
    {
        bool nx = false, xx = false, gt = false, lt = false;
        for (int j = 3; j < c.ArgCount; j++)
        {
            if (c.ArgIs(j, "nx")) nx = true;
            else if (c.ArgIs(j, "xx")) xx = true;
            else if (c.ArgIs(j, "gt")) gt = true;
            else if (c.ArgIs(j, "lt")) lt = true;
            else { c.Error("ERR Unsupported option " + c.ArgText(j)); return; }
        }
        if ((nx && xx) || (nx && gt) || (nx && lt))
        {
            c.Error("ERR NX and XX, GT or LT options at the same time are not compatible");
            return;
        }
        if (gt && lt)
        {
            c.Error("ERR GT and LT options at the same time are not compatible");
            return;
        }
        if (!c.TryArgLong(2, out long when)) return;
        if (seconds)
        {
            if (when > long.MaxValue / 1000 || when < long.MinValue / 1000) { StringCommands.InvalidExpire(c); return; }
            when *= 1000;
        }
        if (when > long.MaxValue - basetime) { StringCommands.InvalidExpire(c); return; }
        when += basetime;
        var key = c.Arg(1);
        var db = c.Db;
        int i = db.Find(key);
        if (i < 0) { c.Reply.Integer(0); return; }
        long current = db.GetExpire(i);
        bool hasTtl = current != 0;
        if (nx && hasTtl) { c.Reply.Integer(0); return; }
        if (xx && !hasTtl) { c.Reply.Integer(0); return; }
        if (gt && (!hasTtl || when <= current)) { c.Reply.Integer(0); return; }
        if (lt && hasTtl && when >= current) { c.Reply.Integer(0); return; }
        var prop = c.Server.Prop;
        if (when <= Clock.NowMs && db.ExpiryEnabled)
        {
            db.RemoveIndex(i);
            // An expire time in the past deletes the key: propagated as DEL (UNLINK with lazyfree-lazy-expire).
            if (prop.Enabled) prop.RewriteDelete(key, c.Server.Settings.LazyfreeLazyExpire);
            Keyspace.Modified(c, key, KeyspaceEvents.Generic, "del");
        }
        else
        {
            db.SetExpire(i, when);
            // Propagated as PEXPIREAT with the absolute time, options kept (PEXPIREAT itself goes as received).
            if (prop.Enabled && !c.ArgIs(0, "pexpireat"))
            {
                var w = prop.Rewrite(c.ArgCount);
                w.Bulk("PEXPIREAT"u8);
                w.Bulk(key);
                w.Bulk(when);
                for (int j = 3; j < c.ArgCount; j++) w.Bulk(c.Arg(j));
            }
            Keyspace.Modified(c, key, KeyspaceEvents.Generic, "expire");
        }
        c.Reply.Integer(1);
    }

    static void Ttl(Client c, bool ms, bool absolute)
    {
        var db = c.Db;
        int i = db.Find(c.Arg(1));
        if (i < 0) { c.Server.Stats.KeyspaceMisses++; c.Reply.Integer(-2); return; }
        c.Server.Stats.KeyspaceHits++;
        long expire = db.GetExpire(i);
        if (expire == 0) { c.Reply.Integer(-1); return; }
        long ttl = absolute ? expire : expire - Clock.NowMs;
        if (ttl < 0) ttl = 0;
        c.Reply.Integer(ms ? ttl : (long)(((ulong)ttl + 500) / 1000));
    }

    static void Persist(Client c)
    {
        var db = c.Db;
        var key = c.Arg(1);
        int i = db.Find(key);
        if (i < 0 || db.GetExpire(i) == 0) { c.Reply.Integer(0); return; }
        db.SetExpire(i, 0);
        Keyspace.Modified(c, key, KeyspaceEvents.Generic, "persist");
        c.Reply.Integer(1);
    }
}


using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>t_list.c: pushes and pops at both ends, ranges, LPOS, LMOVE, LMPOP and the blocking forms.</summary>
public static class ListCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("lpush", c => Push(c, front: true, onlyIfExists: false));
        t.Register("rpush", c => Push(c, front: false, onlyIfExists: false));
        t.Register("lpushx", c => Push(c, front: true, onlyIfExists: true));
        t.Register("rpushx", c => Push(c, front: false, onlyIfExists: true));
        t.Register("lpop", c => Pop(c, front: true));
        t.Register("rpop", c => Pop(c, front: false));
        t.Register("llen", LLen);
        t.Register("lindex", LIndex);
        t.Register("lset", LSet);
        t.Register("lrange", LRange);
        t.Register("ltrim", LTrim);
        t.Register("lrem", LRem);
        t.Register("linsert", LInsert);
        t.Register("lpos", LPos);
        t.Register("lmove", LMove);
        t.Register("rpoplpush", c => MoveGeneric(c, fromFront: false, toFront: true));
        t.Register("lmpop", c => MPop(c, numKeysArg: 1, blocking: false));
        t.Register("blpop", c => BPop(c, front: true));
        t.Register("brpop", c => BPop(c, front: false));
        t.Register("blmove", BLMove);
        t.Register("brpoplpush", c => BlockingMove(c, fromFront: false, toFront: true, timeoutArg: 3));
        t.Register("blmpop", c => MPop(c, numKeysArg: 2, blocking: true));
    }

    /// <summary>Null (missing key) or a list; false with WRONGTYPE sent for any other type.</summary>
    static bool AsList(Client c, object v, out ListValue list)
    {
        list = v as ListValue;
        if (v == null || list != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>listElementsRemoved: the pop event, the key's deletion once empty, WATCH/blocking signal, dirty.</summary>
    static void ElementsRemoved(Client c, ReadOnlySpan<byte> key, ListValue list, long oldCost, bool front, long n)
    {
        c.Db.Resized(oldCost, list);
        c.Server.Notify(KeyspaceEvents.List, front ? "lpop" : "rpop", key, c.Db.Id);
        if (list.Count == 0)
        {
            c.Db.Delete(key);
            c.Server.Notify(KeyspaceEvents.Generic, "del", key, c.Db.Id);
        }
        c.Server.KeyModified(c.Db, key);
        c.Server.Dirty(n);
    }

    static bool TryWhere(Client c, int arg, out bool front)
    {
        var a = c.Arg(arg);
        if (Ascii.EqualsIgnoreCase(a, "left")) { front = true; return true; }
        if (Ascii.EqualsIgnoreCase(a, "right")) { front = false; return true; }
        front = false;
        c.Syntax();
        return false;
    }

    // ---- pushes ----

    static void Push(Client c, bool front, bool onlyIfExists)
    {
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (!AsList(c, v, out var list)) return;
        if (list == null)
        {
            if (onlyIfExists) { c.Reply.Integer(0); return; }
            list = new ListValue(c.Server.Settings.ListMaxListpackSize);
            c.Db.Add(c.ArgBytes(1), list);
        }
        long before = list.Cost;
        int argc = c.ArgCount;
        if (front)
            for (int i = 2; i < argc; i++) list.PushFront(c.Arg(i));
        else
            for (int i = 2; i < argc; i++) list.PushBack(c.Arg(i));
        c.Db.Resized(before, list);
        c.Reply.Integer(list.Count);
        c.Server.KeyModified(c.Db, key);
        c.Server.Dirty(argc - 2);
        c.Server.Notify(KeyspaceEvents.List, front ? "lpush" : "rpush", key, c.Db.Id);
    }

    // ---- pops ----

    static void Pop(Client c, bool front)
    {
        int argc = c.ArgCount;
        if (argc > 3)
        {
            c.Error($"ERR wrong number of arguments for '{(front ? "lpop" : "rpop")}' command");
            return;
        }
        bool hasCount = argc == 3;
        long count = 0;
        if (hasCount && (!Numbers.TryParseInt64(c.Arg(2), out count) || count < 0))
        {
            c.Error("ERR value is out of range, must be positive");
            return;
        }
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v == null)
        {
            if (hasCount) c.Reply.NullArray();
            else c.Reply.Null();
            return;
        }
        if (!AsList(c, v, out var list)) return;
        if (hasCount && count == 0)
        {
            c.Reply.EmptyArray();
            return;
        }
        long before = list.Cost;
        if (!hasCount)
        {
            c.Reply.Bulk(front ? list.Front : list.Back);
            if (front) list.RemoveFront(); else list.RemoveBack();
            ElementsRemoved(c, key, list, before, front, 1);
            return;
        }
        long n = Math.Min(count, list.Count);
        c.Reply.ArrayHeader(n);
        PopInto(c, list, front, n);
        ElementsRemoved(c, key, list, before, front, n);
    }

    /// <summary>Replies with n elements taken from one end, in the order they come off.</summary>
    static void PopInto(Client c, ListValue list, bool front, long n)
    {
        if (front)
        {
            WriteRange(c, list, 0, n);
            list.RemoveFront(n);
            return;
        }
        for (long i = 0; i < n; i++)
        {
            c.Reply.Bulk(list.Back);
            list.RemoveBack();
        }
    }

    /// <summary>Replies with n elements from index start towards the tail (the array header is the caller's).</summary>
    static void WriteRange(Client c, ListValue list, long start, long n)
    {
        if (n <= 0) return;
        list.Locate(start, out int ci, out int e);
        var reply = c.Reply;
        while (n > 0)
        {
            var ch = list.ChunkAt(ci);
            int cnt = ch.Count;
            var buf = ch.Buf;
            var off = ch.Off;
            int k = ch.OLo + e, last = ch.OLo + cnt;
            for (; k < last && n > 0; k++, n--)
                reply.Bulk(new ReadOnlySpan<byte>(buf, off[k], off[k + 1] - off[k]));
            ci++;
            e = 0;
        }
    }

    // ---- reads ----

    static void LLen(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (!AsList(c, v, out var list)) return;
        c.Reply.Integer(list?.Count ?? 0);
    }

    static void LIndex(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.Null(); return; }
        if (!AsList(c, v, out var list)) return;
        if (!c.TryArgLong(2, out long index)) return;
        if (index < 0) index += list.Count;
        if (index < 0 || index >= list.Count) c.Reply.Null();
        else c.Reply.Bulk(list.Get(index));
    }

    static void LRange(Client c)
    {
        if (!c.TryArgLong(2, out long start) || !c.TryArgLong(3, out long end)) return;
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.EmptyArray(); return; }
        if (!AsList(c, v, out var list)) return;
        long llen = list.Count;
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen) { c.Reply.EmptyArray(); return; }
        if (end >= llen) end = llen - 1;
        long n = end - start + 1;
        c.Reply.ArrayHeader(n);
        WriteRange(c, list, start, n);
    }

    static void LPos(Client c)
    {
        long rank = 1, count = -1, maxlen = 0;
        int argc = c.ArgCount;
        for (int j = 3; j < argc; j++)
        {
            var opt = c.Arg(j);
            bool more = j < argc - 1;
            if (more && Ascii.EqualsIgnoreCase(opt, "rank"))
            {
                j++;
                if (!c.TryArgLong(j, out rank)) return;
                if (rank == 0)
                {
                    c.Error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
                    return;
                }
            }
            else if (more && Ascii.EqualsIgnoreCase(opt, "count"))
            {
                j++;
                if (!Numbers.TryParseInt64(c.Arg(j), out count) || count < 0) { c.Error("ERR COUNT can't be negative"); return; }
            }
            else if (more && Ascii.EqualsIgnoreCase(opt, "maxlen"))
            {
                j++;
                if (!Numbers.TryParseInt64(c.Arg(j), out maxlen) || maxlen < 0) { c.Error("ERR MAXLEN can't be negative"); return; }
            }
            else
            {
                c.Syntax();
                return;
            }
        }
        bool forward = true;
        if (rank < 0) { rank = unchecked(-rank); forward = false; }
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null)
        {
            if (count != -1) c.Reply.EmptyArray();
            else c.Reply.Null();
            return;
        }
        if (!AsList(c, v, out var list)) return;
        var ele = c.Arg(2);
        int deferred = count != -1 ? c.Reply.BeginDeferred() : -1;
        long llen = list.Count, index = 0, matches = 0, found = -1, arraylen = 0;
        bool stop = false;
        for (int i = 0; i < list.ChunkCount && !stop; i++)
        {
            var ch = list.ChunkAt(forward ? i : list.ChunkCount - 1 - i);
            int cnt = ch.Count;
            for (int k = 0; k < cnt; k++)
            {
                if (maxlen != 0 && index >= maxlen) { stop = true; break; }
                if (ch.Entry(forward ? k : cnt - 1 - k).SequenceEqual(ele))
                {
                    matches++;
                    if (matches >= rank)
                    {
                        long matchIndex = forward ? index : llen - index - 1;
                        if (deferred < 0) { found = matchIndex; stop = true; break; }
                        arraylen++;
                        c.Reply.Integer(matchIndex);
                        if (count != 0 && unchecked(matches - rank + 1) >= count) { stop = true; break; }
                    }
                }
                index++;
            }
        }
        if (deferred >= 0) c.Reply.EndDeferred(deferred, arraylen);
        else if (found >= 0) c.Reply.Integer(found);
        else c.Reply.Null();
    }

    // ---- writes in the middle ----

    static void LSet(Client c)
    {
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v == null) { c.Error("ERR no such key"); return; }
        if (!AsList(c, v, out var list)) return;
        if (!c.TryArgLong(2, out long index)) return;
        if (index < 0) index += list.Count;
        if (index < 0 || index >= list.Count) { c.Error("ERR index out of range"); return; }
        long before = list.Cost;
        list.Set(index, c.Arg(3));
        c.Db.Resized(before, list);
        c.Reply.Ok();
        c.Server.KeyModified(c.Db, key);
        c.Server.Notify(KeyspaceEvents.List, "lset", key, c.Db.Id);
        c.Server.Dirty();
    }

    static void LTrim(Client c)
    {
        if (!c.TryArgLong(2, out long start) || !c.TryArgLong(3, out long end)) return;
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v == null) { c.Reply.Ok(); return; }
        if (!AsList(c, v, out var list)) return;
        long llen = list.Count, ltrim, rtrim;
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen)
        {
            ltrim = llen;
            rtrim = 0;
        }
        else
        {
            if (end >= llen) end = llen - 1;
            ltrim = start;
            rtrim = llen - end - 1;
        }
        long before = list.Cost;
        list.RemoveFront(ltrim);
        list.RemoveBack(rtrim);
        c.Db.Resized(before, list);
        c.Server.Notify(KeyspaceEvents.List, "ltrim", key, c.Db.Id);
        if (list.Count == 0)
        {
            c.Db.Delete(key);
            c.Server.Notify(KeyspaceEvents.Generic, "del", key, c.Db.Id);
        }
        c.Server.KeyModified(c.Db, key);
        c.Server.Dirty(ltrim + rtrim);
        c.Reply.Ok();
    }

    static void LRem(Client c)
    {
        if (!c.TryArgLong(2, out long toRemove)) return;
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v == null) { c.Reply.Integer(0); return; }
        if (!AsList(c, v, out var list)) return;
        long before = list.Cost;
        long limit = toRemove < 0 ? (toRemove == long.MinValue ? long.MaxValue : -toRemove) : toRemove;
        long removed = list.RemoveEqual(c.Arg(3), limit, fromTail: toRemove < 0);
        c.Db.Resized(before, list);
        if (removed > 0)
        {
            c.Server.KeyModified(c.Db, key);
            c.Server.Notify(KeyspaceEvents.List, "lrem", key, c.Db.Id);
            c.Server.Dirty(removed);
        }
        if (list.Count == 0)
        {
            c.Db.Delete(key);
            c.Server.Notify(KeyspaceEvents.Generic, "del", key, c.Db.Id);
        }
        c.Reply.Integer(removed);
    }

    static void LInsert(Client c)
    {
        bool after;
        if (c.ArgIs(2, "after")) after = true;
        else if (c.ArgIs(2, "before")) after = false;
        else { c.Syntax(); return; }
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v == null) { c.Reply.Integer(0); return; }
        if (!AsList(c, v, out var list)) return;
        var pivot = c.Arg(3);
        for (int i = 0; i < list.ChunkCount; i++)
        {
            var ch = list.ChunkAt(i);
            int cnt = ch.Count;
            for (int k = 0; k < cnt; k++)
            {
                if (!ch.Entry(k).SequenceEqual(pivot)) continue;
                long before = list.Cost;
                list.Insert(i, k, after, c.Arg(4));
                c.Db.Resized(before, list);
                c.Server.KeyModified(c.Db, key);
                c.Server.Notify(KeyspaceEvents.List, "linsert", key, c.Db.Id);
                c.Server.Dirty();
                c.Reply.Integer(list.Count);
                return;
            }
        }
        c.Reply.Integer(-1);
    }

    // ---- moves ----

    static void LMove(Client c)
    {
        if (!TryWhere(c, 3, out bool from) || !TryWhere(c, 4, out bool to)) return;
        MoveGeneric(c, from, to);
    }

    /// <summary>lmoveGenericCommand: pop from one end of the source, push to an end of the destination, reply with the element.</summary>
    static void MoveGeneric(Client c, bool fromFront, bool toFront)
    {
        var srcKey = c.Arg(1);
        var dstKey = c.Arg(2);
        var sv = Keyspace.LookupWrite(c, srcKey);
        if (sv == null) { c.Reply.Null(); return; }
        if (!AsList(c, sv, out var src)) return;
        var dv = Keyspace.LookupWrite(c, dstKey);
        if (!AsList(c, dv, out var dst)) return;
        long srcBefore = src.Cost;
        if (dst == src)
        {
            // Rotation within one list: copy the element out first, as the push may move the list's bytes.
            byte[] value = (fromFront ? src.Front : src.Back).ToArray();
            if (fromFront) src.RemoveFront(); else src.RemoveBack();
            if (toFront) src.PushFront(value); else src.PushBack(value);
            c.Db.Resized(srcBefore, src);
            c.Server.KeyModified(c.Db, dstKey);
            c.Server.Notify(KeyspaceEvents.List, toFront ? "lpush" : "rpush", dstKey, c.Db.Id);
            c.Reply.Bulk(value);
        }
        else
        {
            if (dst == null)
            {
                dst = new ListValue(c.Server.Settings.ListMaxListpackSize);
                c.Db.Add(c.ArgBytes(2), dst);
            }
            long dstBefore = dst.Cost;
            var value = fromFront ? src.Front : src.Back;
            c.Server.KeyModified(c.Db, dstKey);
            if (toFront) dst.PushFront(value); else dst.PushBack(value);
            c.Db.Resized(dstBefore, dst);
            c.Server.Notify(KeyspaceEvents.List, toFront ? "lpush" : "rpush", dstKey, c.Db.Id);
            c.Reply.Bulk(value);
            if (fromFront) src.RemoveFront(); else src.RemoveBack();
            c.Db.Resized(srcBefore, src);
        }
        c.Server.Notify(KeyspaceEvents.List, fromFront ? "lpop" : "rpop", srcKey, c.Db.Id);
        if (src.Count == 0)
        {
            c.Db.Delete(srcKey);
            c.Server.Notify(KeyspaceEvents.Generic, "del", srcKey, c.Db.Id);
        }
        c.Server.KeyModified(c.Db, srcKey);
        c.Server.Dirty();
    }

    // ---- multi-key pops ----

    /// <summary>LMPOP numkeys key... LEFT|RIGHT [COUNT n] and BLMPOP timeout numkeys ...</summary>
    static void MPop(Client c, int numKeysArg, bool blocking)
    {
        int argc = c.ArgCount;
        if (!Numbers.TryParseInt64(c.Arg(numKeysArg), out long numKeys) || numKeys < 1)
        {
            c.Error("ERR numkeys should be greater than 0");
            return;
        }
        if (numKeys >= argc - numKeysArg - 1) { c.Syntax(); return; }
        int whereArg = numKeysArg + (int)numKeys + 1;
        if (!TryWhere(c, whereArg, out bool front)) return;
        long count = -1;
        for (int j = whereArg + 1; j < argc; j++)
        {
            if (count == -1 && j < argc - 1 && Ascii.EqualsIgnoreCase(c.Arg(j), "count"))
            {
                j++;
                if (!Numbers.TryParseInt64(c.Arg(j), out count) || count < 1)
                {
                    c.Error("ERR count should be greater than 0");
                    return;
                }
            }
            else
            {
                c.Syntax();
                return;
            }
        }
        if (count == -1) count = 1;
        if (blocking)
        {
            if (!c.Server.TryParseBlockTimeout(c, 1, seconds: true, out long deadline)) return;
            BlockingPop(c, numKeysArg + 1, (int)numKeys, front, count, deadline);
            return;
        }
        for (int j = 0; j < numKeys; j++)
        {
            var key = c.Arg(numKeysArg + 1 + j);
            var v = Keyspace.LookupWrite(c, key);
            if (v == null) continue;
            if (!AsList(c, v, out var list)) return;
            ServePop(c, key, list, front, count);
            return;
        }
        c.Reply.NullArray();
    }

    // ---- blocking ----

    static void BPop(Client c, bool front)
    {
        if (!c.Server.TryParseBlockTimeout(c, c.ArgCount - 1, seconds: true, out long deadline)) return;
        BlockingPop(c, 1, c.ArgCount - 2, front, -1, deadline);
    }

    /// <summary>
    /// blockingPopGenericCommand: serve from the first non-empty list among the keys, or block. A client woken by a
    /// key is served from that key (c.BlockedReadyKey), as Redis 7.0 serves blocked clients per ready key.
    /// </summary>
    static void BlockingPop(Client c, int firstKey, int numKeys, bool front, long count, long deadline)
    {
        if (c.BlockedReadyKey != null && Keyspace.LookupWrite(c, c.BlockedReadyKey) is ListValue ready && ready.Count > 0)
        {
            ServePop(c, c.BlockedReadyKey, ready, front, count);
            return;
        }
        if (c.BlockedReadyKey == null)
        {
            for (int j = 0; j < numKeys; j++)
            {
                var key = c.Arg(firstKey + j);
                var v = Keyspace.LookupWrite(c, key);
                if (v == null) continue;
                if (!AsList(c, v, out var list)) return;
                if (list.Count == 0) continue;
                ServePop(c, key, list, front, count);
                return;
            }
        }
        if (!c.CanBlock)
        {
            c.Reply.NullArray();
            return;
        }
        var keys = new List<byte[]>(numKeys);
        for (int j = 0; j < numKeys; j++) keys.Add(c.ArgBytes(firstKey + j));
        c.Server.BlockForKeys(c, keys, deadline, Storage.ValueType.List, TimedOut);
    }

    static readonly Action<Client> TimedOut = cl => cl.Reply.NullArray();

    /// <summary>The reply of a served BLPOP/BRPOP (count -1: [key, element]) or LMPOP/BLMPOP ([key, [elements]]).</summary>
    static void ServePop(Client c, ReadOnlySpan<byte> key, ListValue list, bool front, long count)
    {
        long before = list.Cost;
        c.Reply.ArrayHeader(2);
        c.Reply.Bulk(key);
        var prop = c.Server.Prop;
        if (prop.Enabled)
        {
            // BLPOP/BRPOP → LPOP/RPOP key; LMPOP/BLMPOP → LPOP/RPOP key <elements popped>.
            var w = prop.Rewrite(count == -1 ? 2 : 3);
            w.Bulk(front ? "LPOP"u8 : "RPOP"u8);
            w.Bulk(key);
            if (count != -1) w.Bulk(Math.Min(count, list.Count));
        }
        if (count == -1)
        {
            c.Reply.Bulk(front ? list.Front : list.Back);
            if (front) list.RemoveFront(); else list.RemoveBack();
            ElementsRemoved(c, key, list, before, front, 1);
            return;
        }
        long n = Math.Min(count, list.Count);
        c.Reply.ArrayHeader(n);
        PopInto(c, list, front, n);
        ElementsRemoved(c, key, list, before, front, n);
    }

    static void BLMove(Client c)
    {
        if (!TryWhere(c, 3, out bool from) || !TryWhere(c, 4, out bool to)) return;
        BlockingMove(c, from, to, 5);
    }

    static void BlockingMove(Client c, bool fromFront, bool toFront, int timeoutArg)
    {
        if (!c.Server.TryParseBlockTimeout(c, timeoutArg, seconds: true, out long deadline)) return;
        var v = Keyspace.LookupWrite(c, c.Arg(1));
        if (!AsList(c, v, out var src)) return;
        if (src != null && src.Count > 0)
        {
            MoveGeneric(c, fromFront, toFront);
            var prop = c.Server.Prop;
            if (prop.Enabled)
            {
                // BRPOPLPUSH → RPOPLPUSH src dst; BLMOVE → LMOVE src dst from to (the directions as given).
                var w = prop.Rewrite(timeoutArg == 3 ? 3 : 5);
                w.Bulk(timeoutArg == 3 ? "RPOPLPUSH"u8 : "LMOVE"u8);
                for (int j = 1; j < timeoutArg; j++) w.Bulk(c.Arg(j));
            }
            return;
        }
        if (!c.CanBlock)
        {
            c.Reply.Null();
            return;
        }
        c.Server.BlockForKeys(c, new List<byte[]> { c.ArgBytes(1) }, deadline, Storage.ValueType.List, TimedOut);
    }
}

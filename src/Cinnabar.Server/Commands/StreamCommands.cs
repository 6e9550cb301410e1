using System.Text;
using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>t_stream.c: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID, XREAD and XREADGROUP (with BLOCK).</summary>
public static partial class StreamCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("xadd", XAdd);
        t.Register("xrange", c => XRange(c, false));
        t.Register("xrevrange", c => XRange(c, true));
        t.Register("xlen", XLen);
        t.Register("xdel", XDel);
        t.Register("xtrim", XTrim);
        t.Register("xsetid", XSetId);
        t.Register("xread", c => XReadGeneric(c, false));
        t.Register("xreadgroup", c => XReadGeneric(c, true));
        t.Register("xack", XAck);
        t.Register("xpending", XPending);
        t.Register("xclaim", XClaim);
        t.Register("xautoclaim", XAutoClaim);
        t.Register("xgroup|create", XGroupCreate);
        t.Register("xgroup|setid", XGroupSetId);
        t.Register("xgroup|destroy", XGroupDestroy);
        t.Register("xgroup|createconsumer", XGroupCreateConsumer);
        t.Register("xgroup|delconsumer", XGroupDelConsumer);
        t.Register("xgroup|help", XGroupHelp);
        t.Register("xinfo|stream", XInfoStream);
        t.Register("xinfo|groups", XInfoGroups);
        t.Register("xinfo|consumers", XInfoConsumers);
        t.Register("xinfo|help", XInfoHelp);
    }

    // ---- shared helpers ----

    /// <summary>An argument read as a C string (Redis compares options and "$"/"&gt;"/"~" with strcmp).</summary>
    static ReadOnlySpan<byte> CStr(ReadOnlySpan<byte> a)
    {
        int nul = a.IndexOf((byte)0);
        return nul >= 0 ? a[..nul] : a;
    }

    static bool Is(ReadOnlySpan<byte> a, string lower) => Ascii.EqualsIgnoreCase(CStr(a), lower);
    static bool IsSymbol(ReadOnlySpan<byte> a, byte symbol) { var s = CStr(a); return s.Length == 1 && s[0] == symbol; }

    /// <summary>An argument as "%s" prints it in an error text.</summary>
    static string Text(ReadOnlySpan<byte> a) => Encoding.Latin1.GetString(CStr(a));

    static void InvalidId(Client c) => c.Error("ERR Invalid stream ID specified as stream command argument");

    static bool TryStrictId(Client c, int arg, out StreamId id)
    {
        if (StreamId.TryParse(c.Arg(arg), true, 0, out id)) return true;
        InvalidId(c);
        return false;
    }

    /// <summary>Looks a key up; false (WRONGTYPE sent) when it holds another type. s is null for a missing key.</summary>
    static bool TryStream(Client c, object v, out StreamValue s)
    {
        s = v as StreamValue;
        if (v == null || s != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>streamParseIntervalIdOrReply: an ID, or "(ID" for an exclusive bound.</summary>
    static bool TryIntervalId(Client c, int arg, ulong missingSeq, out StreamId id, out bool exclusive)
    {
        var p = c.Arg(arg);
        exclusive = p.Length > 1 && p[0] == '(';
        bool ok = exclusive ? StreamId.TryParse(p[1..], true, missingSeq, out id) : StreamId.TryParse(p, false, missingSeq, out id);
        if (!ok) InvalidId(c);
        return ok;
    }

    static void Notify(Client c, string ev, ReadOnlySpan<byte> key) => c.Server.Notify(KeyspaceEvents.Stream, ev, key, c.Db.Id);

    /// <summary>XDEL/XTRIM: invalidate WATCH (signalModifiedKey) without waking blocked readers.</summary>
    static void Touched(Client c, ReadOnlySpan<byte> key, long dirty)
    {
        c.Server.TouchWatched(c.Db, key);
        c.Server.Dirty(dirty);
    }

    // ---- XADD / XTRIM argument grammar ----

    struct AddTrimArgs
    {
        public StreamValue.TrimStrategy Strategy;
        public long MaxLen, Limit;
        public StreamId MinId, Id;
        public bool Approx, NoMkStream, IdGiven, SeqGiven;
        public int TrimArgIdx;      // where MAXLEN's count / MINID's ID is (the "~" is just before it when Approx)
    }

    /// <summary>streamParseAddOrTrimArgsOrReply: returns the ID's position for XADD (argc for XTRIM), -1 after an error.</summary>
    static int ParseAddOrTrim(Client c, bool xadd, out AddTrimArgs a)
    {
        a = default;
        a.SeqGiven = true;
        a.Limit = -1;
        bool limitGiven = false;
        int argc = c.ArgCount;
        int i = 2;
        for (; i < argc; i++)
        {
            int more = argc - 1 - i;
            var opt = c.Arg(i);
            if (xadd && IsSymbol(opt, (byte)'*')) break;
            if (more > 0 && (Is(opt, "maxlen") || Is(opt, "minid")))
            {
                bool maxlen = Is(opt, "maxlen");
                if (a.Strategy != StreamValue.TrimStrategy.None)
                {
                    c.Error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                    return -1;
                }
                a.Approx = false;
                var next = c.Arg(i + 1);
                if (more >= 2 && IsSymbol(next, (byte)'~')) { a.Approx = true; i++; }
                else if (more >= 2 && IsSymbol(next, (byte)'=')) i++;
                a.TrimArgIdx = i + 1;
                if (maxlen)
                {
                    if (!c.TryArgLong(i + 1, out a.MaxLen)) return -1;
                    if (a.MaxLen < 0)
                    {
                        c.Error("ERR The MAXLEN argument must be >= 0.");
                        return -1;
                    }
                    a.Strategy = StreamValue.TrimStrategy.MaxLen;
                }
                else
                {
                    if (!TryStrictId(c, i + 1, out a.MinId)) return -1;
                    a.Strategy = StreamValue.TrimStrategy.MinId;
                }
                i++;
            }
            else if (more > 0 && Is(opt, "limit"))
            {
                if (!c.TryArgLong(i + 1, out a.Limit)) return -1;
                if (a.Limit < 0)
                {
                    c.Error("ERR The LIMIT argument must be >= 0.");
                    return -1;
                }
                limitGiven = true;
                i++;
            }
            else if (xadd && Is(opt, "nomkstream"))
            {
                a.NoMkStream = true;
            }
            else if (xadd)
            {
                if (!StreamId.TryParse(opt, true, 0, out a.Id, true, out a.SeqGiven))
                {
                    InvalidId(c);
                    return -1;
                }
                a.IdGiven = true;
                break;
            }
            else
            {
                c.Syntax();
                return -1;
            }
        }
        if (limitGiven)
        {
            if (!a.Approx)
            {
                c.Error("ERR syntax error, LIMIT cannot be used without the special ~ option");
                return -1;
            }
        }
        else if (a.Approx)
        {
            a.Limit = 100 * c.Server.Settings.StreamNodeMaxEntries;
            if (a.Limit <= 0) a.Limit = 10000;
            if (a.Limit > 1000000) a.Limit = 1000000;
        }
        else a.Limit = 0;
        return i;
    }

    // ---- XADD ----

    static void XAdd(Client c)
    {
        int idPos = ParseAddOrTrim(c, true, out var a);
        if (idPos < 0) return;
        int fieldPos = idPos + 1;
        int rest = c.ArgCount - fieldPos;
        if (rest < 2 || (rest & 1) == 1)
        {
            c.Error("ERR wrong number of arguments for 'xadd' command");
            return;
        }
        if (a.IdGiven && a.SeqGiven && a.Id.IsZero)
        {
            c.Error("ERR The ID specified in XADD must be greater than 0-0");
            return;
        }
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (!TryStream(c, v, out var s)) return;
        long before;
        if (s == null)
        {
            if (a.NoMkStream) { c.Reply.Null(); return; }
            s = new StreamValue();
            c.Db.Add(c.ArgBytes(1), s);
            before = s.Cost;
        }
        else before = s.Cost;

        if (s.LastId.IsMax)
        {
            c.Error("ERR The stream has exhausted the last possible ID, unable to add more items");
            return;
        }
        StreamId id;
        if (!a.IdGiven)
        {
            ulong now = (ulong)Clock.NowMs;
            if (now > s.LastId.Ms) id = new StreamId(now, 0);
            else s.LastId.TryIncrement(out id);
        }
        else if (a.SeqGiven) id = a.Id;
        else if (s.LastId.Ms == a.Id.Ms)
        {
            if (s.LastId.Seq == ulong.MaxValue) { EqualOrSmaller(c); return; }
            id = new StreamId(a.Id.Ms, s.LastId.Seq + 1);
        }
        else id = a.Id;
        if (id <= s.LastId) { EqualOrSmaller(c); return; }

        int pairs = rest / 2;
        long total = 0;
        for (int j = fieldPos; j < c.ArgCount; j++) total += c.Arg(j).Length;
        if (total > StreamValue.MaxListpackSize)
        {
            c.Error("ERR Elements are too large to be stored");
            return;
        }
        var settings = c.Server.Settings;
        s.Append(id, c, fieldPos, pairs, settings.StreamNodeMaxBytes, settings.StreamNodeMaxEntries);
        StreamValue.WriteId(c.Reply, id);
        Notify(c, "xadd", key);
        if (a.Strategy != StreamValue.TrimStrategy.None)
        {
            if (s.Trim(a.Strategy, a.MaxLen, a.MinId, a.Approx, a.Limit) > 0) Notify(c, "xtrim", key);
        }
        c.Db.Resized(before, s);
        if (c.Server.Prop.Enabled) RewriteAddTrim(c, s, a, !a.IdGiven || !a.SeqGiven ? idPos : -1, id);
        Keyspace.Modified(c, key);
    }

    /// <summary>
    /// XADD/XTRIM as propagated: a generated (or half-given) ID is written out in full, and an approximate trim
    /// ("~") becomes an exact one ("=") to what it left — the length for MAXLEN, the first entry's ID for MINID —
    /// so that a replica or a reload trims exactly as this trim did.
    /// </summary>
    static void RewriteAddTrim(Client c, StreamValue s, in AddTrimArgs a, int idPos, StreamId id)
    {
        bool approx = a.Approx && a.Strategy != StreamValue.TrimStrategy.None;
        if (idPos < 0 && !approx) return;
        Span<byte> tmp = stackalloc byte[48];
        var w = c.Server.Prop.Rewrite(c.ArgCount);
        for (int j = 0; j < c.ArgCount; j++)
        {
            if (j == idPos) w.Bulk(tmp[..id.Format(tmp)]);
            else if (approx && j == a.TrimArgIdx - 1) w.Bulk("="u8);
            else if (approx && j == a.TrimArgIdx)
            {
                if (a.Strategy == StreamValue.TrimStrategy.MaxLen) w.Bulk(s.Length);
                else
                {
                    var first = s.NodeCount > 0 ? s.NodeAt(0).IdAt(0) : StreamId.Max;
                    w.Bulk(tmp[..first.Format(tmp)]);
                }
            }
            else w.Bulk(c.Arg(j));
        }
    }

    static void EqualOrSmaller(Client c) =>
        c.Error("ERR The ID specified in XADD is equal or smaller than the target stream top item");

    // ---- XTRIM ----

    static void XTrim(Client c)
    {
        if (ParseAddOrTrim(c, false, out var a) < 0) return;
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (!TryStream(c, v, out var s)) return;
        if (s == null) { c.Reply.Integer(0); return; }
        long before = s.Cost;
        long deleted = s.Trim(a.Strategy, a.MaxLen, a.MinId, a.Approx, a.Limit);
        if (deleted > 0)
        {
            c.Db.Resized(before, s);
            if (c.Server.Prop.Enabled) RewriteAddTrim(c, s, a, -1, default);
            Notify(c, "xtrim", key);
            Touched(c, key, deleted);
        }
        c.Reply.Integer(deleted);
    }

    // ---- XDEL ----

    static void XDel(Client c)
    {
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (!TryStream(c, v, out var s)) return;
        if (s == null) { c.Reply.Integer(0); return; }
        int n = c.ArgCount - 2;
        Span<StreamId> ids = n <= 16 ? stackalloc StreamId[n] : new StreamId[n];
        for (int j = 0; j < n; j++)
            if (!TryStrictId(c, j + 2, out ids[j])) return;
        long before = s.Cost;
        long deleted = 0;
        bool firstDeleted = false;
        foreach (var id in ids)
        {
            if (!s.Delete(id)) continue;
            if (id == s.FirstId) firstDeleted = true;
            if (id > s.MaxDeletedId) s.MaxDeletedId = id;
            deleted++;
        }
        if (deleted > 0)
        {
            if (s.Length == 0) s.FirstId = StreamId.Zero;
            else if (firstDeleted) s.RefreshFirstId();
            c.Db.Resized(before, s);
            Notify(c, "xdel", key);
            Touched(c, key, deleted);
        }
        c.Reply.Integer(deleted);
    }

    // ---- XLEN ----

    static void XLen(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (!TryStream(c, v, out var s)) return;
        c.Reply.Integer(s?.Length ?? 0);
    }

    // ---- XRANGE / XREVRANGE ----

    static void XRange(Client c, bool rev)
    {
        int startArg = rev ? 3 : 2, endArg = rev ? 2 : 3;
        if (!TryIntervalId(c, startArg, 0, out var start, out bool startEx)) return;
        if (startEx && !start.TryIncrement(out start))
        {
            c.Error("ERR invalid start ID for the interval");
            return;
        }
        if (!TryIntervalId(c, endArg, ulong.MaxValue, out var end, out bool endEx)) return;
        if (endEx && !end.TryDecrement(out end))
        {
            c.Error("ERR invalid end ID for the interval");
            return;
        }
        long count = -1;
        for (int j = 4; j < c.ArgCount; j++)
        {
            int additional = c.ArgCount - j - 1;
            if (Is(c.Arg(j), "count") && additional >= 1)
            {
                if (!c.TryArgLong(j + 1, out count)) return;
                if (count < 0) count = 0;
                j++;
            }
            else
            {
                c.Syntax();
                return;
            }
        }
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (!TryStream(c, v, out var s)) return;
        if (s == null) { c.Reply.EmptyArray(); return; }
        if (count == 0) { c.Reply.NullArray(); return; }
        if (count == -1) count = 0;
        ReplyWithRange(c, s, start, end, count, rev, null, null, false);
    }

    /// <summary>
    /// streamReplyWithRange: entries in [start, end] (at most count when count &gt; 0). With a group, advances
    /// its last delivered ID and read counter and records each entry in the PELs unless noack.
    /// </summary>
    static long ReplyWithRange(Client c, StreamValue s, StreamId start, StreamId end, long count, bool rev,
        StreamGroup group, StreamConsumer consumer, bool noack, ReadOnlySpan<byte> key = default)
    {
        var r = c.Reply;
        bool propagate = group != null && c.Server.Prop.Enabled;
        bool propagateLastId = false;
        Span<byte> idText = stackalloc byte[48];
        int pos = r.BeginDeferred();
        long emitted = 0;
        var it = s.Range(start, end, rev);
        while (it.Next(out var n, out int i))
        {
            var id = n.IdAt(i);
            if (group != null && id > group.LastId)
            {
                if (group.EntriesRead != StreamValue.InvalidEntriesRead && !s.RangeHasTombstones(id, StreamId.Max))
                    group.EntriesRead++;
                else if (s.EntriesAdded != 0)
                    group.EntriesRead = s.EstimateDistanceFromFirstEverEntry(id);
                group.LastId = id;
                propagateLastId = noack;
            }
            StreamValue.WriteEntry(r, n, i);
            if (group != null && !noack)
            {
                var nack = group.FindNack(id);
                if (nack == null)
                {
                    nack = new StreamNack(id) { Consumer = consumer, DeliveryTime = Clock.NowMs, DeliveryCount = 1 };
                    group.AddNack(nack);
                }
                else
                {
                    StreamGroup.Reassign(nack, consumer);
                    nack.DeliveryTime = Clock.NowMs;
                    nack.DeliveryCount = 1;
                }
                // Each delivered entry goes to the AOF/replicas as the XCLAIM that recreates its PEL entry.
                if (propagate) AlsoXClaim(c, key, group, group.Name, idText[..id.Format(idText)], nack);
            }
            emitted++;
            if (count != 0 && emitted == count) break;
        }
        r.EndDeferred(pos, emitted);
        // With NOACK nothing is claimed, so the group's new last ID goes out as XGROUP SETID.
        if (propagate && propagateLastId) AlsoGroupSetId(c, key, group);
        return emitted;
    }

    /// <summary>streamPropagateXCLAIM: XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last.</summary>
    static void AlsoXClaim(Client c, ReadOnlySpan<byte> key, StreamGroup group, ReadOnlySpan<byte> groupName, ReadOnlySpan<byte> id, StreamNack nack)
    {
        Span<byte> tmp = stackalloc byte[48];
        var w = c.Server.Prop.Also(c.Db.Id, 14);
        w.Bulk("XCLAIM"u8);
        w.Bulk(key);
        w.Bulk(groupName);
        w.Bulk(nack.Consumer.Name);
        w.Bulk("0"u8);
        w.Bulk(id);
        w.Bulk("TIME"u8);
        w.Bulk(nack.DeliveryTime);
        w.Bulk("RETRYCOUNT"u8);
        w.Bulk(nack.DeliveryCount);
        w.Bulk("FORCE"u8);
        w.Bulk("JUSTID"u8);
        w.Bulk("LASTID"u8);
        w.Bulk(tmp[..group.LastId.Format(tmp)]);
    }

    /// <summary>streamPropagateGroupID: XGROUP SETID key group last ENTRIESREAD n.</summary>
    static void AlsoGroupSetId(Client c, ReadOnlySpan<byte> key, StreamGroup group)
    {
        Span<byte> tmp = stackalloc byte[48];
        var w = c.Server.Prop.Also(c.Db.Id, 7);
        w.Bulk("XGROUP"u8);
        w.Bulk("SETID"u8);
        w.Bulk(key);
        w.Bulk(group.Name);
        w.Bulk(tmp[..group.LastId.Format(tmp)]);
        w.Bulk("ENTRIESREAD"u8);
        w.Bulk(group.EntriesRead);
    }

    /// <summary>streamPropagateConsumerCreation: XGROUP CREATECONSUMER key group consumer.</summary>
    static void AlsoCreateConsumer(Client c, ReadOnlySpan<byte> key, StreamGroup group, ReadOnlySpan<byte> consumer)
    {
        var w = c.Server.Prop.Also(c.Db.Id, 5);
        w.Bulk("XGROUP"u8);
        w.Bulk("CREATECONSUMER"u8);
        w.Bulk(key);
        w.Bulk(group.Name);
        w.Bulk(consumer);
    }

    /// <summary>streamReplyWithRangeFromConsumerPEL: a consumer's own pending entries from start (XREADGROUP history).</summary>
    static void ReplyFromConsumerPel(Client c, StreamValue s, StreamId start, long count, StreamConsumer consumer)
    {
        var r = c.Reply;
        int pos = r.BeginDeferred();
        long emitted = 0;
        foreach (var nack in StreamGroup.From(consumer.Pel, start))
        {
            if (count != 0 && emitted >= count) break;
            if (s.TryFind(nack.Id, out var n, out int i))
            {
                StreamValue.WriteEntry(r, n, i);
                nack.DeliveryTime = Clock.NowMs;
                nack.DeliveryCount++;
            }
            else
            {
                r.ArrayHeader(2);
                StreamValue.WriteId(r, nack.Id);
                r.NullArray();
            }
            emitted++;
        }
        r.EndDeferred(pos, emitted);
    }

    // ---- XSETID ----

    static void XSetId(Client c)
    {
        if (!TryStrictId(c, 2, out var id)) return;
        long entriesAdded = -1;
        var maxDeleted = StreamId.Zero;
        for (int i = 3; i < c.ArgCount; i += 2)
        {
            int more = c.ArgCount - 1 - i;
            var opt = c.Arg(i);
            if (more > 0 && Is(opt, "entriesadded"))
            {
                if (!c.TryArgLong(i + 1, out entriesAdded)) return;
                if (entriesAdded < 0)
                {
                    c.Error("ERR entries_added must be positive");
                    return;
                }
            }
            else if (more > 0 && Is(opt, "maxdeletedid"))
            {
                if (!TryStrictId(c, i + 1, out maxDeleted)) return;
                if (id < maxDeleted)
                {
                    c.Error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                    return;
                }
            }
            else
            {
                c.Syntax();
                return;
            }
        }
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v == null) { c.Error("ERR no such key"); return; }
        if (!TryStream(c, v, out var s)) return;
        if (s.Length > 0)
        {
            if (id < s.LastValidId())
            {
                c.Error("ERR The ID specified in XSETID is smaller than the target stream top item");
                return;
            }
            if (entriesAdded != -1 && s.Length > entriesAdded)
            {
                c.Error("ERR The entries_added specified in XSETID is smaller than the target stream length");
                return;
            }
        }
        s.LastId = id;
        if (entriesAdded != -1) s.EntriesAdded = entriesAdded;
        if (!maxDeleted.IsZero) s.MaxDeletedId = maxDeleted;
        Notify(c, "xsetid", key);
        c.Server.Dirty();
        c.Reply.Ok();
    }

    // ---- XREAD / XREADGROUP ----

    const long BlockedDefaultCount = 1000;

    static void XReadGeneric(Client c, bool xreadgroup)
    {
        int argc = c.ArgCount;
        bool block = false;
        long deadline = 0, count = 0;
        int streamsArg = 0, nstreams = 0, groupArg = -1;
        bool noack = false;
        for (int i = 1; i < argc; i++)
        {
            int more = argc - i - 1;
            var o = c.Arg(i);
            if (more > 0 && Is(o, "block"))
            {
                if (!c.CanBlock && c.Fd < 0)
                {
                    // The script client (Redis refuses BLOCK in scripts outright, rather than timing out).
                    c.Error($"ERR {Text(c.Arg(0))} command is not allowed with BLOCK option from scripts");
                    return;
                }
                i++;
                if (!c.Server.TryParseBlockTimeout(c, i, false, out deadline)) return;
                block = true;
            }
            else if (more > 0 && Is(o, "count"))
            {
                i++;
                if (!c.TryArgLong(i, out count)) return;
                if (count < 0) count = 0;
            }
            else if (more > 0 && Is(o, "streams"))
            {
                streamsArg = i + 1;
                nstreams = argc - streamsArg;
                if ((nstreams & 1) != 0)
                {
                    c.Error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
                    return;
                }
                nstreams /= 2;
                break;
            }
            else if (more >= 2 && Is(o, "group"))
            {
                if (!xreadgroup)
                {
                    c.Error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                    return;
                }
                groupArg = i + 1;
                i += 2;
            }
            else if (Is(o, "noack"))
            {
                if (!xreadgroup)
                {
                    c.Error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                    return;
                }
                noack = true;
            }
            else
            {
                c.Syntax();
                return;
            }
        }
        if (streamsArg == 0) { c.Syntax(); return; }
        if (xreadgroup && groupArg < 0)
        {
            c.Error("ERR Missing GROUP option for XREADGROUP");
            return;
        }

        // XREADGROUP is never propagated itself: its effects go out as XCLAIM / XGROUP SETID / CREATECONSUMER.
        if (xreadgroup && c.Server.Prop.Enabled) c.Server.Prop.Prevent();
        if (c.Reexecuting && c.BlockedReadyKey != null)
        {
            ServeBlocked(c, streamsArg, nstreams, groupArg, count, noack);
            return;
        }

        Span<StreamId> ids = nstreams <= 8 ? stackalloc StreamId[nstreams] : new StreamId[nstreams];
        StreamGroup[] groups = xreadgroup ? new StreamGroup[nstreams] : null;
        for (int i = 0; i < nstreams; i++)
        {
            var key = c.Arg(streamsArg + i);
            var idArg = c.Arg(streamsArg + nstreams + i);
            var v = Keyspace.LookupRead(c, key);
            if (!TryStream(c, v, out var s)) return;
            if (xreadgroup)
            {
                var g = s?.FindGroup(c.Arg(groupArg));
                if (g == null)
                {
                    c.Error($"NOGROUP No such key '{Text(key)}' or consumer group '{Text(c.Arg(groupArg))}' in XREADGROUP with GROUP option");
                    return;
                }
                groups[i] = g;
            }
            if (IsSymbol(idArg, (byte)'$'))
            {
                if (xreadgroup)
                {
                    c.Error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
                    return;
                }
                ids[i] = s?.LastId ?? StreamId.Zero;
                continue;
            }
            if (IsSymbol(idArg, (byte)'>'))
            {
                if (!xreadgroup)
                {
                    c.Error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
                    return;
                }
                ids[i] = StreamId.Max;
                continue;
            }
            if (!TryStrictId(c, streamsArg + nstreams + i, out ids[i])) return;
        }

        // Serve synchronously every stream that has something for us.
        int served = 0, pos = 0;
        var r = c.Reply;
        for (int i = 0; i < nstreams; i++)
        {
            var key = c.Arg(streamsArg + i);
            if (Keyspace.LookupRead(c, key) is not StreamValue s) continue;
            var gt = ids[i];
            bool serve = false, history = false;
            if (xreadgroup)
            {
                if (!gt.IsMax) serve = history = true;
                else if (s.Length > 0 && s.LastValidId() > groups[i].LastId)
                {
                    serve = true;
                    gt = groups[i].LastId;
                }
            }
            else if (s.Length > 0 && s.LastValidId() > gt) serve = true;
            if (!serve) continue;

            if (++served == 1) pos = r.BeginDeferred();
            gt.TryIncrement(out var start);
            if (!r.Resp3) r.ArrayHeader(2);
            r.Bulk(key);
            if (xreadgroup)
            {
                long before = s.Cost;
                var consumer = ConsumerFor(c, groups[i], c.Arg(groupArg + 1), key, noack);
                if (history) ReplyFromConsumerPel(c, s, start, count, consumer);
                else ReplyWithRange(c, s, start, StreamId.Max, count, false, groups[i], consumer, noack, key);
                c.Db.Resized(before, s);
                c.Server.Dirty();
            }
            else ReplyWithRange(c, s, start, StreamId.Max, count, false, null, null, false);
        }
        if (served > 0)
        {
            r.EndDeferred(pos, served, r.Resp3 ? (byte)'%' : (byte)'*');
            return;
        }

        if (block)
        {
            if (!c.CanBlock) { r.NullArray(); return; }
            var keys = new byte[nstreams][];
            for (int i = 0; i < nstreams; i++) keys[i] = c.ArgBytes(streamsArg + i);
            c.Server.BlockForKeys(c, keys, deadline, Storage.ValueType.Stream, cl => cl.Reply.NullArray(), wakeWhenGone: xreadgroup);
            // "$" means "newer than the last ID when the command first blocked": keep the resolved ID.
            if (!xreadgroup && c.BlockedArgs != null)
                for (int i = 0; i < nstreams; i++)
                    if (IsSymbol(c.BlockedArgs[streamsArg + nstreams + i], (byte)'$'))
                        c.BlockedArgs[streamsArg + nstreams + i] = ids[i].ToBytes();
            return;
        }
        r.NullArray();
    }

    /// <summary>The consumer a read is for, created (with its notification) on first use; its seen-time is now.</summary>
    static StreamConsumer ConsumerFor(Client c, StreamGroup g, ReadOnlySpan<byte> name, ReadOnlySpan<byte> key, bool noack)
    {
        var consumer = g.FindConsumer(name);
        if (consumer == null)
        {
            consumer = g.CreateConsumer(name, Clock.NowMs);
            c.Server.Dirty();
            // Redis 7.0 propagates the creation only with NOACK (otherwise the XCLAIMs create the consumer).
            if (noack && c.Server.Prop.Enabled) AlsoCreateConsumer(c, key, g, name);
            Notify(c, "xgroup-createconsumer", key);
        }
        consumer.SeenTime = Clock.NowMs;
        return consumer;
    }

    /// <summary>
    /// serveClientsBlockedOnStreamKey for one client run again: only the key that was signalled is considered,
    /// with the ID the client blocked on (for XREADGROUP, the group's last delivered ID now).
    /// </summary>
    static void ServeBlocked(Client c, int streamsArg, int nstreams, int groupArg, long count, bool noack)
    {
        var readyKey = c.BlockedReadyKey;
        int idx = -1;
        for (int i = 0; i < nstreams; i++)
            if (c.Arg(streamsArg + i).SequenceEqual(readyKey)) { idx = i; break; }
        bool xreadgroup = groupArg >= 0;
        var s = idx >= 0 ? c.Db.Get(readyKey) as StreamValue : null;
        if (s == null)
        {
            if (xreadgroup && idx >= 0) { c.Error("UNBLOCKED the stream key no longer exists"); return; }
            Reblock(c);
            return;
        }
        StreamId gt;
        StreamGroup group = null;
        if (xreadgroup)
        {
            group = s.FindGroup(c.Arg(groupArg));
            if (group == null)
            {
                c.Error("NOGROUP the consumer group this client was blocked on no longer exists");
                return;
            }
            gt = group.LastId;
        }
        else if (!StreamId.TryParse(c.Arg(streamsArg + nstreams + idx), true, 0, out gt))
        {
            Reblock(c);
            return;
        }
        if (s.LastId <= gt) { Reblock(c); return; }

        gt.TryIncrement(out var start);
        var r = c.Reply;
        if (r.Resp3) r.MapHeader(1);
        else
        {
            r.ArrayHeader(1);
            r.ArrayHeader(2);
        }
        r.Bulk(readyKey);
        long before = s.Cost;
        StreamConsumer consumer = null;
        if (xreadgroup) consumer = ConsumerFor(c, group, c.Arg(groupArg + 1), readyKey, noack);
        ReplyWithRange(c, s, start, StreamId.Max, count != 0 ? count : BlockedDefaultCount, false, group, consumer, noack, readyKey);
        if (xreadgroup) c.Db.Resized(before, s);
    }

    static void Reblock(Client c) =>
        c.Server.BlockForKeys(c, c.BlockedKeys, c.BlockDeadlineMs, Storage.ValueType.Stream, c.OnBlockTimeout);
}

using System.Text;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>Consumer groups: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO.</summary>
public static partial class StreamCommands
{
    /// <summary>addReplySubcommandSyntaxError.</summary>
    static void SubcommandSyntax(Client c)
    {
        var sub = CStr(c.Arg(1));
        if (sub.Length > 128) sub = sub[..128];
        c.Error($"ERR unknown subcommand or wrong number of arguments for '{Encoding.Latin1.GetString(sub)}'. Try {Text(c.Arg(0)).ToUpperInvariant()} HELP.");
    }

    static void NoGroupForKey(Client c, ReadOnlySpan<byte> group, ReadOnlySpan<byte> key) =>
        c.Error($"NOGROUP No such consumer group '{Text(group)}' for key name '{Text(key)}'");

    static void NoKeyOrGroup(Client c, ReadOnlySpan<byte> key, ReadOnlySpan<byte> group) =>
        c.Error($"NOGROUP No such key '{Text(key)}' or consumer group '{Text(group)}'");

    // ---- XGROUP ----

    enum GroupSub { Create, SetId, Destroy, CreateConsumer, DelConsumer }

    /// <summary>
    /// xgroupCommand's common part: CREATE/SETID options, the key (it must exist unless MKSTREAM) and, for the
    /// subcommands that need it, the group.
    /// </summary>
    static bool GroupPrelude(Client c, GroupSub sub, out StreamValue s, out StreamGroup cg, out bool mkstream, out long entriesRead)
    {
        s = null;
        cg = null;
        mkstream = false;
        entriesRead = StreamValue.InvalidEntriesRead;
        int argc = c.ArgCount;
        bool create = sub == GroupSub.Create, setid = sub == GroupSub.SetId;
        for (int i = 5; i < argc;)
        {
            var opt = c.Arg(i);
            if (create && Is(opt, "mkstream"))
            {
                mkstream = true;
                i++;
            }
            else if ((create || setid) && Is(opt, "entriesread") && i + 1 < argc)
            {
                if (!c.TryArgLong(i + 1, out entriesRead)) return false;
                if (entriesRead < 0 && entriesRead != StreamValue.InvalidEntriesRead)
                {
                    c.Error("ERR value for ENTRIESREAD must be positive or -1");
                    return false;
                }
                i += 2;
            }
            else
            {
                SubcommandSyntax(c);
                return false;
            }
        }
        var v = Keyspace.LookupWrite(c, c.Arg(2));
        if (!TryStream(c, v, out s)) return false;
        if (!mkstream)
        {
            if (s == null)
            {
                c.Error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
                return false;
            }
            cg = s.FindGroup(c.Arg(3));
            if (cg == null && (setid || sub == GroupSub.CreateConsumer || sub == GroupSub.DelConsumer))
            {
                NoGroupForKey(c, c.Arg(3), c.Arg(2));
                return false;
            }
        }
        return true;
    }

    static void XGroupCreate(Client c)
    {
        if (!GroupPrelude(c, GroupSub.Create, out var s, out _, out bool mkstream, out long entriesRead)) return;
        if (c.ArgCount > 8) { SubcommandSyntax(c); return; }
        StreamId id;
        if (IsSymbol(c.Arg(4), (byte)'$')) id = s?.LastId ?? StreamId.Zero;
        else if (!TryStrictId(c, 4, out id)) return;
        var key = c.Arg(2);
        if (s == null)
        {
            s = new StreamValue();
            c.Db.Add(c.ArgBytes(2), s);
            Keyspace.Modified(c, key);
        }
        long before = s.Cost;
        if (s.CreateGroup(c.Arg(3), id, entriesRead) == null)
        {
            c.Error("BUSYGROUP Consumer Group name already exists");
            return;
        }
        c.Db.Resized(before, s);
        c.Server.Dirty();
        Notify(c, "xgroup-create", key);
        c.Reply.Ok();
    }

    static void XGroupSetId(Client c)
    {
        if (!GroupPrelude(c, GroupSub.SetId, out var s, out var cg, out _, out long entriesRead)) return;
        if (c.ArgCount != 5 && c.ArgCount != 7) { SubcommandSyntax(c); return; }
        StreamId id;
        if (IsSymbol(c.Arg(4), (byte)'$')) id = s.LastId;
        else if (!StreamId.TryParse(c.Arg(4), false, 0, out id)) { InvalidId(c); return; }
        cg.LastId = id;
        cg.EntriesRead = entriesRead;
        c.Server.Dirty();
        Notify(c, "xgroup-setid", c.Arg(2));
        c.Reply.Ok();
    }

    static void XGroupDestroy(Client c)
    {
        if (!GroupPrelude(c, GroupSub.Destroy, out var s, out var cg, out _, out _)) return;
        if (cg == null) { c.Reply.Integer(0); return; }
        long before = s.Cost;
        s.DestroyGroup(cg.Name);
        c.Db.Resized(before, s);
        c.Reply.Integer(1);
        c.Server.Dirty();
        var key = c.Arg(2);
        Notify(c, "xgroup-destroy", key);
        c.Server.SignalReady(c.Db, key);   // blocked XREADGROUP clients get -NOGROUP
    }

    static void XGroupCreateConsumer(Client c)
    {
        if (!GroupPrelude(c, GroupSub.CreateConsumer, out var s, out var cg, out _, out _)) return;
        long before = s.Cost;
        var created = cg.CreateConsumer(c.Arg(4), Clock.NowMs);
        if (created != null)
        {
            c.Db.Resized(before, s);
            c.Server.Dirty();
            Notify(c, "xgroup-createconsumer", c.Arg(2));
        }
        c.Reply.Integer(created != null ? 1 : 0);
    }

    static void XGroupDelConsumer(Client c)
    {
        if (!GroupPrelude(c, GroupSub.DelConsumer, out var s, out var cg, out _, out _)) return;
        var consumer = cg.FindConsumer(c.Arg(4));
        long pending = 0;
        if (consumer != null)
        {
            long before = s.Cost;
            pending = consumer.Pel.Count;
            cg.DeleteConsumer(consumer);
            c.Db.Resized(before, s);
            c.Server.Dirty();
            Notify(c, "xgroup-delconsumer", c.Arg(2));
        }
        c.Reply.Integer(pending);
    }

    static readonly string[] XGroupHelpLines =
    {
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    };

    static void XGroupHelp(Client c) => HelpReply.Write(c, "XGROUP", XGroupHelpLines);

    // ---- XACK ----

    static void XAck(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (!TryStream(c, v, out var s)) return;
        var group = s?.FindGroup(c.Arg(2));
        if (group == null) { c.Reply.Integer(0); return; }
        int n = c.ArgCount - 3;
        Span<StreamId> ids = n <= 16 ? stackalloc StreamId[n] : new StreamId[n];
        for (int j = 0; j < n; j++)
            if (!TryStrictId(c, j + 3, out ids[j])) return;
        long before = s.Cost;
        long acked = 0;
        foreach (var id in ids)
        {
            var nack = group.FindNack(id);
            if (nack == null) continue;
            group.RemoveNack(nack);
            acked++;
        }
        if (acked > 0)
        {
            c.Db.Resized(before, s);
            c.Server.Dirty(acked);
        }
        c.Reply.Integer(acked);
    }

    // ---- XPENDING ----

    static void XPending(Client c)
    {
        int argc = c.ArgCount;
        bool justInfo = argc == 3;
        long count = 0, minIdle = 0;
        StreamId start = default, end = default;
        int consumerArg = -1;
        if (argc != 3 && (argc < 6 || argc > 9)) { c.Syntax(); return; }
        if (argc >= 6)
        {
            int startIdx = 3;
            if (Is(c.Arg(3), "idle"))
            {
                if (!c.TryArgLong(4, out minIdle)) return;
                if (argc < 8) { c.Syntax(); return; }
                startIdx += 2;
            }
            if (!c.TryArgLong(startIdx + 2, out count)) return;
            if (count < 0) count = 0;
            if (!TryIntervalId(c, startIdx, 0, out start, out bool startEx)) return;
            if (startEx && !start.TryIncrement(out start))
            {
                c.Error("ERR invalid start ID for the interval");
                return;
            }
            if (!TryIntervalId(c, startIdx + 1, ulong.MaxValue, out end, out bool endEx)) return;
            if (endEx && !end.TryDecrement(out end))
            {
                c.Error("ERR invalid end ID for the interval");
                return;
            }
            if (startIdx + 3 < argc) consumerArg = startIdx + 3;
        }

        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (!TryStream(c, v, out var s)) return;
        var group = s?.FindGroup(c.Arg(2));
        if (group == null) { NoKeyOrGroup(c, c.Arg(1), c.Arg(2)); return; }
        var r = c.Reply;

        if (justInfo)
        {
            r.ArrayHeader(4);
            r.Integer(group.Pel.Count);
            if (group.Pel.Count == 0)
            {
                r.Null();
                r.Null();
                r.NullArray();
                return;
            }
            StreamValue.WriteId(r, group.Pel.Min.Id);
            StreamValue.WriteId(r, group.Pel.Max.Id);
            int pos = r.BeginDeferred();
            long n = 0;
            foreach (var consumer in group.Consumers)
            {
                if (consumer.Pel.Count == 0) continue;
                r.ArrayHeader(2);
                r.Bulk(consumer.Name);
                r.BulkInteger(consumer.Pel.Count);
                n++;
            }
            r.EndDeferred(pos, n);
            return;
        }

        SortedSet<StreamNack> pel = group.Pel;
        if (consumerArg >= 0)
        {
            var consumer = group.FindConsumer(c.Arg(consumerArg));
            if (consumer == null) { r.EmptyArray(); return; }
            pel = consumer.Pel;
        }
        long now = Clock.NowMs;
        int at = r.BeginDeferred();
        long emitted = 0;
        if (count > 0)
        {
            foreach (var nack in StreamGroup.From(pel, start))
            {
                if (nack.Id > end) break;
                if (minIdle != 0 && now - nack.DeliveryTime < minIdle) continue;
                r.ArrayHeader(4);
                StreamValue.WriteId(r, nack.Id);
                r.Bulk(nack.Consumer.Name);
                r.Integer(Math.Max(0, now - nack.DeliveryTime));
                r.Integer(nack.DeliveryCount);
                emitted++;
                if (--count == 0) break;
            }
        }
        r.EndDeferred(at, emitted);
    }

    // ---- XCLAIM ----

    static void XClaim(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (!TryStream(c, v, out var s)) return;
        var group = s?.FindGroup(c.Arg(2));
        if (group == null) { NoKeyOrGroup(c, c.Arg(1), c.Arg(2)); return; }
        if (!Protocol.Numbers.TryParseInt64(c.Arg(4), out long minIdle))
        {
            c.Error("ERR Invalid min-idle-time argument for XCLAIM");
            return;
        }
        if (minIdle < 0) minIdle = 0;

        int argc = c.ArgCount, j = 5;
        while (j < argc && StreamId.TryParse(c.Arg(j), true, 0, out _)) j++;
        int lastIdArg = j - 1;

        long now = Clock.NowMs;
        long deliveryTime = -1, retryCount = -1;
        bool force = false, justId = false;
        var lastId = StreamId.Zero;
        for (; j < argc; j++)
        {
            int more = argc - 1 - j;
            var opt = c.Arg(j);
            if (Is(opt, "force")) force = true;
            else if (Is(opt, "justid")) justId = true;
            else if (more > 0 && Is(opt, "idle"))
            {
                j++;
                if (!Protocol.Numbers.TryParseInt64(c.Arg(j), out deliveryTime))
                {
                    c.Error("ERR Invalid IDLE option argument for XCLAIM");
                    return;
                }
                deliveryTime = now - deliveryTime;
            }
            else if (more > 0 && Is(opt, "time"))
            {
                j++;
                if (!Protocol.Numbers.TryParseInt64(c.Arg(j), out deliveryTime))
                {
                    c.Error("ERR Invalid TIME option argument for XCLAIM");
                    return;
                }
            }
            else if (more > 0 && Is(opt, "retrycount"))
            {
                j++;
                if (!Protocol.Numbers.TryParseInt64(c.Arg(j), out retryCount))
                {
                    c.Error("ERR Invalid RETRYCOUNT option argument for XCLAIM");
                    return;
                }
            }
            else if (more > 0 && Is(opt, "lastid"))
            {
                j++;
                if (!TryStrictId(c, j, out lastId)) return;
            }
            else
            {
                c.Error($"ERR Unrecognized XCLAIM option '{Text(opt)}'");
                return;
            }
        }

        long before = s.Cost;
        var prop = c.Server.Prop;
        bool propagate = prop.Enabled, propagateLastId = false;
        if (propagate) prop.Prevent();   // XCLAIM goes out as one normalized XCLAIM per claimed ID
        if (lastId > group.LastId)
        {
            group.LastId = lastId;
            propagateLastId = true;
        }
        if (deliveryTime != -1)
        {
            if (deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
        }
        else deliveryTime = now;

        StreamConsumer consumer = null;
        var name = c.Arg(3);
        var r = c.Reply;
        int pos = r.BeginDeferred();
        long emitted = 0;
        for (int k = 5; k <= lastIdArg; k++)
        {
            StreamId.TryParse(c.Arg(k), true, 0, out var id);
            var nack = group.FindNack(id);
            if (!s.TryFind(id, out var node, out int idx))
            {
                if (nack != null)
                {
                    if (propagate)
                    {
                        AlsoXClaim(c, c.Arg(1), group, c.Arg(2), c.Arg(k), nack);
                        propagateLastId = false;
                    }
                    group.RemoveNack(nack);
                    c.Server.Dirty();
                }
                continue;
            }
            if (force && nack == null)
            {
                nack = new StreamNack(id) { DeliveryTime = now, DeliveryCount = 1 };
                group.AddNack(nack);
            }
            if (nack == null) continue;
            if (nack.Consumer != null && minIdle != 0 && now - nack.DeliveryTime < minIdle) continue;
            if (consumer == null)
            {
                consumer = group.FindConsumer(name);
                if (consumer != null) consumer.SeenTime = now;
                else
                {
                    consumer = group.CreateConsumer(name, now);
                    c.Server.Dirty();
                    Notify(c, "xgroup-createconsumer", c.Arg(1));
                }
            }
            StreamGroup.Reassign(nack, consumer);
            nack.DeliveryTime = deliveryTime;
            if (retryCount >= 0) nack.DeliveryCount = retryCount;
            else if (!justId) nack.DeliveryCount++;
            if (justId) StreamValue.WriteId(r, id);
            else StreamValue.WriteEntry(r, node, idx);
            emitted++;
            c.Server.Dirty();
            if (propagate)
            {
                AlsoXClaim(c, c.Arg(1), group, c.Arg(2), c.Arg(k), nack);
                propagateLastId = false;
            }
        }
        if (propagateLastId)
        {
            if (propagate) AlsoGroupSetId(c, c.Arg(1), group);
            c.Server.Dirty();
        }
        r.EndDeferred(pos, emitted);
        c.Db.Resized(before, s);
    }

    // ---- XAUTOCLAIM ----

    static void XAutoClaim(Client c)
    {
        if (!Protocol.Numbers.TryParseInt64(c.Arg(4), out long minIdle))
        {
            c.Error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
            return;
        }
        if (minIdle < 0) minIdle = 0;
        if (!TryIntervalId(c, 5, 0, out var start, out bool startEx)) return;
        if (startEx && !start.TryIncrement(out start))
        {
            c.Error("ERR invalid start ID for the interval");
            return;
        }
        long count = 100;
        bool justId = false;
        const long maxCount = long.MaxValue / 16;   // LONG_MAX / max(sizeof(streamID), attempts factor)
        for (int j = 6; j < c.ArgCount; j++)
        {
            int more = c.ArgCount - 1 - j;
            var opt = c.Arg(j);
            if (more > 0 && Is(opt, "count"))
            {
                if (!Protocol.Numbers.TryParseInt64(c.Arg(j + 1), out count) || count < 1 || count > maxCount)
                {
                    c.Error("ERR COUNT must be > 0");
                    return;
                }
                j++;
            }
            else if (Is(opt, "justid")) justId = true;
            else
            {
                c.Syntax();
                return;
            }
        }
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (!TryStream(c, v, out var s)) return;
        var group = s?.FindGroup(c.Arg(2));
        if (group == null) { NoKeyOrGroup(c, c.Arg(1), c.Arg(2)); return; }
        // Redis allocates count stream IDs up front for the deleted-ID list; a count that cannot be allocated fails.
        if (count > (1L << 40) / 16)
        {
            c.Error("ERR Insufficient memory, failed allocating transient memory, COUNT too high.");
            return;
        }

        long before = s.Cost;
        var prop = c.Server.Prop;
        bool propagate = prop.Enabled;
        if (propagate) prop.Prevent();   // XAUTOCLAIM goes out as one XCLAIM per claimed (or dropped) ID
        Span<byte> idText = stackalloc byte[48];
        long attempts = count * 10;
        long now = Clock.NowMs;
        var name = c.Arg(3);
        StreamConsumer consumer = null;
        List<StreamId> deletedIds = null;
        var claimed = new List<(StreamNode node, int index, StreamId id)>();
        StreamNack nack = group.Ceiling(start);
        while (attempts-- > 0 && count > 0 && nack != null)
        {
            var id = nack.Id;
            if (!s.TryFind(id, out var node, out int idx))
            {
                if (propagate) AlsoXClaim(c, c.Arg(1), group, c.Arg(2), idText[..id.Format(idText)], nack);
                group.RemoveNack(nack);
                c.Server.Dirty();
                (deletedIds ??= new List<StreamId>()).Add(id);
                count--;
                nack = group.Ceiling(id);
                continue;
            }
            if (minIdle != 0 && now - nack.DeliveryTime < minIdle)
            {
                nack = Next(group, id);
                continue;
            }
            if (consumer == null)
            {
                consumer = group.FindConsumer(name);
                if (consumer != null) consumer.SeenTime = now;
                else
                {
                    consumer = group.CreateConsumer(name, now);
                    c.Server.Dirty();
                    Notify(c, "xgroup-createconsumer", c.Arg(1));
                }
            }
            StreamGroup.Reassign(nack, consumer);
            nack.DeliveryTime = now;
            if (!justId) nack.DeliveryCount++;
            if (propagate) AlsoXClaim(c, c.Arg(1), group, c.Arg(2), idText[..id.Format(idText)], nack);
            claimed.Add((node, idx, id));
            count--;
            c.Server.Dirty();
            nack = Next(group, id);
        }

        // [next cursor (0-0 at the end of the PEL), claimed entries or IDs, IDs dropped because deleted]
        var r = c.Reply;
        r.ArrayHeader(3);
        StreamValue.WriteId(r, nack?.Id ?? StreamId.Zero);
        r.ArrayHeader(claimed.Count);
        foreach (var (node, idx, id) in claimed)
        {
            if (justId) StreamValue.WriteId(r, id);
            else StreamValue.WriteEntry(r, node, idx);
        }
        r.ArrayHeader(deletedIds?.Count ?? 0);
        if (deletedIds != null)
            foreach (var id in deletedIds) StreamValue.WriteId(r, id);
        c.Db.Resized(before, s);
    }

    static StreamNack Next(StreamGroup g, StreamId id) => id.TryIncrement(out var next) ? g.Ceiling(next) : null;

    // ---- XINFO ----

    static bool InfoLookup(Client c, out StreamValue s)
    {
        var v = Keyspace.LookupRead(c, c.Arg(2));
        s = null;
        if (v == null) { c.Error("ERR no such key"); return false; }
        return TryStream(c, v, out s);
    }

    static void XInfoConsumers(Client c)
    {
        if (!InfoLookup(c, out var s)) return;
        var cg = s.FindGroup(c.Arg(3));
        if (cg == null) { NoGroupForKey(c, c.Arg(3), c.Arg(2)); return; }
        var r = c.Reply;
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        r.ArrayHeader(cg.Consumers.Count);
        foreach (var consumer in cg.Consumers)
        {
            r.MapHeader(3);
            r.Bulk("name"u8);
            r.Bulk(consumer.Name);
            r.Bulk("pending"u8);
            r.Integer(consumer.Pel.Count);
            r.Bulk("idle"u8);
            r.Integer(Math.Max(0, now - consumer.SeenTime));
        }
    }

    static void XInfoGroups(Client c)
    {
        if (!InfoLookup(c, out var s)) return;
        var r = c.Reply;
        if (s.Groups == null) { r.EmptyArray(); return; }
        r.ArrayHeader(s.Groups.Count);
        foreach (var g in s.Groups)
        {
            r.MapHeader(6);
            r.Bulk("name"u8);
            r.Bulk(g.Name);
            r.Bulk("consumers"u8);
            r.Integer(g.Consumers.Count);
            r.Bulk("pending"u8);
            r.Integer(g.Pel.Count);
            r.Bulk("last-delivered-id"u8);
            StreamValue.WriteId(r, g.LastId);
            WriteEntriesReadAndLag(r, s, g);
        }
    }

    static void WriteEntriesReadAndLag(Protocol.ReplyWriter r, StreamValue s, StreamGroup g)
    {
        r.Bulk("entries-read"u8);
        if (g.EntriesRead != StreamValue.InvalidEntriesRead) r.Integer(g.EntriesRead);
        else r.Null();
        r.Bulk("lag"u8);
        if (s.TryGroupLag(g, out long lag)) r.Integer(lag);
        else r.Null();
    }

    static void XInfoStream(Client c)
    {
        if (!InfoLookup(c, out var s)) return;
        int argc = c.ArgCount - 2;
        bool full = argc > 1;
        long count = 10;
        if (full)
        {
            if (!Is(c.Arg(3), "full") || (argc != 2 && argc != 4) || (argc == 4 && !Is(c.Arg(4), "count")))
            {
                SubcommandSyntax(c);
                return;
            }
            if (argc == 4)
            {
                if (!c.TryArgLong(5, out count)) return;
                if (count < 0) count = 0;
            }
        }
        var r = c.Reply;
        r.MapHeader(full ? 9 : 10);
        r.Bulk("length"u8);
        r.Integer(s.Length);
        r.Bulk("radix-tree-keys"u8);
        r.Integer(s.RadixTreeKeys);
        r.Bulk("radix-tree-nodes"u8);
        r.Integer(s.RadixTreeNodes());
        r.Bulk("last-generated-id"u8);
        StreamValue.WriteId(r, s.LastId);
        r.Bulk("max-deleted-entry-id"u8);
        StreamValue.WriteId(r, s.MaxDeletedId);
        r.Bulk("entries-added"u8);
        r.Integer(s.EntriesAdded);
        r.Bulk("recorded-first-entry-id"u8);
        StreamValue.WriteId(r, s.FirstId);

        if (!full)
        {
            r.Bulk("groups"u8);
            r.Integer(s.Groups?.Count ?? 0);
            r.Bulk("first-entry"u8);
            WriteEdgeEntry(r, s, false);
            r.Bulk("last-entry"u8);
            WriteEdgeEntry(r, s, true);
            return;
        }

        r.Bulk("entries"u8);
        ReplyWithRange(c, s, StreamId.Zero, StreamId.Max, count, false, null, null, false);
        r.Bulk("groups"u8);
        if (s.Groups == null) { r.EmptyArray(); return; }
        r.ArrayHeader(s.Groups.Count);
        foreach (var g in s.Groups)
        {
            r.MapHeader(7);
            r.Bulk("name"u8);
            r.Bulk(g.Name);
            r.Bulk("last-delivered-id"u8);
            StreamValue.WriteId(r, g.LastId);
            WriteEntriesReadAndLag(r, s, g);
            r.Bulk("pel-count"u8);
            r.Integer(g.Pel.Count);
            r.Bulk("pending"u8);
            int pos = r.BeginDeferred();
            long n = 0;
            foreach (var nack in g.Pel)
            {
                if (count != 0 && n >= count) break;
                r.ArrayHeader(4);
                StreamValue.WriteId(r, nack.Id);
                r.Bulk(nack.Consumer.Name);
                r.Integer(nack.DeliveryTime);
                r.Integer(nack.DeliveryCount);
                n++;
            }
            r.EndDeferred(pos, n);
            r.Bulk("consumers"u8);
            r.ArrayHeader(g.Consumers.Count);
            foreach (var consumer in g.Consumers)
            {
                r.MapHeader(4);
                r.Bulk("name"u8);
                r.Bulk(consumer.Name);
                r.Bulk("seen-time"u8);
                r.Integer(consumer.SeenTime);
                r.Bulk("pel-count"u8);
                r.Integer(consumer.Pel.Count);
                r.Bulk("pending"u8);
                int p2 = r.BeginDeferred();
                long m = 0;
                foreach (var nack in consumer.Pel)
                {
                    if (count != 0 && m >= count) break;
                    r.ArrayHeader(3);
                    StreamValue.WriteId(r, nack.Id);
                    r.Integer(nack.DeliveryTime);
                    r.Integer(nack.DeliveryCount);
                    m++;
                }
                r.EndDeferred(p2, m);
            }
        }
    }

    /// <summary>XINFO STREAM's first-entry / last-entry: the entry, or a null when the stream is empty.</summary>
    static void WriteEdgeEntry(Protocol.ReplyWriter r, StreamValue s, bool last)
    {
        var it = s.Range(StreamId.Zero, StreamId.Max, last);
        if (it.Next(out var n, out int i)) StreamValue.WriteEntry(r, n, i);
        else r.Null();
    }

    static readonly string[] XInfoHelpLines =
    {
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    };

    static void XInfoHelp(Client c) => HelpReply.Write(c, "XINFO", XInfoHelpLines);
}

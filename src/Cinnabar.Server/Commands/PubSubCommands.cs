using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>pubsub.c: SUBSCRIBE family, PUBLISH, SPUBLISH and PUBSUB introspection.</summary>
public static class PubSubCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("subscribe", c => SubscribeMany(c, shard: false));
        t.Register("ssubscribe", c => SubscribeMany(c, shard: true));
        t.Register("unsubscribe", c => UnsubscribeMany(c, shard: false));
        t.Register("sunsubscribe", c => UnsubscribeMany(c, shard: true));
        t.Register("psubscribe", PSubscribe);
        t.Register("punsubscribe", PUnsubscribe);
        t.Register("publish", c =>
        {
            c.Reply.Integer(c.Server.Publish(c.Arg(1), c.Arg(2)));
            // In cluster mode PUBLISH goes to every node over the bus; outside it reaches replicas (not the AOF)
            // through the replication stream.
            if (c.Server.Cluster != null) c.Server.ClusterPropagatePublish(c.Arg(1), c.Arg(2), shard: false);
            else if (c.Server.Prop.Enabled) c.Server.Prop.Force(PropagateTarget.Repl);
        });
        t.Register("spublish", c =>
        {
            c.Reply.Integer(c.Server.Publish(c.Arg(1), c.Arg(2), shard: true));
            if (c.Server.Cluster != null) c.Server.ClusterPropagatePublish(c.Arg(1), c.Arg(2), shard: true);
        });
        t.Register("pubsub|channels", c => ListChannels(c, c.Server.Channels));
        t.Register("pubsub|shardchannels", c => ListChannels(c, c.Server.ShardChannels));
        t.Register("pubsub|numsub", c => NumSub(c, c.Server.Channels));
        t.Register("pubsub|shardnumsub", c => NumSub(c, c.Server.ShardChannels));
        t.Register("pubsub|numpat", c => c.Reply.Integer(c.Server.Patterns.Count));
        t.Register("pubsub|help", c => HelpReply.Write(c, "PUBSUB", new[]
        {
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        }));
    }

    static void Confirm(Client c, ReadOnlySpan<byte> kind, ReadOnlySpan<byte> name, bool nullName, long count)
    {
        c.Reply.PushHeader(3);
        c.Reply.Bulk(kind);
        if (nullName) c.Reply.Null(); else c.Reply.Bulk(name);
        c.Reply.Integer(count);
    }

    static void SubscribeMany(Client c, bool shard)
    {
        for (int i = 1; i < c.ArgCount; i++)
        {
            var ch = c.ArgBytes(i);
            c.Server.Subscribe(c, ch, shard);
            Confirm(c, shard ? "ssubscribe"u8 : "subscribe"u8, ch, false, shard ? c.ShardChannels.Count : CinnabarServer.SubscriptionCount(c));
        }
    }

    static void UnsubscribeMany(Client c, bool shard)
    {
        var set = shard ? c.ShardChannels : c.Channels;
        var kind = shard ? "sunsubscribe"u8 : "unsubscribe"u8;
        if (c.ArgCount == 1)
        {
            if (set.Count == 0)
            {
                Confirm(c, kind, default, true, shard ? 0 : CinnabarServer.SubscriptionCount(c));
                return;
            }
            foreach (var ch in set.ToArray())
            {
                c.Server.Unsubscribe(c, ch, shard);
                Confirm(c, kind, ch, false, shard ? c.ShardChannels.Count : CinnabarServer.SubscriptionCount(c));
            }
            return;
        }
        for (int i = 1; i < c.ArgCount; i++)
        {
            var ch = c.ArgBytes(i);
            c.Server.Unsubscribe(c, ch, shard);
            Confirm(c, kind, ch, false, shard ? c.ShardChannels.Count : CinnabarServer.SubscriptionCount(c));
        }
    }

    static void PSubscribe(Client c)
    {
        for (int i = 1; i < c.ArgCount; i++)
        {
            var p = c.ArgBytes(i);
            c.Server.PSubscribe(c, p);
            Confirm(c, "psubscribe"u8, p, false, CinnabarServer.SubscriptionCount(c));
        }
    }

    static void PUnsubscribe(Client c)
    {
        if (c.ArgCount == 1)
        {
            if (c.Patterns.Count == 0)
            {
                Confirm(c, "punsubscribe"u8, default, true, CinnabarServer.SubscriptionCount(c));
                return;
            }
            foreach (var p in c.Patterns.ToArray())
            {
                c.Server.PUnsubscribe(c, p);
                Confirm(c, "punsubscribe"u8, p, false, CinnabarServer.SubscriptionCount(c));
            }
            return;
        }
        for (int i = 1; i < c.ArgCount; i++)
        {
            var p = c.ArgBytes(i);
            c.Server.PUnsubscribe(c, p);
            Confirm(c, "punsubscribe"u8, p, false, CinnabarServer.SubscriptionCount(c));
        }
    }

    static void ListChannels(Client c, Dictionary<byte[], List<Client>> map)
    {
        byte[] pattern = c.ArgCount > 2 ? c.ArgBytes(2) : null;
        var names = map.Keys.Where(k => pattern == null || Glob.Match(pattern, k)).ToList();
        c.Reply.ArrayHeader(names.Count);
        foreach (var n in names) c.Reply.Bulk(n);
    }

    static void NumSub(Client c, Dictionary<byte[], List<Client>> map)
    {
        c.Reply.MapHeader(c.ArgCount - 2);
        for (int i = 2; i < c.ArgCount; i++)
        {
            c.Reply.Bulk(c.Arg(i));
            c.Reply.Integer(map.TryGetValue(c.ArgBytes(i), out var list) ? list.Count : 0);
        }
    }
}

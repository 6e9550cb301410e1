using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>Pub/Sub (channels, patterns, shard channels) and keyspace notifications, as pubsub.c and notify.c.</summary>
public sealed partial class CinnabarServer
{
    sealed class BytesComparer : IEqualityComparer<byte[]>
    {
        public bool Equals(byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b);
        public int GetHashCode(byte[] k) => (int)KeyTable.HashOf(k);
    }

    public readonly Dictionary<byte[], List<Client>> Channels = new(new BytesComparer());
    public readonly Dictionary<byte[], List<Client>> ShardChannels = new(new BytesComparer());
    public readonly List<(byte[] pattern, Client client)> Patterns = new();
    public KeyspaceEvents NotifyFlags;

    public static int SubscriptionCount(Client c) => c.Channels.Count + c.Patterns.Count;

    public bool Subscribe(Client c, byte[] channel, bool shard)
    {
        var set = shard ? c.ShardChannels : c.Channels;
        if (!set.Add(channel)) return false;
        var map = shard ? ShardChannels : Channels;
        if (!map.TryGetValue(channel, out var list)) map[channel] = list = new List<Client>();
        list.Add(c);
        return true;
    }

    public bool Unsubscribe(Client c, byte[] channel, bool shard)
    {
        var set = shard ? c.ShardChannels : c.Channels;
        if (!set.Remove(channel)) return false;
        var map = shard ? ShardChannels : Channels;
        if (map.TryGetValue(channel, out var list))
        {
            list.Remove(c);
            if (list.Count == 0) map.Remove(channel);
        }
        return true;
    }

    public bool PSubscribe(Client c, byte[] pattern)
    {
        if (!c.Patterns.Add(pattern)) return false;
        Patterns.Add((pattern, c));
        return true;
    }

    public bool PUnsubscribe(Client c, byte[] pattern)
    {
        if (!c.Patterns.Remove(pattern)) return false;
        Patterns.RemoveAll(p => p.client == c && p.pattern.AsSpan().SequenceEqual(pattern));
        return true;
    }

    public void ResetSubscriptions(Client c) => ForgetSubscriptions(c);

    void ForgetSubscriptions(Client c)
    {
        foreach (var ch in c.Channels.ToArray()) Unsubscribe(c, ch, false);
        foreach (var ch in c.ShardChannels.ToArray()) Unsubscribe(c, ch, true);
        foreach (var p in c.Patterns.ToArray()) PUnsubscribe(c, p);
    }

    /// <summary>pubsubPublishMessage: delivers to channel subscribers, then pattern subscribers; returns receivers.</summary>
    public long Publish(ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message, bool shard = false)
    {
        long receivers = 0;
        var key = channel.ToArray();
        var map = shard ? ShardChannels : Channels;
        if (map.TryGetValue(key, out var list))
        {
            foreach (var c in list)
            {
                c.Reply.PushHeader(3);
                c.Reply.Bulk(shard ? "smessage"u8 : "message"u8);
                c.Reply.Bulk(channel);
                c.Reply.Bulk(message);
                Delivered(c);
                receivers++;
            }
        }
        if (shard) return receivers;
        foreach (var (pattern, c) in Patterns.ToArray())
        {
            if (!Glob.Match(pattern, channel)) continue;
            c.Reply.PushHeader(4);
            c.Reply.Bulk("pmessage"u8);
            c.Reply.Bulk(pattern);
            c.Reply.Bulk(channel);
            c.Reply.Bulk(message);
            Delivered(c);
            receivers++;
        }
        return receivers;
    }

    void Delivered(Client c)
    {
        if ((c.Flags & ClientFlags.Closed) != 0) return;
        Loop.MarkPendingWrite(c);
        CheckOutputBufferLimits(c);
    }

    /// <summary>
    /// notifyKeyspaceEvent: publishes "__keyspace@db__:key" → event and "__keyevent@db__:event" → key
    /// when notify-keyspace-events enables the event's class.
    /// </summary>
    public void Notify(KeyspaceEvents type, string @event, ReadOnlySpan<byte> key, int dbid)
    {
        var flags = NotifyFlags;
        if ((flags & type) == 0) return;
        var ev = Encoding.ASCII.GetBytes(@event);
        if ((flags & KeyspaceEvents.Keyspace) != 0)
        {
            var channel = Encoding.ASCII.GetBytes($"__keyspace@{dbid}__:").Concat(key.ToArray()).ToArray();
            Publish(channel, ev);
        }
        if ((flags & KeyspaceEvents.Keyevent) != 0)
        {
            var channel = Encoding.ASCII.GetBytes($"__keyevent@{dbid}__:{@event}");
            Publish(channel, key);
        }
    }
}

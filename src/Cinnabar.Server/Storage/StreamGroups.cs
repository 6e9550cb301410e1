namespace Cinnabar.Server.Storage;

/// <summary>A pending entry (streamNACK): delivered to a consumer and not yet acknowledged.</summary>
public sealed class StreamNack
{
    public StreamId Id;
    public StreamConsumer Consumer;
    public long DeliveryTime;
    public long DeliveryCount;

    public StreamNack(StreamId id) => Id = id;
}

/// <summary>Orders pending entries by ID (Redis keeps PELs in radix trees keyed by the big-endian ID).</summary>
public sealed class NackOrder : IComparer<StreamNack>
{
    public static readonly NackOrder Instance = new();
    public int Compare(StreamNack a, StreamNack b) => a.Id.CompareTo(b.Id);
}

/// <summary>A consumer of a group: its name, when it was last seen, and its own pending entries.</summary>
public sealed class StreamConsumer
{
    public readonly byte[] Name;
    public long SeenTime;
    public readonly SortedSet<StreamNack> Pel = new(NackOrder.Instance);

    public StreamConsumer(byte[] name, long seenTime)
    {
        Name = name;
        SeenTime = seenTime;
    }
}

/// <summary>A consumer group (streamCG): last delivered ID, read counter, the group PEL and its consumers.</summary>
public sealed class StreamGroup
{
    const long GroupCost = 160, ConsumerCost = 120, NackCost = 144;

    readonly StreamValue owner;
    public readonly byte[] Name;
    public StreamId LastId;
    public long EntriesRead;
    public readonly SortedSet<StreamNack> Pel = new(NackOrder.Instance);
    /// <summary>Consumers in name order.</summary>
    public readonly List<StreamConsumer> Consumers = new();

    public StreamGroup(StreamValue owner, byte[] name, StreamId lastId, long entriesRead)
    {
        this.owner = owner;
        Name = name;
        LastId = lastId;
        EntriesRead = entriesRead;
        owner.AccountGroups(GroupCost + name.Length);
    }

    /// <summary>Gives back this group's accounted bytes when it is destroyed.</summary>
    internal void Release()
    {
        long bytes = GroupCost + Name.Length + Pel.Count * NackCost;
        foreach (var c in Consumers) bytes += ConsumerCost + c.Name.Length;
        owner.AccountGroups(-bytes);
    }

    // ---- consumers ----

    int ConsumerIndex(ReadOnlySpan<byte> name)
    {
        int lo = 0, hi = Consumers.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int cmp = StreamValue.CompareNames(Consumers[mid].Name, name);
            if (cmp == 0) return mid;
            if (cmp < 0) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    public StreamConsumer FindConsumer(ReadOnlySpan<byte> name)
    {
        int i = ConsumerIndex(name);
        return i >= 0 ? Consumers[i] : null;
    }

    /// <summary>streamCreateConsumer: null when the consumer already exists.</summary>
    public StreamConsumer CreateConsumer(ReadOnlySpan<byte> name, long now)
    {
        int i = ConsumerIndex(name);
        if (i >= 0) return null;
        var consumer = new StreamConsumer(name.ToArray(), now);
        Consumers.Insert(~i, consumer);
        owner.AccountGroups(ConsumerCost + name.Length);
        return consumer;
    }

    /// <summary>streamDelConsumer: drops the consumer and its pending entries from the group PEL.</summary>
    public void DeleteConsumer(StreamConsumer consumer)
    {
        foreach (var nack in consumer.Pel) Pel.Remove(nack);
        owner.AccountGroups(-(ConsumerCost + consumer.Name.Length + consumer.Pel.Count * NackCost));
        consumer.Pel.Clear();
        int i = ConsumerIndex(consumer.Name);
        if (i >= 0) Consumers.RemoveAt(i);
    }

    // ---- pending entries ----

    readonly StreamNack probe = new(StreamId.Zero);

    public StreamNack FindNack(StreamId id)
    {
        probe.Id = id;
        return Pel.TryGetValue(probe, out var nack) ? nack : null;
    }

    /// <summary>Adds a new pending entry to the group PEL and, when it has one, its consumer's PEL.</summary>
    public void AddNack(StreamNack nack)
    {
        Pel.Add(nack);
        nack.Consumer?.Pel.Add(nack);
        owner.AccountGroups(NackCost);
    }

    /// <summary>Removes a pending entry from the group PEL and its consumer's PEL (XACK, deleted entries).</summary>
    public void RemoveNack(StreamNack nack)
    {
        Pel.Remove(nack);
        nack.Consumer?.Pel.Remove(nack);
        owner.AccountGroups(-NackCost);
    }

    /// <summary>Moves a pending entry to another consumer.</summary>
    public static void Reassign(StreamNack nack, StreamConsumer to)
    {
        if (nack.Consumer == to) return;
        nack.Consumer?.Pel.Remove(nack);
        nack.Consumer = to;
        to.Pel.Add(nack);
    }

    /// <summary>The pending entries of <paramref name="pel"/> with ID &gt;= start, in ID order.</summary>
    public static IEnumerable<StreamNack> From(SortedSet<StreamNack> pel, StreamId start)
    {
        if (pel.Count == 0) return Array.Empty<StreamNack>();
        var max = pel.Max;
        if (max.Id < start) return Array.Empty<StreamNack>();
        if (start.IsZero) return pel;
        return pel.GetViewBetween(new StreamNack(start), max);
    }

    /// <summary>The first pending entry with ID &gt;= id, or null (raxSeek "&gt;=").</summary>
    public StreamNack Ceiling(StreamId id)
    {
        if (Pel.Count == 0) return null;
        var max = Pel.Max;
        if (max.Id < id) return null;
        probe.Id = id;
        return Pel.GetViewBetween(probe, max).Min;
    }

    internal StreamGroup CloneInto(StreamValue newOwner)
    {
        var g = new StreamGroup(newOwner, Name.ToArray(), LastId, EntriesRead);
        var map = new Dictionary<StreamConsumer, StreamConsumer>();
        foreach (var c in Consumers)
        {
            var copy = g.CreateConsumer(c.Name, c.SeenTime);
            map[c] = copy;
        }
        foreach (var nack in Pel)
        {
            var n = new StreamNack(nack.Id)
            {
                Consumer = nack.Consumer != null ? map[nack.Consumer] : null,
                DeliveryTime = nack.DeliveryTime,
                DeliveryCount = nack.DeliveryCount,
            };
            g.AddNack(n);
        }
        return g;
    }
}

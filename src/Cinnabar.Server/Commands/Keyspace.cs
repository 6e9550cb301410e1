using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>Key access as commands see it: Redis's lookupKeyRead/Write, checkType and the hit/miss counters.</summary>
public static class Keyspace
{
    public static object LookupRead(Client c, ReadOnlySpan<byte> key)
    {
        var v = c.Db.Get(key);
        if (v == null) c.Server.Stats.KeyspaceMisses++;
        else c.Server.Stats.KeyspaceHits++;
        return v;
    }

    public static object LookupWrite(Client c, ReadOnlySpan<byte> key) => c.Db.Get(key);

    /// <summary>Reads a string value. Returns false (with WRONGTYPE sent) when the key holds another type.</summary>
    public static bool TryReadString(Client c, ReadOnlySpan<byte> key, out object value)
    {
        value = LookupRead(c, key);
        if (value == null || Values.IsString(value)) return true;
        c.WrongType();
        return false;
    }

    public static bool TryWriteString(Client c, ReadOnlySpan<byte> key, out object value)
    {
        value = LookupWrite(c, key);
        if (value == null || Values.IsString(value)) return true;
        c.WrongType();
        return false;
    }

    /// <summary>setKey: overwrite (dropping any TTL unless kept) and signal the modification.</summary>
    public static void SetKey(Client c, ReadOnlySpan<byte> key, object value, bool keepTtl = false)
    {
        c.Db.Set(key, value, keepTtl);
        c.Server.KeyModified(c.Db, key);
    }

    public static void Modified(Client c, ReadOnlySpan<byte> key)
    {
        c.Server.KeyModified(c.Db, key);
        c.Server.Dirty();
    }

    /// <summary>A write: signalModifiedKey, dirty++, and the keyspace event Redis emits for it.</summary>
    public static void Modified(Client c, ReadOnlySpan<byte> key, KeyspaceEvents type, string @event)
    {
        c.Server.KeyModified(c.Db, key);
        c.Server.Dirty();
        c.Server.Notify(type, @event, key, c.Db.Id);
    }

    public static void Notify(Client c, ReadOnlySpan<byte> key, KeyspaceEvents type, string @event) =>
        c.Server.Notify(type, @event, key, c.Db.Id);
}

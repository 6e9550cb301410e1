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

    /// <summary>lookupKeyRead + checkType: false (WRONGTYPE sent) when the key holds another type; null when missing.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool TryRead<T>(Client c, ReadOnlySpan<byte> key, out T value) where T : class, IRedisObject
    {
        var v = LookupRead(c, key);
        value = v as T;
        if (v == null || value != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>lookupKeyWrite + checkType: false (WRONGTYPE sent) when the key holds another type; null when missing.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool TryWrite<T>(Client c, ReadOnlySpan<byte> key, out T value) where T : class, IRedisObject
    {
        var v = LookupWrite(c, key);
        value = v as T;
        if (v == null || value != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>
    /// HDEL, SREM, ZREM: removes the members named by the arguments from <paramref name="first"/> on, deletes
    /// the key once it is empty (with a "del" event after the command's own), and replies with the count.
    /// </summary>
    public static void RemoveMembers<T>(Client c, int first, KeyspaceEvents eventClass, string @event) where T : class, IMemberCollection
    {
        var key = c.Arg(1);
        if (!TryWrite(c, key, out T collection)) return;
        long deleted = 0;
        bool keyRemoved = false;
        if (collection != null)
        {
            long before = collection.Cost;
            for (int i = first; i < c.ArgCount; i++)
            {
                if (!collection.Remove(c.Arg(i))) continue;
                deleted++;
                if (collection.Count == 0)
                {
                    keyRemoved = true;
                    break;
                }
            }
            c.Db.Resized(before, collection);
            if (keyRemoved) c.Db.Delete(key);
        }
        if (deleted > 0)
        {
            c.Server.KeyModified(c.Db, key);
            Notify(c, key, eventClass, @event);
            if (keyRemoved) Notify(c, key, KeyspaceEvents.Generic, "del");
            c.Server.Dirty(deleted);
        }
        c.Reply.Integer(deleted);
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

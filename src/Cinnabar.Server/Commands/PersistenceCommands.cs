using Cinnabar.Server.Config;
using Cinnabar.Server.Network;
using Cinnabar.Server.Persistence;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>DUMP, RESTORE (cluster.c) and SAVE (rdb.c).</summary>
public static class PersistenceCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("dump", Dump);
        t.Register("restore", Restore);
        t.Register("restore-asking", Restore);   // the same command with the asking flag (served on an importing node)
        t.Register("save", Save);
        t.Register("bgsave", BgSave);
    }

    static void Dump(Client c)
    {
        var v = Keyspace.LookupRead(c, c.Arg(1));
        if (v == null) { c.Reply.Null(); return; }
        c.Reply.Bulk(c.Server.CreateDumpPayload(v));
    }

    /// <summary>RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency].</summary>
    static void Restore(Client c)
    {
        bool replace = false, absttl = false;
        long lruIdle = -1, lfuFreq = -1;
        int argc = c.ArgCount;
        for (int j = 4; j < argc; j++)
        {
            int additional = argc - j - 1;
            if (c.ArgIs(j, "replace")) replace = true;
            else if (c.ArgIs(j, "absttl")) absttl = true;
            else if (c.ArgIs(j, "idletime") && additional >= 1 && lfuFreq == -1)
            {
                if (!c.TryArgLong(j + 1, out lruIdle)) return;
                if (lruIdle < 0) { c.Error("ERR Invalid IDLETIME value, must be >= 0"); return; }
                j++;
            }
            else if (c.ArgIs(j, "freq") && additional >= 1 && lruIdle == -1)
            {
                if (!c.TryArgLong(j + 1, out lfuFreq)) return;
                if (lfuFreq < 0 || lfuFreq > 255) { c.Error("ERR Invalid FREQ value, must be >= 0 and <= 255"); return; }
                j++;
            }
            else { c.Syntax(); return; }
        }

        var key = c.Arg(1);
        if (!replace && Keyspace.LookupWrite(c, key) != null)
        {
            c.Error("BUSYKEY Target key name already exists.");
            return;
        }
        if (!c.TryArgLong(2, out long ttl)) return;
        if (ttl < 0) { c.Error("ERR Invalid TTL value, must be >= 0"); return; }

        var payload = c.Arg(3);
        if (!RdbWriter.VerifyDumpPayload(payload))
        {
            c.Error("ERR DUMP payload version or checksum are wrong");
            return;
        }
        object value;
        try
        {
            var bytes = payload.ToArray();
            var r = new RdbReader(bytes, 0, bytes.Length) { TrackCrc = false };
            int type = r.ReadByte();
            if (!Rdb.IsObjectType(type)) throw new RdbException("bad type");
            value = RdbValueLoader.Read(r, type, c.Server.LoadLimits);
        }
        catch (Exception ex) when (ex is RdbException or RdbEmptyKeyException)
        {
            c.Error("ERR Bad data format");
            return;
        }

        var db = c.Db;
        bool deleted = replace && db.Delete(key);
        if (ttl != 0 && !absttl) ttl += Clock.NowMs;
        if (ttl != 0 && ttl <= Clock.NowMs)
        {
            // Already expired: the key is gone (and the old one, if replaced, deleted).
            if (deleted)
            {
                c.Server.KeyModified(db, key);
                c.Server.Notify(KeyspaceEvents.Generic, "del", key, db.Id);
                c.Server.Dirty();
            }
            c.Reply.Ok();
            return;
        }
        int i = db.Add(c.ArgBytes(1), value);
        if (ttl != 0) db.SetExpire(i, ttl);
        // A relative TTL goes to replicas and the AOF as the absolute time with ABSTTL.
        if (ttl != 0 && !absttl && c.Server.Prop.Enabled) c.Server.Prop.RewriteRestoreAbsTtl(c, ttl);
        ref var e = ref db.Table.At(i);
        e.Access = CinnabarServer.ApplyIdleOrFreq(e.Access, db.LfuMode, lfuFreq, lruIdle);
        c.Server.KeyModified(db, key);
        c.Server.Notify(KeyspaceEvents.Generic, "restore", key, db.Id);
        c.Reply.Ok();
        c.Server.Dirty();
    }

    static void BgSave(Client c)
    {
        bool schedule = false;
        if (c.ArgCount > 1)
        {
            if (c.ArgCount == 2 && c.ArgIs(1, "schedule")) schedule = true;
            else { c.Syntax(); return; }
        }
        var server = c.Server;
        if (server.RdbBgsaveInProgress) c.Error("ERR Background save already in progress");
        else if (server.ChildActive || server.InExec)
        {
            if (schedule || server.InExec)
            {
                server.ScheduleBackgroundSave();
                c.Reply.Simple("Background saving scheduled");
            }
            else c.Error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
        }
        else if (server.StartBackgroundSave() is string error) c.Error(error);
        else c.Reply.Simple("Background saving started");
    }

    static void Save(Client c)
    {
        if (c.Server.RdbBgsaveInProgress)
        {
            c.Error("ERR Background save already in progress");
            return;
        }
        if (c.Server.SaveRdb()) c.Reply.Ok();
        else c.Error("ERR");
    }
}

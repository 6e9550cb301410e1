using Cinnabar.Server.Cluster;
using Cinnabar.Server.Network;

namespace Cinnabar.Server.Commands;

/// <summary>
/// The cluster commands that belong to the command path rather than the cluster bus: ASKING, READONLY,
/// READWRITE and the key-to-slot questions (CLUSTER KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT).
/// </summary>
public static class ClusterKeyCommands
{
    public const string Disabled = "ERR This instance has cluster support disabled";

    public static void Register(CommandTable t)
    {
        t.Register("asking", c => SetFlag(c, ClientFlags.Asking, true));
        t.Register("readonly", c => SetFlag(c, ClientFlags.ReadOnlyCluster, true));
        t.Register("readwrite", c => SetFlag(c, ClientFlags.ReadOnlyCluster, false));
        t.Register("cluster|keyslot", KeySlotCommand);
        t.Register("cluster|countkeysinslot", CountKeysInSlot);
        t.Register("cluster|getkeysinslot", GetKeysInSlot);
    }

    static void SetFlag(Client c, ClientFlags flag, bool on)
    {
        if (!c.Server.ClusterEnabled) { c.Error(Disabled); return; }
        if (on) c.Flags |= flag;
        else c.Flags &= ~flag;
        c.Reply.Ok();
    }

    static void KeySlotCommand(Client c)
    {
        if (!c.Server.ClusterEnabled) { c.Error(Disabled); return; }
        c.Reply.Integer(KeySlot.Of(c.Arg(2)));
    }

    static void CountKeysInSlot(Client c)
    {
        if (!c.Server.ClusterEnabled) { c.Error(Disabled); return; }
        if (!c.TryArgLong(2, out long slot)) return;
        if (slot < 0 || slot >= ClusterView.SlotCount)
        {
            c.Error("ERR Invalid slot");
            return;
        }
        c.Reply.Integer(c.Server.Dbs[0].Table.CountInSlot((int)slot));
    }

    static void GetKeysInSlot(Client c)
    {
        if (!c.Server.ClusterEnabled) { c.Error(Disabled); return; }
        if (!c.TryArgLong(2, out long slot) || !c.TryArgLong(3, out long max)) return;
        if (slot < 0 || slot >= ClusterView.SlotCount || max < 0)
        {
            c.Error("ERR Invalid slot or number of keys");
            return;
        }
        var table = c.Server.Dbs[0].Table;
        int n = (int)Math.Min(max, table.CountInSlot((int)slot));
        c.Reply.ArrayHeader(n);
        foreach (int i in table.EntriesInSlot((int)slot, n)) c.Reply.Bulk(table.At(i).Key);
    }
}

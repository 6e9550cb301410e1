using Cinnabar.Server.Cluster;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server;

/// <summary>
/// Cluster routing in the command path (getNodeByQuery + clusterRedirectClient): which node serves a command's
/// keys, and the MOVED / ASK / CROSSSLOT / TRYAGAIN / CLUSTERDOWN replies, read from the published
/// <see cref="ClusterView"/> without locks. The cluster subsystem owns everything else.
/// </summary>
public sealed partial class CinnabarServer
{
    /// <summary>cluster-enabled: fixed at startup.</summary>
    public bool ClusterEnabled;

    /// <summary>The routing view the cluster subsystem publishes after each change (null outside cluster mode).</summary>
    public ClusterView ClusterView => Cluster?.View ?? viewBeforeClusterStart;

    /// <summary>Until the cluster subsystem has started: no slot is served.</summary>
    ClusterView viewBeforeClusterStart;

    /// <summary>
    /// cluster-enabled yes, before the databases exist: key tables index slots, and until the cluster subsystem
    /// publishes its view, no slot is served.
    /// </summary>
    void EnableClusterRouting()
    {
        ClusterEnabled = true;
        KeyTable.TrackSlots = true;
        viewBeforeClusterStart = new ClusterView();
    }

    /// <summary>
    /// Called on the event loop after the cluster subsystem published a new view
    /// (clusterRedirectBlockedClientIfNeeded): clients blocked on keys of a slot that is no longer served here
    /// are answered with the redirect, and all of them with CLUSTERDOWN once the cluster is down.
    /// </summary>
    public void ClusterViewChanged()
    {
        var view = ClusterView;
        if (view == null || BlockedClients.Count == 0) return;
        foreach (var c in BlockedClients.ToArray())
        {
            if (c.BlockedKeys == null || c.BlockedKeys.Count == 0) continue;
            string error = null;
            if (!view.StateOk) error = DownError;
            else
            {
                int slot = KeySlot.Of(c.BlockedKeys[0]);
                var owner = view.Owner(slot);
                bool readableReplica = view.MyMaster != null && owner == view.MyMaster
                    && (c.Flags & ClientFlags.ReadOnlyCluster) != 0 && (c.BlockedCommand == null || (c.BlockedCommand.Flags & CommandFlags.Write) == 0);
                if (owner == null) error = UnboundError;
                else if (!owner.IsMyself && view.ImportingFrom(slot) == null && !readableReplica)
                    error = "MOVED " + slot + " " + owner.RedirectTarget;
            }
            if (error != null) UnblockWithError(c, error);
        }
    }

    /// <summary>
    /// scriptVerifyClusterState: a command a script calls must be served by this node, and every key the script
    /// touches must be in one slot (the slot of its declared keys, if any); null when it may run.
    /// </summary>
    public string ScriptClusterCheck(Client scriptClient, Client caller, Command cmd, ref int scriptSlot, bool allowCrossSlot)
    {
        if (!ClusterEnabled) return null;
        const ClientFlags copied = ClientFlags.Asking | ClientFlags.ReadOnlyCluster;
        scriptClient.Flags = (scriptClient.Flags & ~copied) | (caller.Flags & copied);
        bool routed = cmd.KeySpecs.Length > 0 || (cmd.Flags & CommandFlags.MovableKeys) != 0;
        if (!routed) return null;
        string redirect = ClusterRedirect(scriptClient, cmd, out int slot);
        if (redirect != null)
        {
            if (redirect == DownReadOnlyError) return "Script attempted to execute a write command while the cluster is down and readonly";
            if (redirect == DownError) return "Script attempted to execute a command while the cluster is down";
            return "Script attempted to access a non local key in a cluster node";
        }
        if (slot != -1 && !allowCrossSlot)
        {
            if (scriptSlot == -1) scriptSlot = slot;
            else if (scriptSlot != slot) return "Script attempted to access keys that do not hash to the same slot";
        }
        return null;
    }

    const string CrossSlotError = "CROSSSLOT Keys in request don't hash to the same slot";
    const string TryAgainError = "TRYAGAIN Multiple keys request during rehashing of slot";
    const string DownError = "CLUSTERDOWN The cluster is down";
    const string DownReadOnlyError = "CLUSTERDOWN The cluster is down and only accepts read commands";
    const string UnboundError = "CLUSTERDOWN Hash slot not served";

    /// <summary>Whether routing applies: keyed commands (and EXEC) from clients that are not the master link.</summary>
    bool NeedsClusterRouting(Client c, Command cmd) =>
        ClusterEnabled && !c.IsScriptClient
        && (cmd.KeySpecs.Length > 0 || (cmd.Flags & CommandFlags.MovableKeys) != 0 || cmd.FullName == "exec");

    /// <summary>Routing state while the keys of one request are looked at.</summary>
    ref struct Route
    {
        public ClusterView View;
        public int Slot;                 // -1: no key yet
        public ClusterNodeRef Owner;
        public bool Migrating, Importing, MultipleKeys;
        public int Missing, Existing;
        public string Error;
        public ReadOnlySpan<byte> FirstKey;
    }

    /// <summary>
    /// getNodeByQuery: null when this node serves the command, else the error to reply (without the leading '-').
    /// </summary>
    string ClusterRedirect(Client c, Command cmd) => ClusterRedirect(c, cmd, out _);

    string ClusterRedirect(Client c, Command cmd, out int slot)
    {
        slot = -1;
        var view = ClusterView;
        if (view == null) return DownError;
        var route = new Route { View = view, Slot = -1 };
        string error = RouteKeys(c, cmd, ref route, out bool writes, out bool pubsubShard);
        slot = route.Slot;
        return error;
    }

    string RouteKeys(Client c, Command cmd, ref Route route, out bool writes, out bool pubsubShard)
    {
        var view = route.View;
        bool isExec = cmd.FullName == "exec";
        if (isExec)
        {
            writes = QueuedCommandsHave(c, CommandFlags.Write);
            pubsubShard = QueuedCommandsHave(c, CommandFlags.PubSub);
            if (c.Queued != null)
                foreach (var queued in c.Queued)
                {
                    var qcmd = LookupQueued(queued);
                    if (qcmd == null) continue;
                    VisitKeys(ref route, qcmd, i => queued[i], queued.Length);
                    if (route.Error != null) return route.Error;
                }
        }
        else
        {
            writes = (cmd.Flags & CommandFlags.Write) != 0;
            pubsubShard = (cmd.Flags & CommandFlags.PubSub) != 0;
            VisitKeys(ref route, cmd, c);
            if (route.Error != null) return route.Error;
        }

        if (route.Owner == null) return null;   // no keys at all

        if (!view.StateOk)
        {
            if (pubsubShard)
            {
                if (!Settings.ClusterAllowPubsubshardWhenDown) return DownError;
            }
            else if (!Settings.ClusterAllowReadsWhenDown) return DownError;
            else if (writes) return DownReadOnlyError;
        }

        if (cmd.FullName == "migrate" && (route.Migrating || route.Importing)) return null;

        if (route.Migrating && route.Missing > 0 && !pubsubShard)
        {
            if (route.MultipleKeys && route.Existing > 0) return TryAgainError;
            return "ASK " + route.Slot + " " + view.MigratingTo(route.Slot).RedirectTarget;
        }

        if (route.Importing && ((c.Flags & ClientFlags.Asking) != 0 || (cmd.Flags & CommandFlags.Asking) != 0))
        {
            if (route.MultipleKeys && route.Missing > 0 && !pubsubShard) return TryAgainError;
            return null;
        }

        if (view.MyMaster != null && route.Owner == view.MyMaster && !writes
            && ((c.Flags & ClientFlags.ReadOnlyCluster) != 0 || pubsubShard))
            return null;

        return route.Owner.IsMyself ? null : "MOVED " + route.Slot + " " + route.Owner.RedirectTarget;
    }

    void VisitKeys(ref Route route, Command cmd, Client c)
    {
        // The common case without allocating: every spec a plain range or keynum.
        foreach (var ks in cmd.KeySpecs)
        {
            if (ks.NeedsGetKeys && cmd.GetKeys != null)
            {
                foreach (var (pos, _) in CommandTable.KeyPositionsWithSpecs(cmd, i => c.Arg(i), c.ArgCount))
                {
                    VisitKey(ref route, c.Arg(pos));
                    if (route.Error != null) return;
                }
                return;
            }
        }
        int argc = c.ArgCount;
        foreach (var ks in cmd.KeySpecs)
        {
            if (ks.Unknown) continue;
            if (!CommandTable.KeyRange(ks, c.ArgAt, argc, out int first, out int last, out int step)) continue;
            for (int i = first; i <= last && i < argc; i += step)
            {
                VisitKey(ref route, c.Arg(i));
                if (route.Error != null) return;
            }
        }
    }

    void VisitKeys(ref Route route, Command cmd, Func<int, ReadOnlySpan<byte>> arg, int argc)
    {
        foreach (var (pos, _) in CommandTable.KeyPositionsWithSpecs(cmd, arg, argc))
        {
            VisitKey(ref route, arg(pos));
            if (route.Error != null) return;
        }
    }

    void VisitKey(ref Route route, ReadOnlySpan<byte> key)
    {
        var view = route.View;
        int slot = KeySlot.Of(key);
        if (route.Slot < 0)
        {
            route.Slot = slot;
            route.Owner = view.Owner(slot);
            if (route.Owner == null)
            {
                route.Error = UnboundError;
                return;
            }
            route.FirstKey = key;
            if (route.Owner.IsMyself && view.MigratingTo(slot) != null) route.Migrating = true;
            else if (view.ImportingFrom(slot) != null) route.Importing = true;
        }
        else if (!key.SequenceEqual(route.FirstKey))
        {
            if (slot != route.Slot)
            {
                route.Error = CrossSlotError;
                return;
            }
            route.MultipleKeys = true;
        }
        if (route.Migrating || route.Importing)
        {
            // lookupKeyReadWithFlags(NOTOUCH|NOEXPIRE): a key past its TTL counts as missing, and stays.
            var table = Dbs[0].Table;
            int i = table.Find(key);
            if (i >= 0 && (table.At(i).ExpireAt == 0 || table.At(i).ExpireAt >= Clock.NowMs)) route.Existing++;
            else route.Missing++;
        }
    }
}

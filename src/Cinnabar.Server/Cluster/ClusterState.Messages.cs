namespace Cinnabar.Server.Cluster;

/// <summary>clusterProcessPacket and the senders (clusterSendPing, clusterSendFail, ...), cluster-bus.md §8–§11.</summary>
public sealed partial class ClusterState
{
    // ---------------------------------------------------------------- receiving

    /// <summary>
    /// clusterProcessPacket: one whole message from a link. Returns false when the link was freed while processing
    /// (the caller must stop reading from it). A message that does not parse is logged and dropped.
    /// </summary>
    public bool ProcessPacket(ClusterLink link, byte[] buf, int len)
    {
        var span = buf.AsSpan(0, len);
        ushort type = (ushort)((buf[12] << 8) | buf[13]);
        if (type < BusMessage.TypeCount) StatsReceived[type]++;
        int explen = BusMessage.ExpectedLength(span);
        if (explen < 0) return true;
        if (explen != len)
        {
            Log.Warning($"Received invalid {TypeName(type)} packet of length {len} but expected length {explen}");
            return true;
        }
        BusMessage hdr;
        try
        {
            hdr = BusMessage.Decode(span);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException)
        {
            Log.Warning($"Dropping a malformed cluster bus message of type {type}: {e.Message}");
            return true;
        }
        if (type >= BusMessage.TypeCount)
        {
            Log.Verbose($"Received unknown packet type: {type}");
            return true;
        }
        long now = Now();
        var sender = NodeFromLinkAndMsg(link, hdr);
        if (sender != null) sender.DataReceived = now;
        if (sender != null && !sender.InHandshake)
        {
            if (hdr.CurrentEpoch > CurrentEpoch) CurrentEpoch = hdr.CurrentEpoch;
            if (hdr.ConfigEpoch > sender.ConfigEpoch)
            {
                sender.ConfigEpoch = hdr.ConfigEpoch;
                Todo(TodoSaveConfig | TodoFsyncConfig);
            }
            sender.ReplOffset = (long)hdr.Offset;
            sender.ReplOffsetTime = now;
            NoteMasterPausedOffset(sender, hdr);
        }

        var t = hdr.MsgType;
        if (t is BusType.Ping or BusType.Meet)
        {
            if ((t == BusType.Meet || Myself.Ip.Length == 0) && server.Settings.ClusterAnnounceIp.Length == 0 && link.LocalIp.Length > 0
                && Myself.Ip != link.LocalIp)
            {
                Myself.Ip = link.LocalIp;
                Log.Warning($"IP address for this node updated to {Myself.Ip}");
                Todo(TodoSaveConfig);
            }
            if (sender == null && t == BusType.Meet)
            {
                var node = new ClusterNode(RandomName(), NodeFlags.Handshake, now)
                {
                    Ip = hdr.MyIp.Length > 0 ? hdr.MyIp : link.PeerIp,
                    Port = hdr.Port, PPort = hdr.PPort, CPort = hdr.CPort,
                };
                AddNode(node);
                Todo(TodoSaveConfig);
                ProcessGossipSection(hdr, null);
            }
            SendPing(link, BusType.Pong);
        }

        if (hdr.IsPingLike)
        {
            if (!link.Inbound)
            {
                var ln = link.Node;
                if (ln.InHandshake)
                {
                    if (sender != null)
                    {
                        Log.Verbose($"Handshake: we already know node {sender.Name}, updating the address if needed.");
                        if (NodeUpdateAddressIfNeeded(sender, link, hdr)) Todo(TodoSaveConfig | TodoUpdateState);
                        DelNode(ln);
                        return false;
                    }
                    if (!BusMessage.IsValidNodeId(hdr.Sender)) return true;
                    RenameNode(ln, hdr.Sender);
                    Log.Debug($"Handshake with node {ln.Name} completed.");
                    ln.Flags &= ~NodeFlags.Handshake;
                    ln.Flags |= hdr.Flags & (NodeFlags.Master | NodeFlags.Slave);
                    Todo(TodoSaveConfig);
                }
                else if (ln.Name != hdr.Sender)
                {
                    Log.Verbose($"PONG contains mismatching sender ID. About node {ln.Name} added {now - ln.CTime} ms ago, having flags {ln.Flags}");
                    ln.Flags |= NodeFlags.NoAddr;
                    ln.Ip = "";
                    ln.Port = ln.CPort = ln.PPort = 0;
                    Bus.FreeLink(link);
                    Todo(TodoSaveConfig);
                    return false;
                }
            }

            if (sender != null)
                sender.Flags = (sender.Flags & ~NodeFlags.NoFailover) | (hdr.Flags & NodeFlags.NoFailover);

            if (sender != null && t == BusType.Ping && !sender.InHandshake && NodeUpdateAddressIfNeeded(sender, link, hdr))
                Todo(TodoSaveConfig | TodoUpdateState);

            if (!link.Inbound && t == BusType.Pong)
            {
                var ln = link.Node;
                ln.PongReceived = now;
                ln.PingSent = 0;
                if (ln.TimedOut)
                {
                    ln.Flags &= ~NodeFlags.PFail;
                    Todo(TodoSaveConfig | TodoUpdateState);
                }
                else if (ln.Failed)
                {
                    ClearNodeFailureIfNeeded(ln);
                }
            }

            // Role switch (§4.5).
            if (sender != null)
            {
                if (hdr.SlaveOf == null)
                {
                    SetNodeAsMaster(sender);
                }
                else
                {
                    var master = Lookup(hdr.SlaveOf);
                    if (sender.IsMaster)
                    {
                        DelNodeSlots(sender);
                        sender.Flags &= ~(NodeFlags.Master | NodeFlags.MigrateTo);
                        sender.Flags |= NodeFlags.Slave;
                        Todo(TodoSaveConfig | TodoUpdateState);
                    }
                    if (master != null && sender.SlaveOf != master)
                    {
                        if (sender.SlaveOf != null) NodeRemoveSlave(sender.SlaveOf, sender);
                        NodeAddSlave(master, sender);
                        sender.SlaveOf = master;
                        Todo(TodoSaveConfig);
                    }
                }
            }

            // Slots (§4.6).
            ClusterNode senderMaster = null;
            bool dirtySlots = false;
            if (sender != null)
            {
                senderMaster = sender.IsMaster ? sender : sender.SlaveOf;
                if (senderMaster != null) dirtySlots = !senderMaster.Slots.AsSpan().SequenceEqual(hdr.MySlots);
            }
            if (sender != null && sender.IsMaster && dirtySlots)
                UpdateSlotsConfigWith(sender, hdr.ConfigEpoch, hdr.MySlots);
            if (sender != null && dirtySlots)
            {
                for (int j = 0; j < Slots; j++)
                {
                    if (!BusMessage.TestSlot(hdr.MySlots, j)) continue;
                    if (SlotOwner[j] == sender || IsSlotUnclaimed(j)) continue;
                    if (SlotOwner[j].ConfigEpoch > hdr.ConfigEpoch)
                    {
                        Log.Verbose($"Node {sender.Name} has old slots configuration, sending an UPDATE message about {SlotOwner[j].Name}");
                        SendUpdate(sender.Link, SlotOwner[j]);
                        break;
                    }
                }
            }

            if (sender != null && Myself.IsMaster && sender.IsMaster && hdr.ConfigEpoch == Myself.ConfigEpoch)
                HandleConfigEpochCollision(sender);

            if (sender != null)
            {
                ProcessGossipSection(hdr, sender);
                ProcessPingExt(hdr, sender);
            }
        }
        else if (t == BusType.Fail)
        {
            if (sender != null)
            {
                var failing = Lookup(hdr.FailNodeName);
                if (failing != null && (failing.Flags & (NodeFlags.Fail | NodeFlags.Myself)) == 0)
                {
                    Log.Notice($"FAIL message received from {hdr.Sender} about {hdr.FailNodeName}");
                    failing.Flags |= NodeFlags.Fail;
                    failing.FailTime = now;
                    failing.Flags &= ~NodeFlags.PFail;
                    Todo(TodoSaveConfig | TodoUpdateState);
                }
            }
            else
            {
                Log.Notice($"Ignoring FAIL message from unknown node {hdr.Sender} about {hdr.FailNodeName}");
            }
        }
        else if (t is BusType.Publish or BusType.PublishShard)
        {
            if (sender == null) return true;
            byte[] channel = hdr.Channel, message = hdr.Message;
            bool shard = t == BusType.PublishShard;
            server.Loop.Post(() => server.Publish(channel, message, shard));
        }
        else if (t == BusType.FailoverAuthRequest)
        {
            if (sender == null) return true;
            SendFailoverAuthIfNeeded(sender, hdr);
        }
        else if (t == BusType.FailoverAuthAck)
        {
            if (sender == null) return true;
            FailoverAuthAcked(sender, hdr);
        }
        else if (t == BusType.MfStart)
        {
            if (sender == null || sender.SlaveOf != Myself) return true;
            ManualFailoverRequested(sender, link);
        }
        else if (t == BusType.Update)
        {
            if (sender == null) return true;
            var n = Lookup(hdr.UpdateNodeName);
            if (n == null) return true;
            if (n.ConfigEpoch >= hdr.UpdateConfigEpoch) return true;
            if (n.IsSlave) SetNodeAsMaster(n);
            n.ConfigEpoch = hdr.UpdateConfigEpoch;
            Todo(TodoSaveConfig | TodoFsyncConfig);
            UpdateSlotsConfigWith(n, hdr.UpdateConfigEpoch, hdr.UpdateSlots);
        }
        else if (t == BusType.Module)
        {
            // Cinnabar has no modules: a known sender's MODULE message has nobody to deliver to.
        }
        return true;
    }

    static string TypeName(int type) => type < BusMessage.TypeCount ? BusMessage.TypeNames[type] : "unknown";

    /// <summary>getNodeFromLinkAndMsg: the link's node, or the node named in the header (binding an inbound link to it).</summary>
    ClusterNode NodeFromLinkAndMsg(ClusterLink link, BusMessage hdr)
    {
        if (link.Node != null && !link.Node.InHandshake) return link.Node;
        var sender = Lookup(hdr.Sender);
        if (sender != null && link.Inbound && link.Node == null) SetInboundLink(sender, link);
        return sender;
    }

    /// <summary>setClusterNodeToInboundClusterLink.</summary>
    void SetInboundLink(ClusterNode node, ClusterLink link)
    {
        if (node.InboundLink == link) return;
        if (node.InboundLink != null)
        {
            Log.Debug($"Replacing inbound link fd {node.InboundLink.Fd} from node {node.Name} with fd {link.Fd}");
            Bus.FreeLink(node.InboundLink);
        }
        node.InboundLink = link;
        link.Node = node;
    }

    /// <summary>nodeUpdateAddressIfNeeded (§4.3).</summary>
    bool NodeUpdateAddressIfNeeded(ClusterNode node, ClusterLink link, BusMessage hdr)
    {
        if (link == node.Link) return false;
        string ip = hdr.MyIp.Length > 0 ? hdr.MyIp : link.PeerIp;
        if (node.Port == hdr.Port && node.CPort == hdr.CPort && node.PPort == hdr.PPort && node.Ip == ip) return false;
        node.Ip = ip;
        node.Port = hdr.Port;
        node.PPort = hdr.PPort;
        node.CPort = hdr.CPort;
        if (node.Link != null) Bus.FreeLink(node.Link);
        node.Flags &= ~NodeFlags.NoAddr;
        Log.Warning($"Address updated for node {node.Name}, now {node.Ip}:{node.Port}");
        if (Myself.IsSlave && Myself.SlaveOf == node) Replication.SetMaster(node.Ip, node.Port);
        viewDirty = true;
        return true;
    }

    /// <summary>clusterProcessGossipSection (§2.2, §2.6–§2.8). <paramref name="sender"/> is null for a MEET from an unknown node.</summary>
    void ProcessGossipSection(BusMessage hdr, ClusterNode sender)
    {
        long now = Now();
        foreach (var g in hdr.Gossip)
        {
            int flags = g.Flags;
            var node = Lookup(g.NodeName);
            if (node != null)
            {
                if (sender != null && sender.IsMaster && node != Myself)
                {
                    if ((flags & (NodeFlags.Fail | NodeFlags.PFail)) != 0)
                    {
                        if (AddFailureReport(node, sender))
                            Log.Verbose($"Node {sender.Name} reported node {node.Name} as not reachable.");
                        MarkNodeAsFailingIfNeeded(node);
                    }
                    else if (DelFailureReport(node, sender))
                    {
                        Log.Verbose($"Node {sender.Name} reported node {node.Name} is back online.");
                    }
                }
                if ((flags & (NodeFlags.Fail | NodeFlags.PFail)) == 0 && node.PingSent == 0 && FailureReportsCount(node) == 0)
                {
                    long pongtime = g.PongReceived * 1000L;
                    if (pongtime <= now + 500 && pongtime > node.PongReceived) node.PongReceived = pongtime;
                }
                if ((node.Flags & (NodeFlags.Fail | NodeFlags.PFail)) != 0 && (flags & NodeFlags.NoAddr) == 0
                    && (flags & (NodeFlags.Fail | NodeFlags.PFail)) == 0
                    && (node.Ip != g.Ip || node.Port != g.Port || node.CPort != g.CPort))
                {
                    if (node.Link != null) Bus.FreeLink(node.Link);
                    node.Ip = g.Ip;
                    node.Port = g.Port;
                    node.PPort = g.PPort;
                    node.CPort = g.CPort;
                    node.Flags &= ~NodeFlags.NoAddr;
                    viewDirty = true;
                }
            }
            else if (sender != null && (flags & NodeFlags.NoAddr) == 0 && BusMessage.IsValidNodeId(g.NodeName) && !Blacklisted(g.NodeName))
            {
                node = new ClusterNode(g.NodeName, flags & ~NodeFlags.Myself, now)
                {
                    Ip = g.Ip, Port = g.Port, PPort = g.PPort, CPort = g.CPort,
                };
                AddNode(node);
                Todo(TodoSaveConfig);
            }
        }
    }

    /// <summary>clusterProcessPingExt: the hostname extension sets the sender's hostname; none clears it.</summary>
    void ProcessPingExt(BusMessage hdr, ClusterNode sender)
    {
        foreach (var (type, _) in hdr.UnknownExtensions)
            Log.Warning($"Received unknown extension type {type}");
        string host = hdr.Hostname ?? "";
        if (sender.Hostname != host)
        {
            sender.Hostname = host;
            Todo(TodoSaveConfig);
        }
    }

    // ---------------------------------------------------------------- voting (a master's side of an election)

    /// <summary>clusterSendFailoverAuthIfNeeded (§7.5): a master with slots votes for a replica of a failed master.</summary>
    void SendFailoverAuthIfNeeded(ClusterNode node, BusMessage request)
    {
        var master = node.SlaveOf;
        ulong requestCurrentEpoch = request.CurrentEpoch, requestConfigEpoch = request.ConfigEpoch;
        bool forceAck = (request.MFlags0 & BusMessage.MFlagForceAck) != 0;
        long now = Now();
        if (Myself.IsSlave || Myself.NumSlots == 0) return;
        if (requestCurrentEpoch < CurrentEpoch)
        {
            Log.Warning($"Failover auth denied to {node.Name}: reqEpoch ({requestCurrentEpoch}) < curEpoch({CurrentEpoch})");
            return;
        }
        if (LastVoteEpoch == CurrentEpoch)
        {
            Log.Warning($"Failover auth denied to {node.Name}: already voted for epoch {CurrentEpoch}");
            return;
        }
        if (node.IsMaster || master == null || (!master.Failed && !forceAck))
        {
            if (node.IsMaster) Log.Warning($"Failover auth denied to {node.Name}: it is a master node");
            else if (master == null) Log.Warning($"Failover auth denied to {node.Name}: I don't know its master");
            else Log.Warning($"Failover auth denied to {node.Name}: its master is up");
            return;
        }
        if (now - master.VotedTime < NodeTimeout * 2)
        {
            Log.Warning($"Failover auth denied to {node.Name}: can't vote about this master before {NodeTimeout * 2 - (now - master.VotedTime)} milliseconds");
            return;
        }
        for (int j = 0; j < Slots; j++)
        {
            if (!BusMessage.TestSlot(request.MySlots, j)) continue;
            if (IsSlotUnclaimed(j) || SlotOwner[j].ConfigEpoch <= requestConfigEpoch) continue;
            Log.Warning($"Failover auth denied to {node.Name}: slot {j} epoch ({SlotOwner[j].ConfigEpoch}) > reqEpoch ({requestConfigEpoch})");
            return;
        }
        LastVoteEpoch = CurrentEpoch;
        master.VotedTime = now;
        Todo(TodoSaveConfig | TodoFsyncConfig);
        var ack = BuildHeader(BusType.FailoverAuthAck);
        SendMessage(node.Link, ack);
        Log.Warning($"Failover auth granted to {node.Name} for epoch {CurrentEpoch}");
    }

    // ---------------------------------------------------------------- sending

    /// <summary>clusterBuildMessageHdr.</summary>
    BusMessage BuildHeader(BusType type)
    {
        var master = Myself.IsSlave && Myself.SlaveOf != null ? Myself.SlaveOf : Myself;
        bool paused = PausedForManualFailover;   // read before the offset: a paused master's offset no longer moves
        var m = new BusMessage
        {
            Type = (ushort)type,
            Sender = Myself.Name,
            MyIp = server.Settings.ClusterAnnounceIp,
            SlaveOf = Myself.IsSlave ? Myself.SlaveOf?.Name : null,
            Port = (ushort)AnnouncedPort,
            CPort = (ushort)AnnouncedBusPort,
            PPort = 0,
            Flags = (ushort)Myself.Flags,
            State = (byte)State,
            CurrentEpoch = CurrentEpoch,
            ConfigEpoch = master.ConfigEpoch,
            Offset = (ulong)ReplicationOffset(),
        };
        master.Slots.CopyTo(m.MySlots, 0);
        if (paused) m.MFlags0 |= BusMessage.MFlagPaused;
        return m;
    }

    void SendMessage(ClusterLink link, BusMessage m)
    {
        if (link == null || link.Freed) return;
        Bus.Queue(link, m.Encode());
        if (m.Type < BusMessage.TypeCount) StatsSent[m.Type]++;
    }

    /// <summary>clusterBroadcastMessage: every known node but myself and handshake nodes, on its outbound link.</summary>
    void BroadcastMessage(BusMessage m)
    {
        byte[] bytes = m.Encode();
        foreach (var node in Nodes.Values)
        {
            if ((node.Flags & (NodeFlags.Myself | NodeFlags.Handshake)) != 0 || node.Link == null || node.Link.Freed) continue;
            Bus.Queue(node.Link, bytes);
            if (m.Type < BusMessage.TypeCount) StatsSent[m.Type]++;
        }
    }

    static GossipEntry Gossip(ClusterNode n) => new()
    {
        NodeName = n.Name,
        PingSent = (uint)(n.PingSent / 1000),
        PongReceived = (uint)(n.PongReceived / 1000),
        Ip = n.Ip,
        Port = (ushort)n.Port,
        CPort = (ushort)n.CPort,
        Flags = (ushort)n.Flags,
        PPort = (ushort)n.PPort,
    };

    /// <summary>clusterSendPing (§10): a PING, PONG or MEET with a random gossip section and the PFAIL nodes.</summary>
    public void SendPing(ClusterLink link, BusType type)
    {
        if (link == null || link.Freed) return;
        int freshnodes = Nodes.Count - 2;
        int wanted = Nodes.Count / 10;
        if (wanted < 3) wanted = 3;
        if (wanted > freshnodes) wanted = freshnodes;
        int pfailWanted = StatsPfailNodes;
        if (link.Node != null && type == BusType.Ping) link.Node.PingSent = Now();
        var m = BuildHeader(type);
        var all = Nodes.Values.ToArray();
        int maxiterations = wanted * 3;
        var added = new HashSet<ClusterNode>();
        while (freshnodes > 0 && m.Gossip.Count < wanted && maxiterations-- > 0)
        {
            var n = all[Random.Shared.Next(all.Length)];
            if (n == Myself) continue;
            if (n.TimedOut) continue;
            if (n.InHandshake || !n.HasAddr || (n.Link == null && n.NumSlots == 0))
            {
                freshnodes--;
                continue;
            }
            if (!added.Add(n)) continue;
            m.Gossip.Add(Gossip(n));
            freshnodes--;
        }
        if (pfailWanted > 0)
        {
            foreach (var n in all)
            {
                if (n.InHandshake || !n.HasAddr || !n.TimedOut) continue;
                m.Gossip.Add(Gossip(n));
                if (--pfailWanted == 0) break;
            }
        }
        if (Myself.Hostname.Length > 0) m.Hostname = Myself.Hostname;
        SendMessage(link, m);
    }

    /// <summary>clusterBroadcastPong: to every linked node (or only my shard's replicas).</summary>
    public void BroadcastPong(bool localReplicasOnly = false)
    {
        foreach (var node in Nodes.Values.ToArray())
        {
            if (node.Link == null || node == Myself || node.InHandshake) continue;
            if (localReplicasOnly)
            {
                bool local = node.IsSlave && node.SlaveOf != null && (node.SlaveOf == Myself || node.SlaveOf == Myself.SlaveOf);
                if (!local) continue;
            }
            SendPing(node.Link, BusType.Pong);
        }
    }

    void SendFail(string nodename)
    {
        var m = BuildHeader(BusType.Fail);
        m.FailNodeName = nodename;
        BroadcastMessage(m);
    }

    /// <summary>clusterSendUpdate: tells a node with a stale view who owns the slots now.</summary>
    void SendUpdate(ClusterLink link, ClusterNode node)
    {
        if (link == null) return;
        var m = BuildHeader(BusType.Update);
        m.UpdateNodeName = node.Name;
        m.UpdateConfigEpoch = node.ConfigEpoch;
        m.UpdateSlots = (byte[])node.Slots.Clone();
        for (int i = 0; i < m.UpdateSlots.Length; i++) m.UpdateSlots[i] &= (byte)~ownerNotClaiming[i];
        SendMessage(link, m);
    }

    /// <summary>clusterPropagatePublish / clusterPropagatePublishShard (called on the main thread by PUBLISH/SPUBLISH).</summary>
    public void PropagatePublish(ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message, bool shard)
    {
        var m = BuildHeader(shard ? BusType.PublishShard : BusType.Publish);
        m.Channel = channel.ToArray();
        m.Message = message.ToArray();
        if (!shard)
        {
            BroadcastMessage(m);
            return;
        }
        var master = Myself.IsSlave ? Myself.SlaveOf : Myself;
        if (master == null) return;
        byte[] bytes = m.Encode();
        foreach (var n in master.Replicas.Append(master))
        {
            if (n == Myself || n.Link == null || n.Link.Freed) continue;
            Bus.Queue(n.Link, bytes);
            StatsSent[m.Type]++;
        }
    }

    // ---------------------------------------------------------------- links

    /// <summary>clusterLinkConnectHandler: the outbound connection is up; MEET or PING goes first.</summary>
    public void LinkConnected(ClusterLink link)
    {
        var node = link.Node;
        long oldPingSent = node.PingSent;
        SendPing(link, node.Is(NodeFlags.Meet) ? BusType.Meet : BusType.Ping);
        if (oldPingSent != 0) node.PingSent = oldPingSent;
        node.Flags &= ~NodeFlags.Meet;
        Log.Debug($"Connecting with Node {node.Name} at {node.Ip}:{node.CPort}");
    }

    /// <summary>The bus tells us it freed a link: forget it on its node.</summary>
    public void LinkFreed(ClusterLink link)
    {
        var n = link.Node;
        if (n == null) return;
        if (n.Link == link) n.Link = null;
        if (n.InboundLink == link) n.InboundLink = null;
    }

    // ---------------------------------------------------------------- cron

    /// <summary>clusterCron (every 100 ms): reconnects, pings, link timeouts, PFAIL, and the state update.</summary>
    public void Cron()
    {
        iteration++;
        long now = Now();
        UpdateMyselfAnnounced();
        long nodeTimeout = NodeTimeout;
        long handshakeTimeout = Math.Max(nodeTimeout, 1000);
        StatsPfailNodes = 0;
        long sendbufLimit = server.Settings.ClusterLinkSendbufLimit;
        foreach (var node in Nodes.Values.ToArray())
        {
            if ((node.Flags & (NodeFlags.Myself | NodeFlags.NoAddr)) != 0) continue;
            if (node.TimedOut) StatsPfailNodes++;
            if (node.InHandshake && now - node.CTime > handshakeTimeout)
            {
                DelNode(node);
                continue;
            }
            if (sendbufLimit > 0)
            {
                foreach (var l in new[] { node.Link, node.InboundLink })
                {
                    if (l != null && l.SendUsed > sendbufLimit)
                    {
                        Log.Warning($"Freeing cluster link({(l.Inbound ? "from" : "to")} node {node.Name}, used memory: {l.SendUsed}) due to exceeding send buffer memory limit.");
                        Bus.FreeLink(l);
                        LinksBufferLimitExceeded++;
                    }
                }
            }
            if (node.Link == null && node.Ip.Length > 0)
            {
                if (!Bus.Connect(node))
                {
                    if (node.PingSent == 0) node.PingSent = now;
                }
            }
        }

        if (iteration % 10 == 0)
        {
            var all = Nodes.Values.ToArray();
            ClusterNode minPongNode = null;
            for (int j = 0; j < 5 && all.Length > 0; j++)
            {
                var n = all[Random.Shared.Next(all.Length)];
                if (n.Link == null || n.Link.Connecting || n.PingSent != 0) continue;
                if ((n.Flags & (NodeFlags.Myself | NodeFlags.Handshake)) != 0) continue;
                if (minPongNode == null || minPongNode.PongReceived > n.PongReceived) minPongNode = n;
            }
            if (minPongNode != null)
            {
                Log.Debug($"Pinging node {minPongNode.Name}");
                SendPing(minPongNode.Link, BusType.Ping);
            }
        }

        bool update = false;
        foreach (var node in Nodes.Values.ToArray())
        {
            if ((node.Flags & (NodeFlags.Myself | NodeFlags.NoAddr | NodeFlags.Handshake)) != 0) continue;
            long pingDelay = now - node.PingSent, dataDelay = now - node.DataReceived;
            if (node.Link != null && now - node.Link.CTime > nodeTimeout && node.PingSent != 0
                && pingDelay > nodeTimeout / 2 && dataDelay > nodeTimeout / 2)
            {
                Bus.FreeLink(node.Link);
            }
            if (node.Link != null && !node.Link.Connecting && node.PingSent == 0 && now - node.PongReceived > nodeTimeout / 2)
            {
                SendPing(node.Link, BusType.Ping);
                continue;
            }
            if (node.PingSent == 0) continue;
            long nodeDelay = Math.Min(pingDelay, dataDelay);
            if (nodeDelay > nodeTimeout && (node.Flags & (NodeFlags.PFail | NodeFlags.Fail)) == 0)
            {
                Log.Debug($"*** NODE {node.Name} possibly failing");
                node.Flags |= NodeFlags.PFail;
                update = true;
            }
        }
        FailoverCron(now);
        if (update || State == StateFail) UpdateState();
    }
}

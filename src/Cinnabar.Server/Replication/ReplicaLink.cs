using Cinnabar.Server.Network;
using Cinnabar.Server.Persistence;

namespace Cinnabar.Server.Replication;

/// <summary>slave->replstate on the master (server.h SLAVE_STATE_*).</summary>
public enum ReplicaState
{
    /// <summary>Asked for a full sync; waits for an RDB job it can use (or for the diskless delay).</summary>
    WaitBgsaveStart,
    /// <summary>+FULLRESYNC sent; the RDB is being produced (disk) or streamed (diskless). The stream is held.</summary>
    WaitBgsaveEnd,
    /// <summary>Disk sync: the RDB file is being sent as $len + bytes.</summary>
    SendBulk,
    Online,
}

/// <summary>
/// What the master knows about one connection that talks replication to it: what REPLCONF announced
/// (listening port, ip, capabilities), and once it asked for SYNC/PSYNC (<see cref="IsReplica"/>, Redis's
/// CLIENT_SLAVE) its state, acknowledged offset and the stream held back while its RDB is being produced.
/// </summary>
public sealed class ReplicaLink
{
    public readonly Client Client;
    public ReplicaLink(Client client) => Client = client;

    // REPLCONF
    public int ListeningPort;
    public string IpAddress;
    public bool CapaEof, CapaPsync2;
    public bool RdbOnly;

    /// <summary>CLIENT_SLAVE: registered in the master's replica list (after SYNC/PSYNC).</summary>
    public bool IsReplica;
    /// <summary>CLIENT_PRE_PSYNC: came with SYNC; never acknowledges, gets no +FULLRESYNC.</summary>
    public bool PrePsync;
    public ReplicaState State;
    public long AckOffset;
    public long AckTimeUnix;
    public long PsyncInitialOffset;
    public long WaitStartUnix;

    /// <summary>repl_start_cmd_stream_on_ack: online after a diskless sync, the stream starts with its first ACK.</summary>
    public bool StartStreamOnAck;

    /// <summary>The stream accumulated while the RDB is produced or transferred; appended to the output when it may flow.</summary>
    public readonly ByteBuf Held = new(0);

    /// <summary>Disk sync: the RDB file being sent, and how many of its bytes are still to go.</summary>
    public FileStream BulkFile;
    public long BulkLeft;

    /// <summary>Diskless sync: this replica is a target of the running socket job.</summary>
    public bool DisklessTarget;
    /// <summary>A diskless target whose socket could not take more (the transfer waits for it) since this time, or 0.</summary>
    public long StalledSinceUnix;

    /// <summary>Whether the stream goes straight to the socket (online and not waiting for the first ACK).</summary>
    public bool Streaming => State == ReplicaState.Online && !StartStreamOnAck;

    /// <summary>Whether the event loop should ask for more bytes once the output has drained.</summary>
    public bool NeedsRefill => BulkFile != null || DisklessTarget;

    /// <summary>What counts against client-output-buffer-limit replica: the stream bytes not yet written.</summary>
    public long PendingStreamBytes => Held.Length + (Streaming ? Client.Reply.Pending : 0);

    /// <summary>replicationGetSlaveName: "ip:listening-port", "ip:&lt;unknown-replica-port&gt;" or "client id #n".</summary>
    public string Name
    {
        get
        {
            string ip = IpAddress ?? PeerIp(Client.Addr);
            if (ip == null) return $"client id #{Client.Id}";
            if (ListeningPort != 0) return ip.Contains(':') ? $"[{ip}]:{ListeningPort}" : $"{ip}:{ListeningPort}";
            return $"{ip}:<unknown-replica-port>";
        }
    }

    /// <summary>The address part of "ip:port" (Client.Addr).</summary>
    public static string PeerIp(string addr)
    {
        if (string.IsNullOrEmpty(addr)) return null;
        int colon = addr.LastIndexOf(':');
        if (colon <= 0) return null;
        string ip = addr[..colon];
        if (ip.StartsWith('[') && ip.EndsWith(']')) ip = ip[1..^1];
        return ip;
    }

    public string StateName => State switch
    {
        ReplicaState.WaitBgsaveStart or ReplicaState.WaitBgsaveEnd => "wait_bgsave",
        ReplicaState.SendBulk => "send_bulk",
        _ => "online",
    };

    public void CloseBulkFile()
    {
        BulkFile?.Dispose();
        BulkFile = null;
        BulkLeft = 0;
    }
}

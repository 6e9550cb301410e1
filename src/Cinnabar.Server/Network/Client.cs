using System.Text;
using Cinnabar.Server.Protocol;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Network;

[Flags]
public enum ClientFlags
{
    None = 0,
    CloseAfterReply = 1,
    CloseAsap = 2,
    PendingWrite = 4,
    Monitor = 8,
    ReplyOff = 16,
    ReplySkipNext = 32,
    ReplySkip = 64,
    NoEvict = 128,
    WriteRegistered = 256,
    Closed = 512,
    Paused = 1024,
    Blocked = 2048,
    Protected = 4096,   // runs a busy script: not read from or freed until the script ends
    Asking = 8192,      // ASKING: the next command may use an importing slot
    ReadOnlyCluster = 16384,    // READONLY: reads of my master's slots are served here
    Master = 1 << 20,           // CLIENT_MASTER: my master's replication stream (Replication/ReplicationReplica.cs)
}

/// <summary>A client connection: its socket, receive and send buffers, and the session state Redis keeps per client.</summary>
public sealed class Client
{
    public readonly CinnabarServer Server;
    public readonly long Id;
    public readonly int Fd;
    public readonly string Addr;
    public readonly string LAddr;
    public string Name;
    public readonly RequestReader Request = new();
    public readonly ReplyWriter Reply = new();
    public Db Db;
    public bool Authenticated;
    public string User = "default";
    public ClientFlags Flags;
    public readonly long CreatedMs;
    public long LastInteractionMs;
    public string LastCommand = "NULL";
    public int ProtocolVersion => Reply.Resp3 ? 3 : 2;
    public long SoftLimitSinceMs;   // when pending output first went over the soft limit
    public string LibName = "", LibVersion = "";

    public Client(CinnabarServer server, long id, int fd, string addr, string laddr)
    {
        Server = server;
        Id = id;
        Fd = fd;
        Addr = addr;
        LAddr = laddr;
        CreatedMs = Clock.NowMs;
        LastInteractionMs = CreatedMs;
    }

    /// <summary>Arguments held outside the receive buffer: a blocked command run again, a queued MULTI command.</summary>
    public byte[][] ArgOverride;

    /// <summary>The hash slot of the last routed command's keys (c->slot), -1 when it had none.</summary>
    public int ClusterSlot = -1;

    /// <summary>The client that runs a script's redis.call commands (MONITOR shows it as "lua").</summary>
    public bool IsScriptClient;

    // redactClientCommandArgument: arguments (passwords) that MONITOR and SLOWLOG show as "(redacted)".
    ulong redactedArgs;
    public void Redact(int i) => redactedArgs |= 1UL << Math.Min(i, 63);
    public bool IsRedacted(int i) => (redactedArgs & (1UL << Math.Min(i, 63))) != 0;
    public void ClearRedactions() => redactedArgs = 0;

    // Blocking state (Server/Blocking.cs).
    public byte[][] BlockedArgs;
    public List<byte[]> BlockedKeys;
    public long BlockDeadlineMs;
    public Storage.ValueType BlockedType;
    public Action<Client> OnBlockTimeout;
    /// <summary>The command that blocked: its calls are counted when it is answered (served, timed out, unblocked).</summary>
    public Commands.Command BlockedCommand;
    public bool Reexecuting, Reblocked;
    public bool BlockedWakeWhenGone;    // run again when a key is deleted or changes type (XREADGROUP)
    public byte[] BlockedReadyKey;      // while run again: the key whose change woke the client

    // Pub/Sub subscriptions.
    public readonly HashSet<byte[]> Channels = new(Storage.ByteArrayComparer.Instance);
    public readonly HashSet<byte[]> ShardChannels = new(Storage.ByteArrayComparer.Instance);
    public readonly HashSet<byte[]> Patterns = new(Storage.ByteArrayComparer.Instance);
    public bool InPubSub => Channels.Count + Patterns.Count + ShardChannels.Count > 0;

    // MULTI/EXEC state.
    public bool InMulti, DirtyExec, DirtyCas;
    public List<byte[][]> Queued;
    public List<(int db, byte[] key)> Watched;

    // Replication (Replication/): what a replica announced and its state on this master (null for other clients);
    // WAIT's offset (c->woff: master_repl_offset after this client's last command) and what a blocked WAIT waits for.
    public Replication.ReplicaLink ReplicaLink;
    public long WOff;
    public long WaitOffset, WaitReplicas;

    /// <summary>False inside MULTI/EXEC and scripts, where a blocking command answers as if it timed out.</summary>
    public bool CanBlock = true;

    public int ArgCount => ArgOverride?.Length ?? Request.ArgCount;
    public ReadOnlySpan<byte> Arg(int i) => ArgOverride != null ? ArgOverride[i] : Request.Arg(i);

    /// <summary><see cref="Arg"/> as a delegate made once per client (key-spec walks take one).</summary>
    public Func<int, ReadOnlySpan<byte>> ArgAt => argAt ??= Arg;
    Func<int, ReadOnlySpan<byte>> argAt;
    public byte[] ArgBytes(int i) => Arg(i).ToArray();
    public string ArgString(int i) => Encoding.Latin1.GetString(Arg(i));

    /// <summary>The argument as Redis prints it with %s in an error text: up to its first NUL byte.</summary>
    public string ArgText(int i)
    {
        var a = Arg(i);
        int nul = a.IndexOf((byte)0);
        return Encoding.Latin1.GetString(nul < 0 ? a : a[..nul]);
    }

    public bool ArgIs(int i, string lowerAscii) => Ascii.EqualsIgnoreCase(Arg(i), lowerAscii);

    /// <summary>An error reply, counted in INFO errorstats and the command's failed_calls as Redis counts them.</summary>
    public void Error(string text)
    {
        Reply.Error(text);
        Server.Stats.CountError(text);
    }

    public void Error(ReadOnlySpan<byte> text)
    {
        Reply.Error(text);
        Server.Stats.CountError(Encoding.ASCII.GetString(text));
    }

    public void WrongType() => Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    public void Syntax() => Error("ERR syntax error");
    public void NotInteger() => Error("ERR value is not an integer or out of range");
    public void NotFloat() => Error("ERR value is not a valid float");

    public bool TryArgLong(int i, out long v)
    {
        if (Numbers.TryParseInt64(Arg(i), out v)) return true;
        NotInteger();
        return false;
    }

    public bool TryArgDouble(int i, out double v)
    {
        if (Numbers.TryParseDouble(Arg(i), out v)) return true;
        NotFloat();
        return false;
    }
}

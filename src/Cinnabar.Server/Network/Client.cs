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

    // Blocking state (Server/Blocking.cs).
    public byte[][] BlockedArgs;
    public List<byte[]> BlockedKeys;
    public long BlockDeadlineMs;
    public Storage.ValueType BlockedType;
    public Action<Client> OnBlockTimeout;
    public bool Reexecuting, Reblocked;

    // Pub/Sub subscriptions.
    public readonly HashSet<byte[]> Channels = new(Storage.ByteArrayComparer.Instance);
    public readonly HashSet<byte[]> ShardChannels = new(Storage.ByteArrayComparer.Instance);
    public readonly HashSet<byte[]> Patterns = new(Storage.ByteArrayComparer.Instance);
    public bool InPubSub => Channels.Count + Patterns.Count + ShardChannels.Count > 0;

    // MULTI/EXEC state.
    public bool InMulti, DirtyExec, DirtyCas;
    public List<byte[][]> Queued;
    public List<(int db, byte[] key)> Watched;

    /// <summary>False inside MULTI/EXEC and scripts, where a blocking command answers as if it timed out.</summary>
    public bool CanBlock = true;

    public int ArgCount => ArgOverride?.Length ?? Request.ArgCount;
    public ReadOnlySpan<byte> Arg(int i) => ArgOverride != null ? ArgOverride[i] : Request.Arg(i);
    public byte[] ArgBytes(int i) => Arg(i).ToArray();
    public string ArgString(int i) => Encoding.Latin1.GetString(Arg(i));
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

using System.Buffers.Binary;
using System.Text;

namespace Cinnabar.Server.Cluster;

/// <summary>Message types of the cluster bus (CLUSTERMSG_TYPE_*), cluster-bus.md §5.</summary>
public enum BusType : ushort
{
    Ping = 0, Pong = 1, Meet = 2, Fail = 3, Publish = 4, FailoverAuthRequest = 5, FailoverAuthAck = 6,
    Update = 7, MfStart = 8, Module = 9, PublishShard = 10,
}

/// <summary>Node flags (CLUSTER_NODE_*), cluster-bus.md §3.</summary>
public static class NodeFlags
{
    public const int Master = 1, Slave = 2, PFail = 4, Fail = 8, Myself = 16, Handshake = 32, NoAddr = 64,
        Meet = 128, MigrateTo = 256, NoFailover = 512;
}

/// <summary>One gossip entry (clusterMsgDataGossip, 104 bytes).</summary>
public struct GossipEntry
{
    public string NodeName;
    public uint PingSent, PongReceived;   // seconds
    public string Ip;
    public ushort Port, CPort, Flags, PPort;
}

/// <summary>
/// A decoded bus message: the 2256-byte header (clusterMsg) and the body of its type. The codec is pure: bytes in,
/// fields out (<see cref="Decode"/>), fields in, bytes out (<see cref="Encode"/>), so it is tested against the bytes
/// captured from redis-server 7.0.15 without a socket.
/// </summary>
public sealed class BusMessage
{
    public const int HeaderSize = 2256, GossipSize = 104, SlotBytes = 2048, NameLen = 40, IpLen = 46;
    public const int TypeCount = 11;
    public const byte MFlagPaused = 1, MFlagForceAck = 2, MFlagExtData = 4;
    public const ushort ExtHostname = 0;

    public static readonly string[] TypeNames =
        { "ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack", "update", "mfstart", "module", "publishshard" };

    // ---- header ----
    public uint TotLen;
    public ushort Ver = 1;
    public ushort Port;
    public ushort Type;
    public ushort Count;
    public ulong CurrentEpoch, ConfigEpoch, Offset;
    public string Sender = "";
    public byte[] MySlots = new byte[SlotBytes];
    public string SlaveOf;          // null when the 40 bytes are zero ("I am a master")
    public string MyIp = "";        // "" when zero (use the socket peer address)
    public ushort Extensions;
    public ushort PPort, CPort, Flags;
    public byte State;              // 0 ok, 1 fail
    public byte MFlags0;

    // ---- bodies ----
    public List<GossipEntry> Gossip = new();
    public string Hostname;                          // PING/PONG/MEET hostname extension (null: none)
    public List<(ushort type, int length)> UnknownExtensions = new();
    public string FailNodeName;                      // FAIL
    public byte[] Channel, Message;                  // PUBLISH / PUBLISHSHARD
    public ulong UpdateConfigEpoch;                  // UPDATE
    public string UpdateNodeName;
    public byte[] UpdateSlots;
    public ulong ModuleId; public byte ModuleType; public byte[] ModulePayload;   // MODULE

    public BusType MsgType => (BusType)Type;
    public bool IsPingLike => Type <= (ushort)BusType.Meet;

    // ---------------------------------------------------------------- length rules

    /// <summary>
    /// clusterIsValidPacket: the length a message of this type must have, given its buffered bytes; -1 when the
    /// message must be dropped (too short, wrong version, malformed extensions).
    /// </summary>
    public static int ExpectedLength(ReadOnlySpan<byte> m)
    {
        if (m.Length < 16) return -1;
        uint totlen = BinaryPrimitives.ReadUInt32BigEndian(m[4..]);
        if (totlen < 16 || totlen > m.Length) return -1;
        if (BinaryPrimitives.ReadUInt16BigEndian(m[8..]) != 1) return -1;
        if (totlen < HeaderSize) return -1;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(m[12..]);
        switch (type)
        {
            case 0: case 1: case 2:
            {
                int count = BinaryPrimitives.ReadUInt16BigEndian(m[14..]);
                long explen = HeaderSize + (long)GossipSize * count;
                if ((m[2253] & MFlagExtData) != 0)
                {
                    int exts = BinaryPrimitives.ReadUInt16BigEndian(m[2214..]);
                    long pos = explen;
                    while (exts-- > 0)
                    {
                        if (pos + 8 > totlen) return -1;
                        // Redis 7.0 keeps the length in a 16-bit variable: only the low 16 bits count here.
                        ushort extlen = (ushort)BinaryPrimitives.ReadUInt32BigEndian(m[(int)pos..]);
                        if (extlen % 8 != 0) return -1;
                        if (totlen - explen < extlen) return -1;
                        explen += extlen;
                        pos += extlen;
                        if (extlen == 0) break;
                    }
                }
                return (int)Math.Min(explen, int.MaxValue);
            }
            case 3: return HeaderSize + NameLen;
            case 4: case 10:
                if (totlen < HeaderSize + 8) return -1;
                return (int)(HeaderSize + 8 + (long)BinaryPrimitives.ReadUInt32BigEndian(m[2256..]) + BinaryPrimitives.ReadUInt32BigEndian(m[2260..]));
            case 5: case 6: case 8: return HeaderSize;
            case 7: return HeaderSize + 8 + NameLen + SlotBytes;
            case 9:
                if (totlen < HeaderSize + 13) return -1;
                return (int)(HeaderSize + 13 + (long)BinaryPrimitives.ReadUInt32BigEndian(m[2264..]));
            default: return (int)totlen;   // unknown types are accepted with their own length
        }
    }

    // ---------------------------------------------------------------- decode

    /// <summary>Decodes a whole message whose length was checked with <see cref="ExpectedLength"/>.</summary>
    public static BusMessage Decode(ReadOnlySpan<byte> m)
    {
        var msg = new BusMessage
        {
            TotLen = BinaryPrimitives.ReadUInt32BigEndian(m[4..]),
            Ver = BinaryPrimitives.ReadUInt16BigEndian(m[8..]),
            Port = BinaryPrimitives.ReadUInt16BigEndian(m[10..]),
            Type = BinaryPrimitives.ReadUInt16BigEndian(m[12..]),
            Count = BinaryPrimitives.ReadUInt16BigEndian(m[14..]),
            CurrentEpoch = BinaryPrimitives.ReadUInt64BigEndian(m[16..]),
            ConfigEpoch = BinaryPrimitives.ReadUInt64BigEndian(m[24..]),
            Offset = BinaryPrimitives.ReadUInt64BigEndian(m[32..]),
            Sender = Name(m.Slice(40, NameLen)),
            SlaveOf = IsZero(m.Slice(2128, NameLen)) ? null : Name(m.Slice(2128, NameLen)),
            MyIp = CString(m.Slice(2168, IpLen)),
            Extensions = BinaryPrimitives.ReadUInt16BigEndian(m[2214..]),
            PPort = BinaryPrimitives.ReadUInt16BigEndian(m[2246..]),
            CPort = BinaryPrimitives.ReadUInt16BigEndian(m[2248..]),
            Flags = BinaryPrimitives.ReadUInt16BigEndian(m[2250..]),
            State = m[2252],
            MFlags0 = m[2253],
        };
        m.Slice(80, SlotBytes).CopyTo(msg.MySlots);
        var body = m[HeaderSize..];
        switch (msg.Type)
        {
            case 0: case 1: case 2:
                for (int i = 0; i < msg.Count; i++) msg.Gossip.Add(DecodeGossip(body.Slice(i * GossipSize, GossipSize)));
                if ((msg.MFlags0 & MFlagExtData) != 0)
                {
                    int pos = msg.Count * GossipSize;
                    for (int e = 0; e < msg.Extensions && pos + 8 <= body.Length; e++)
                    {
                        int len = (int)BinaryPrimitives.ReadUInt32BigEndian(body[pos..]);
                        ushort type = BinaryPrimitives.ReadUInt16BigEndian(body[(pos + 4)..]);
                        if (len < 8 || pos + len > body.Length) break;
                        if (type == ExtHostname) msg.Hostname = CString(body.Slice(pos + 8, len - 8));
                        else msg.UnknownExtensions.Add((type, len));
                        pos += len;
                    }
                }
                break;
            case 3:
                msg.FailNodeName = Name(body[..NameLen]);
                break;
            case 4: case 10:
            {
                int clen = (int)BinaryPrimitives.ReadUInt32BigEndian(body);
                int mlen = (int)BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
                msg.Channel = body.Slice(8, clen).ToArray();
                msg.Message = body.Slice(8 + clen, mlen).ToArray();
                break;
            }
            case 7:
                msg.UpdateConfigEpoch = BinaryPrimitives.ReadUInt64BigEndian(body);
                msg.UpdateNodeName = Name(body.Slice(8, NameLen));
                msg.UpdateSlots = body.Slice(48, SlotBytes).ToArray();
                break;
            case 9:
                msg.ModuleId = BinaryPrimitives.ReadUInt64LittleEndian(body);   // sender's host order (x86/ARM: little)
                int plen = (int)BinaryPrimitives.ReadUInt32BigEndian(body[8..]);
                msg.ModuleType = body[12];
                msg.ModulePayload = body.Slice(13, plen).ToArray();
                break;
        }
        return msg;
    }

    static GossipEntry DecodeGossip(ReadOnlySpan<byte> g) => new()
    {
        NodeName = Name(g[..NameLen]),
        PingSent = BinaryPrimitives.ReadUInt32BigEndian(g[40..]),
        PongReceived = BinaryPrimitives.ReadUInt32BigEndian(g[44..]),
        Ip = CString(g.Slice(48, IpLen)),
        Port = BinaryPrimitives.ReadUInt16BigEndian(g[94..]),
        CPort = BinaryPrimitives.ReadUInt16BigEndian(g[96..]),
        Flags = BinaryPrimitives.ReadUInt16BigEndian(g[98..]),
        PPort = BinaryPrimitives.ReadUInt16BigEndian(g[100..]),
    };

    static string Name(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    static string CString(ReadOnlySpan<byte> b)
    {
        int nul = b.IndexOf((byte)0);
        return Encoding.Latin1.GetString(nul < 0 ? b : b[..nul]);
    }

    static bool IsZero(ReadOnlySpan<byte> b) => b.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>verifyClusterNodeId: exactly 40 characters of a-z and 0-9.</summary>
    public static bool IsValidNodeId(string id)
    {
        if (id == null || id.Length != NameLen) return false;
        foreach (char ch in id)
            if (!(ch is >= 'a' and <= 'z' or >= '0' and <= '9')) return false;
        return true;
    }

    // ---------------------------------------------------------------- encode

    public static int HostnameExtSize(string hostname) => hostname.Length == 0 ? 0 : 8 + ((hostname.Length + 1 + 7) & ~7);

    /// <summary>The exact bytes of this message (totlen, count and extensions computed from the bodies).</summary>
    public byte[] Encode()
    {
        int bodyLen;
        string hostname = Hostname ?? "";
        switch ((BusType)Type)
        {
            case BusType.Ping: case BusType.Pong: case BusType.Meet:
                bodyLen = Gossip.Count * GossipSize + HostnameExtSize(hostname);
                break;
            case BusType.Fail: bodyLen = NameLen; break;
            case BusType.Publish: case BusType.PublishShard: bodyLen = 8 + Channel.Length + Message.Length; break;
            case BusType.Update: bodyLen = 8 + NameLen + SlotBytes; break;
            case BusType.Module: bodyLen = 13 + ModulePayload.Length; break;
            default: bodyLen = 0; break;
        }
        var m = new byte[HeaderSize + bodyLen];
        var s = m.AsSpan();
        "RCmb"u8.CopyTo(s);
        BinaryPrimitives.WriteUInt32BigEndian(s[4..], (uint)m.Length);
        BinaryPrimitives.WriteUInt16BigEndian(s[8..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(s[10..], Port);
        BinaryPrimitives.WriteUInt16BigEndian(s[12..], Type);
        BinaryPrimitives.WriteUInt64BigEndian(s[16..], CurrentEpoch);
        BinaryPrimitives.WriteUInt64BigEndian(s[24..], ConfigEpoch);
        BinaryPrimitives.WriteUInt64BigEndian(s[32..], Offset);
        PutName(s.Slice(40, NameLen), Sender);
        MySlots.AsSpan(0, SlotBytes).CopyTo(s[80..]);
        if (SlaveOf != null) PutName(s.Slice(2128, NameLen), SlaveOf);
        PutName(s.Slice(2168, IpLen - 1), MyIp ?? "");
        BinaryPrimitives.WriteUInt16BigEndian(s[2246..], PPort);
        BinaryPrimitives.WriteUInt16BigEndian(s[2248..], CPort);
        BinaryPrimitives.WriteUInt16BigEndian(s[2250..], Flags);
        s[2252] = State;
        byte mflags = (byte)(MFlags0 & ~MFlagExtData);
        var body = s[HeaderSize..];
        switch ((BusType)Type)
        {
            case BusType.Ping: case BusType.Pong: case BusType.Meet:
            {
                BinaryPrimitives.WriteUInt16BigEndian(s[14..], (ushort)Gossip.Count);
                for (int i = 0; i < Gossip.Count; i++) EncodeGossip(body.Slice(i * GossipSize, GossipSize), Gossip[i]);
                if (hostname.Length > 0)
                {
                    var ext = body[(Gossip.Count * GossipSize)..];
                    BinaryPrimitives.WriteUInt32BigEndian(ext, (uint)HostnameExtSize(hostname));
                    BinaryPrimitives.WriteUInt16BigEndian(ext[4..], ExtHostname);
                    PutName(ext[8..], hostname);
                    mflags |= MFlagExtData;
                    BinaryPrimitives.WriteUInt16BigEndian(s[2214..], 1);
                }
                break;
            }
            case BusType.Fail:
                PutName(body, FailNodeName);
                break;
            case BusType.Publish: case BusType.PublishShard:
                BinaryPrimitives.WriteUInt32BigEndian(body, (uint)Channel.Length);
                BinaryPrimitives.WriteUInt32BigEndian(body[4..], (uint)Message.Length);
                Channel.CopyTo(body[8..]);
                Message.CopyTo(body[(8 + Channel.Length)..]);
                break;
            case BusType.Update:
                BinaryPrimitives.WriteUInt64BigEndian(body, UpdateConfigEpoch);
                PutName(body.Slice(8, NameLen), UpdateNodeName);
                UpdateSlots.AsSpan(0, SlotBytes).CopyTo(body[48..]);
                break;
            case BusType.Module:
                BinaryPrimitives.WriteUInt64LittleEndian(body, ModuleId);
                BinaryPrimitives.WriteUInt32BigEndian(body[8..], (uint)ModulePayload.Length);
                body[12] = ModuleType;
                ModulePayload.CopyTo(body[13..]);
                break;
        }
        s[2253] = mflags;
        return m;
    }

    static void EncodeGossip(Span<byte> g, in GossipEntry e)
    {
        PutName(g[..NameLen], e.NodeName);
        BinaryPrimitives.WriteUInt32BigEndian(g[40..], e.PingSent);
        BinaryPrimitives.WriteUInt32BigEndian(g[44..], e.PongReceived);
        PutName(g.Slice(48, IpLen - 1), e.Ip ?? "");
        BinaryPrimitives.WriteUInt16BigEndian(g[94..], e.Port);
        BinaryPrimitives.WriteUInt16BigEndian(g[96..], e.CPort);
        BinaryPrimitives.WriteUInt16BigEndian(g[98..], e.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(g[100..], e.PPort);
    }

    static void PutName(Span<byte> dest, string s)
    {
        int n = Math.Min(dest.Length, s.Length);
        for (int i = 0; i < n; i++) dest[i] = (byte)s[i];
    }

    // ---------------------------------------------------------------- slot bitmaps

    public static bool TestSlot(byte[] bitmap, int slot) => (bitmap[slot >> 3] & (1 << (slot & 7))) != 0;
    public static void SetSlot(byte[] bitmap, int slot) => bitmap[slot >> 3] |= (byte)(1 << (slot & 7));
    public static void ClearSlot(byte[] bitmap, int slot) => bitmap[slot >> 3] &= (byte)~(1 << (slot & 7));
}

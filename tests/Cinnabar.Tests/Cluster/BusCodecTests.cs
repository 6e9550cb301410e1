using System.Buffers.Binary;
using System.Text;
using Cinnabar.Server.Cluster;
using Xunit;

namespace Cinnabar.Tests.Cluster;

/// <summary>
/// The bus codec against the bytes captured from redis-server 7.0.15 in cluster-bus.md §12: every message built
/// from the same fields encodes to exactly those bytes, and decodes back to the fields.
/// </summary>
public sealed class BusCodecTests
{
    /// <summary>Writes hex bytes ("52 43 6d 62 ...") at an offset of a zeroed buffer: the spec's dump, transcribed.</summary>
    static void Put(byte[] m, int offset, string hex)
    {
        foreach (var b in hex.Split(' ', StringSplitOptions.RemoveEmptyEntries)) m[offset++] = Convert.ToByte(b, 16);
    }

    static void PutAscii(byte[] m, int offset, string s) => Encoding.ASCII.GetBytes(s).CopyTo(m, offset);

    /// <summary>§12.1: a fresh master's MEET, 2256 bytes, no gossip, no extension.</summary>
    static byte[] CapturedMeet()
    {
        var m = new byte[2256];
        Put(m, 0x00, "52 43 6d 62 00 00 08 d0 00 01 1b 59 00 02 00 00");
        Put(m, 0x10, "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
        Put(m, 0x20, "00 00 00 00 00 00 00 00 39 34 62 37 63 63 38 63");
        Put(m, 0x30, "32 35 66 63 65 66 37 37 38 36 31 34 66 34 38 34");
        Put(m, 0x40, "39 64 34 63 37 39 37 34 30 61 62 66 62 39 34 34");
        Put(m, 0x8c6, "00 00 42 69 00 11 01 00 00 00");
        return m;
    }

    [Fact]
    public void MeetEncodesToTheCapturedBytes()
    {
        var msg = new BusMessage
        {
            Type = (ushort)BusType.Meet, Port = 7001, CPort = 17001, Flags = NodeFlags.Master | NodeFlags.Myself, State = 1,
            Sender = "94b7cc8c25fcef778614f4849d4c79740abfb944",
        };
        Assert.Equal(CapturedMeet(), msg.Encode());
    }

    [Fact]
    public void MeetDecodes()
    {
        var bytes = CapturedMeet();
        Assert.Equal(2256, BusMessage.ExpectedLength(bytes));
        var m = BusMessage.Decode(bytes);
        Assert.Equal(BusType.Meet, m.MsgType);
        Assert.Equal(2256u, m.TotLen);
        Assert.Equal(7001, m.Port);
        Assert.Equal(17001, m.CPort);
        Assert.Equal(0x11, m.Flags);
        Assert.Equal(1, m.State);
        Assert.Equal("94b7cc8c25fcef778614f4849d4c79740abfb944", m.Sender);
        Assert.Null(m.SlaveOf);
        Assert.Equal("", m.MyIp);
        Assert.Empty(m.Gossip);
        Assert.Null(m.Hostname);
    }

    /// <summary>§12.2: a PONG from the master of slots 0-5460 with one gossip entry (2360 bytes).</summary>
    static byte[] CapturedPong()
    {
        var m = new byte[2360];
        Put(m, 0x00, "52 43 6d 62 00 00 09 38 00 01 1b 59 00 01 00 01");
        Put(m, 0x10, "00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 01");
        Put(m, 0x20, "00 00 00 00 00 00 00 46 31 37 30 38 31 66 64 62");
        PutAscii(m, 0x28, "17081fdb406ef5a347d976d47e521f6af8773a7b");
        for (int i = 0; i < 682; i++) m[0x50 + i] = 0xff;
        m[0x50 + 682] = 0x1f;
        Put(m, 0x8c6, "00 00 42 69 01 11 00 00 00 00");
        Put(m, 0x8d0, "30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66");
        Put(m, 0x8e0, "30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66");
        Put(m, 0x8f0, "30 31 32 33 34 35 36 37 00 00 00 00 6b 06 12 7d");
        Put(m, 0x900, "31 32 37 2e 30 2e 30 2e 31 00");
        Put(m, 0x92e, "1f 3f 46 4f 00 01 00 00 00 00");
        return m;
    }

    static GossipEntry CapturedGossip => new()
    {
        NodeName = "0123456789abcdef0123456789abcdef01234567", PingSent = 0, PongReceived = 0x6b06127d,
        Ip = "127.0.0.1", Port = 7999, CPort = 17999, Flags = NodeFlags.Master,
    };

    static BusMessage PongFields()
    {
        var msg = new BusMessage
        {
            Type = (ushort)BusType.Pong, Port = 7001, CPort = 17001, State = 0,
            Flags = NodeFlags.Master | NodeFlags.Myself | NodeFlags.MigrateTo,
            CurrentEpoch = 7, ConfigEpoch = 1, Offset = 70,
            Sender = "17081fdb406ef5a347d976d47e521f6af8773a7b",
        };
        for (int s = 0; s <= 5460; s++) BusMessage.SetSlot(msg.MySlots, s);
        msg.Gossip.Add(CapturedGossip);
        return msg;
    }

    [Fact]
    public void PongWithGossipEncodesToTheCapturedBytes() => Assert.Equal(CapturedPong(), PongFields().Encode());

    [Fact]
    public void PongWithGossipDecodes()
    {
        var bytes = CapturedPong();
        Assert.Equal(2360, BusMessage.ExpectedLength(bytes));
        var m = BusMessage.Decode(bytes);
        Assert.Equal(BusType.Pong, m.MsgType);
        Assert.Equal(7ul, m.CurrentEpoch);
        Assert.Equal(1ul, m.ConfigEpoch);
        Assert.Equal(70ul, m.Offset);
        Assert.Equal(0x0111, m.Flags);
        Assert.True(BusMessage.TestSlot(m.MySlots, 0));
        Assert.True(BusMessage.TestSlot(m.MySlots, 5460));
        Assert.False(BusMessage.TestSlot(m.MySlots, 5461));
        var g = Assert.Single(m.Gossip);
        Assert.Equal(CapturedGossip.NodeName, g.NodeName);
        Assert.Equal(0x6b06127du, g.PongReceived);
        Assert.Equal("127.0.0.1", g.Ip);
        Assert.Equal(7999, g.Port);
        Assert.Equal(17999, g.CPort);
        Assert.Equal(1, g.Flags);
    }

    /// <summary>§12.3: the hostname extension after three gossip entries; EXT_DATA set, extensions = 1.</summary>
    [Fact]
    public void HostnameExtensionMatchesTheCapturedBytes()
    {
        var msg = PongFields();
        msg.Gossip.Add(CapturedGossip);
        msg.Gossip.Add(CapturedGossip);
        msg.Hostname = "node1.example.com";
        var bytes = msg.Encode();
        Assert.Equal(2600, bytes.Length);
        Assert.Equal(2600u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(14)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(2214)));
        Assert.Equal(0x04, bytes[2253]);
        var ext = new byte[32];
        Put(ext, 0, "00 00 00 20 00 00 00 00 6e 6f 64 65 31 2e 65 78");
        Put(ext, 16, "61 6d 70 6c 65 2e 63 6f 6d 00 00 00 00 00 00 00");
        Assert.Equal(ext, bytes.AsSpan(0x0a08, 32).ToArray());
        Assert.Equal(2600, BusMessage.ExpectedLength(bytes));
        Assert.Equal("node1.example.com", BusMessage.Decode(bytes).Hostname);
        Assert.Equal(32, BusMessage.HostnameExtSize("node1.example.com"));
    }

    [Fact]
    public void ExtensionBytesWithoutTheFlagFailTheLengthCheck()
    {
        var msg = PongFields();
        msg.Hostname = "h";
        var bytes = msg.Encode();
        bytes[2253] = 0;   // EXT_DATA cleared: the extension is not counted, so totlen no longer matches
        Assert.NotEqual(bytes.Length, BusMessage.ExpectedLength(bytes));
    }

    [Fact]
    public void UnknownExtensionTypesAreSkippedByLength()
    {
        var msg = PongFields();
        msg.Hostname = "abc";
        var bytes = msg.Encode();
        // Append an extension of a type 7.0 does not know (a later version's), 16 bytes long.
        var longer = new byte[bytes.Length + 16];
        bytes.CopyTo(longer, 0);
        BinaryPrimitives.WriteUInt32BigEndian(longer.AsSpan(bytes.Length), 16);
        BinaryPrimitives.WriteUInt16BigEndian(longer.AsSpan(bytes.Length + 4), 3);
        BinaryPrimitives.WriteUInt32BigEndian(longer.AsSpan(4), (uint)longer.Length);
        BinaryPrimitives.WriteUInt16BigEndian(longer.AsSpan(2214), 2);
        Assert.Equal(longer.Length, BusMessage.ExpectedLength(longer));
        var m = BusMessage.Decode(longer);
        Assert.Equal("abc", m.Hostname);
        Assert.Equal((ushort)3, Assert.Single(m.UnknownExtensions).type);
    }

    /// <summary>§12.4: a FAIL sent by a replica, 2296 bytes.</summary>
    [Fact]
    public void FailMatchesTheCapturedBytes()
    {
        var msg = new BusMessage
        {
            Type = (ushort)BusType.Fail, Port = 7005, CPort = 17005, Flags = NodeFlags.Slave | NodeFlags.Myself,
            Sender = "b6159e783a1af71794be2ab51cc86eef748f34e1", SlaveOf = "9e575e5725698320cf12e72b5a41a27463f7ece1",
            FailNodeName = "9e575e5725698320cf12e72b5a41a27463f7ece1",
        };
        var bytes = msg.Encode();
        Assert.Equal(2296, bytes.Length);
        var tail = new byte[10];
        Put(tail, 0, "00 00 42 6d 00 12 00 00 00 00");
        Assert.Equal(tail, bytes.AsSpan(0x8c6, 10).ToArray());
        var name = new byte[40];
        Put(name, 0, "39 65 35 37 35 65 35 37 32 35 36 39 38 33 32 30 63 66 31 32 65 37 32 62 35 61 34 31 61 32 37 34 36 33 66 37 65 63 65 31");
        Assert.Equal(name, bytes.AsSpan(0x8d0, 40).ToArray());
        Assert.Equal(2296, BusMessage.ExpectedLength(bytes));
        var m = BusMessage.Decode(bytes);
        Assert.Equal("9e575e5725698320cf12e72b5a41a27463f7ece1", m.FailNodeName);
        Assert.Equal("9e575e5725698320cf12e72b5a41a27463f7ece1", m.SlaveOf);
    }

    [Fact]
    public void PublishUpdateAndHeaderOnlyTypesRoundTrip()
    {
        var pub = new BusMessage { Type = (ushort)BusType.PublishShard, Sender = new string('a', 40), Channel = "ch"u8.ToArray(), Message = "hello"u8.ToArray() };
        var bytes = pub.Encode();
        Assert.Equal(2264 + 2 + 5, bytes.Length);
        Assert.Equal(bytes.Length, BusMessage.ExpectedLength(bytes));
        var p = BusMessage.Decode(bytes);
        Assert.Equal("ch", Encoding.ASCII.GetString(p.Channel));
        Assert.Equal("hello", Encoding.ASCII.GetString(p.Message));

        var upd = new BusMessage { Type = (ushort)BusType.Update, Sender = new string('b', 40), UpdateConfigEpoch = 9, UpdateNodeName = new string('c', 40), UpdateSlots = new byte[2048] };
        BusMessage.SetSlot(upd.UpdateSlots, 866);
        bytes = upd.Encode();
        Assert.Equal(4352, bytes.Length);
        Assert.Equal(4352, BusMessage.ExpectedLength(bytes));
        var u = BusMessage.Decode(bytes);
        Assert.Equal(9ul, u.UpdateConfigEpoch);
        Assert.True(BusMessage.TestSlot(u.UpdateSlots, 866));

        var req = new BusMessage { Type = (ushort)BusType.FailoverAuthRequest, Sender = new string('d', 40), MFlags0 = BusMessage.MFlagForceAck };
        bytes = req.Encode();
        Assert.Equal(2256, bytes.Length);
        Assert.Equal(2, bytes[2253]);
    }

    [Fact]
    public void BadVersionAndUnknownTypes()
    {
        var bytes = CapturedMeet();
        bytes[9] = 2;   // ver 2: dropped
        Assert.Equal(-1, BusMessage.ExpectedLength(bytes));
        bytes = CapturedMeet();
        bytes[13] = 42;   // a type 7.0 does not know: accepted with its own length, ignored later
        Assert.Equal(2256, BusMessage.ExpectedLength(bytes));
        bytes = CapturedMeet();
        bytes[15] = 1;    // claims one gossip entry it does not carry
        Assert.NotEqual(2256, BusMessage.ExpectedLength(bytes));
    }

    [Theory]
    [InlineData("17081fdb406ef5a347d976d47e521f6af8773a7b", true)]
    [InlineData("17081FDB406EF5A347D976D47E521F6AF8773A7B", false)]
    [InlineData("17081fdb", false)]
    [InlineData("17081fdb406ef5a347d976d47e521f6af8773a7!", false)]
    public void NodeIdValidation(string id, bool valid) => Assert.Equal(valid, BusMessage.IsValidNodeId(id));
}

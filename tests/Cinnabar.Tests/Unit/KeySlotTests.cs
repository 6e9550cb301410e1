using System.Text;
using Cinnabar.Server.Cluster;
using Xunit;

namespace Cinnabar.Tests.Unit;

/// <summary>CRC16/XMODEM and hash tags, against the check value and slots redis-server 7.0 reports.</summary>
public sealed class KeySlotTests
{
    [Fact]
    public void Crc16CheckValue() => Assert.Equal(0x31C3, KeySlot.Crc16("123456789"u8));

    [Theory]
    [InlineData("foo", 12182)]
    [InlineData("bar", 5061)]
    [InlineData("hello", 866)]
    [InlineData("{user1000}.following", 3443)]
    [InlineData("{user1000}.followers", 3443)]
    [InlineData("user1000", 3443)]
    [InlineData("foo{}{bar}", 8363)]      // an empty first tag: the whole key
    [InlineData("foo{{bar}}zap", 4015)]   // tag "{bar"
    [InlineData("foo{bar}{zap}", 5061)]   // the first tag only
    [InlineData("", 0)]
    public void SlotOfKey(string key, int slot) => Assert.Equal(slot, KeySlot.Of(Encoding.ASCII.GetBytes(key)));
}

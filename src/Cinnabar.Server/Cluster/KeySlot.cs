namespace Cinnabar.Server.Cluster;

/// <summary>keyHashSlot: CRC16 (XMODEM) of the key, or of its hash tag — the bytes between the first '{' and the
/// next '}' when that is not empty — modulo 16384.</summary>
public static class KeySlot
{
    static readonly ushort[] Table = BuildTable();

    static ushort[] BuildTable()
    {
        var t = new ushort[256];
        for (int i = 0; i < 256; i++)
        {
            int crc = i << 8;
            for (int b = 0; b < 8; b++) crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            t[i] = (ushort)crc;
        }
        return t;
    }

    public static ushort Crc16(ReadOnlySpan<byte> data)
    {
        int crc = 0;
        foreach (byte b in data) crc = (crc << 8) ^ Table[((crc >> 8) ^ b) & 0xFF];
        return (ushort)crc;
    }

    public static int Of(ReadOnlySpan<byte> key)
    {
        int open = key.IndexOf((byte)'{');
        if (open >= 0)
        {
            int close = key[(open + 1)..].IndexOf((byte)'}');
            if (close > 0) key = key.Slice(open + 1, close);
        }
        return Crc16(key) & 0x3FFF;
    }
}

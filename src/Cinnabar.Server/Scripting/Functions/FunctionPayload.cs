namespace Cinnabar.Server.Scripting.Functions;

/// <summary>
/// FUNCTION DUMP / RESTORE payloads: per library the RDB opcode FUNCTION2 (245) and the library code as an
/// RDB string, then the RDB version (10, little endian) and a CRC-64 (Jones, reflected) of all that.
/// Dumps write plain strings; restores also read LZF-compressed and integer-encoded strings, which is how
/// redis-server writes code longer than 20 bytes.
/// </summary>
public static class FunctionPayload
{
    const byte OpcodeFunction2 = 245, OpcodeFunctionPreGa = 246;
    const int RdbVersion = 10;

    public static byte[] Dump(IEnumerable<LibraryInfo> libs)
    {
        var ms = new MemoryStream();
        foreach (var lib in libs)
        {
            ms.WriteByte(OpcodeFunction2);
            WriteLength(ms, lib.Code.Length);
            ms.Write(lib.Code);
        }
        ms.WriteByte(RdbVersion & 0xff);
        ms.WriteByte(RdbVersion >> 8);
        ulong crc = Crc64(ms.GetBuffer().AsSpan(0, (int)ms.Length));
        Span<byte> c = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(c, crc);
        ms.Write(c);
        return ms.ToArray();
    }

    static void WriteLength(Stream s, long len)
    {
        if (len < 64) s.WriteByte((byte)len);
        else if (len < 16384) { s.WriteByte((byte)(0x40 | (len >> 8))); s.WriteByte((byte)len); }
        else if (len <= uint.MaxValue)
        {
            s.WriteByte(0x80);
            s.WriteByte((byte)(len >> 24)); s.WriteByte((byte)(len >> 16)); s.WriteByte((byte)(len >> 8)); s.WriteByte((byte)len);
        }
        else
        {
            s.WriteByte(0x81);
            for (int i = 7; i >= 0; i--) s.WriteByte((byte)(len >> (8 * i)));
        }
    }

    /// <summary>Parses a payload into library codes; returns the error text or null.</summary>
    public static string Parse(byte[] data, out List<byte[]> codes)
    {
        codes = new List<byte[]>();
        if (data.Length < 10) return "DUMP payload version or checksum are wrong";
        int ver = data[^10] | (data[^9] << 8);
        if (ver > RdbVersion) return "DUMP payload version or checksum are wrong";
        ulong crc = Crc64(data.AsSpan(0, data.Length - 8));
        if (crc != System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(data.Length - 8))) return "DUMP payload version or checksum are wrong";
        int pos = 0;
        int end = data.Length - 10;
        while (pos < end)
        {
            byte type = data[pos++];
            if (type == OpcodeFunctionPreGa) return "Pre-GA function format not supported";
            if (type != OpcodeFunction2) return "given type is not a function";
            var s = ReadString(data, ref pos, end);
            if (s == null) return "failed loading the given functions payload";
            codes.Add(s);
        }
        return null;
    }

    static bool ReadLength(byte[] d, ref int pos, int end, out long len, out bool encoded)
    {
        len = 0;
        encoded = false;
        if (pos >= end) return false;
        byte b = d[pos++];
        int kind = b >> 6;
        switch (kind)
        {
            case 0: len = b & 0x3f; return true;
            case 1:
                if (pos >= end) return false;
                len = ((b & 0x3f) << 8) | d[pos++];
                return true;
            case 2:
                if (b == 0x80)
                {
                    if (pos + 4 > end) return false;
                    len = ((long)d[pos] << 24) | ((long)d[pos + 1] << 16) | ((long)d[pos + 2] << 8) | d[pos + 3];
                    pos += 4;
                    return true;
                }
                if (b == 0x81)
                {
                    if (pos + 8 > end) return false;
                    for (int i = 0; i < 8; i++) len = (len << 8) | d[pos + i];
                    pos += 8;
                    return true;
                }
                return false;
            default:
                encoded = true;
                len = b & 0x3f;
                return true;
        }
    }

    static byte[] ReadString(byte[] d, ref int pos, int end)
    {
        if (!ReadLength(d, ref pos, end, out long len, out bool encoded)) return null;
        if (encoded)
        {
            switch (len)
            {
                case 0: if (pos + 1 > end) return null; return Encoding.ASCII.GetBytes(((sbyte)d[pos++]).ToString());
                case 1:
                    if (pos + 2 > end) return null;
                    { short v = (short)(d[pos] | (d[pos + 1] << 8)); pos += 2; return Encoding.ASCII.GetBytes(v.ToString()); }
                case 2:
                    if (pos + 4 > end) return null;
                    { int v = d[pos] | (d[pos + 1] << 8) | (d[pos + 2] << 16) | (d[pos + 3] << 24); pos += 4; return Encoding.ASCII.GetBytes(v.ToString()); }
                case 3:
                {
                    if (!ReadLength(d, ref pos, end, out long clen, out _)) return null;
                    if (!ReadLength(d, ref pos, end, out long ulen, out _)) return null;
                    if (pos + clen > end) return null;
                    var output = new byte[ulen];
                    if (!LzfDecompress(d.AsSpan(pos, (int)clen), output)) return null;
                    pos += (int)clen;
                    return output;
                }
                default: return null;
            }
        }
        if (pos + len > end) return null;
        var s = d.AsSpan(pos, (int)len).ToArray();
        pos += (int)len;
        return s;
    }

    static bool LzfDecompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int ip = 0, op = 0;
        while (ip < input.Length)
        {
            int ctrl = input[ip++];
            if (ctrl < 32)
            {
                int n = ctrl + 1;
                if (op + n > output.Length || ip + n > input.Length) return false;
                input.Slice(ip, n).CopyTo(output[op..]);
                ip += n; op += n;
            }
            else
            {
                int len = ctrl >> 5;
                int back = op - ((ctrl & 0x1f) << 8) - 1;
                if (len == 7)
                {
                    if (ip >= input.Length) return false;
                    len += input[ip++];
                }
                if (ip >= input.Length) return false;
                back -= input[ip++];
                len += 2;
                if (back < 0 || op + len > output.Length) return false;
                for (int i = 0; i < len; i++) output[op++] = output[back++];
            }
        }
        return op == output.Length;
    }

    static ulong[] crcTable;

    public static ulong Crc64(ReadOnlySpan<byte> data)
    {
        if (crcTable == null)
        {
            var t = new ulong[256];
            const ulong poly = 0x95AC9329AC4BC9B5UL;
            for (uint i = 0; i < 256; i++)
            {
                ulong c = i;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1;
                t[i] = c;
            }
            crcTable = t;
        }
        ulong crc = 0;
        foreach (byte b in data) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >> 8);
        return crc;
    }
}

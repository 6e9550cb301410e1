using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// CRC-64/Jones as Redis uses it for RDB files and DUMP payloads: reflected polynomial 0x95AC9329AC4BC9B5,
/// initial value 0, no final xor (crc64("123456789") = 0xe9c6d914c4b8d9ca). Slicing-by-8 tables, and for
/// 64 bytes and more carry-less multiplication (PCLMULQDQ) folding 4 x 16 bytes at a time, about 8 times
/// faster here (loading a 117 MB file spent 100+ ms in the tables); chaining Update calls equals one call
/// over the concatenation.
/// </summary>
public static class Crc64
{
    const ulong Poly = 0x95AC9329AC4BC9B5UL;
    static readonly ulong[] T = BuildTables();

    static ulong[] BuildTables()
    {
        var t = new ulong[8 * 256];
        for (int n = 0; n < 256; n++)
        {
            ulong c = (ulong)n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ Poly : c >> 1;
            t[n] = c;
        }
        for (int n = 0; n < 256; n++)
        {
            ulong c = t[n];
            for (int k = 1; k < 8; k++)
            {
                c = t[c & 0xff] ^ (c >> 8);
                t[k * 256 + n] = c;
            }
        }
        return t;
    }

    // Folding a 16-byte block B forward by D bytes: lo(B) * (x^(8D+63) mod P) ^ hi(B) * (x^(8D-1) mod P), in
    // the bit-reflected domain; the result is congruent to B followed by D zero bytes, so xoring the block D
    // bytes further on keeps the running remainder. The last folded block goes through the tables.
    static readonly Vector128<ulong> Fold16 = FoldConstants(16), Fold32 = FoldConstants(32),
        Fold48 = FoldConstants(48), Fold64 = FoldConstants(64);

    static Vector128<ulong> FoldConstants(int bytes) => Vector128.Create(XPowModP(8 * bytes + 63), XPowModP(8 * bytes - 1));

    /// <summary>x^n mod P, bit-reflected (P's normal form is the reverse of <see cref="Poly"/>).</summary>
    static ulong XPowModP(int n)
    {
        ulong normal = Reverse(Poly), r = 1;
        for (int i = 0; i < n; i++) r = (r << 1) ^ ((r >> 63) != 0 ? normal : 0);
        return Reverse(r);
    }

    static ulong Reverse(ulong x)
    {
        ulong r = 0;
        for (int i = 0; i < 64; i++, x >>= 1) r = (r << 1) | (x & 1);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ulong Update(ulong crc, ReadOnlySpan<byte> data)
    {
        if (data.Length >= 64 && Pclmulqdq.IsSupported) return UpdateClmul(crc, data);
        return UpdateTables(crc, data);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static ulong UpdateClmul(ulong crc, ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        var x0 = Vector128.LoadUnsafe(ref p).AsUInt64() ^ Vector128.CreateScalar(crc);
        var x1 = Vector128.LoadUnsafe(ref p, 16).AsUInt64();
        var x2 = Vector128.LoadUnsafe(ref p, 32).AsUInt64();
        var x3 = Vector128.LoadUnsafe(ref p, 48).AsUInt64();
        var k64 = Fold64;
        int i = 64;
        for (; data.Length - i >= 64; i += 64)
        {
            x0 = Fold(x0, k64) ^ Vector128.LoadUnsafe(ref p, (nuint)i).AsUInt64();
            x1 = Fold(x1, k64) ^ Vector128.LoadUnsafe(ref p, (nuint)(i + 16)).AsUInt64();
            x2 = Fold(x2, k64) ^ Vector128.LoadUnsafe(ref p, (nuint)(i + 32)).AsUInt64();
            x3 = Fold(x3, k64) ^ Vector128.LoadUnsafe(ref p, (nuint)(i + 48)).AsUInt64();
        }
        var x = Fold(x0, Fold48) ^ Fold(x1, Fold32) ^ Fold(x2, Fold16) ^ x3;
        for (; data.Length - i >= 16; i += 16) x = Fold(x, Fold16) ^ Vector128.LoadUnsafe(ref p, (nuint)i).AsUInt64();
        Span<byte> last = stackalloc byte[16];
        x.AsByte().CopyTo(last);
        return UpdateTables(UpdateTables(0, last), data[i..]);
    }

    static Vector128<ulong> Fold(Vector128<ulong> x, Vector128<ulong> k) =>
        Pclmulqdq.CarrylessMultiply(x, k, 0x00) ^ Pclmulqdq.CarrylessMultiply(x, k, 0x11);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static ulong UpdateTables(ulong crc, ReadOnlySpan<byte> data)
    {
        var t = T;
        int i = 0;
        while (data.Length - i >= 8)
        {
            crc ^= BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
            crc = t[7 * 256 + (crc & 0xff)] ^ t[6 * 256 + ((crc >> 8) & 0xff)] ^ t[5 * 256 + ((crc >> 16) & 0xff)]
                ^ t[4 * 256 + ((crc >> 24) & 0xff)] ^ t[3 * 256 + ((crc >> 32) & 0xff)] ^ t[2 * 256 + ((crc >> 40) & 0xff)]
                ^ t[256 + ((crc >> 48) & 0xff)] ^ t[crc >> 56];
            i += 8;
        }
        for (; i < data.Length; i++) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
        return crc;
    }

    public static ulong Compute(ReadOnlySpan<byte> data) => Update(0, data);
}

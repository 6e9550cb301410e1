using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// LZF as Redis 7.0 builds liblzf (lzfP.h: HLOG 16, VERY_FAST, not ULTRA_FAST, CHECK_INPUT), so compressed
/// strings in RDB files and DUMP payloads come out byte for byte as redis-server 7.0's. (Later liblzf copies
/// add an "ip + 4 &lt; in_end" guard to the match test; 7.0.15's does not have it, and its output shows it: a
/// 3-byte match ending exactly at the input's end is taken.)
///
/// One difference is deliberate: Redis leaves the hash table uninitialised (INIT_HTAB 0), so a stale slot
/// from an earlier call could, in principle, offer a match a fresh table would not. This implementation
/// starts every call from an empty table, which is what Redis does whenever a slot's stale pointer does
/// not land inside the current input (the match test rejects it) — in practice always.
/// </summary>
public static class Lzf
{
    const int HLog = 16;
    const int HSize = 1 << HLog;
    const int MaxLit = 1 << 5;
    const int MaxOff = 1 << 13;
    const int MaxRef = (1 << 8) + (1 << 3);

    // Slot contents are input positions; a slot is valid only when stamped with the current call's generation,
    // which spares clearing 64K slots per call.
    [ThreadStatic] static int[] tabPos;
    [ThreadStatic] static uint[] tabGen;
    [ThreadStatic] static uint generation;

    static uint Idx(uint h) => ((h >> (3 * 8 - HLog)) - h * 5) & (HSize - 1);

    /// <summary>
    /// lzf_compress: compresses <paramref name="input"/> into at most <paramref name="outLen"/> bytes of
    /// <paramref name="output"/> (which must hold outLen + 1 bytes); returns the compressed length or 0 when
    /// the result would not fit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Compress(ReadOnlySpan<byte> input, Span<byte> output, int outLen)
    {
        int inLen = input.Length;
        if (inLen == 0 || outLen == 0) return 0;
        var pos = tabPos ??= new int[HSize];
        var gen = tabGen ??= new uint[HSize];
        uint g = ++generation;
        if (g == 0)
        {
            Array.Clear(gen);
            g = generation = 1;
        }

        int ip = 0, op = 0, inEnd = inLen, outEnd = outLen;
        int lit = 0;
        op++;   // start run
        uint hval = (uint)((input[0] << 8) | (inLen > 1 ? input[1] : 0));
        while (ip < inEnd - 2)
        {
            hval = (hval << 8) | input[ip + 2];
            uint slot = Idx(hval);
            int refPos = gen[slot] == g ? pos[slot] : -1;
            pos[slot] = ip;
            gen[slot] = g;
            int off;
            if (refPos >= 0 && refPos < ip && (off = ip - refPos - 1) < MaxOff && refPos > 0
                && input[refPos] == input[ip] && input[refPos + 1] == input[ip + 1] && input[refPos + 2] == input[ip + 2])
            {
                int len = 2;
                int maxlen = inEnd - ip - len;
                if (maxlen > MaxRef) maxlen = MaxRef;

                output[op - lit - 1] = (byte)(lit - 1);    // stop run
                if (lit == 0) op--;                        // undo run if length is zero
                if (op + 3 + 1 >= outEnd) return 0;

                bool done = false;
                if (maxlen > 16)
                {
                    // liblzf's unrolled first 16 steps compare without the maxlen bound
                    for (int k = 0; k < 16; k++)
                    {
                        len++;
                        if (input[refPos + len] != input[ip + len]) { done = true; break; }
                    }
                }
                if (!done)
                {
                    do len++;
                    while (len < maxlen && input[refPos + len] == input[ip + len]);
                }

                len -= 2;   // len is now #octets - 1
                ip++;
                if (len < 7)
                {
                    output[op++] = (byte)((off >> 8) + (len << 5));
                }
                else
                {
                    output[op++] = (byte)((off >> 8) + (7 << 5));
                    output[op++] = (byte)(len - 7);
                }
                output[op++] = (byte)off;
                lit = 0;
                op++;   // start run
                ip += len + 1;
                if (ip >= inEnd - 2) break;

                // VERY_FAST: re-hash the last two positions of the match
                ip -= 2;
                hval = (uint)((input[ip] << 8) | input[ip + 1]);
                hval = (hval << 8) | input[ip + 2];
                slot = Idx(hval);
                pos[slot] = ip; gen[slot] = g;
                ip++;
                hval = (hval << 8) | input[ip + 2];
                slot = Idx(hval);
                pos[slot] = ip; gen[slot] = g;
                ip++;
            }
            else
            {
                if (op >= outEnd) return 0;
                lit++;
                output[op++] = input[ip++];
                if (lit == MaxLit)
                {
                    output[op - lit - 1] = (byte)(lit - 1);
                    lit = 0;
                    op++;
                }
            }
        }

        if (op + 3 > outEnd) return 0;   // at most 3 bytes can be missing here
        while (ip < inEnd)
        {
            lit++;
            output[op++] = input[ip++];
            if (lit == MaxLit)
            {
                output[op - lit - 1] = (byte)(lit - 1);
                lit = 0;
                op++;
            }
        }
        output[op - lit - 1] = (byte)(lit - 1);   // end run
        if (lit == 0) op--;
        return op;
    }

    /// <summary>lzf_decompress: false when the input is corrupt or does not produce exactly output.Length bytes.</summary>
    /// <remarks>
    /// Short literal runs are copied 16 bytes at a time and back-references at least 8 bytes behind 8 at a time
    /// when the buffers have room for the over-copy (bytes past the run are rewritten by what follows); the rest
    /// byte by byte. Every read stays inside the input and every write inside the output.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        ref byte src = ref MemoryMarshal.GetReference(input);
        ref byte dst = ref MemoryMarshal.GetReference(output);
        int inLen = input.Length, outLen = output.Length;
        int ip = 0, op = 0;
        while (ip < inLen)
        {
            int ctrl = Unsafe.Add(ref src, ip++);
            if (ctrl < 32)
            {
                int n = ctrl + 1;
                if (op + n > outLen || ip + n > inLen) return false;
                if (n <= 16 && ip + 16 <= inLen && op + 16 <= outLen)
                    Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, op), Unsafe.ReadUnaligned<Vector128<byte>>(ref Unsafe.Add(ref src, ip)));
                else
                    Unsafe.CopyBlockUnaligned(ref Unsafe.Add(ref dst, op), ref Unsafe.Add(ref src, ip), (uint)n);
                op += n;
                ip += n;
            }
            else
            {
                int len = ctrl >> 5;
                if (len == 7)
                {
                    if (ip >= inLen) return false;
                    len += Unsafe.Add(ref src, ip++);
                }
                if (ip >= inLen) return false;
                int back = op - ((ctrl & 0x1f) << 8) - 1 - Unsafe.Add(ref src, ip++);
                len += 2;
                if (op + len > outLen || back < 0) return false;
                if (op - back >= 8 && op + len + 8 <= outLen)
                {
                    for (int k = 0; k < len; k += 8)
                        Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, op + k), Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref dst, back + k)));
                }
                else
                {
                    for (int k = 0; k < len; k++) Unsafe.Add(ref dst, op + k) = Unsafe.Add(ref dst, back + k);
                }
                op += len;
            }
        }
        return op == outLen;
    }
}

using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cinnabar.Server.Storage;

/// <summary>
/// The HyperLogLog codec of Redis 7.0 (hyperloglog.c), byte for byte: an HLL is a plain string value made
/// of a 16-byte header ("HYLL", encoding byte, 3 unused bytes, cached cardinality as a little-endian
/// uint64 whose top bit flags it stale) followed by either 16384 packed 6-bit registers (dense, 12288
/// bytes) or a run-length list of opcodes (sparse):
/// <list type="bullet">
/// <item>ZERO <c>00xxxxxx</c>: 1..64 zero registers;</item>
/// <item>XZERO <c>01xxxxxx yyyyyyyy</c>: 1..16384 zero registers (14-bit length, high bits first);</item>
/// <item>VAL <c>1vvvvvxx</c>: 1..4 registers holding the value 1..32.</item>
/// </list>
/// Elements are hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the register, and the
/// position of the lowest set bit in the remaining 50 bits (plus one) is the candidate register value.
/// A sparse HLL turns dense when a value above 32 is needed or when growing it would pass
/// hll-sparse-max-bytes. The cardinality comes from Ertl's improved estimator over the register histogram.
/// Corrupted input is handled the way Redis handles it (the same reads past a truncated opcode see a zero
/// byte, like the sds terminator), so even damaged values evolve identically.
/// </summary>
public static class HyperLogLog
{
    public const int P = 14;
    public const int Q = 64 - P;
    public const int Registers = 1 << P;
    public const int PMask = Registers - 1;
    public const int Bits = 6;
    public const int RegisterMax = (1 << Bits) - 1;
    public const int HeaderSize = 16;
    public const int DenseSize = HeaderSize + (Registers * Bits + 7) / 8;
    public const byte EncodingDense = 0;
    public const byte EncodingSparse = 1;
    public const int EncodingMax = 1;
    public const uint HashSeed = 0xadc83b19;

    const int SparseValMaxValue = 32;
    const int SparseValMaxLen = 4;
    const int SparseZeroMaxLen = 64;
    const int SparseXZeroMaxLen = 16384;
    const double AlphaInf = 0.721347520444481703680; // 0.5 / ln(2)

    // ---- hashing ----

    /// <summary>MurmurHash2, 64-bit variant "A", reading 8-byte blocks little-endian as Redis does.</summary>
    public static ulong MurmurHash64A(ReadOnlySpan<byte> key, uint seed)
    {
        const ulong m = 0xc6a4a7935bd1e995UL;
        const int r = 47;
        int len = key.Length;
        ulong h = seed ^ unchecked((ulong)len * m);
        int blocks = len & ~7;
        ref byte start = ref MemoryMarshal.GetReference(key);
        for (int i = 0; i < blocks; i += 8)
        {
            ulong k = BinaryPrimitives.ReadUInt64LittleEndian(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref start, i), 8));
            k *= m;
            k ^= k >> r;
            k *= m;
            h ^= k;
            h *= m;
        }
        int rest = len & 7;
        if (rest != 0)
        {
            ulong t = 0;
            for (int i = rest - 1; i >= 0; i--) t = (t << 8) | key[blocks + i];
            h ^= t;
            h *= m;
        }
        h ^= h >> r;
        h *= m;
        h ^= h >> r;
        return h;
    }

    /// <summary>hllPatLen: the register an element maps to and the length of its "000..1" pattern (1..51).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PatternLength(ReadOnlySpan<byte> element, out int index)
    {
        ulong hash = MurmurHash64A(element, HashSeed);
        index = (int)(hash & PMask);
        hash >>= P;
        hash |= 1UL << Q;
        return BitOperations.TrailingZeroCount(hash) + 1;
    }

    // ---- header ----

    public static bool IsCacheValid(ReadOnlySpan<byte> hll) => (hll[15] & 0x80) == 0;
    public static void InvalidateCache(Span<byte> hll) => hll[15] |= 0x80;
    public static ulong CachedCardinality(ReadOnlySpan<byte> hll) => BinaryPrimitives.ReadUInt64LittleEndian(hll.Slice(8, 8));
    public static void SetCachedCardinality(Span<byte> hll, ulong card) => BinaryPrimitives.WriteUInt64LittleEndian(hll.Slice(8, 8), card);

    /// <summary>isHLLObjectOrReply's checks on a string's bytes: header size, magic, encoding, dense length.</summary>
    public static bool IsValid(ReadOnlySpan<byte> s)
    {
        if (s.Length < HeaderSize) return false;
        if (s[0] != 'H' || s[1] != 'Y' || s[2] != 'L' || s[3] != 'L') return false;
        if (s[4] > EncodingMax) return false;
        if (s[4] == EncodingDense && s.Length != DenseSize) return false;
        return true;
    }

    /// <summary>createHLLObject: an empty HLL, sparse, as one XZERO covering every register; cached cardinality 0.</summary>
    public static RawString CreateEmpty()
    {
        int sparseLen = HeaderSize + (Registers + SparseXZeroMaxLen - 1) / SparseXZeroMaxLen * 2;
        var o = new RawString(ReadOnlySpan<byte>.Empty, sparseLen);
        o.EnsureLength(sparseLen);
        var b = o.Buffer;
        "HYLL"u8.CopyTo(b);
        b[4] = EncodingSparse;
        int p = HeaderSize;
        for (int left = Registers; left > 0;)
        {
            int run = Math.Min(left, SparseXZeroMaxLen);
            SetXZero(b, p, run);
            p += 2;
            left -= run;
        }
        return o;
    }

    // ---- dense registers ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DenseGet(ReadOnlySpan<byte> regs, int index)
    {
        int bit = index * Bits;
        int at = bit >> 3, fb = bit & 7;
        int b0 = regs[at];
        int b1 = at + 1 < regs.Length ? regs[at + 1] : 0;
        return ((b0 >> fb) | (b1 << (8 - fb))) & RegisterMax;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DenseWrite(Span<byte> regs, int index, int val)
    {
        int bit = index * Bits;
        int at = bit >> 3, fb = bit & 7, fb8 = 8 - fb;
        regs[at] = (byte)((regs[at] & ~(RegisterMax << fb)) | (val << fb));
        if (at + 1 < regs.Length)
            regs[at + 1] = (byte)((regs[at + 1] & ~(RegisterMax >> fb8)) | (val >> fb8));
    }

    /// <summary>hllDenseSet: raises a register to <paramref name="count"/>; 1 when it changed, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DenseSet(Span<byte> regs, int index, int count)
    {
        if (count > DenseGet(regs, index))
        {
            DenseWrite(regs, index, count);
            return 1;
        }
        return 0;
    }

    static void DenseHistogram(ReadOnlySpan<byte> r, Span<int> histo)
    {
        for (int i = 0; i < Registers / 16 * 12; i += 12)
        {
            // 16 registers in 12 bytes: every 3 bytes hold 4 registers, low bits first.
            for (int k = i; k < i + 12; k += 3)
            {
                int w = r[k] | (r[k + 1] << 8) | (r[k + 2] << 16);
                histo[w & 63]++;
                histo[(w >> 6) & 63]++;
                histo[(w >> 12) & 63]++;
                histo[(w >> 18) & 63]++;
            }
        }
    }

    // ---- sparse opcodes ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)] static bool IsZero(int op) => (op & 0xc0) == 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static bool IsXZero(int op) => (op & 0xc0) == 0x40;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static bool IsVal(int op) => (op & 0x80) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static int ZeroLen(int op) => (op & 0x3f) + 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static int ValValue(int op) => ((op >> 2) & 0x1f) + 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] static int ValLen(int op) => (op & 3) + 1;

    /// <summary>
    /// XZERO run length. When a truncated XZERO is the last byte, Redis reads the byte just past the string
    /// (the sds terminator), passed here as <paramref name="past"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int XZeroLen(ReadOnlySpan<byte> b, int p, int end, int past) => (((b[p] & 0x3f) << 8) | (p + 1 < end ? b[p + 1] : past)) + 1;

    /// <summary>
    /// The byte Redis has right after a string's last byte. It is the sds terminator, normally 0, but an
    /// in-place sparse update can leave an opcode byte there (hllSparseSet writes its new sequence after
    /// shortening the string), and a later read of a truncated XZERO sees it. A <see cref="RawString"/> keeps
    /// that byte at Buffer[Length]; anything else reads as 0.
    /// </summary>
    public static int PastEnd(object v) => v is RawString r && r.Length < r.Buffer.Length ? r.Buffer[r.Length] : 0;

    static byte Val(int value, int len) => (byte)(((value - 1) << 2) | (len - 1) | 0x80);

    static void SetXZero(Span<byte> b, int p, int len)
    {
        int l = len - 1;
        b[p] = (byte)((l >> 8) | 0x40);
        b[p + 1] = (byte)(l & 0xff);
    }

    /// <summary>hllSparseRegHisto. Sets <paramref name="invalid"/> when the runs do not cover exactly 16384 registers.</summary>
    static void SparseHistogram(ReadOnlySpan<byte> s, int past, Span<int> histo, ref bool invalid)
    {
        int idx = 0, p = HeaderSize, end = s.Length;
        while (p < end)
        {
            int op = s[p];
            if (IsZero(op))
            {
                int run = ZeroLen(op);
                idx += run;
                histo[0] += run;
                p++;
            }
            else if (IsXZero(op))
            {
                int run = XZeroLen(s, p, end, past);
                idx += run;
                histo[0] += run;
                p += 2;
            }
            else
            {
                int run = ValLen(op);
                idx += run;
                histo[ValValue(op)] += run;
                p++;
            }
        }
        if (idx != Registers) invalid = true;
    }

    /// <summary>
    /// hllSparseToDense: rewrites a sparse HLL as dense in place (header, cached cardinality included, kept).
    /// False, leaving the value untouched, when the sparse runs are corrupted.
    /// </summary>
    public static bool SparseToDense(RawString o)
    {
        var s = o.Span;
        if (s[4] == EncodingDense) return true;
        int past = PastEnd(o);
        var dense = new byte[DenseSize];
        s[..HeaderSize].CopyTo(dense);
        dense[4] = EncodingDense;
        var regs = dense.AsSpan(HeaderSize);
        int idx = 0, p = HeaderSize, end = s.Length;
        while (p < end)
        {
            int op = s[p];
            if (IsZero(op)) { idx += ZeroLen(op); p++; }
            else if (IsXZero(op)) { idx += XZeroLen(s, p, end, past); p += 2; }
            else
            {
                int run = ValLen(op), val = ValValue(op);
                if (run + idx > Registers) return false;   // a VAL run past the last register
                while (run-- > 0) DenseWrite(regs, idx++, val);
                p++;
            }
        }
        if (idx != Registers) return false;
        o.Buffer = dense;
        o.Length = DenseSize;
        return true;
    }

    static void EnsureCapacity(RawString o, int needed)
    {
        if (o.Buffer.Length >= needed) return;
        int cap = needed < 1024 * 1024 ? needed * 2 : needed + 1024 * 1024;
        var bigger = new byte[cap];
        o.Buffer.AsSpan(0, Math.Min(o.Length + 1, o.Buffer.Length)).CopyTo(bigger);   // with the byte past the end
        o.Buffer = bigger;
    }

    /// <summary>
    /// hllSparseSet: raises register <paramref name="index"/> of a sparse HLL to <paramref name="count"/>,
    /// splitting and re-merging opcodes in place, or promoting to dense when the value does not fit a VAL
    /// opcode or the string would grow past <paramref name="sparseMaxBytes"/>.
    /// Returns 1 when a register changed, 0 when not, -1 when the representation is corrupted.
    /// </summary>
    public static int SparseSet(RawString o, int index, int count, long sparseMaxBytes)
    {
        if (count > SparseValMaxValue) return Promote(o, index, count);

        // The worst split (XZERO -> XZERO VAL XZERO) grows the string by 3 bytes; one more for the byte past the end.
        EnsureCapacity(o, o.Length + 4);
        byte[] b = o.Buffer;
        int p = HeaderSize, end = o.Length;
        long first = 0, span = 0;
        int prev = -1;

        // Step 1: find the opcode covering the register.
        while (p < end)
        {
            int op = b[p];
            int oplen = 1;
            if (IsZero(op)) span = ZeroLen(op);
            else if (IsVal(op)) span = ValLen(op);
            else { span = XZeroLen(b, p, end, b[end]); oplen = 2; }
            if (index <= first + span - 1) break;
            prev = p;
            p += oplen;
            first += span;
        }
        if (span == 0 || p >= end) return -1;

        int cur = b[p];
        int next = IsXZero(cur) ? p + 2 : p + 1;
        if (next >= end) next = -1;
        bool isZero = false, isXZero = false, isVal = false;
        long runLen;
        if (IsZero(cur)) { isZero = true; runLen = ZeroLen(cur); }
        else if (IsXZero(cur)) { isXZero = true; runLen = XZeroLen(b, p, end, b[end]); }
        else { isVal = true; runLen = ValLen(cur); }

        // Step 2: the trivial cases, updated in place.
        if (isVal)
        {
            int old = ValValue(cur);
            if (old >= count) return 0;
            if (runLen == 1)
            {
                b[p] = Val(count, 1);
                goto Updated;
            }
        }
        if (isZero && runLen == 1)
        {
            b[p] = Val(count, 1);
            goto Updated;
        }

        // General case: split the opcode into up to three (at most 5 bytes).
        Span<byte> seq = stackalloc byte[5];
        int n = 0;
        int last = (int)(first + span - 1);
        if (isZero || isXZero)
        {
            if (index != first)
            {
                int len = (int)(index - first);
                if (len > SparseZeroMaxLen) { SetXZero(seq, n, len); n += 2; }
                else seq[n++] = (byte)(len - 1);
            }
            seq[n++] = Val(count, 1);
            if (index != last)
            {
                int len = last - index;
                if (len > SparseZeroMaxLen) { SetXZero(seq, n, len); n += 2; }
                else seq[n++] = (byte)(len - 1);
            }
        }
        else
        {
            int curVal = ValValue(cur);
            if (index != first) seq[n++] = Val(curVal, (int)(index - first));
            seq[n++] = Val(count, 1);
            if (index != last) seq[n++] = Val(curVal, last - index);
        }

        // Step 3: put the new sequence in place of the old opcode.
        int oldLen = isXZero ? 2 : 1;
        int delta = n - oldLen;
        if (delta > 0 && (long)o.Length + delta > sparseMaxBytes) return Promote(o, index, count);
        if (delta != 0 && next >= 0) b.AsSpan(next, end - next).CopyTo(b.AsSpan(next + delta));
        SetLength(o, end + delta);
        // Written after the length change, as Redis does: a split of a truncated last XZERO ends on the
        // byte past the end.
        seq[..n].CopyTo(b.AsSpan(p));
        end += delta;

    Updated:
        // Step 4: merge adjacent VAL opcodes with the same value, scanning up to 5 opcodes from prev.
        p = prev >= 0 ? prev : HeaderSize;
        int scan = 5;
        while (p < end && scan-- > 0)
        {
            int op = b[p];
            if (IsXZero(op)) { p += 2; continue; }
            if (IsZero(op)) { p++; continue; }
            if (p + 1 < end && IsVal(b[p + 1]))
            {
                int v1 = ValValue(op), v2 = ValValue(b[p + 1]);
                if (v1 == v2)
                {
                    int len = ValLen(op) + ValLen(b[p + 1]);
                    if (len <= SparseValMaxLen)
                    {
                        b[p + 1] = Val(v1, len);
                        b.AsSpan(p + 1, end - p - 1).CopyTo(b.AsSpan(p));
                        SetLength(o, end - 1);
                        end--;
                        continue;
                    }
                }
            }
            p++;
        }
        InvalidateCache(b);
        return 1;
    }

    /// <summary>sdsIncrLen: the new length gets a zero byte past it; bytes beyond stay zero.</summary>
    static void SetLength(RawString o, int length)
    {
        int old = o.Length;
        if (length < old) o.Buffer.AsSpan(length + 1, Math.Min(old + 1, o.Buffer.Length) - length - 1).Clear();
        o.Buffer[length] = 0;
        o.Length = length;
    }

    static int Promote(RawString o, int index, int count)
    {
        if (!SparseToDense(o)) return -1;
        return DenseSet(o.Buffer.AsSpan(HeaderSize, DenseSize - HeaderSize), index, count);
    }

    /// <summary>hllAdd: adds one element to a dense or sparse HLL. 1 changed, 0 unchanged, -1 corrupted.</summary>
    public static int Add(RawString o, ReadOnlySpan<byte> element, long sparseMaxBytes)
    {
        int count = PatternLength(element, out int index);
        switch (o.Buffer[4])
        {
            case EncodingDense: return DenseSet(o.Buffer.AsSpan(HeaderSize, DenseSize - HeaderSize), index, count);
            case EncodingSparse: return SparseSet(o, index, count, sparseMaxBytes);
            default: return -1;
        }
    }

    /// <summary>
    /// hllMerge: max[i] = MAX(max[i], register i) over a validated HLL. False when a sparse HLL is corrupted:
    /// its runs do not cover exactly 16384 registers, or a VAL run reaches past the last one (redis-server
    /// 7.0.15 fails there even when the runs before it covered exactly 16384).
    /// </summary>
    public static bool Merge(Span<byte> max, ReadOnlySpan<byte> hll, int past)
    {
        if (hll[4] == EncodingDense)
        {
            var regs = hll.Slice(HeaderSize, DenseSize - HeaderSize);
            max = max[..Registers];
            for (int k = 0, i = 0; k < regs.Length; k += 3, i += 4)
            {
                int w = regs[k] | (regs[k + 1] << 8) | (regs[k + 2] << 16);
                if (w == 0) continue;
                var m4 = max.Slice(i, 4);
                m4[0] = (byte)Math.Max(m4[0], w & 63);
                m4[1] = (byte)Math.Max(m4[1], (w >> 6) & 63);
                m4[2] = (byte)Math.Max(m4[2], (w >> 12) & 63);
                m4[3] = (byte)Math.Max(m4[3], (w >> 18) & 63);
            }
            return true;
        }
        int idx = 0, p = HeaderSize, end = hll.Length;
        while (p < end)
        {
            int op = hll[p];
            if (IsZero(op)) { idx += ZeroLen(op); p++; }
            else if (IsXZero(op)) { idx += XZeroLen(hll, p, end, past); p += 2; }
            else
            {
                int run = ValLen(op), val = ValValue(op);
                if (run + idx > Registers) return false;   // a VAL run past the last register
                while (run-- > 0)
                {
                    if (val > max[idx]) max[idx] = (byte)val;
                    idx++;
                }
                p++;
            }
        }
        return idx == Registers;
    }

    /// <summary>Dense registers raised to <paramref name="max"/> where it is higher (hllDenseSet over every register).</summary>
    public static void DenseMergeFrom(Span<byte> regs, ReadOnlySpan<byte> max)
    {
        regs = regs[..(Registers * Bits / 8)];
        for (int k = 0, i = 0; k < regs.Length; k += 3, i += 4)
        {
            var m4 = max.Slice(i, 4);
            if ((m4[0] | m4[1] | m4[2] | m4[3]) == 0) continue;
            int w = regs[k] | (regs[k + 1] << 8) | (regs[k + 2] << 16);
            int r0 = Math.Max(w & 63, m4[0]), r1 = Math.Max((w >> 6) & 63, m4[1]);
            int r2 = Math.Max((w >> 12) & 63, m4[2]), r3 = Math.Max((w >> 18) & 63, m4[3]);
            w = r0 | (r1 << 6) | (r2 << 12) | (r3 << 18);
            regs[k] = (byte)w;
            regs[k + 1] = (byte)(w >> 8);
            regs[k + 2] = (byte)(w >> 16);
        }
    }

    // ---- cardinality ----

    /// <summary>hllCount over a dense or sparse HLL. <paramref name="invalid"/> is set for corrupted sparse runs.</summary>
    public static ulong Count(ReadOnlySpan<byte> hll, int past, ref bool invalid)
    {
        Span<int> histo = stackalloc int[64];
        histo.Clear();
        if (hll[4] == EncodingDense) DenseHistogram(hll.Slice(HeaderSize, DenseSize - HeaderSize), histo);
        else SparseHistogram(hll, past, histo, ref invalid);
        return Estimate(histo);
    }

    /// <summary>hllCount over one byte per register (PFCOUNT of several keys: the HLL_RAW encoding).</summary>
    public static ulong CountRaw(ReadOnlySpan<byte> registers)
    {
        Span<int> histo = stackalloc int[64];
        histo.Clear();
        var words = MemoryMarshal.Cast<byte, ulong>(registers[..Registers]);
        for (int w = 0; w < words.Length; w++)
        {
            if (words[w] == 0) { histo[0] += 8; continue; }
            for (int k = w * 8; k < w * 8 + 8; k++) histo[registers[k]]++;
        }
        return Estimate(histo);
    }

    /// <summary>
    /// Ertl's estimator ("New cardinality estimation algorithms for HyperLogLog sketches") as Redis 7.0
    /// computes it, rounded half away from zero; out-of-range results convert like C's llroundl on x86-64.
    /// </summary>
    static ulong Estimate(ReadOnlySpan<int> histo)
    {
        const double m = Registers;
        double z = m * Tau((m - histo[Q + 1]) / m);
        for (int j = Q; j >= 1; j--)
        {
            z += histo[j];
            z *= 0.5;
        }
        z += m * Sigma(histo[0] / m);
        double e = AlphaInf * m * m / z;
        double rounded = Math.Round(e, MidpointRounding.AwayFromZero);
        if (!(rounded >= -9.2233720368547758E18 && rounded < 9.2233720368547758E18)) return 0x8000000000000000UL;
        return unchecked((ulong)(long)rounded);
    }

    static double Sigma(double x)
    {
        if (x == 1.0) return double.PositiveInfinity;
        double zPrime, y = 1, z = x;
        do
        {
            x *= x;
            zPrime = z;
            z += x * y;
            y += y;
        } while (zPrime != z);
        return z;
    }

    static double Tau(double x)
    {
        if (x == 0.0 || x == 1.0) return 0.0;
        double zPrime, y = 1.0, z = 1 - x;
        do
        {
            x = Math.Sqrt(x);
            zPrime = z;
            y *= 0.5;
            z -= Math.Pow(1 - x, 2) * y;
        } while (zPrime != z);
        return z / 3;
    }

    // ---- PFDEBUG DECODE ----

    /// <summary>The sparse opcodes as "z:N", "Z:N" and "v:VAL,N", space separated.</summary>
    public static string Decode(ReadOnlySpan<byte> s, int past)
    {
        var sb = new System.Text.StringBuilder();
        int p = HeaderSize, end = s.Length;
        while (p < end)
        {
            int op = s[p];
            if (sb.Length > 0) sb.Append(' ');
            if (IsZero(op)) { sb.Append("z:").Append(ZeroLen(op)); p++; }
            else if (IsXZero(op)) { sb.Append("Z:").Append(XZeroLen(s, p, end, past)); p += 2; }
            else { sb.Append("v:").Append(ValValue(op)).Append(',').Append(ValLen(op)); p++; }
        }
        return sb.ToString();
    }
}

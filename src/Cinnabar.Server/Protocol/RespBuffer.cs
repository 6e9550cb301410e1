using System.Buffers.Text;
using System.Runtime.CompilerServices;

namespace Cinnabar.Server.Protocol;

/// <summary>
/// A growable byte buffer that commands are encoded into as RESP arrays of bulk strings, the form of the
/// replication stream and the AOF (<c>*argc\r\n</c> then <c>$len\r\nbytes\r\n</c> per argument).
/// </summary>
public sealed class RespBuffer
{
    public byte[] Buffer;
    public int Length;

    public RespBuffer(int initialSize = 1024) => Buffer = new byte[initialSize];

    public ReadOnlySpan<byte> Span => Buffer.AsSpan(0, Length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    Span<byte> Reserve(int n)
    {
        if (Buffer.Length - Length < n) Grow(n);
        return Buffer.AsSpan(Length);
    }

    void Grow(int n)
    {
        long wanted = Math.Max((long)Buffer.Length * 2, (long)Length + n);
        Array.Resize(ref Buffer, (int)Math.Min(wanted, Array.MaxLength));
    }

    public void Clear() => Length = 0;

    /// <summary>Gives back a buffer a huge command grew, keeping a small one.</summary>
    public void Shrink(int keep)
    {
        if (Length == 0 && Buffer.Length > keep * 4) Buffer = new byte[keep];
    }

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        Length += bytes.Length;
    }

    void Header(byte prefix, long n)
    {
        var s = Reserve(24);
        s[0] = prefix;
        Utf8Formatter.TryFormat(n, s[1..], out int w);
        s[1 + w] = (byte)'\r';
        s[2 + w] = (byte)'\n';
        Length += 3 + w;
    }

    public void ArrayHeader(int argc) => Header((byte)'*', argc);

    public void Bulk(ReadOnlySpan<byte> arg)
    {
        Header((byte)'$', arg.Length);
        var s = Reserve(arg.Length + 2);
        arg.CopyTo(s);
        s[arg.Length] = (byte)'\r';
        s[arg.Length + 1] = (byte)'\n';
        Length += arg.Length + 2;
    }

    /// <summary>An integer argument rendered as decimal text, as Redis renders integer-encoded objects.</summary>
    public void Bulk(long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out int n);
        Bulk(digits[..n]);
    }
}

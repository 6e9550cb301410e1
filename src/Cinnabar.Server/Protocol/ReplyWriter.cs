using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;

namespace Cinnabar.Server.Protocol;

/// <summary>
/// A connection's send buffer: replies are encoded straight into it as RESP2 or RESP3 (the same calls,
/// the connection's protocol decides the wire form, as Redis's addReply* do).
/// </summary>
public sealed class ReplyWriter
{
    public byte[] Buffer;
    public int Length;      // bytes written
    public int Sent;        // bytes already handed to the socket
    public bool Resp3;

    public ReplyWriter(int initialSize = 16 * 1024) => Buffer = ArrayPool<byte>.Shared.Rent(initialSize);

    public int Pending => Length - Sent;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    Span<byte> Reserve(int n)
    {
        if (Buffer.Length - Length < n) Grow(n);
        return Buffer.AsSpan(Length);
    }

    void Grow(int n)
    {
        if (Sent > 0 && Buffer.Length - (Length - Sent) >= n && Sent >= Buffer.Length / 2)
        {
            System.Buffer.BlockCopy(Buffer, Sent, Buffer, 0, Length - Sent);
            Length -= Sent; Sent = 0;
            return;
        }
        long wanted = Math.Max((long)Buffer.Length * 2, (long)Length + n);
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(wanted, Array.MaxLength));
        System.Buffer.BlockCopy(Buffer, Sent, bigger, 0, Length - Sent);
        ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = bigger;
        Length -= Sent; Sent = 0;
    }

    /// <summary>Called once everything has been sent: rewinds, and gives back a buffer grown by a big reply.</summary>
    public void Drained()
    {
        Length = Sent = 0;
        if (Buffer.Length > 256 * 1024)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        }
    }

    public void Release()
    {
        if (Buffer != null) ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = null;
    }

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        Length += bytes.Length;
    }

    public void Raw(string ascii)
    {
        var span = Reserve(Encoding.Latin1.GetMaxByteCount(ascii.Length));
        Length += Encoding.Latin1.GetBytes(ascii, span);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Header(byte type, long n)
    {
        var span = Reserve(24);
        span[0] = type;
        Utf8Formatter.TryFormat(n, span[1..], out int w);
        span[w + 1] = (byte)'\r';
        span[w + 2] = (byte)'\n';
        Length += w + 3;
    }

    public void Simple(ReadOnlySpan<byte> text)
    {
        var span = Reserve(text.Length + 3);
        span[0] = (byte)'+';
        text.CopyTo(span[1..]);
        span[text.Length + 1] = (byte)'\r';
        span[text.Length + 2] = (byte)'\n';
        Length += text.Length + 3;
    }

    public void Simple(string text) { Raw("+"); Raw(text); Crlf(); }

    public void Ok() => Raw("+OK\r\n"u8);

    /// <summary>Writes "-text\r\n"; text already carries its code (ERR, WRONGTYPE, ...). Newlines are made spaces as Redis does.</summary>
    public void Error(ReadOnlySpan<byte> text)
    {
        var span = Reserve(text.Length + 3);
        span[0] = (byte)'-';
        for (int i = 0; i < text.Length; i++)
        {
            byte c = text[i];
            span[i + 1] = c == '\r' || c == '\n' ? (byte)' ' : c;
        }
        span[text.Length + 1] = (byte)'\r';
        span[text.Length + 2] = (byte)'\n';
        Length += text.Length + 3;
    }

    public void Error(string text) => Error(Encoding.Latin1.GetBytes(text));

    public void Crlf() => Raw("\r\n"u8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Integer(long v) => Header((byte)':', v);

    public void Bulk(ReadOnlySpan<byte> value)
    {
        var span = Reserve(value.Length + 24);
        span[0] = (byte)'$';
        Utf8Formatter.TryFormat(value.Length, span[1..], out int w);
        span[w + 1] = (byte)'\r';
        span[w + 2] = (byte)'\n';
        value.CopyTo(span[(w + 3)..]);
        int end = w + 3 + value.Length;
        span[end] = (byte)'\r';
        span[end + 1] = (byte)'\n';
        Length += end + 2;
    }

    public void Bulk(string value) => Bulk(Encoding.Latin1.GetBytes(value));

    public void BulkInteger(long v)
    {
        Span<byte> tmp = stackalloc byte[24];
        Utf8Formatter.TryFormat(v, tmp, out int w);
        Bulk(tmp[..w]);
    }

    public void Null() => Raw(Resp3 ? "_\r\n"u8 : "$-1\r\n"u8);
    public void NullArray() => Raw(Resp3 ? "_\r\n"u8 : "*-1\r\n"u8);
    public void EmptyArray() => Raw("*0\r\n"u8);
    public void ArrayHeader(long n) => Header((byte)'*', n);
    public void MapHeader(long n) { if (Resp3) Header((byte)'%', n); else Header((byte)'*', n * 2); }
    public void SetHeader(long n) => Header(Resp3 ? (byte)'~' : (byte)'*', n);
    public void PushHeader(long n) => Header(Resp3 ? (byte)'>' : (byte)'*', n);
    public void AttributeFreeBool(bool b) => Raw(Resp3 ? (b ? "#t\r\n"u8 : "#f\r\n"u8) : (b ? ":1\r\n"u8 : ":0\r\n"u8));

    public void Double(double v)
    {
        Span<byte> s = stackalloc byte[Double17g.MaxLength];
        s = s[..Double17g.Format(v, s)];
        if (Resp3) { Raw(","u8); Raw(s); Crlf(); }
        else Bulk(s);
    }

    public void Verbatim(string text, string format = "txt")
    {
        if (!Resp3) { Bulk(text); return; }
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        Header((byte)'=', bytes.Length + 4);
        Raw(format); Raw(":"u8); Raw(bytes); Crlf();
    }

    /// <summary>Starts an aggregate whose length is not yet known; <see cref="EndDeferred"/> inserts the header.</summary>
    public int BeginDeferred() => Length - Sent;

    public void EndDeferred(int position, long count, byte type = (byte)'*')
    {
        if (type == (byte)'%' && !Resp3) { type = (byte)'*'; count *= 2; }
        else if ((type == (byte)'~' || type == (byte)'>') && !Resp3) type = (byte)'*';
        Span<byte> header = stackalloc byte[24];
        header[0] = type;
        Utf8Formatter.TryFormat(count, header[1..], out int w);
        header[w + 1] = (byte)'\r';
        header[w + 2] = (byte)'\n';
        int hl = w + 3;
        Reserve(hl);
        position += Sent;
        System.Buffer.BlockCopy(Buffer, position, Buffer, position + hl, Length - position);
        header[..hl].CopyTo(Buffer.AsSpan(position));
        Length += hl;
    }
}

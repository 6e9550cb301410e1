using System.Buffers.Binary;

namespace Cinnabar.Server.Persistence;

/// <summary>A growable byte buffer: what the RDB and DUMP writers serialize into.</summary>
public sealed class ByteBuf
{
    public byte[] Data;
    public int Length;

    public ByteBuf(int capacity = 256) => Data = new byte[Math.Max(16, capacity)];

    public ReadOnlySpan<byte> Span => Data.AsSpan(0, Length);

    public void Clear() => Length = 0;

    public void Ensure(int extra)
    {
        long need = (long)Length + extra;
        if (need <= Data.Length) return;
        if (need > Array.MaxLength) throw new InvalidOperationException("buffer too large");
        long cap = Math.Max(need, Math.Min((long)Data.Length * 2, Array.MaxLength));
        Array.Resize(ref Data, (int)cap);
    }

    public Span<byte> GetSpan(int size)
    {
        Ensure(size);
        return Data.AsSpan(Length, size);
    }

    public void Advance(int n) => Length += n;

    public void WriteByte(byte b)
    {
        if (Length == Data.Length) Ensure(1);
        Data[Length++] = b;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(Data.AsSpan(Length));
        Length += bytes.Length;
    }

    public void WriteUInt16LE(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(GetSpan(2), v); Length += 2; }
    public void WriteUInt32LE(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(GetSpan(4), v); Length += 4; }
    public void WriteInt64LE(long v) { BinaryPrimitives.WriteInt64LittleEndian(GetSpan(8), v); Length += 8; }
    public void WriteUInt64LE(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(GetSpan(8), v); Length += 8; }
    public void WriteUInt64BE(ulong v) { BinaryPrimitives.WriteUInt64BigEndian(GetSpan(8), v); Length += 8; }

    /// <summary>Drops the first <paramref name="n"/> bytes (after they were handed on).</summary>
    public void Consume(int n)
    {
        if (n >= Length) { Length = 0; return; }
        Buffer.BlockCopy(Data, n, Data, 0, Length - n);
        Length -= n;
    }
}
